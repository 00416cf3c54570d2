//! Edge-aware upsampling coefficients by a fast guided filter (He et al. 2010, 2015), computed on the CPU
//! right after inference, from the exact small frame the model saw.
//!
//! In each window the person probability is fitted as a linear function of the colour, `p = a . colour + b`;
//! the fits covering a texel are averaged. The GPU then only evaluates `dot(a, colour) + b` per output pixel
//! with the full-resolution colour (one texture read), so the mask's edge lands on the picture's edges while
//! flat regions keep the model's value. As in the fast guided filter, the coefficients are fitted small (at
//! the mask's size) and applied large: they vary slowly, the edge detail comes from the full-resolution
//! colour they are applied to. (Fitting on the mask subsampled once more costs a third of the time but
//! loses half a point of boundary F on humanseg_vikram_removebg: docs/performance.md.)
//!
//! The window sums stream row by row through a ring of box-filtered rows, so the 13 planes of the fit never
//! exist at full size: about 0.8 ms at 256x256 on one core, O(1) per texel in the window's size.
//!
//! Colours are the stored (sRGB-encoded) values, 0..1, as the model saw them and as the effect reads them.

use crate::crop::{move_plane, Crop};
use crate::preprocess::RgbaView;

/// Window radius in mask texels (5x5 windows).
pub const RADIUS: usize = 2;
/// Added to the colour variance: windows flatter than a colour spread of about 16/255 keep their mean
/// probability instead of amplifying noise (and a still edge does not shimmer with the camera's noise).
pub const EPSILON: f32 = 0.004;

/// The averaged fit per mask texel: a (RGB weights) then b, row-major, `width * height * 4` values. Uploaded
/// as one RGBA float texture.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Guidance {
    pub width: u32,
    pub height: u32,
    pub coefficients: Vec<f32>,
}

impl Guidance {
    /// Plain bilinear upsampling of `probability` (a = 0, b = p): what "Refine edges" off shows.
    pub fn plain(width: u32, height: u32, probability: &[f32]) -> Guidance {
        let coefficients = probability.iter().flat_map(|&p| [0.0, 0.0, 0.0, p]).collect();
        Guidance { width, height, coefficients }
    }

    /// The refined probability at `uv` (0..1 over the frame) for a colour there, with the coefficients
    /// sampled as the GPU does (bilinear between texel centres, edges clamped).
    pub fn apply(&self, uv: [f32; 2], colour: [f32; 3]) -> f32 {
        let (w, h) = (self.width as usize, self.height as usize);
        let at = |x: usize, y: usize| &self.coefficients[(y * w + x) * 4..(y * w + x) * 4 + 4];
        let axis = |t: f32, n: usize| {
            let f = (t * n as f32 - 0.5).clamp(0.0, (n - 1) as f32);
            let i = f.floor() as usize;
            (i, (i + 1).min(n - 1), f - i as f32)
        };
        let ((x0, x1, fx), (y0, y1, fy)) = (axis(uv[0], w), axis(uv[1], h));
        let c: [f32; 4] = std::array::from_fn(|k| {
            let top = at(x0, y0)[k] * (1.0 - fx) + at(x1, y0)[k] * fx;
            let bottom = at(x0, y1)[k] * (1.0 - fx) + at(x1, y1)[k] * fx;
            top * (1.0 - fy) + bottom * fy
        });
        c[0] * colour[0] + c[1] * colour[1] + c[2] * colour[2] + c[3]
    }
}

/// An 8-bit colour value as the guide (and the shader) sees it.
pub fn guide_value(encoded: u8) -> f32 {
    f32::from(encoded) / 255.0
}

/// Reusable planes, so a mask allocates nothing once the size is known.
#[derive(Default)]
pub struct GuidedFilter {
    /// The raw fit per texel (a r g b, b), before averaging.
    fit: Vec<Vec<f32>>,
    /// The box filter's ring of rows.
    rows: Vec<f32>,
    /// The coefficients smoothed over time (the last fit's output).
    smoothed: Vec<f32>,
}

/// Planes of the fit: guide r g b, p, then the products rr gg bb rg rb gb, rp gp bp.
const FIT_PLANES: usize = 13;

impl GuidedFilter {
    /// Forgets the coefficients of earlier fits.
    pub fn reset(&mut self) {
        self.smoothed.clear();
    }

    /// The next fit comes from crop `to` instead of `from`: the smoothed coefficients move onto its grid
    /// (where the new crop shows picture the old one did not, the temporal weights take the new fit).
    pub fn move_crop(&mut self, from: Crop, to: Crop, size: (u32, u32)) {
        if from != to && self.smoothed.len() == (size.0 * size.1 * 4) as usize {
            let mut scratch = std::mem::take(&mut self.rows);
            move_plane(&mut self.smoothed, 4, size, from, to, &mut scratch);
            self.rows = scratch;
        }
    }

    /// Fits `probability` (0..=1, one per texel of `frame`) against `frame`'s colours; the coefficients come
    /// at the same size (the GPU's bilinear sampling brings them up to the output). Each texel's coefficients
    /// move from the previous fit's towards the new ones by its `weights` (1 takes the new fit; empty, or a
    /// different size, starts afresh).
    pub fn fit(&mut self, frame: RgbaView<'_>, probability: &[f32], weights: &[f32]) -> Guidance {
        let (w, h) = (frame.width as usize, frame.height as usize);
        let n = w * h;
        assert_eq!(probability.len(), n, "probability and frame sizes differ");
        // The 13 input planes are never stored whole: rows stream through a ring of box-filtered rows
        // (a few tens of kB, in cache), and each mean row is solved as soon as its window is complete.
        // Every value of `fit` is overwritten by `solve`: resize only, no clearing.
        self.fit.resize_with(4, Vec::new);
        for plane in &mut self.fit {
            plane.resize(n, 0.0);
        }
        let (pixels, _) = frame.data.as_chunks::<4>();
        let (pixels, probability) = (&pixels[..n], &probability[..n]);
        let [ar, ag, ab, b] = &mut self.fit[..] else { unreachable!() };
        box_rows(
            (w, h),
            FIT_PLANES,
            &mut self.rows,
            |y, raw| fit_inputs(&pixels[y * w..(y + 1) * w], &probability[y * w..(y + 1) * w], raw),
            |y, sums| {
                let row = y * w..(y + 1) * w;
                let out = [&mut ar[row.clone()], &mut ag[row.clone()], &mut ab[row.clone()], &mut b[row]];
                solve(w, sums, out);
            },
        );
        // Averages the fits covering each texel and smooths them over time, straight into the interleaved
        // texture layout (one pass over the output and the state).
        let mut coefficients = Vec::with_capacity(n * 4);
        let fresh = weights.len() != n || self.smoothed.len() != n * 4;
        self.smoothed.resize(n * 4, 0.0);
        let (fit, smoothed) = (&self.fit, &mut self.smoothed);
        box_rows(
            (w, h),
            4,
            &mut self.rows,
            |y, raw| {
                for (plane, out) in fit.iter().zip(raw.chunks_exact_mut(w)) {
                    out.copy_from_slice(&plane[y * w..(y + 1) * w]);
                }
            },
            |y, sums| {
                let (ar, rest) = sums.split_at(w);
                let (ag, rest) = rest.split_at(w);
                let (ab, b) = rest.split_at(w);
                let (state, _) = smoothed[y * w * 4..(y + 1) * w * 4].as_chunks_mut::<4>();
                let weights = (!fresh).then(|| &weights[y * w..(y + 1) * w]);
                let scale = 1.0 / WINDOW as f32;
                for (x, ((((s, ar), ag), ab), b)) in state.iter_mut().zip(ar).zip(ag).zip(ab).zip(b).enumerate() {
                    let new = [ar * scale, ag * scale, ab * scale, b * scale];
                    *s = match weights {
                        Some(weights) => std::array::from_fn(|k| s[k] + weights[x] * (new[k] - s[k])),
                        None => new,
                    };
                    coefficients.extend_from_slice(s);
                }
            },
        );
        Guidance { width: frame.width, height: frame.height, coefficients }
    }
}

/// One row of the fit's inputs, plane after plane (each `pixels.len()` long): r g b p, then the products
/// rr gg bb rg rb gb, rp gp bp. Plane-wise loops over equal-length slices, so they vectorise.
fn fit_inputs(pixels: &[[u8; 4]], probability: &[f32], raw: &mut [f32]) {
    let w = pixels.len();
    let mut plane = raw.chunks_exact_mut(w);
    let mut next = || plane.next().expect("FIT_PLANES planes");
    let (r, g, b, p) = (next(), next(), next(), next());
    for (((px, r), g), b) in pixels.iter().zip(r.iter_mut()).zip(g.iter_mut()).zip(b.iter_mut()) {
        (*r, *g, *b) = (guide_value(px[0]), guide_value(px[1]), guide_value(px[2]));
    }
    p.copy_from_slice(probability);
    let (r, g, b, p) = (&*r, &*g, &*b, &*p);
    for (x, y) in [(r, r), (g, g), (b, b), (r, g), (r, b), (g, b), (r, p), (g, p), (b, p)] {
        mul(next(), x, y);
    }
}

/// out[i] = x[i] * y[i].
fn mul(out: &mut [f32], x: &[f32], y: &[f32]) {
    let (x, y) = (&x[..out.len()], &y[..out.len()]);
    for ((o, x), y) in out.iter_mut().zip(x).zip(y) {
        *o = x * y;
    }
}

/// Per window, from the row of window sums (FIT_PLANES planes of `n`): a = (covariance of colour + eps)^-1 .
/// covariance(colour, p), b = mean p - a . mean colour. A plain indexed loop over slices sliced to `n`, so the
/// compiler drops the bounds checks and vectorises it.
fn solve(n: usize, sums: &[f32], out: [&mut [f32]; 4]) {
    let plane = |k: usize| &sums[k * n..(k + 1) * n];
    let [sr, sg, sb, sp] = [0, 1, 2, 3].map(plane);
    let [rr, gg, bb, rg, rb, gb] = [4, 5, 6, 7, 8, 9].map(plane);
    let [rp, gp, bp] = [10, 11, 12].map(plane);
    let [ar, ag, ab, b] = out.map(|v| &mut v[..n]);
    let scale = 1.0 / WINDOW as f32;
    for i in 0..n {
        let (mr, mg, mb, mp) = (sr[i] * scale, sg[i] * scale, sb[i] * scale, sp[i] * scale);
        let mean = |sum: &[f32]| sum[i] * scale;
        let (cr, cg, cb) = (mean(rp) - mr * mp, mean(gp) - mg * mp, mean(bp) - mb * mp);
        let (dr, dg, db) = (mean(rr) - mr * mr + EPSILON, mean(gg) - mg * mg + EPSILON, mean(bb) - mb * mb + EPSILON);
        let (org, orb, ogb) = (mean(rg) - mr * mg, mean(rb) - mr * mb, mean(gb) - mg * mb);
        // Inverse of the symmetric covariance by its adjugate; det >= eps^3 > 0 (a positive semi-definite
        // covariance plus eps on its diagonal).
        let i00 = dg * db - ogb * ogb;
        let i01 = ogb * orb - org * db;
        let i02 = org * ogb - dg * orb;
        let i11 = dr * db - orb * orb;
        let i12 = org * orb - dr * ogb;
        let i22 = dr * dg - org * org;
        let inv = 1.0 / (dr * i00 + org * i01 + orb * i02);
        let (a_r, a_g, a_b) = (
            (i00 * cr + i01 * cg + i02 * cb) * inv,
            (i01 * cr + i11 * cg + i12 * cb) * inv,
            (i02 * cr + i12 * cg + i22 * cb) * inv,
        );
        (ar[i], ag[i], ab[i], b[i]) = (a_r, a_g, a_b, mp - (a_r * mr + a_g * mg + a_b * mb));
    }
}

/// Window taps per axis, and texels per window.
const TAPS: usize = 2 * RADIUS + 1;
const WINDOW: usize = TAPS * TAPS;

/// Row `r`'s neighbour `k` rows away, clamped to the picture (as a GPU sampler clamps).
fn clamped(r: usize, k: isize, h: usize) -> usize {
    (r as isize + k).clamp(0, h as isize - 1) as usize
}

/// Streams the window sums of a `planes`-plane picture of `size` whose rows are made on demand:
/// `make_row(y, raw)` writes row y (plane after plane, each `w` long), `use_sums(y, sums)` receives row y of
/// the sums over (2 RADIUS + 1)^2 windows, edges clamped (divide by WINDOW for means). The vertical sum runs
/// (one row in, one row out), and only TAPS + 1 box-filtered rows are held, in `rows` (reused between calls).
fn box_rows(
    size: (usize, usize),
    planes: usize,
    rows: &mut Vec<f32>,
    mut make_row: impl FnMut(usize, &mut [f32]),
    mut use_sums: impl FnMut(usize, &[f32]),
) {
    const SLOTS: usize = TAPS + 1;
    let (w, h) = size;
    let len = planes * w;
    // SLOTS horizontally summed source rows (row r in slot r % SLOTS), one raw row, the running sum.
    rows.resize((SLOTS + 2) * len, 0.0); // each part is written before it is read
    let (ring, rest) = rows.split_at_mut(SLOTS * len);
    let (raw, sums) = rest.split_at_mut(len);
    let mut made = 0;
    let mut make_until = |last: usize, ring: &mut [f32]| {
        while made <= last {
            make_row(made, raw);
            let slot = &mut ring[(made % SLOTS) * len..(made % SLOTS + 1) * len];
            for (raw, out) in raw.chunks_exact(w).zip(slot.chunks_exact_mut(w)) {
                box_row(raw, out);
            }
            made += 1;
        }
    };
    let slot = |r: usize| (r % SLOTS) * len..(r % SLOTS + 1) * len;
    make_until(RADIUS.min(h - 1), ring);
    let first: [&[f32]; TAPS] = std::array::from_fn(|t| &ring[slot(clamped(0, t as isize - RADIUS as isize, h))]);
    sum_taps(sums, first, 1.0);
    use_sums(0, sums);
    for y in 1..h {
        // The window gains row y + R and loses row y - 1 - R (both clamped). The ring holds the last SLOTS
        // rows made, which always include the row leaving.
        let (enter, leave) = (clamped(y, RADIUS as isize, h), clamped(y, -1 - RADIUS as isize, h));
        make_until(enter, ring);
        slide(sums, &ring[slot(enter)], &ring[slot(leave)]);
        use_sums(y, sums);
    }
}

/// sums[i] += enter[i] - leave[i].
fn slide(sums: &mut [f32], enter: &[f32], leave: &[f32]) {
    let (enter, leave) = (&enter[..sums.len()], &leave[..sums.len()]);
    for ((s, e), l) in sums.iter_mut().zip(enter).zip(leave) {
        *s += e - l;
    }
}

/// `out[x]` = the sum of `row` over x - RADIUS ..= x + RADIUS, edges clamped, written so the inner part
/// vectorises.
fn box_row(row: &[f32], out: &mut [f32]) {
    let w = row.len();
    if w > 2 * RADIUS {
        let inner = &mut out[RADIUS..w - RADIUS];
        let m = inner.len();
        sum_taps(inner, std::array::from_fn(|t| &row[t..t + m]), 1.0);
    }
    for x in (0..RADIUS.min(w)).chain(w.saturating_sub(RADIUS).max(RADIUS.min(w))..w) {
        out[x] = (-(RADIUS as isize)..=RADIUS as isize).map(|d| row[clamped(x, d, w)]).sum();
    }
}

/// out[i] = scale * the sum over `taps` of tap[i]: one pass over equal-length slices (each read once, `out`
/// written once), which the compiler unrolls over the taps and vectorises.
fn sum_taps(out: &mut [f32], taps: [&[f32]; TAPS], scale: f32) {
    let n = out.len();
    let taps = taps.map(|t| &t[..n]);
    for (i, o) in out.iter_mut().enumerate() {
        let mut sum = taps[0][i];
        for tap in &taps[1..] {
            sum += tap[i];
        }
        *o = sum * scale;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(w: u32, h: u32, colour: impl Fn(u32, u32) -> [u8; 3]) -> Vec<u8> {
        (0..w * h)
            .flat_map(|i| {
                let [r, g, b] = colour(i % w, i / w);
                [r, g, b, 255]
            })
            .collect()
    }

    fn box_mean(plane: &[f32], w: usize, h: usize) -> Vec<f32> {
        let mut out = vec![0.0; w * h];
        let source = |y: usize, raw: &mut [f32]| raw.copy_from_slice(&plane[y * w..(y + 1) * w]);
        let mean = |y: usize, sums: &[f32]| {
            for (o, s) in out[y * w..(y + 1) * w].iter_mut().zip(sums) {
                *o = s / WINDOW as f32;
            }
        };
        box_rows((w, h), 1, &mut Vec::new(), source, mean);
        out
    }

    #[test]
    fn box_mean_matches_a_direct_clamped_window() {
        let (w, h) = (9, 7);
        let values: Vec<f32> = (0..w * h).map(|i| ((i * 37) % 11) as f32).collect();
        let plane = box_mean(&values, w, h);
        for y in 0..h {
            for x in 0..w {
                let (mut sum, r) = (0.0, RADIUS as isize);
                for dy in -r..=r {
                    for dx in -r..=r {
                        let (sx, sy) =
                            ((x as isize + dx).clamp(0, w as isize - 1), (y as isize + dy).clamp(0, h as isize - 1));
                        sum += values[sy as usize * w + sx as usize];
                    }
                }
                let taps = ((2 * r + 1) * (2 * r + 1)) as f32;
                assert!((plane[y * w + x] - sum / taps).abs() < 1e-4, "({x},{y})");
            }
        }
        // Narrower than the window: a 1x2 plane, each window holds clamped repeats.
        let tiny = box_mean(&[1.0, 3.0], 2, 1);
        let r = RADIUS as isize;
        let expected = (-r..=r).map(|d| if d <= 0 { 1.0 } else { 3.0 }).sum::<f32>() / TAPS as f32;
        assert!((tiny[0] - expected).abs() < 1e-6, "{tiny:?}");
    }

    #[test]
    fn a_flat_picture_keeps_the_mean_probability() {
        let (w, h) = (16, 16);
        let f = frame(w, h, |_, _| [90, 120, 30]);
        let p: Vec<f32> = (0..w * h).map(|i| if i % w < 8 { 0.2 } else { 0.8 }).collect();
        let g = GuidedFilter::default().fit(RgbaView::new(w, h, &f), &p, &[]);
        // No colour to follow: a ~ 0 and the result is the box-smoothed probability.
        let colour = [guide_value(90), guide_value(120), guide_value(30)];
        let at = |x: u32, y: u32| g.apply([(x as f32 + 0.5) / w as f32, (y as f32 + 0.5) / h as f32], colour);
        assert!((at(0, 5) - 0.2).abs() < 1e-4 && (at(15, 5) - 0.8).abs() < 1e-4);
        assert!(g.coefficients.chunks(4).all(|c| c[0].abs() < 1e-3 && c[1].abs() < 1e-3 && c[2].abs() < 1e-3));
    }

    #[test]
    fn the_edge_follows_the_picture_not_the_coarse_mask() {
        // The picture's edge is at x = 8; the model's mask is a blurry ramp over x = 5..11.
        let (w, h) = (16, 8);
        let f = frame(w, h, |x, _| if x < 8 { [20, 20, 20] } else { [230, 230, 230] });
        let p: Vec<f32> = (0..w * h).map(|i| ((((i % w) as f32) - 5.0) / 6.0).clamp(0.0, 1.0)).collect();
        let g = GuidedFilter::default().fit(RgbaView::new(w, h, &f), &p, &[]);
        let dark = [guide_value(20); 3];
        let light = [guide_value(230); 3];
        let uv = |x: f32| [(x + 0.5) / w as f32, 3.5 / h as f32];
        // Either side of the picture's edge the refined values split apart far more than the ramp does.
        let (left, right) = (g.apply(uv(7.0), dark), g.apply(uv(8.0), light));
        let ramp_step = p[8] - p[7];
        assert!(right - left > 2.5 * ramp_step, "left {left} right {right}, ramp step {ramp_step}");
    }

    #[test]
    fn weights_move_the_coefficients_part_of_the_way() {
        let (w, h) = (8u32, 8u32);
        let f = frame(w, h, |x, y| [(x * 30) as u8, (y * 30) as u8, 90]);
        let (low, high) = (vec![0.2; 64], vec![0.6; 64]);
        let mut g = GuidedFilter::default();
        let first = g.fit(RgbaView::new(w, h, &f), &low, &[]);
        let half = g.fit(RgbaView::new(w, h, &f), &high, &[0.5; 64]);
        let fresh = GuidedFilter::default().fit(RgbaView::new(w, h, &f), &high, &[]);
        for ((a, b), c) in first.coefficients.iter().zip(&half.coefficients).zip(&fresh.coefficients) {
            assert!((b - (a + c) / 2.0).abs() < 1e-5, "{a} {b} {c}");
        }
        // Weights of another size (a new video) start afresh.
        let again = g.fit(RgbaView::new(w, h, &f), &high, &[0.5; 3]);
        assert_eq!(again.coefficients, fresh.coefficients);
    }

    #[test]
    fn plain_guidance_is_the_probability() {
        let g = Guidance::plain(2, 1, &[0.25, 0.75]);
        assert_eq!(g.apply([0.99, 0.5], [0.3, 0.9, 0.1]), 0.75);
    }
}

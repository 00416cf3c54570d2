//! Edge-aware upsampling coefficients by a fast guided filter (He et al. 2010, 2015), computed on the CPU
//! right after inference, from the exact small frame the model saw.
//!
//! In each window the person probability is fitted as a linear function of the colour, `p = a . colour + b`;
//! the fits covering a texel are averaged. The GPU then only evaluates `dot(a, colour) + b` per output pixel
//! with the full-resolution colour (one texture read), so the mask's edge lands on the picture's edges while
//! flat regions keep the model's value. As in the fast guided filter, the fit runs on the mask subsampled by
//! `SUBSAMPLE` (3x3 windows there, about the 5x5 of the full mask): the coefficients vary slowly, the edge
//! detail comes from the full-resolution colour they are applied to.
//!
//! Colours are the stored (sRGB-encoded) values, 0..1, as the model saw them and as the effect reads them.

use crate::preprocess::RgbaView;

/// Window radius in texels of the subsampled mask (3x3 windows).
pub const RADIUS: usize = 1;
/// The fit runs at the mask's size divided by this (the "fast" in fast guided filter): a quarter of the work.
pub const SUBSAMPLE: u32 = 2;
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
    planes: Vec<Vec<f32>>,
    scratch: Vec<f32>,
    small_frame: Vec<u8>,
    small_probability: Vec<f32>,
}

/// `frame` and `probability` averaged over blocks of SUBSAMPLE^2 texels (edges clamped) into `size`.
fn subsample(frame: RgbaView<'_>, probability: &[f32], size: (u32, u32), rgba: &mut Vec<u8>, p: &mut Vec<f32>) {
    let (fw, fh) = (frame.width as usize, frame.height as usize);
    let (w, h) = (size.0 as usize, size.1 as usize);
    let s = SUBSAMPLE as usize;
    let (pixels, _) = frame.data.as_chunks::<4>();
    rgba.clear();
    p.clear();
    let n = (s * s) as u32;
    for y in 0..h {
        for x in 0..w {
            let (mut sum, mut q) = ([0u32; 4], 0.0f32);
            for dy in 0..s {
                let row = (y * s + dy).min(fh - 1) * fw;
                for dx in 0..s {
                    let i = row + (x * s + dx).min(fw - 1);
                    let px = pixels[i];
                    sum = std::array::from_fn(|c| sum[c] + u32::from(px[c]));
                    q += probability[i];
                }
            }
            rgba.extend(sum.map(|c| ((c + n / 2) / n) as u8));
            p.push(q / n as f32);
        }
    }
}

/// Planes of the fit: guide r g b, p, then the products rr gg bb rg rb gb, rp gp bp.
const FIT_PLANES: usize = 13;

impl GuidedFilter {
    /// Fits `probability` (0..=1, one per texel of `frame`) against `frame`'s colours. The coefficients come
    /// at the subsampled size (the GPU's bilinear sampling brings them back up).
    pub fn fit(&mut self, frame: RgbaView<'_>, probability: &[f32]) -> Guidance {
        assert_eq!(probability.len(), (frame.width * frame.height) as usize, "probability and frame sizes differ");
        let (w, h) = (frame.width.div_ceil(SUBSAMPLE), frame.height.div_ceil(SUBSAMPLE));
        subsample(frame, probability, (w, h), &mut self.small_frame, &mut self.small_probability);
        let small = std::mem::take(&mut self.small_frame);
        let probability = std::mem::take(&mut self.small_probability);
        let guidance = self.fit_at(RgbaView::new(w, h, &small), &probability);
        (self.small_frame, self.small_probability) = (small, probability);
        guidance
    }

    /// The subsampled frame the last fit was made against (its texels match the coefficients').
    pub fn last_guide(&self) -> &[u8] {
        &self.small_frame
    }

    fn fit_at(&mut self, frame: RgbaView<'_>, probability: &[f32]) -> Guidance {
        let (w, h) = (frame.width as usize, frame.height as usize);
        let n = w * h;
        assert_eq!(probability.len(), n, "probability and frame sizes differ");
        // Every value is overwritten below: resize only, no clearing.
        self.planes.resize_with(FIT_PLANES + 4, Vec::new);
        for plane in &mut self.planes {
            plane.resize(n, 0.0);
        }
        let (inputs, fit) = self.planes.split_at_mut(FIT_PLANES);
        let (pixels, _) = frame.data.as_chunks::<4>();
        let (pixels, probability) = (&pixels[..n], &probability[..n]);
        for_lanes(n, |at, lanes| {
            let mut c = [[0.0f32; LANES]; FIT_PLANES];
            for k in 0..lanes {
                let i = at + k;
                let [r, g, b, _] = pixels[i].map(guide_value);
                let q = probability[i];
                let values = [r, g, b, q, r * r, g * g, b * b, r * g, r * b, g * b, r * q, g * q, b * q];
                for (plane, v) in c.iter_mut().zip(values) {
                    plane[k] = v;
                }
            }
            for (plane, values) in inputs.iter_mut().zip(&c) {
                plane[at..at + lanes].copy_from_slice(&values[..lanes]);
            }
        });
        for plane in inputs.iter_mut() {
            box_mean(plane, w, h, &mut self.scratch);
        }
        let [mr, mg, mb, mp, rr, gg, bb, rg, rb, gb, rp, gp, bp] = &*inputs else { unreachable!() };
        let [ar, ag, ab, b] = fit else { unreachable!() };
        solve(n, [mr, mg, mb, mp], [rr, gg, bb, rg, rb, gb], [rp, gp, bp], [ar, ag, ab, b]);
        for plane in fit.iter_mut() {
            box_mean(plane, w, h, &mut self.scratch);
        }
        let [ar, ag, ab, b] = &fit[..] else { unreachable!() };
        let mut coefficients = Vec::with_capacity(n * 4);
        for (((ar, ag), ab), b) in ar.iter().zip(ag).zip(ab).zip(b) {
            coefficients.extend_from_slice(&[*ar, *ag, *ab, *b]);
        }
        Guidance { width: frame.width, height: frame.height, coefficients }
    }
}

/// Per window: a = (covariance of colour + eps)^-1 . covariance(colour, p), b = mean p - a . mean colour.
/// A plain indexed loop over slices sliced to `n`, so the compiler drops the bounds checks and vectorises it.
fn solve(n: usize, means: [&[f32]; 4], squares: [&[f32]; 6], products: [&[f32]; 3], out: [&mut Vec<f32>; 4]) {
    let [mr, mg, mb, mp] = means.map(|v| &v[..n]);
    let [rr, gg, bb, rg, rb, gb] = squares.map(|v| &v[..n]);
    let [rp, gp, bp] = products.map(|v| &v[..n]);
    let [ar, ag, ab, b] = out.map(|v| &mut v[..n]);
    for i in 0..n {
        let (mr, mg, mb, mp) = (mr[i], mg[i], mb[i], mp[i]);
        let (cr, cg, cb) = (rp[i] - mr * mp, gp[i] - mg * mp, bp[i] - mb * mp);
        let (dr, dg, db) = (rr[i] - mr * mr + EPSILON, gg[i] - mg * mg + EPSILON, bb[i] - mb * mb + EPSILON);
        let (org, orb, ogb) = (rg[i] - mr * mg, rb[i] - mr * mb, gb[i] - mg * mb);
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

/// Texels per block of the per-texel loops.
const LANES: usize = 8;

/// Calls `f(start, count)` for consecutive blocks of up to LANES of `n` items.
fn for_lanes(n: usize, mut f: impl FnMut(usize, usize)) {
    for at in (0..n).step_by(LANES) {
        f(at, LANES.min(n - at));
    }
}

/// Replaces `plane` by its mean over each (2 RADIUS + 1)^2 window, edges clamped (as a GPU sampler clamps):
/// two separable passes, written so the compiler vectorises them.
fn box_mean(plane: &mut [f32], w: usize, h: usize, scratch: &mut Vec<f32>) {
    const TAPS: usize = 2 * RADIUS + 1;
    scratch.resize(w * h, 0.0); // fully overwritten below
    let clamp_x = |x: isize| x.clamp(0, w as isize - 1) as usize;
    // Horizontal, into scratch.
    for (row, out) in plane.chunks_exact(w).zip(scratch.chunks_exact_mut(w)) {
        if w > 2 * RADIUS {
            let inner = &mut out[RADIUS..w - RADIUS];
            let m = inner.len();
            inner.copy_from_slice(&row[..m]);
            for t in 1..TAPS {
                add(inner, &row[t..t + m]);
            }
        }
        for x in (0..RADIUS.min(w)).chain(w.saturating_sub(RADIUS).max(RADIUS.min(w))..w) {
            out[x] = (-(RADIUS as isize)..=RADIUS as isize).map(|d| row[clamp_x(x as isize + d)]).sum();
        }
    }
    // Vertical, back into the plane, whole rows at a time.
    let scale = 1.0 / (TAPS * TAPS) as f32;
    for (y, out) in plane.chunks_exact_mut(w).enumerate() {
        let row = |k: isize| {
            let r = (y as isize + k).clamp(0, h as isize - 1) as usize;
            &scratch[r * w..(r + 1) * w]
        };
        out.copy_from_slice(row(-(RADIUS as isize)));
        for k in 1 - RADIUS as isize..=RADIUS as isize {
            add(out, row(k));
        }
        for v in out.iter_mut() {
            *v *= scale;
        }
    }
}

/// out[x] += row[x]: slices that cannot alias, of equal length, so the loop vectorises.
fn add(out: &mut [f32], row: &[f32]) {
    let row = &row[..out.len()];
    for (o, r) in out.iter_mut().zip(row) {
        *o += r;
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

    #[test]
    fn box_mean_matches_a_direct_clamped_window() {
        let (w, h) = (9, 7);
        let values: Vec<f32> = (0..w * h).map(|i| ((i * 37) % 11) as f32).collect();
        let mut plane = values.clone();
        box_mean(&mut plane, w, h, &mut Vec::new());
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
        let mut tiny = vec![1.0, 3.0];
        box_mean(&mut tiny, 2, 1, &mut Vec::new());
        assert!((tiny[0] - (2.0 * 1.0 + 3.0) / 3.0).abs() < 1e-6, "{tiny:?}");
    }

    #[test]
    fn a_flat_picture_keeps_the_mean_probability() {
        let (w, h) = (16, 16);
        let f = frame(w, h, |_, _| [90, 120, 30]);
        let p: Vec<f32> = (0..w * h).map(|i| if i % w < 8 { 0.2 } else { 0.8 }).collect();
        let g = GuidedFilter::default().fit(RgbaView::new(w, h, &f), &p);
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
        let g = GuidedFilter::default().fit(RgbaView::new(w, h, &f), &p);
        let dark = [guide_value(20); 3];
        let light = [guide_value(230); 3];
        let uv = |x: f32| [(x + 0.5) / w as f32, 3.5 / h as f32];
        // Either side of the picture's edge the refined values split apart far more than the ramp does.
        let (left, right) = (g.apply(uv(7.0), dark), g.apply(uv(8.0), light));
        let ramp_step = p[8] - p[7];
        assert!(right - left > 2.5 * ramp_step, "left {left} right {right}, ramp step {ramp_step}");
    }

    #[test]
    fn plain_guidance_is_the_probability() {
        let g = Guidance::plain(2, 1, &[0.25, 0.75]);
        assert_eq!(g.apply([0.99, 0.5], [0.3, 0.9, 0.1]), 0.75);
    }
}

//! Edge-aware upsampling coefficients by a fast guided filter (He et al. 2010, 2015), computed on the CPU at
//! the mask's size, right after inference, from the exact small frame the model saw.
//!
//! In each 5x5 window of mask texels the person probability is fitted as a linear function of the colour,
//! `p = a . colour + b`; the fits covering a texel are averaged. The GPU then only evaluates
//! `dot(a, colour) + b` per output pixel with the full-resolution colour (one texture read), so the mask's edge
//! lands on the picture's edges while flat regions keep the model's value.
//!
//! Colours are the stored (sRGB-encoded) values, 0..1, as the model saw them and as the effect reads them.

use crate::preprocess::RgbaView;

/// Window radius in mask texels (a 5x5 window).
pub const RADIUS: usize = 2;
/// Added to the colour variance: windows flatter than a colour spread of about 8/255 keep their mean
/// probability instead of amplifying noise.
pub const EPSILON: f32 = 0.001;

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

    /// The refined probability at texel `i` for a guide colour (already in the guide's space).
    pub fn apply(&self, i: usize, guide: [f32; 3]) -> f32 {
        let c = &self.coefficients[i * 4..i * 4 + 4];
        c[0] * guide[0] + c[1] * guide[1] + c[2] * guide[2] + c[3]
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
}

/// Planes of the fit: guide r g b, p, then the products rr gg bb rg rb gb, rp gp bp.
const FIT_PLANES: usize = 13;

impl GuidedFilter {
    /// Fits `probability` (0..=1, one per texel of `frame`) against `frame`'s colours.
    pub fn fit(&mut self, frame: RgbaView<'_>, probability: &[f32]) -> Guidance {
        let (w, h) = (frame.width as usize, frame.height as usize);
        let n = w * h;
        assert_eq!(probability.len(), n, "probability and frame sizes differ");
        self.planes.resize_with(FIT_PLANES, Vec::new);
        for plane in &mut self.planes {
            plane.clear();
            plane.resize(n, 0.0);
        }
        {
            let [r, g, b, p, rr, gg, bb, rg, rb, gb, rp, gp, bp, ..] = &mut self.planes[..] else { unreachable!() };
            for i in 0..n {
                let px = &frame.data[i * 4..i * 4 + 3];
                let (cr, cg, cb, q) = (guide_value(px[0]), guide_value(px[1]), guide_value(px[2]), probability[i]);
                (r[i], g[i], b[i], p[i]) = (cr, cg, cb, q);
                (rr[i], gg[i], bb[i]) = (cr * cr, cg * cg, cb * cb);
                (rg[i], rb[i], gb[i]) = (cr * cg, cr * cb, cg * cb);
                (rp[i], gp[i], bp[i]) = (cr * q, cg * q, cb * q);
            }
        }
        for plane in &mut self.planes {
            box_mean(plane, w, h, &mut self.scratch);
        }
        // Per window: a = (covariance of colour + eps)^-1 . covariance(colour, p), b = mean p - a . mean colour.
        let [r, g, b, p, rr, gg, bb, rg, rb, gb, rp, gp, bp, ..] = &self.planes[..] else { unreachable!() };
        let mut fit: Vec<Vec<f32>> = (0..4).map(|_| vec![0.0; n]).collect();
        for i in 0..n {
            let (mr, mg, mb, mp) = (r[i], g[i], b[i], p[i]);
            let (cr, cg, cb) = (rp[i] - mr * mp, gp[i] - mg * mp, bp[i] - mb * mp);
            let (dr, dg, db) = (rr[i] - mr * mr + EPSILON, gg[i] - mg * mg + EPSILON, bb[i] - mb * mb + EPSILON);
            let (org, orb, ogb) = (rg[i] - mr * mg, rb[i] - mr * mb, gb[i] - mg * mb);
            // Inverse of the symmetric covariance by its adjugate.
            let i00 = dg * db - ogb * ogb;
            let i01 = ogb * orb - org * db;
            let i02 = org * ogb - dg * orb;
            let i11 = dr * db - orb * orb;
            let i12 = org * orb - dr * ogb;
            let i22 = dr * dg - org * org;
            let det = dr * i00 + org * i01 + orb * i02;
            let inv = if det.abs() > 1e-12 { 1.0 / det } else { 0.0 };
            let ar = (i00 * cr + i01 * cg + i02 * cb) * inv;
            let ag = (i01 * cr + i11 * cg + i12 * cb) * inv;
            let ab = (i02 * cr + i12 * cg + i22 * cb) * inv;
            fit[0][i] = ar;
            fit[1][i] = ag;
            fit[2][i] = ab;
            fit[3][i] = mp - (ar * mr + ag * mg + ab * mb);
        }
        for plane in &mut fit {
            box_mean(plane, w, h, &mut self.scratch);
        }
        let mut coefficients = Vec::with_capacity(n * 4);
        for i in 0..n {
            coefficients.extend_from_slice(&[fit[0][i], fit[1][i], fit[2][i], fit[3][i]]);
        }
        Guidance { width: frame.width, height: frame.height, coefficients }
    }
}

/// Replaces `plane` by its mean over each (2 RADIUS + 1)^2 window, edges clamped (as a GPU sampler clamps):
/// two separable passes of five taps, written so the compiler vectorises them.
fn box_mean(plane: &mut [f32], w: usize, h: usize, scratch: &mut Vec<f32>) {
    const TAPS: f32 = (2 * RADIUS + 1) as f32;
    scratch.clear();
    scratch.resize(w * h, 0.0);
    let clamp_x = |x: isize| x.clamp(0, w as isize - 1) as usize;
    // Horizontal, into scratch.
    for y in 0..h {
        let row = &plane[y * w..(y + 1) * w];
        let out = &mut scratch[y * w..(y + 1) * w];
        if w > 2 * RADIUS {
            for x in RADIUS..w - RADIUS {
                out[x] = row[x - 2] + row[x - 1] + row[x] + row[x + 1] + row[x + 2];
            }
        }
        for x in (0..RADIUS.min(w)).chain(w.saturating_sub(RADIUS).max(RADIUS.min(w))..w) {
            out[x] = (-(RADIUS as isize)..=RADIUS as isize).map(|d| row[clamp_x(x as isize + d)]).sum();
        }
    }
    // Vertical, back into the plane, whole rows at a time.
    let scale = 1.0 / (TAPS * TAPS);
    for y in 0..h {
        let rows: [usize; 5] = std::array::from_fn(|k| (y as isize + k as isize - 2).clamp(0, h as isize - 1) as usize);
        let [r0, r1, r2, r3, r4] = rows.map(|r| &scratch[r * w..(r + 1) * w]);
        let out = &mut plane[y * w..(y + 1) * w];
        for x in 0..w {
            out[x] = (r0[x] + r1[x] + r2[x] + r3[x] + r4[x]) * scale;
        }
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
                let mut sum = 0.0;
                for dy in -2..=2isize {
                    for dx in -2..=2isize {
                        let (sx, sy) =
                            ((x as isize + dx).clamp(0, w as isize - 1), (y as isize + dy).clamp(0, h as isize - 1));
                        sum += values[sy as usize * w + sx as usize];
                    }
                }
                assert!((plane[y * w + x] - sum / 25.0).abs() < 1e-4, "({x},{y})");
            }
        }
        // Narrower than the window.
        let mut tiny = vec![1.0, 3.0];
        box_mean(&mut tiny, 2, 1, &mut Vec::new());
        assert!((tiny[0] - (3.0 * 1.0 + 2.0 * 3.0) / 5.0).abs() < 1e-6, "{tiny:?}");
    }

    #[test]
    fn a_flat_picture_keeps_the_mean_probability() {
        let (w, h) = (16, 16);
        let f = frame(w, h, |_, _| [90, 120, 30]);
        let p: Vec<f32> = (0..w * h).map(|i| if i % w < 8 { 0.2 } else { 0.8 }).collect();
        let g = GuidedFilter::default().fit(RgbaView::new(w, h, &f), &p);
        // No colour to follow: a ~ 0 and the result is the box-smoothed probability.
        let c = guide_value(90);
        let at = |x: u32, y: u32| g.apply((y * w + x) as usize, [c, guide_value(120), guide_value(30)]);
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
        let row = 3 * w as usize;
        // Either side of the picture's edge the refined values split apart far more than the ramp does.
        let (left, right) = (g.apply(row + 7, dark), g.apply(row + 8, light));
        let ramp_step = p[8] - p[7];
        assert!(right - left > 2.5 * ramp_step, "left {left} right {right}, ramp step {ramp_step}");
    }

    #[test]
    fn plain_guidance_is_the_probability() {
        let g = Guidance::plain(2, 1, &[0.25, 0.75]);
        assert_eq!(g.apply(1, [0.3, 0.9, 0.1]), 0.75);
    }
}

//! How much the picture changed between two frames the worker saw: the one change measure behind the
//! decision to segment a frame at all (`change_gate`), the scene cut and the motion (`motion`), and, per
//! pixel, how much of a new mask temporal smoothing takes (`temporal`).
//!
//! Frames are compared as luma at half and a quarter of the model's size. A quarter-size texel averages
//! 4x4 model pixels, each of which already averages many video pixels, so sensor noise and compression
//! flicker all but cancel there while a moving edge does not (measured on a webcam-like clip, sigma 2 noise,
//! H.264 CRF 23 and an exposure drift of 1 level a second: no texel ever moved by 3 levels within a second;
//! on talking heads the texels around the face move by tens of levels).

use crate::crop::{move_plane, Crop};
use crate::preprocess::RgbaView;

/// A quarter-size texel whose luma moved by this much (0..255) changed. Twice the largest change noise and
/// compression gave on the webcam-like clip within a second; half a model pixel's move of a 40-level edge.
pub const CHANGED_LEVEL: f32 = 5.0;
/// Changed texels that make a changed picture: one alone can be a compression artefact.
pub const CHANGED_TEXELS: usize = 2;
/// Mean change of an 8x8 thumbnail (0..255) above which the picture is a new scene.
pub const SCENE_CUT: f32 = 50.0;
const THUMB: usize = 8;

/// A frame's luma at half (`fine`) and a quarter (`coarse`) of its size: what the change measure and the
/// motion measure compare. Made once per frame the worker takes (about 0.1 ms at 256x256).
#[derive(Clone, Default)]
pub struct Picture {
    pub fine: Plane,
    pub coarse: Plane,
    /// The frame's own size (the model's input size).
    pub size: (u32, u32),
}

impl Picture {
    pub fn of(frame: RgbaView<'_>) -> Picture {
        let fine = half_luma(frame);
        let coarse = fine.halved();
        Picture { fine, coarse, size: (frame.width, frame.height) }
    }
}

/// One channel of texels, row by row.
#[derive(Clone, Default, PartialEq)]
pub struct Plane {
    pub width: usize,
    pub height: usize,
    pub luma: Vec<f32>,
}

impl Plane {
    /// Onto crop `to`'s grid from crop `from`'s; says per texel whether it was inside `from`.
    pub fn move_to(&mut self, from: Crop, to: Crop, scratch: &mut Vec<f32>) -> Vec<bool> {
        let size = (self.width as u32, self.height as u32);
        move_plane(&mut self.luma, 1, size, from, to, scratch)
    }

    /// 2x2 box average (odd edges dropped).
    fn halved(&self) -> Plane {
        let (w, h) = (self.width / 2, self.height / 2);
        let mut luma = Vec::with_capacity(w * h);
        for y in 0..h {
            let (a, b) = (&self.luma[2 * y * self.width..], &self.luma[(2 * y + 1) * self.width..]);
            for x in 0..w {
                luma.push(0.25 * (a[2 * x] + a[2 * x + 1] + b[2 * x] + b[2 * x + 1]));
            }
        }
        Plane { width: w, height: h, luma }
    }
}

/// Luma (Rec. 601 weights) of an RGBA frame, 2x2 box-averaged.
fn half_luma(frame: RgbaView<'_>) -> Plane {
    let (fw, w, h) = (frame.width as usize, frame.width as usize / 2, frame.height as usize / 2);
    let y_of = |i: usize| {
        let p = &frame.data[i * 4..i * 4 + 3];
        0.299 * f32::from(p[0]) + 0.587 * f32::from(p[1]) + 0.114 * f32::from(p[2])
    };
    let mut luma = Vec::with_capacity(w * h);
    for y in 0..h {
        let (a, b) = (2 * y * fw, (2 * y + 1) * fw);
        for x in 0..w {
            luma.push(0.25 * (y_of(a + 2 * x) + y_of(a + 2 * x + 1) + y_of(b + 2 * x) + y_of(b + 2 * x + 1)));
        }
    }
    Plane { width: w, height: h, luma }
}

/// True when `now` differs from `before` (both quarter-size planes of one crop) by more than noise: at least
/// CHANGED_TEXELS texels moved by CHANGED_LEVEL or more.
pub fn changed(now: &Plane, before: &Plane) -> bool {
    if (now.width, now.height) != (before.width, before.height) {
        return true;
    }
    let moved = now.luma.iter().zip(&before.luma).filter(|(a, b)| (*a - *b).abs() >= CHANGED_LEVEL).count();
    moved >= CHANGED_TEXELS
}

/// True when the picture changed almost everywhere: the mean change of an 8x8 thumbnail over the cells both
/// frames hold (at least half of them; `seen` marks the texels of `before` inside its own crop) passes
/// SCENE_CUT.
pub fn scene_cut(now: &Plane, before: &Plane, seen: Option<&[bool]>) -> bool {
    let (cw, ch) = (now.width / THUMB, now.height / THUMB);
    if cw == 0 || ch == 0 {
        return false;
    }
    let (mut change, mut cells) = (0.0f32, 0usize);
    for ty in 0..THUMB {
        for tx in 0..THUMB {
            let texels = (0..ch).flat_map(|y| (0..cw).map(move |x| (ty * ch + y) * now.width + tx * cw + x));
            if seen.is_some_and(|s| texels.clone().any(|i| !s[i])) {
                continue;
            }
            let (a, b) = texels.fold((0.0f32, 0.0f32), |(a, b), i| (a + now.luma[i], b + before.luma[i]));
            change += (a - b).abs() / (cw * ch) as f32;
            cells += 1;
        }
    }
    2 * cells >= THUMB * THUMB && change / cells as f32 > SCENE_CUT
}

/// How much one pixel's colour changed (the largest channel difference, 0..255): per pixel, where the
/// texel measures above would average a thin moving edge away.
pub fn pixel_change(now: [u8; 4], before: [u8; 4]) -> u8 {
    now[0].abs_diff(before[0]).max(now[1].abs_diff(before[1])).max(now[2].abs_diff(before[2]))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 64x64 frame with a gradient, plus `noise` (a fixed pattern scaled by it) and `offset` levels.
    fn frame(noise: f32, offset: f32, seed: u32) -> Vec<u8> {
        (0..64u32 * 64)
            .flat_map(|i| {
                let hash = (i.wrapping_mul(2_654_435_761).wrapping_add(seed.wrapping_mul(40_503))) >> 24;
                let n = (hash as f32 / 255.0 - 0.5) * 2.0 * noise;
                let v = ((i % 64) as f32 * 3.0 + offset + n).round().clamp(0.0, 255.0) as u8;
                [v, v, v, 255]
            })
            .collect()
    }

    fn coarse(rgba: &[u8]) -> Plane {
        Picture::of(RgbaView::new(64, 64, rgba)).coarse
    }

    #[test]
    fn noise_and_a_slow_drift_are_not_change() {
        let base = coarse(&frame(6.0, 0.0, 1));
        for seed in 2..20 {
            assert!(!changed(&coarse(&frame(6.0, 1.0, seed)), &base), "seed {seed}");
        }
    }

    #[test]
    fn a_small_moving_patch_is_change_and_a_new_scene_is_a_cut() {
        let base = frame(0.0, 0.0, 0);
        let mut moved = base.clone();
        for y in 20..28 {
            for x in 30..38 {
                moved[(y * 64 + x) * 4..(y * 64 + x) * 4 + 3].copy_from_slice(&[250, 250, 250]);
            }
        }
        let (a, b) = (coarse(&base), coarse(&moved));
        assert!(changed(&b, &a));
        assert!(!scene_cut(&b, &a, None), "a patch is not a new scene");
        let other: Vec<u8> = base.iter().enumerate().map(|(i, v)| if i % 4 == 3 { 255 } else { 255 - v }).collect();
        assert!(scene_cut(&coarse(&other), &a, None));
        assert!(changed(&Plane { width: 1, height: 1, luma: vec![0.0] }, &a), "another size is change");
    }
}

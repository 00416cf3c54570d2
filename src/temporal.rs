//! Temporal stability: per pixel, keep most of the previous mask where the picture did not change, and take
//! the new mask where it did. A still person stops flickering; a moving hand does not trail.
//!
//! Runs at the model's resolution on the frames the model saw, after inference, in the worker (plugin) and
//! in the offline pipeline (`vbg`), so both show and measure the same masks.

use crate::change::pixel_change;
use crate::crop::{move_plane, Crop};
use crate::mask::Mask;
use crate::preprocess::RgbaView;

/// Colour change (largest channel difference, 0..255) at which a pixel counts as fully moving and takes
/// the new mask outright. Below it the blend moves linearly towards the smoothing weight. At the mask's
/// size one texel covers many pixels, so a texel only partly in motion must not count as moving: 40 holds
/// DAVIS's flicker below that of the former per-pixel stage at output size (20 there).
pub const MOTION_FULL: f32 = 40.0;

#[derive(Default)]
pub struct TemporalFilter {
    size: (u32, u32),
    previous_frame: Vec<u8>,
    /// The smoothed mask, 0..=255 as f32 to avoid rounding drift.
    state: Vec<f32>,
    /// Per pixel, the share of the new value the last `apply` took (empty when it started afresh).
    weights: Vec<f32>,
    /// Per pixel, false where the crop moved onto picture the previous crop did not hold: the next `apply`
    /// takes the new mask there (empty: everything was seen).
    seen: Vec<bool>,
    scratch: Vec<f32>,
}

impl TemporalFilter {
    /// Forgets the past (a new video, a new model, or a jump in the picture).
    pub fn reset(&mut self) {
        self.size = (0, 0);
        self.previous_frame.clear();
        self.state.clear();
        self.weights.clear();
        self.seen.clear();
    }

    /// The next mask comes from crop `to` instead of `from`: the state and the previous frame move onto the
    /// new crop's grid, so still parts of the picture keep their smoothed mask wherever they now fall.
    pub fn move_crop(&mut self, from: Crop, to: Crop) {
        if from == to || self.state.is_empty() {
            return;
        }
        let size = self.size;
        self.seen = move_plane(&mut self.state, 1, size, from, to, &mut self.scratch);
        let mut frame: Vec<f32> = self.previous_frame.iter().map(|&v| f32::from(v)).collect();
        move_plane(&mut frame, 4, size, from, to, &mut self.scratch);
        for (old, new) in self.previous_frame.iter_mut().zip(frame) {
            *old = (new + 0.5) as u8;
        }
    }

    /// The smoothed probabilities of the last `apply`, 0..=255 without rounding (empty after a reset).
    pub fn smoothed(&self) -> &[f32] {
        &self.state
    }

    /// Per pixel, how much of the new mask the last `apply` took (`motion_weight`), so that later stages
    /// smoothing other per-pixel values of the same frames follow the same motion; empty when it started
    /// afresh.
    pub fn weights(&self) -> &[f32] {
        &self.weights
    }

    /// Blends `mask` (computed from `frame`, same size) with the masks before it, the previous one `frames`
    /// video frames earlier. `smoothing` 0 leaves the mask as it is; towards 1 still pixels change more
    /// slowly. Smoothing works in time, not per mask: `smoothing` is what a still pixel keeps per video frame,
    /// so a mask after a pause of many frames (a still picture segmented again once a second) takes nearly
    /// all of the new mask, as smoothing every frame would have got there by then.
    pub fn apply(&mut self, frame: RgbaView<'_>, mask: &mut Mask, smoothing: f32, frames: u64) {
        let fresh = (frame.width, frame.height) != (mask.width, mask.height)
            || self.size != (mask.width, mask.height)
            || smoothing <= 0.0;
        if fresh {
            self.size = (mask.width, mask.height);
            self.state = mask.data.iter().map(|&v| f32::from(v)).collect();
            self.previous_frame = frame.data.to_vec();
            self.weights.clear();
            if frame.data.len() != mask.data.len() * 4 {
                self.reset();
            }
            return;
        }
        let keep = smoothing.clamp(0.0, 0.99).powi(frames.clamp(1, 1000) as i32);
        self.weights.resize(mask.data.len(), 0.0); // fully overwritten
        let (now, _) = frame.data.as_chunks::<4>();
        let (before, _) = self.previous_frame.as_chunks::<4>();
        for ((w, now), before) in self.weights.iter_mut().zip(now).zip(before) {
            *w = motion_weight(*now, *before, keep);
        }
        if self.seen.len() == self.weights.len() {
            for (w, seen) in self.weights.iter_mut().zip(&self.seen) {
                if !seen {
                    *w = 1.0;
                }
            }
        }
        self.seen.clear();
        blend(&mut self.state, &mut mask.data, &self.weights);
        self.previous_frame.copy_from_slice(frame.data);
    }
}

/// How much of a new value a pixel takes: 1 - keep where its colour (RGBA `now` against `before`) is still,
/// all of it where it changed by MOTION_FULL or more.
pub fn motion_weight(now: [u8; 4], before: [u8; 4], keep: f32) -> f32 {
    let change = pixel_change(now, before);
    let motion = (f32::from(change) * (1.0 / MOTION_FULL)).min(1.0);
    1.0 - keep * (1.0 - motion)
}

/// Per pixel, moves the state towards the new mask by its weight. Slice parameters of equal length (which
/// cannot alias), so the compiler vectorises the loop.
fn blend(state: &mut [f32], mask: &mut [u8], weights: &[f32]) {
    for ((s, m), take) in state.iter_mut().zip(mask.iter_mut()).zip(weights) {
        *s += take * (f32::from(*m) - *s);
        *m = (*s + 0.5) as u8; // `as` saturates to 0..=255
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(value: u8, n: usize) -> Vec<u8> {
        (0..n).flat_map(|_| [value, value, value, 255]).collect()
    }

    fn mask(values: &[u8]) -> Mask {
        Mask { width: values.len() as u32, height: 1, data: values.to_vec() }
    }

    #[test]
    fn still_pixels_are_smoothed_moving_ones_follow_at_once() {
        let mut t = TemporalFilter::default();
        let still = frame(100, 2);
        let mut m = mask(&[0, 0]);
        t.apply(RgbaView::new(2, 1, &still), &mut m, 0.8, 1);
        assert_eq!(m.data, vec![0, 0]);

        // Pixel 0 stays still, pixel 1 changes colour; the model now says "person" for both.
        let mut moved = still.clone();
        moved[4..7].copy_from_slice(&[200, 200, 200]);
        let mut m = mask(&[255, 255]);
        t.apply(RgbaView::new(2, 1, &moved), &mut m, 0.8, 1);
        assert_eq!(m.data[1], 255, "a moving pixel takes the new mask at once");
        assert_eq!(m.data[0], 51, "a still pixel moves 20 % of the way");

        // Keeping still, the mask converges to what the model says.
        for _ in 0..40 {
            let mut m = mask(&[255, 255]);
            t.apply(RgbaView::new(2, 1, &moved), &mut m, 0.8, 1);
            if m.data[0] == 255 {
                return;
            }
        }
        panic!("a still pixel never converged");
    }

    #[test]
    fn zero_smoothing_and_size_changes_pass_masks_through() {
        let mut t = TemporalFilter::default();
        let f = frame(10, 3);
        let mut m = mask(&[1, 2, 3]);
        t.apply(RgbaView::new(3, 1, &f), &mut m, 0.0, 1);
        let mut m = mask(&[200, 100, 50]);
        t.apply(RgbaView::new(3, 1, &f), &mut m, 0.0, 1);
        assert_eq!(m.data, vec![200, 100, 50]);

        t.apply(RgbaView::new(3, 1, &f), &mut mask(&[0, 0, 0]), 0.9, 1);
        let g = frame(10, 2);
        let mut m = mask(&[90, 90]);
        t.apply(RgbaView::new(2, 1, &g), &mut m, 0.9, 1);
        assert_eq!(m.data, vec![90, 90], "a new size starts afresh");
    }

    #[test]
    fn smoothing_works_in_time_not_per_mask() {
        // A still pixel whose mask changed: one mask 30 frames later (a still picture's keep-alive) gets as far
        // as 30 masks one frame apart would.
        let f = frame(50, 1);
        let (mut every_frame, mut once) = (TemporalFilter::default(), TemporalFilter::default());
        for t in [&mut every_frame, &mut once] {
            t.apply(RgbaView::new(1, 1, &f), &mut mask(&[0]), 0.9, 1);
        }
        let mut m = mask(&[255]);
        for _ in 0..30 {
            m = mask(&[255]);
            every_frame.apply(RgbaView::new(1, 1, &f), &mut m, 0.9, 1);
        }
        let mut late = mask(&[255]);
        once.apply(RgbaView::new(1, 1, &f), &mut late, 0.9, 30);
        assert!(m.data[0].abs_diff(late.data[0]) <= 1, "{} vs {}", m.data[0], late.data[0]);
        assert!(late.data[0] >= 240, "{}", late.data[0]);
    }

    #[test]
    fn flicker_on_a_still_picture_shrinks() {
        // The model alternates 100 and 160 on a still picture: smoothing must damp the swing.
        let mut t = TemporalFilter::default();
        let f = frame(50, 1);
        let mut outputs = Vec::new();
        for i in 0..30 {
            let mut m = mask(&[if i % 2 == 0 { 100 } else { 160 }]);
            t.apply(RgbaView::new(1, 1, &f), &mut m, 0.7, 1);
            outputs.push(m.data[0] as i32);
        }
        let swing = outputs[20..].windows(2).map(|w| (w[0] - w[1]).abs()).max().unwrap();
        assert!(swing <= 25, "swing {swing} of the raw 60");
    }
}

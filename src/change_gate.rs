//! Whether a frame needs a new mask at all. A picture that did not change since the frame the shown mask
//! came from (a slide, a paused camera, a person sitting still) keeps that mask: no inference, no
//! refinement, no full-frame look and no upload. A slow keep-alive still segments it once a second, which
//! catches gradual changes the measure lets through (daylight); any real change, a new crop or new options
//! is segmented at once. Runs on the worker before inference, in the plugin and in `vbg` alike.

use crate::change::{changed, Picture, Plane};
use crate::crop::Crop;
use crate::crop_tracker::Cut;

/// Seconds between masks of a picture that does not change.
pub const KEEP_ALIVE: f64 = 1.0;
/// Masks of an unchanged picture before the gate closes: temporal smoothing and the prediction then start
/// from a still picture (the second unchanged mask finds no motion, so the last mask is not moved on).
pub const SETTLE_MASKS: u32 = 2;

/// What a frame needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Its picture has not changed since the frame the mask shown came from: that mask holds.
    Unchanged,
    /// A new mask.
    Segment,
    /// A new mask of a picture that has stopped changing, under a mask that was not moved on for motion (the
    /// mask that closes the gate, or a keep-alive while idle): it stands for the picture until it changes, so
    /// temporal smoothing takes it whole rather than part of the way from masks of earlier pictures.
    Still,
}

/// A frame that was segmented: what later frames of the same kind are compared with.
struct Reference {
    coarse: Plane,
    crop: Crop,
    frame_size: (u32, u32),
    time: f64,
}

impl Reference {
    fn same_as(&self, picture: &Picture, crop: Crop, frame_size: (u32, u32)) -> bool {
        self.crop == crop && self.frame_size == frame_size && !changed(&picture.coarse, &self.coarse)
    }
}

#[derive(Default)]
pub struct ChangeGate {
    /// The last frame segmented for a mask.
    mask: Option<Reference>,
    /// The last full-frame look segmented (with "Follow the person", looks see what the crop does not).
    look: Option<Reference>,
    /// Masks in a row whose picture had not changed since the mask before, under a mask not moved on for
    /// motion.
    unchanged_masks: u32,
}

impl ChangeGate {
    /// Opens the gate: the next frame is segmented whatever it shows (a new model, new options, a cut).
    pub fn reset(&mut self) {
        *self = ChangeGate::default();
    }

    /// The picture has not changed for a while: only the keep-alive runs.
    pub fn idle(&self) -> bool {
        self.unchanged_masks >= SETTLE_MASKS
    }

    /// What to do with the frame `picture` (cut as `cut` from a video frame of `frame_size` pixels, taken at
    /// `time` seconds). A frame to segment becomes the one later frames are compared with. `settled`: the mask
    /// shown now was not moved on for motion, so it holds for an unchanged picture as it is.
    pub fn decide(
        &mut self,
        picture: &Picture,
        cut: Cut,
        frame_size: (u32, u32),
        time: f64,
        settled: bool,
    ) -> Decision {
        let idle = self.idle();
        let reference = if cut.look { &mut self.look } else { &mut self.mask };
        let unchanged = reference.as_ref().is_some_and(|r| r.same_as(picture, cut.crop, frame_size));
        let fresh = reference.as_ref().is_some_and(|r| time - r.time < KEEP_ALIVE);
        // A look only finds where people are, for the crop: an unchanged one has nothing new to say.
        let skip = unchanged && (cut.look || (fresh && settled && idle));
        if skip {
            return Decision::Unchanged;
        }
        *reference = Some(Reference { coarse: picture.coarse.clone(), crop: cut.crop, frame_size, time });
        if cut.look {
            return Decision::Segment;
        }
        // Only a still picture under a still mask counts towards closing the gate: a person moving slowly
        // (each frame under the threshold, but the motion measured) keeps every mask, smoothed as usual.
        let still = unchanged && settled;
        self.unchanged_masks = if still { self.unchanged_masks.saturating_add(1) } else { 0 };
        // The mask that closes the gate, or a keep-alive of an idle picture, stands for the picture.
        if still && (self.unchanged_masks == SETTLE_MASKS || idle) {
            Decision::Still
        } else {
            Decision::Segment
        }
    }

    /// Whether the frame must be segmented (`decide`, as the tests ask it).
    #[cfg(test)]
    fn needs_mask(&mut self, picture: &Picture, cut: Cut, size: (u32, u32), time: f64, settled: bool) -> bool {
        self.decide(picture, cut, size, time, settled) != Decision::Unchanged
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::preprocess::RgbaView;

    fn picture(value: u8) -> Picture {
        let rgba: Vec<u8> =
            (0..64 * 64).flat_map(|i| [value.wrapping_add((i % 64) as u8), value, value, 255]).collect();
        Picture::of(RgbaView::new(64, 64, &rgba))
    }

    const SIZE: (u32, u32) = (1280, 720);

    #[test]
    fn a_still_picture_settles_to_the_keep_alive_and_a_change_is_segmented_at_once() {
        let mut gate = ChangeGate::default();
        let still = picture(100);
        let segmented: Vec<f64> =
            (0..300).map(|i| i as f64 / 30.0).filter(|&t| gate.needs_mask(&still, Cut::FULL, SIZE, t, true)).collect();
        // The first frame and SETTLE_MASKS more, then one a second.
        assert_eq!(&segmented[..3], &[0.0, 1.0 / 30.0, 2.0 / 30.0]);
        assert_eq!(segmented.len(), 3 + 9, "{segmented:?}");
        assert!(gate.needs_mask(&picture(140), Cut::FULL, SIZE, 10.01, true), "a change is segmented at once");
        assert!(gate.needs_mask(&picture(140), Cut::FULL, SIZE, 10.02, true), "and settles again");
    }

    #[test]
    fn a_moved_mask_a_new_crop_or_a_new_size_reopen_the_gate() {
        let mut gate = ChangeGate::default();
        let still = picture(100);
        for i in 0..5 {
            gate.needs_mask(&still, Cut::FULL, SIZE, i as f64 * 0.03, true);
        }
        assert!(!gate.needs_mask(&still, Cut::FULL, SIZE, 0.2, true));
        assert!(gate.needs_mask(&still, Cut::FULL, SIZE, 0.21, false), "the mask shown was moved on for motion");
        let crop = Cut { crop: Crop { x: 0.25, y: 0.0, w: 0.5, h: 1.0 }, look: false };
        assert!(gate.needs_mask(&still, crop, SIZE, 0.22, true), "another crop");
        assert!(gate.needs_mask(&still, crop, (640, 360), 0.23, true), "another frame size");
    }

    #[test]
    fn a_slowly_moving_person_keeps_smoothing_and_the_gate_open() {
        // Each frame under the threshold, but the worker measures motion (the mask is moved on: not settled).
        let mut gate = ChangeGate::default();
        let decisions: Vec<Decision> =
            (0..30).map(|i| gate.decide(&picture(100), Cut::FULL, SIZE, i as f64 / 30.0, false)).collect();
        assert!(decisions.iter().all(|d| *d == Decision::Segment), "{decisions:?}");
        assert!(!gate.idle());
    }

    #[test]
    fn looks_are_compared_with_looks() {
        let mut gate = ChangeGate::default();
        let look = Cut { crop: Crop::FULL, look: true };
        let crop = Cut { crop: Crop { x: 0.25, y: 0.0, w: 0.5, h: 1.0 }, look: false };
        assert!(gate.needs_mask(&picture(100), look, SIZE, 0.0, true));
        for i in 1..5 {
            gate.needs_mask(&picture(50), crop, SIZE, i as f64 * 0.03, true);
        }
        assert!(!gate.needs_mask(&picture(100), look, SIZE, 0.4, true), "the same look again");
        assert!(!gate.needs_mask(&picture(50), crop, SIZE, 0.43, true), "the crop's picture settled");
        assert!(gate.needs_mask(&picture(160), look, SIZE, 0.8, true), "someone came in");
    }
}

//! Everything done to a mask between the model and the GPU, on the worker thread at the mask's size: temporal
//! smoothing, then the guided filter's fit against the frame the model saw, whose coefficients are smoothed
//! over time too (where the picture is still, so a still edge does not shimmer; where it moves, they follow
//! at once). The motion measure gives the person's velocity for the composite's prediction and resets all
//! of this at a scene cut. The graphics thread only uploads the result and applies it in the composite.
//! Shared by the plugin's worker and `vbg`, so both show and measure the same masks.

use crate::change::Picture;
use crate::crop::Crop;
use crate::crop_tracker::{CropTracker, Cut};
use crate::guided_filter::{Guidance, GuidedFilter};
use crate::mask::Mask;
use crate::motion::{MotionEstimator, MotionField, MAX_PREDICTED_FRAMES};
use crate::prediction::{warp, WORKER_AHEAD};
use crate::preprocess::RgbaView;
use crate::settings::Settings;
use crate::temporal::TemporalFilter;

/// A velocity below this (crop units per video frame: a tenth of a pixel across 1920) moves a mask by less
/// than a pixel over the frames it is predicted: the mask counts as still.
const SETTLED_VELOCITY: f32 = 5e-5;

/// A mask ready for compositing.
#[derive(Clone, Debug, PartialEq)]
pub struct RefinedMask {
    /// The smoothed person probability (8-bit): the blur's background weights and light wrap read it.
    pub mask: Mask,
    /// The edge-aware upsampling coefficients at the mask's size (plain bilinear when refinement is off).
    pub guidance: Guidance,
    /// The part of the frame both cover; outside it is background.
    pub crop: Crop,
    /// The person's velocity when the frame was analysed, in frame units per video frame.
    pub velocity: [f32; 2],
    /// Frames the mask and coefficients were already moved on along the motion field (`prediction`).
    pub ahead: u64,
}

impl RefinedMask {
    /// Where the mask lies on a frame `frames_ahead` video frames after its own: moved on by the frames it
    /// was not moved on already (`motion::predicted_crop`).
    pub fn predicted_crop(&self, frames_ahead: u64) -> Crop {
        crate::motion::predicted_crop(self.crop, self.velocity, self.ahead, frames_ahead)
    }
}

/// What the worker does to each mask after inference: live settings, applied from the next mask on without
/// reloading anything.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MaskOptions {
    /// How strongly still pixels keep the previous mask (0 = off).
    pub smoothing: f32,
    pub edge_refine: bool,
    /// Cut the model's input around the person ("Follow the person").
    pub follow: bool,
    /// The probability that counts as person, for the box the crop follows.
    pub threshold: f32,
    /// Segment the frame and its mirror image and average the masks (two inferences per mask).
    pub mirror_average: bool,
    /// Move each mask on with the person's measured motion, for showing on a later frame (live, not in sync
    /// mode, where every frame is shown with its own mask).
    pub predict: bool,
}

impl MaskOptions {
    /// The options the filter's settings ask for (OBS and `vbg` alike).
    pub fn from_settings(s: &Settings) -> MaskOptions {
        MaskOptions {
            smoothing: s.temporal_smoothing,
            edge_refine: s.edge_refine,
            follow: s.follow_person,
            threshold: s.threshold,
            mirror_average: s.mirror_average,
            predict: s.predict_motion && !s.sync_video,
        }
    }
}

impl Default for MaskOptions {
    fn default() -> Self {
        MaskOptions {
            smoothing: 0.0,
            edge_refine: true,
            follow: false,
            threshold: 0.5,
            mirror_average: false,
            predict: true,
        }
    }
}

/// What the worker does to each mask, and the state it keeps between masks.
#[derive(Default)]
pub struct MaskRefiner {
    tracker: CropTracker,
    motion: MotionEstimator,
    temporal: TemporalFilter,
    guided: GuidedFilter,
    probability: Vec<f32>,
    /// The crop the previous mask came from.
    crop: Crop,
    /// The video frame the previous mask came from.
    seq: Option<u64>,
    /// The previous mask was not moved on for motion: it holds as it is for as long as the picture stays.
    settled: bool,
    /// The next mask is of a picture that stopped changing (`change_gate::Decision::Still`).
    still_next: bool,
    /// Video frames after its own that each mask is expected to be first shown on (`set_first_shown_lag`);
    /// None: `WORKER_AHEAD`.
    first_shown_lag: Option<u64>,
}

impl MaskRefiner {
    /// How many frames after its own each mask will be first shown: with the prediction on, masks are moved
    /// that far along the motion field (at least 1, at most `MAX_PREDICTED_FRAMES`).
    pub fn set_first_shown_lag(&mut self, frames: u64) {
        self.first_shown_lag = Some(frames);
    }

    /// Forgets earlier masks (a new model, a new video).
    pub fn reset(&mut self) {
        self.temporal.reset();
        self.guided.reset();
        self.tracker.reset();
        self.motion.reset();
        self.crop = Crop::FULL;
        self.seq = None;
        self.settled = false;
        self.still_next = false;
    }

    /// Forgets earlier masks but keeps following the person where they were (a still picture seen again).
    pub fn forget_masks(&mut self) {
        self.temporal.reset();
        self.guided.reset();
    }

    /// Whether the last mask holds as it is while the picture does not change (`ChangeGate`): it was not
    /// moved on along the person's motion.
    pub fn settled(&self) -> bool {
        self.settled
    }

    /// The next mask is of a picture that has stopped changing and stands for it until it changes
    /// (`change_gate::Decision::Still`): smoothing takes it whole.
    pub fn still_picture_next(&mut self) {
        self.still_next = true;
    }

    /// A due full-frame look was skipped because its picture had not changed (`ChangeGate`).
    pub fn look_unchanged(&mut self) {
        self.tracker.look_unchanged();
    }

    /// What to cut the next frame to.
    pub fn next_cut(&self) -> Cut {
        self.tracker.next_cut()
    }

    /// The crop the person is followed with (the whole frame when not following).
    pub fn crop(&self) -> Crop {
        self.tracker.current()
    }

    /// The mask of video frame `seq`, cut as `cut` says, refined for showing, and the crop tracker told where
    /// the person is; None for a full-frame look, which only moves the crop. `frame` is the model's input,
    /// `picture` its luma (`change`).
    #[allow(clippy::too_many_arguments)]
    pub fn process(
        &mut self,
        frame: RgbaView<'_>,
        picture: &Picture,
        mask: Mask,
        cut: Cut,
        seq: u64,
        frame_size: (u32, u32),
        options: MaskOptions,
    ) -> Option<RefinedMask> {
        let size = (mask.width, mask.height);
        if !options.follow {
            self.tracker.reset();
        } else if cut.look {
            self.tracker.observe_look(&mask.data, size, options.threshold, frame_size);
            return None;
        }
        let same_size = (frame.width, frame.height) == size;
        let motion = self.motion.observe(picture, same_size.then_some(&mask.data[..]), cut.crop, seq);
        if motion.cut {
            // A new scene: nothing the worker carries from one mask to the next applies to it.
            self.forget_masks();
        }
        // A still picture's mask takes the new mask whole, as if long enough had passed for smoothing to get
        // there: it is shown until the picture changes, not for one frame.
        let still = std::mem::take(&mut self.still_next);
        let frames = if still { u64::MAX } else { self.seq.map_or(1, |before| seq.saturating_sub(before).max(1)) };
        self.seq = Some(seq);
        let mut refined = self.refine(frame, mask, cut.crop, options.smoothing, frames, options.edge_refine);
        if options.follow {
            let probability = &refined.mask.data;
            self.tracker.observe(motion.cut, probability, size, cut.crop, options.threshold, frame_size);
        }
        let moving = |field: &MotionField| field.velocity.iter().flatten().any(|v| v.abs() >= SETTLED_VELOCITY);
        self.settled = !options.predict || !motion.field.as_ref().is_some_and(moving);
        if let Some(field) = motion.field.as_ref().filter(|_| options.predict) {
            let ahead = self.first_shown_lag.unwrap_or(WORKER_AHEAD).clamp(1, MAX_PREDICTED_FRAMES);
            let m = &mut refined.mask;
            m.data = warp::<u8, 1>(&m.data, (m.width, m.height), field, ahead as f32, |v| (v + 0.5) as u8);
            let g = &mut refined.guidance;
            g.coefficients = warp::<f32, 4>(&g.coefficients, (g.width, g.height), field, ahead as f32, |v| v);
            refined.velocity = motion.velocity;
            refined.ahead = ahead;
        }
        Some(refined)
    }

    /// Smooths `mask` over time (`smoothing` 0..1, as the setting; the previous mask `frames` video frames
    /// earlier) and, with `edge_refine`, fits it to
    /// `frame`'s edges. `frame` is the model's input, the same size as the mask, cut from the video frame to
    /// `crop`: when the crop moved, the state from earlier masks moves with it.
    fn refine(
        &mut self,
        frame: RgbaView<'_>,
        mut mask: Mask,
        crop: Crop,
        smoothing: f32,
        frames: u64,
        edge_refine: bool,
    ) -> RefinedMask {
        if crop != self.crop {
            self.temporal.move_crop(self.crop, crop);
            self.guided.move_crop(self.crop, crop, (mask.width, mask.height));
            self.crop = crop;
        }
        self.temporal.apply(frame, &mut mask, smoothing, frames);
        let smoothed = self.temporal.smoothed();
        self.probability.clear();
        if smoothed.len() == mask.data.len() {
            self.probability.extend(smoothed.iter().map(|v| v / 255.0));
        } else {
            self.probability.extend(mask.data.iter().map(|&v| f32::from(v) / 255.0));
        }
        let same_size = (frame.width, frame.height) == (mask.width, mask.height);
        let guidance = if edge_refine && same_size {
            // The coefficients are smoothed with the temporal filter's weights, which compared the same two
            // frames: where the picture is still they change slowly, where it moves they follow at once.
            self.guided.fit(frame, &self.probability, self.temporal.weights())
        } else {
            self.guided.reset();
            Guidance::plain(mask.width, mask.height, &self.probability)
        };
        RefinedMask { mask, guidance, crop, velocity: [0.0; 2], ahead: 0 }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refinement_off_gives_the_smoothed_probability_unrounded() {
        let mut r = MaskRefiner::default();
        let frame = vec![100u8; 2 * 4];
        let view = RgbaView::new(2, 1, &frame);
        r.refine(view, Mask { width: 2, height: 1, data: vec![0, 0] }, Crop::FULL, 0.9, 1, false);
        let out = r.refine(view, Mask { width: 2, height: 1, data: vec![255, 255] }, Crop::FULL, 0.9, 1, false);
        // A still pixel moves 10 % of the way: 25.5, kept as a fraction rather than rounded to a byte.
        assert!((out.guidance.coefficients[3] - 0.1).abs() < 1e-6, "{:?}", out.guidance);
        assert_eq!(out.mask.data, vec![26, 26]);
    }
}

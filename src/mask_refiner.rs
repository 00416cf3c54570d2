//! Everything done to a mask between the model and the GPU, on the worker thread at the mask's size: temporal
//! smoothing, then the guided filter's fit against the frame the model saw, whose coefficients are smoothed
//! over time too (where the picture is still, so a still edge does not shimmer; where it moves, they follow
//! at once). The graphics thread only uploads the result and applies it in the composite. Shared by the
//! plugin's worker and `vbg`, so both show and measure the same masks.

use crate::guided_filter::{Guidance, GuidedFilter};
use crate::mask::Mask;
use crate::preprocess::RgbaView;
use crate::temporal::{motion_weight, TemporalFilter};

/// A mask ready for compositing.
#[derive(Clone, Debug, PartialEq)]
pub struct RefinedMask {
    /// The smoothed person probability (8-bit): the blur's background weights and light wrap read it.
    pub mask: Mask,
    /// The edge-aware upsampling coefficients at the mask's size (plain bilinear when refinement is off).
    pub guidance: Guidance,
}

/// What the worker does to each mask, and the state it keeps between masks.
#[derive(Default)]
pub struct MaskRefiner {
    temporal: TemporalFilter,
    guided: GuidedFilter,
    probability: Vec<f32>,
    /// The smoothed coefficients and the (subsampled) frame they were last fitted against.
    coefficients: Vec<f32>,
    coefficients_guide: Vec<u8>,
}

impl MaskRefiner {
    /// Forgets earlier masks (a new model, a new video).
    pub fn reset(&mut self) {
        self.temporal.reset();
        self.coefficients.clear();
    }

    /// Smooths `mask` over time (`smoothing` 0..1, as the setting) and, with `edge_refine`, fits it to
    /// `frame`'s edges. `frame` is the model's input, the same size as the mask.
    pub fn refine(&mut self, frame: RgbaView<'_>, mut mask: Mask, smoothing: f32, edge_refine: bool) -> RefinedMask {
        self.temporal.apply(frame, &mut mask, smoothing);
        let smoothed = self.temporal.smoothed();
        self.probability.clear();
        if smoothed.len() == mask.data.len() {
            self.probability.extend(smoothed.iter().map(|v| v / 255.0));
        } else {
            self.probability.extend(mask.data.iter().map(|&v| f32::from(v) / 255.0));
        }
        let same_size = (frame.width, frame.height) == (mask.width, mask.height);
        let guidance = if edge_refine && same_size {
            let mut g = self.guided.fit(frame, &self.probability);
            self.smooth_coefficients(&mut g, smoothing);
            g
        } else {
            self.coefficients.clear();
            Guidance::plain(mask.width, mask.height, &self.probability)
        };
        RefinedMask { mask, guidance }
    }

    /// Blends the new coefficients with the previous ones, per texel as much as the picture there is still.
    fn smooth_coefficients(&mut self, g: &mut Guidance, smoothing: f32) {
        let guide = self.guided.last_guide();
        let fresh = smoothing <= 0.0
            || self.coefficients.len() != g.coefficients.len()
            || self.coefficients_guide.len() != guide.len();
        if !fresh {
            let keep = smoothing.clamp(0.0, 0.99);
            let (now, _) = guide.as_chunks::<4>();
            let (before, _) = self.coefficients_guide.as_chunks::<4>();
            let (state, _) = self.coefficients.as_chunks_mut::<4>();
            let (new, _) = g.coefficients.as_chunks_mut::<4>();
            for (((now, before), state), new) in now.iter().zip(before).zip(state).zip(new) {
                let take = motion_weight(*now, *before, keep);
                for (s, n) in state.iter_mut().zip(new.iter_mut()) {
                    *s += take * (*n - *s);
                    *n = *s;
                }
            }
        } else {
            self.coefficients.clone_from(&g.coefficients);
        }
        self.coefficients_guide.clear();
        self.coefficients_guide.extend_from_slice(guide);
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
        r.refine(view, Mask { width: 2, height: 1, data: vec![0, 0] }, 0.9, false);
        let out = r.refine(view, Mask { width: 2, height: 1, data: vec![255, 255] }, 0.9, false);
        // A still pixel moves 10 % of the way: 25.5, kept as a fraction rather than rounded to a byte.
        assert!((out.guidance.coefficients[3] - 0.1).abs() < 1e-6, "{:?}", out.guidance);
        assert_eq!(out.mask.data, vec![26, 26]);
    }
}

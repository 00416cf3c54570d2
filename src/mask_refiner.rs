//! Everything done to a mask between the model and the GPU, on the worker thread at the mask's size: temporal
//! smoothing, then the guided filter's fit against the frame the model saw, whose coefficients are smoothed
//! over time too (where the picture is still, so a still edge does not shimmer; where it moves, they follow
//! at once). The graphics thread only uploads the result and applies it in the composite. Shared by the
//! plugin's worker and `vbg`, so both show and measure the same masks.

use crate::guided_filter::{Guidance, GuidedFilter};
use crate::mask::Mask;
use crate::preprocess::RgbaView;
use crate::temporal::TemporalFilter;

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
}

impl MaskRefiner {
    /// Forgets earlier masks (a new model, a new video).
    pub fn reset(&mut self) {
        self.temporal.reset();
        self.guided.reset();
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
            // The coefficients are smoothed with the temporal filter's weights, which compared the same two
            // frames: where the picture is still they change slowly, where it moves they follow at once.
            self.guided.fit(frame, &self.probability, self.temporal.weights())
        } else {
            self.guided.reset();
            Guidance::plain(mask.width, mask.height, &self.probability)
        };
        RefinedMask { mask, guidance }
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

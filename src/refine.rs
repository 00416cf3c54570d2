//! How the person's opacity is refined at output resolution: at what size the refinement passes run and
//! what the grow and feather settings mean there. Shared by the OBS graphics path and `vbg`.

use crate::settings::Settings;

/// Taps each side in the shaders' grow loop.
pub const MAX_GROW_TAPS: f32 = 10.0;
/// Largest feather sigma, in refinement texels (the blur loop covers 2.5 sigma with 8 taps).
pub const MAX_FEATHER_SIGMA: f32 = 3.2;

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RefinePlan {
    /// Size of the opacity texture: half the output size, which keeps the edge within a pixel of the
    /// person's outline at a quarter of the cost of full size; the full output size when half would be
    /// coarser than the mask itself (small frames), so refining never loses the model's detail.
    pub width: u32,
    pub height: u32,
    /// Grow (> 0) or shrink (< 0) radius in taps of `grow_step` refinement texels.
    pub grow_taps: f32,
    /// Spacing of the grow taps in refinement texels: 1, or more when the radius needs more taps than the
    /// shader's loop has (full-size refinement of small frames).
    pub grow_step: f32,
    /// Feather Gaussian sigma in taps of `feather_step` refinement texels, 0 for none.
    pub feather_sigma: f32,
    /// Spacing of the feather taps in refinement texels (as `grow_step`).
    pub feather_step: f32,
}

pub fn plan(
    settings: &Settings,
    (frame_width, frame_height): (u32, u32),
    (mask_width, mask_height): (u32, u32),
) -> RefinePlan {
    let half = (frame_width.div_ceil(2), frame_height.div_ceil(2));
    let scale = if half.0 >= mask_width && half.1 >= mask_height { 2.0 } else { 1.0 };
    let (width, height) = if scale == 2.0 { half } else { (frame_width, frame_height) };
    let grow = settings.grow as f32 / scale;
    let grow_step = (grow.abs() / MAX_GROW_TAPS).ceil().max(1.0);
    // A feather of w output pixels is a Gaussian of sigma w/2 pixels.
    let sigma = settings.feather as f32 / 2.0 / scale;
    let feather_step = (sigma / MAX_FEATHER_SIGMA).ceil().max(1.0);
    RefinePlan {
        width: width.max(1),
        height: height.max(1),
        grow_taps: grow / grow_step,
        grow_step,
        feather_sigma: sigma / feather_step,
        feather_step,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn half_size_and_settings_in_texels() {
        let s = Settings { grow: -7, feather: 8, ..Settings::default() };
        let p = plan(&s, (1281, 720), (256, 256));
        assert_eq!((p.width, p.height), (641, 360));
        assert_eq!(p.grow_taps, -3.5);
        assert_eq!(p.feather_sigma, 2.0);
        assert_eq!((p.grow_step, p.feather_step), (1.0, 1.0));
        let none = plan(&Settings::default(), (1, 1), (256, 256));
        assert_eq!((none.width, none.height, none.grow_taps, none.feather_sigma), (1, 1, 0.0, 0.0));
    }

    #[test]
    fn never_coarser_than_the_mask() {
        let s = Settings { grow: -8, feather: 8, ..Settings::default() };
        // Half of 480x360 is below 256 rows: refine at full size, and grow/feather in full-size pixels.
        let p = plan(&s, (480, 360), (256, 256));
        assert_eq!((p.width, p.height), (480, 360));
        assert_eq!((p.grow_taps, p.grow_step), (-8.0, 1.0));
        // Sigma 4 needs more than the loop's 3.2: taps 2 texels apart, sigma 2 in taps.
        assert_eq!((p.feather_sigma, p.feather_step), (2.0, 2.0));
        let landscape = plan(&s, (640, 360), (256, 144));
        assert_eq!((landscape.width, landscape.height), (320, 180));
    }

    #[test]
    fn extremes_stay_within_the_shader_loops_and_keep_their_reach() {
        let s = Settings { grow: -20, feather: 12, ..Settings::default() };
        for (frame, scale) in [((1920, 1080), 2.0), ((640, 480), 1.0)] {
            let p = plan(&s, frame, (256, 256));
            assert!(p.grow_taps.abs() <= MAX_GROW_TAPS && p.feather_sigma <= MAX_FEATHER_SIGMA, "{p:?}");
            // The full reach in output pixels, whatever the refinement size.
            assert_eq!(p.grow_taps * p.grow_step * scale, -20.0, "{p:?}");
            assert_eq!(p.feather_sigma * p.feather_step * scale, 6.0, "{p:?}");
        }
    }
}

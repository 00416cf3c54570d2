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
    /// person's outline at a quarter of the cost of full size.
    pub width: u32,
    pub height: u32,
    /// Grow (> 0) or shrink (< 0) radius in refinement texels.
    pub grow_taps: f32,
    /// Feather Gaussian sigma in refinement texels, 0 for none.
    pub feather_sigma: f32,
}

pub fn plan(settings: &Settings, frame_width: u32, frame_height: u32) -> RefinePlan {
    let scale = 2.0;
    RefinePlan {
        width: frame_width.div_ceil(2).max(1),
        height: frame_height.div_ceil(2).max(1),
        grow_taps: (settings.grow as f32 / scale).clamp(-MAX_GROW_TAPS, MAX_GROW_TAPS),
        // A feather of w output pixels is a Gaussian of sigma w/2 pixels.
        feather_sigma: (settings.feather as f32 / 2.0 / scale).min(MAX_FEATHER_SIGMA),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn half_size_and_settings_in_texels() {
        let s = Settings { grow: -7, feather: 8, ..Settings::default() };
        let p = plan(&s, 1281, 720);
        assert_eq!((p.width, p.height), (641, 360));
        assert_eq!(p.grow_taps, -3.5);
        assert_eq!(p.feather_sigma, 2.0);
        let none = plan(&Settings::default(), 1, 1);
        assert_eq!((none.width, none.height, none.grow_taps, none.feather_sigma), (1, 1, 0.0, 0.0));
    }

    #[test]
    fn extremes_stay_within_the_shader_loops() {
        let s = Settings { grow: 20, feather: 30, ..Settings::default() };
        let p = plan(&s, 1920, 1080);
        assert!(p.grow_taps <= MAX_GROW_TAPS && p.feather_sigma <= MAX_FEATHER_SIGMA);
    }
}

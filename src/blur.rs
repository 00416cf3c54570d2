//! How the background blur is run: at what reduced resolution and with what kernel, from the strength
//! setting and the frame size. The blur is a separable Gaussian on a frame shrunk by a power of two, so its
//! cost stays nearly constant however strong it is.

/// Largest Gaussian sigma, in pixels of the shrunk frame, before shrinking further. The shader samples
/// `MAX_RADIUS` taps each side, which covers 2.5 sigma.
const MAX_SIGMA: f32 = 3.2;
/// Taps each side of the centre in the blur shader (`BLUR_RADIUS` in the effect file).
pub const MAX_RADIUS: u32 = 8;

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BlurPlan {
    /// The frame is shrunk by this factor (1, 2, 4 ... 32) before blurring.
    pub downscale: u32,
    pub width: u32,
    pub height: u32,
    /// Gaussian sigma in pixels of the shrunk frame.
    pub sigma: f32,
}

/// Strength 1..=100 maps linearly to a sigma of up to 4 % of the frame's shorter side (43 px at 1080p), so
/// the look does not change with the canvas resolution.
pub fn plan(strength: u32, frame_width: u32, frame_height: u32) -> BlurPlan {
    let short_side = frame_width.min(frame_height).max(1) as f32;
    let full_sigma = strength.clamp(1, 100) as f32 / 100.0 * 0.04 * short_side;
    let mut downscale = 1;
    while full_sigma / downscale as f32 > MAX_SIGMA && downscale < 32 {
        downscale *= 2;
    }
    BlurPlan {
        downscale,
        width: frame_width.div_ceil(downscale).max(1),
        height: frame_height.div_ceil(downscale).max(1),
        sigma: (full_sigma / downscale as f32).max(0.5),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stronger_blur_shrinks_more_and_keeps_sigma_bounded() {
        let weak = plan(5, 1920, 1080);
        let strong = plan(100, 1920, 1080);
        assert!(weak.downscale < strong.downscale);
        for p in [weak, strong, plan(50, 1280, 720), plan(100, 3840, 2160)] {
            assert!(p.sigma <= MAX_SIGMA && p.sigma >= 0.5, "{p:?}");
            assert!(p.sigma * 2.5 <= MAX_RADIUS as f32 + 0.01);
        }
        assert_eq!(strong.width, 1920usize.div_ceil(strong.downscale as usize) as u32);
    }

    #[test]
    fn the_look_scales_with_resolution() {
        let hd = plan(60, 1280, 720);
        let full_hd = plan(60, 1920, 1080);
        let full = |p: BlurPlan| p.sigma * p.downscale as f32;
        assert!((full(full_hd) / full(hd) - 1.5).abs() < 0.01);
    }

    #[test]
    fn tiny_frames_stay_valid() {
        let p = plan(100, 1, 1);
        assert_eq!((p.width, p.height), (1, 1));
    }
}

//! Blur mode's background: the frame blurred at reduced resolution, averaging only background pixels
//! (weighted by how sure the mask is that they are background), so the person leaves no halo in the blur.

use super::super::graphics::{Format, TexRender, TextureRef};
use super::super::pass_times::{timed, PassTimes};
use super::input::FramePasses;
use crate::blur;

pub struct BlurredBackground {
    a: TexRender,
    b: TexRender,
    /// The finished blur, normalised to 8 bits.
    blurred: TexRender,
    /// `blurred` holds this video frame's blur.
    pub fresh: bool,
}

impl BlurredBackground {
    pub fn new() -> BlurredBackground {
        BlurredBackground {
            // Half floats: the blur carries background colour times weight, which 8 bits cannot.
            a: TexRender::new(Format::Rgba16F),
            b: TexRender::new(Format::Rgba16F),
            blurred: TexRender::new(Format::Rgba8),
            fresh: false,
        }
    }

    /// This frame's blurred background (made once however many views draw it).
    pub fn get(&mut self, frame: &FramePasses<'_>, timing: &mut Option<PassTimes>) -> TextureRef {
        let FramePasses { input, settings, mask, size, shaders } = *frame;
        if self.fresh {
            return self.blurred.texture();
        }
        let plan = blur::plan(settings.blur_strength, size.0, size.1);
        let (w, h) = (plan.width, plan.height);
        let technique = if plan.downscale >= 8 { c"BlurDownsampleWide" } else { c"BlurDownsample" };
        timed(timing, "BlurDownsample", (w, h), || {
            self.a.render(w, h, || {
                shaders.set_mask(mask, settings);
                shaders.params.footprint.set_vec2([1.0 / w as f32, 1.0 / h as f32]);
                input.draw(&shaders.effect, technique, w, h);
            })
        });
        timed(timing, "Blur", (w, h), || {
            shaders.gaussian_pass(self.a.texture(), &mut self.b, (w, h), [1.0 / w as f32, 0.0], plan.sigma);
            let p = &shaders.params;
            shaders.filter_pass(c"BlurNormalize", self.b.texture(), &mut self.blurred, (w, h), || {
                p.texel_step.set_vec2([0.0, 1.0 / h as f32]);
                p.sigma.set_float(plan.sigma);
            });
        });
        self.fresh = true;
        self.blurred.texture()
    }
}

//! Grow and feather: the person's opacity at (half) output size, grown or shrunk and feathered. Made only
//! when either is set; otherwise the composite applies the guided filter's coefficients itself.

use super::super::graphics::{Format, TexRender, TextureRef};
use super::super::pass_times::{timed, PassTimes};
use super::input::FramePasses;
use crate::refine;

pub struct ShapedAlpha {
    a: TexRender,
    b: TexRender,
    /// `a` holds this video frame's opacity.
    pub fresh: bool,
}

impl ShapedAlpha {
    pub fn new() -> ShapedAlpha {
        ShapedAlpha { a: TexRender::new(Format::Rgba8), b: TexRender::new(Format::Rgba8), fresh: false }
    }

    /// The shaped opacity of this frame (made once however many views draw it), or None when neither grow nor
    /// feather is set.
    pub fn get(&mut self, frame: &FramePasses<'_>, timing: &mut Option<PassTimes>) -> Option<TextureRef> {
        let FramePasses { input, settings, mask, size, shaders } = *frame;
        if settings.grow == 0 && settings.feather == 0 {
            return None;
        }
        if self.fresh {
            return Some(self.a.texture());
        }
        let plan = refine::plan(settings, size, mask.crop.covering(mask.size));
        let (w, h) = (plan.width, plan.height);
        timed(timing, "RefineMask", (w, h), || {
            self.a.render(w, h, || {
                shaders.set_mask(mask, settings);
                input.draw(&shaders.effect, c"RefineMask", w, h);
            })
        });
        let steps = |k: f32| [[k / w as f32, 0.0], [0.0, k / h as f32]];
        if plan.grow_taps != 0.0 {
            let (s, taps) = (steps(plan.grow_step), plan.grow_taps);
            timed(timing, "Grow", (w, h), || {
                shaders.grow_pass(self.a.texture(), &mut self.b, (w, h), s[0], taps);
                shaders.grow_pass(self.b.texture(), &mut self.a, (w, h), s[1], taps);
            });
        }
        if plan.feather_sigma > 0.0 {
            let (s, sigma) = (steps(plan.feather_step), plan.feather_sigma);
            timed(timing, "Feather", (w, h), || {
                shaders.gaussian_pass(self.a.texture(), &mut self.b, (w, h), s[0], sigma);
                shaders.gaussian_pass(self.b.texture(), &mut self.a, (w, h), s[1], sigma);
            });
        }
        self.fresh = true;
        Some(self.a.texture())
    }
}

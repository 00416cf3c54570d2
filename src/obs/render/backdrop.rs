//! Source mode's background: the chosen OBS source drawn at the frame's size, fitted as a picture would be
//! (Contain's borders stay transparent, for the colour). The only full-size work Source mode adds.

use super::super::graphics::{Blending, Format, TexRender, TextureRef, View};
use super::super::pass_times::{timed, PassTimes};
use super::super::source_ref::SourceRef;
use crate::background_image::fit_transform;
use crate::settings::Settings;

pub struct Backdrop {
    target: TexRender,
    /// `target` holds this video frame's picture.
    drawn: bool,
}

impl Backdrop {
    pub fn new() -> Backdrop {
        Backdrop { target: TexRender::new(Format::Rgba8), drawn: false }
    }

    /// Draws `source` for this frame (once per frame, however many views show the filter); None forgets it.
    pub fn draw(
        &mut self,
        source: Option<&SourceRef>,
        settings: &Settings,
        size: (u32, u32),
        timing: &mut Option<PassTimes>,
    ) {
        self.drawn = source.is_some_and(|s| self.draw_source(s, settings, size, timing));
    }

    fn draw_source(
        &mut self,
        source: &SourceRef,
        settings: &Settings,
        (cx, cy): (u32, u32),
        timing: &mut Option<PassTimes>,
    ) -> bool {
        let (bw, bh) = source.size();
        if bw == 0 || bh == 0 {
            return false;
        }
        let fit = fit_transform(settings.image_fit, bw, bh, cx, cy);
        let (w, h) = (bw as f32, bh as f32);
        let view = View {
            left: fit.offset[0] * w,
            right: (fit.offset[0] + fit.scale[0]) * w,
            top: fit.offset[1] * h,
            bottom: (fit.offset[1] + fit.scale[1]) * h,
        };
        timed(timing, "Backdrop", (cx, cy), || self.target.render_view(cx, cy, view, Blending::Over, || source.draw()))
    }

    /// This frame's picture, when there is one.
    pub fn texture(&self) -> Option<TextureRef> {
        self.drawn.then(|| self.target.texture())
    }
}

//! Source mode's background: the chosen OBS source drawn at the frame's size, fitted as a picture would be
//! (Contain's borders stay transparent, for the colour). The only full-size work Source mode adds.

use super::super::graphics::{Blending, Format, TexRender, TextureRef, View};
use super::super::pass_times::{timed, PassTimes};
use super::super::source_ref::SourceRef;
use crate::background_image::fit_transform;
use crate::settings::Settings;

/// What a render does with Source mode's background.
pub enum BackdropSource<'a> {
    /// Not Source mode, no drawable source, or inside another filter's background: none (the colour stands in).
    None,
    /// Draw this source, once per video frame. Only on OBS's graphics thread.
    Draw(&'a SourceRef),
    /// Another thread renders the filter (obs-websocket's screenshots): show the picture the graphics thread
    /// drew last (none, so the colour, if OBS does not show the filter). Drawing another source there can
    /// deadlock OBS 30+: its graphics thread sizes a Media source's textures while holding that source's
    /// frame lock, and the screenshot thread, holding the graphics context, would wait on the same lock.
    Last,
}

pub struct Backdrop {
    target: TexRender,
    /// `target` holds a picture of the source.
    drawn: bool,
    /// The video frame and size it was drawn for.
    drawn_for: Option<(u64, (u32, u32))>,
}

impl Backdrop {
    pub fn new() -> Backdrop {
        Backdrop { target: TexRender::new(Format::Rgba8), drawn: false, drawn_for: None }
    }

    /// Draws the source for video frame `frame` at `size` (once per frame, however many views show the
    /// filter), keeps the last picture, or forgets it.
    pub fn update(
        &mut self,
        source: BackdropSource,
        frame: u64,
        settings: &Settings,
        size: (u32, u32),
        timing: &mut Option<PassTimes>,
    ) {
        match source {
            BackdropSource::None => (self.drawn, self.drawn_for) = (false, None),
            BackdropSource::Last => {}
            BackdropSource::Draw(source) => {
                if self.drawn_for != Some((frame, size)) {
                    self.drawn = self.draw_source(source, settings, size, timing);
                    self.drawn_for = Some((frame, size));
                }
            }
        }
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

//! The filter's work on the graphics thread, one stage per file. Once per video frame: have OBS capture the
//! input (the one capture every filter pays for), hand the worker the previous frame's copy and start this
//! frame's (`analysis`), keep a copy in sync mode (`kept_frames`), or else find and hold scene cuts
//! (`cut_hold`), upload the newest mask and place it where the prediction says the person is on the frame
//! shown (`mask_textures`), and make what the background
//! mode needs (`blurred_background`, `backdrop`; `shaped_alpha` with grow or feather). Then, for every view
//! that draws the source, one compositing pass that applies the guided filter's coefficients per pixel.
//! Nothing here waits for the worker or for the GPU.

mod analysis;
mod backdrop;
mod blurred_background;
mod copy_start;
mod cut_hold;
mod input;
mod kept_frames;
mod mask_textures;
mod shaders;
mod shaped_alpha;

use super::graphics::{Effect, Texture, TextureRef};
use super::pass_times::{timed, PassTimes};
use super::source::FilterSource;
use crate::background_image::{fit_transform, UvTransform};
use crate::crop::Crop;
use crate::cut_hold::NewestMask;
use crate::image_loader::ImageLoader;
use crate::prediction::FirstShownLag;
use crate::settings::{BackgroundMode, MaskView, Settings};
use crate::worker::Worker;
use analysis::Analysis;
use backdrop::Backdrop;
pub use backdrop::BackdropSource;
use blurred_background::BlurredBackground;
use cut_hold::CutFrames;
use input::{FramePasses, Input};
use kept_frames::KeptFrames;
use mask_textures::MaskTextures;
use shaders::Shaders;
use shaped_alpha::ShapedAlpha;
use std::path::Path;

/// The mask on the last frame drawn, for the status: how far it and the video are apart, and where on the
/// frame it lies.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MaskShown {
    pub frames: u64,
    pub synced: bool,
    /// The part of the frame the model looked at for the mask (drawn there, moved on by the prediction
    /// while the person moves).
    pub crop: Crop,
}

pub struct RenderPipeline {
    shaders: Shaders,
    analysis: Analysis,
    kept: KeptFrames,
    cuts: CutFrames,
    /// The copy the passes read instead of the live input, and its video frame: the kept frame the mask holds
    /// for (sync mode), else this frame's copy or, at a cut, the old scene's last frame.
    shown: Option<(TextureRef, u64)>,
    /// One past the number of the last video frame rendered.
    next_seq: u64,
    mask: Option<MaskTextures>,
    /// How late new masks are first shown, for the worker's prediction.
    first_shown: FirstShownLag,
    padded_rows: Vec<u8>,
    alpha: ShapedAlpha,
    blur: BlurredBackground,
    picture: Option<Texture>,
    backdrop: Backdrop,
    frame_time: Option<u64>,
    size: (u32, u32),
    timing: Option<PassTimes>,
}

impl RenderPipeline {
    /// Compiles the effect and creates the render targets. Call inside the graphics context.
    pub fn new(effect_file: &Path, name: &str) -> Result<RenderPipeline, String> {
        Ok(RenderPipeline {
            shaders: Shaders::new(Effect::from_file(effect_file)?),
            analysis: Analysis::new(),
            kept: KeptFrames::new(),
            cuts: CutFrames::new(),
            shown: None,
            next_seq: 0,
            mask: None,
            first_shown: FirstShownLag::default(),
            padded_rows: Vec::new(),
            alpha: ShapedAlpha::new(),
            blur: BlurredBackground::new(),
            picture: None,
            backdrop: Backdrop::new(),
            frame_time: None,
            size: (0, 0),
            timing: PassTimes::from_env(name),
        })
    }

    /// How the copies for the worker were read, where the renderer lets them be skipped (D3D11).
    pub fn fenced_reads(&self) -> Option<String> {
        self.analysis.fenced_reads().map(|reads| reads.summary())
    }

    /// How long starting a copy for the worker at once waited, where copies are therefore started a frame
    /// late (a renderer that copies on the CPU).
    pub fn copies_started_late(&self) -> Option<std::time::Duration> {
        self.analysis.copies_started_late()
    }

    /// The scene cuts seen and held so far, and the frames they held in all.
    pub fn cuts(&self) -> (u64, u64, u64) {
        self.cuts.counts()
    }

    /// The mask shown: how many frames it trails the newest frame (`synced` false), or, in sync mode when a
    /// frame the mask holds for is shown, how many frames the video is delayed (`synced` true), and the crop
    /// the model looked at for it. A mask holds for its own frame and for later ones whose picture had not
    /// changed, so a still picture's lag stays put.
    pub fn mask_shown(&self) -> Option<MaskShown> {
        let mask = self.mask.as_ref()?;
        let newest = self.next_seq.saturating_sub(1);
        let shown = self.shown.map_or(newest, |(_, seq)| seq);
        let holds = mask.holds_through.min(newest);
        Some(MaskShown { frames: newest.saturating_sub(holds), synced: shown == holds, crop: mask.crop })
    }

    pub fn render(
        &mut self,
        source: FilterSource,
        settings: &Settings,
        worker: &Worker,
        images: &ImageLoader,
        backdrop: BackdropSource,
    ) {
        let (cx, cy) = source.target_size();
        if cx == 0 || cy == 0 || worker.failed() {
            source.skip();
            return;
        }
        if !timed(&mut self.timing, "Capture", (cx, cy), || source.capture_input()) {
            return;
        }
        let live = Input::Live(source);
        let now = super::source::video_frame_time();
        if self.frame_time != Some(now) || self.size != (cx, cy) {
            self.next_frame(live, (cx, cy), settings, worker, images);
            self.frame_time = Some(now);
        }
        self.backdrop.update(backdrop, now, settings, (cx, cy), &mut self.timing);
        let input = self.shown.map_or(live, |(texture, _)| Input::Kept(texture));
        self.composite(input, settings);
    }

    /// Once per video frame, however many views draw the source.
    fn next_frame(
        &mut self,
        live: Input,
        size: (u32, u32),
        settings: &Settings,
        worker: &Worker,
        images: &ImageLoader,
    ) {
        if let Some(t) = self.timing.as_mut() {
            t.collect();
        }
        if self.size != size || !settings.sync_video {
            self.kept.clear();
        }
        self.size = size;
        self.blur.fresh = false;
        self.alpha.fresh = false;
        // Numbered on OBS's video clock, so frames it skipped while lagging count: masks, motion and the
        // prediction measure time in frames the source's pictures advanced, not in renders.
        let seq = super::source::video_frame_number().filter(|&n| n >= self.next_seq).unwrap_or(self.next_seq);
        self.next_seq = seq + 1;
        let newest = worker.latest_mask();
        let cut_copy = if settings.sync_video {
            self.cuts.clear();
            self.kept.keep(live, seq, size, &self.shaders, &mut self.timing);
            None
        } else {
            let mask = newest.as_ref().map(|m| NewestMask { seq: m.seq, whole_frame: m.refined.crop.is_full() });
            self.cuts.next_frame(live, seq, size, mask, &self.shaders, &mut self.timing)
        };
        // While a cut is held, the old scene's mask stays with the old scene's frame.
        if let Some(newest) = newest.filter(|m| self.cuts.shows_mask_of(m.seq)) {
            if self.mask.as_ref().is_none_or(|t| t.seq != newest.seq) {
                self.mask = MaskTextures::upload(self.mask.take(), &newest, &mut self.padded_rows);
                self.first_shown.push(seq.saturating_sub(newest.seq));
                worker.set_first_shown_lag(self.first_shown.median());
            }
            if let Some(mask) = self.mask.as_mut().filter(|t| t.seq == newest.seq) {
                mask.holds_through = newest.holds_through();
            }
        }
        // While a cut is held the worker sees the whole frame: its new scene's first mask ends the hold.
        self.analysis.run(live, worker, seq, size, self.cuts.holding(), &self.shaders, &mut self.timing);
        // Sync mode shows the newest kept frame the mask holds for (the one it was computed from, or a later
        // one whose picture had not changed), while it is kept; else this frame's copy (at a cut, the old
        // scene's last frame); the live input when there is neither.
        self.shown = if settings.sync_video {
            self.mask.as_ref().and_then(|m| self.kept.find(m.holds_through))
        } else {
            cut_copy
        };
        if let Some(mask) = self.mask.as_mut() {
            mask.place_on(self.shown.map_or(seq, |(_, shown)| shown));
        }
        if let Some(loaded) = images.take_loaded() {
            self.picture = loaded.result.ok().and_then(|img| Texture::rgba_static(img.width, img.height, &img.rgba));
        }
    }

    fn composite(&mut self, input: Input, settings: &Settings) {
        let (cx, cy) = self.size;
        let Some(mask) = self.mask.as_ref() else {
            // No mask yet (the model is still loading): show the input as it is.
            input.draw(&Effect::default_effect(), c"Draw", cx, cy);
            return;
        };
        let (shaders, timing) = (&self.shaders, &mut self.timing);
        // OBS resets every effect parameter when a technique ends, so the earlier passes run first and each
        // draw then sets all the parameters it reads.
        let frame = FramePasses { input, settings, mask, size: self.size, shaders };
        let alpha = self.alpha.get(&frame, timing);
        if let Some(technique) = mask_view_technique(settings.mask_view) {
            // Instead of the composite, in one pass of its own: no background is made.
            shaders.set_opacity(mask, settings, alpha);
            timed(timing, "MaskView", (cx, cy), || input.draw(&shaders.effect, technique, cx, cy));
            return;
        }
        let background = match settings.mode {
            BackgroundMode::Blur => Some((self.blur.get(&frame, timing), UvTransform::IDENTITY)),
            BackgroundMode::Image => self.picture.as_ref().map(|picture| {
                let fit = fit_transform(settings.image_fit, picture.width, picture.height, cx, cy);
                (picture.as_ref(), fit)
            }),
            // Fitted when it was drawn.
            BackgroundMode::Source => self.backdrop.texture().map(|t| (t, UvTransform::IDENTITY)),
            BackgroundMode::Color | BackgroundMode::Transparent => None,
        };
        let technique = match settings.mode {
            BackgroundMode::Blur => c"CompositeBlur",
            BackgroundMode::Image => c"CompositeImage",
            // Without a drawable source (the status line says why): the background colour.
            BackgroundMode::Source if background.is_some() => c"CompositeImage",
            BackgroundMode::Source | BackgroundMode::Color => c"CompositeColor",
            BackgroundMode::Transparent => c"CompositeTransparent",
        };
        if settings.mode == BackgroundMode::Image && background.is_none() {
            // No usable picture: the status line says why; show the input unchanged.
            input.draw(&Effect::default_effect(), c"Draw", cx, cy);
            return;
        }
        let p = &shaders.params;
        shaders.set_opacity(mask, settings, alpha);
        p.light_wrap.set_float(settings.light_wrap);
        p.color.set_vec4(settings.color.to_unit());
        if let Some((texture, fit)) = background {
            p.background.set_texture(texture);
            p.bg_uv_scale.set_vec2(fit.scale);
            p.bg_uv_offset.set_vec2(fit.offset);
        }
        timed(timing, "Composite", (cx, cy), || input.draw(&shaders.effect, technique, cx, cy));
    }
}

/// The technique drawn instead of the composite when the mask is shown, None for the composite.
fn mask_view_technique(view: MaskView) -> Option<&'static std::ffi::CStr> {
    match view {
        MaskView::Off => None,
        MaskView::Mask => Some(c"MaskView"),
        MaskView::Overlay => Some(c"MaskOverlay"),
    }
}

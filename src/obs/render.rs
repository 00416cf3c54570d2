//! The filter's work on the graphics thread. Once per video frame: have OBS capture the input (the one
//! capture every filter pays for), shrink it to the model's size and start its copy to the CPU when the
//! worker can take a frame, hand over the copy started two frames ago, upload the newest mask with its
//! guided-filter coefficients, and blur the background at low resolution. Then, for every view that draws the
//! source, one compositing pass that applies the coefficients per pixel. Nothing here waits for the worker or
//! for the GPU; grow and feather add passes only when set.

use super::graphics::{Blending, Effect, Format, Param, StageSurface, TexRender, Texture, TextureRef, View};
use super::pass_times::PassTimes;
use super::source::FilterSource;
use super::source_ref::SourceRef;
use crate::background_image::{fit_transform, UvTransform};
use crate::blur;
use crate::crop::Crop;
use crate::crop_tracker::Cut;
use crate::image_loader::ImageLoader;
use crate::refine;
use crate::settings::{BackgroundMode, Settings};
use crate::worker::{Frame, Worker};
use std::ffi::CStr;
use std::path::Path;

/// Frames in flight between the GPU and the CPU. A surface is read two frames after its copy started.
const STAGE_RING: usize = 3;
/// Captured frames kept for "Keep mask and video in sync": the longest video delay it can absorb.
pub const FRAME_RING: usize = 8;

/// The effect's parameters, looked up once.
struct Params {
    image: Param,
    mask: Param,
    coefficients: Param,
    background: Param,
    alpha: Param,
    mask_uv_scale: Param,
    crop_origin: Param,
    crop_size: Param,
    bg_uv_scale: Param,
    bg_uv_offset: Param,
    color: Param,
    threshold: Param,
    softness: Param,
    footprint: Param,
    texel_step: Param,
    sigma: Param,
    grow: Param,
    light_wrap: Param,
    alpha_ready: Param,
}

impl Params {
    fn new(e: &Effect) -> Params {
        Params {
            image: e.param(c"image"),
            mask: e.param(c"mask"),
            coefficients: e.param(c"coefficients"),
            background: e.param(c"background"),
            alpha: e.param(c"alpha"),
            mask_uv_scale: e.param(c"mask_uv_scale"),
            crop_origin: e.param(c"crop_origin"),
            crop_size: e.param(c"crop_size"),
            bg_uv_scale: e.param(c"bg_uv_scale"),
            bg_uv_offset: e.param(c"bg_uv_offset"),
            color: e.param(c"color"),
            threshold: e.param(c"threshold"),
            softness: e.param(c"softness"),
            footprint: e.param(c"footprint"),
            texel_step: e.param(c"texel_step"),
            sigma: e.param(c"sigma"),
            grow: e.param(c"grow"),
            light_wrap: e.param(c"light_wrap"),
            alpha_ready: e.param(c"alpha_ready"),
        }
    }

    /// The mask, its coefficients and how its edge is shaped, read by the blur weighting and every composite.
    fn set_mask(&self, mask: &MaskTextures, settings: &Settings) {
        self.mask.set_texture(mask.probability.as_ref());
        self.mask_uv_scale.set_vec2(mask.uv_scale);
        let (origin, size) = mask.crop.shader_params();
        self.crop_origin.set_vec2(origin);
        self.crop_size.set_vec2(size);
        self.coefficients.set_texture(mask.coefficients.as_ref());
        self.threshold.set_float(settings.threshold);
        self.softness.set_float(settings.softness);
    }
}

/// The newest mask on the GPU: the smoothed probability and the guided filter's coefficients.
struct MaskTextures {
    probability: Texture,
    coefficients: Texture,
    seq: u64,
    /// The mask's own size (without padding).
    size: (u32, u32),
    /// The probability's rows are padded to a multiple of 4 bytes (OpenGL's unpack alignment); this crops
    /// the padding.
    uv_scale: [f32; 2],
    /// The part of the frame the mask covers.
    crop: Crop,
}

/// How far mask and video are apart, for the status line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Lag {
    pub frames: u64,
    pub synced: bool,
}

/// The frame a pass reads: the input OBS captured for this filter, or an earlier copy (sync mode).
#[derive(Clone, Copy)]
enum Input {
    Live(FilterSource),
    Kept(TextureRef),
}

impl Input {
    /// One pass of `technique` with this frame as the effect's `image`, its stored values either way.
    fn draw(self, effect: &Effect, technique: &CStr, width: u32, height: u32) {
        match self {
            Input::Live(source) => source.draw_input(effect, technique, width, height),
            Input::Kept(texture) => effect.draw_stored(technique, texture, width, height),
        }
    }
}

pub struct RenderPipeline {
    effect: Effect,
    params: Params,
    /// Copies of recent frames, made only in sync mode, and the frame each holds.
    kept: [TexRender; FRAME_RING],
    kept_seqs: [Option<u64>; FRAME_RING],
    /// The copy shown instead of the live input (sync mode), if any.
    shown: Option<usize>,
    /// The newest input at the model's size.
    analysis: TexRender,
    stages: [Option<StageSurface>; STAGE_RING],
    /// Per surface, the frame it holds and the part of it that was cut out.
    staged: [Option<(u64, Cut)>; STAGE_RING],
    next_seq: u64,
    mask: Option<MaskTextures>,
    padded_rows: Vec<u8>,
    /// The person's opacity at (half) output size, made only when grow or feather is set.
    refine_a: TexRender,
    refine_b: TexRender,
    alpha_fresh: bool,
    blur_a: TexRender,
    blur_b: TexRender,
    /// The finished blur, normalised to 8 bits.
    blurred: TexRender,
    blur_fresh: bool,
    background: Option<Texture>,
    /// Source mode: the background source drawn at the frame's size, fitted; `backdrop_drawn` says whether it
    /// holds this frame's picture.
    backdrop: TexRender,
    backdrop_drawn: bool,
    frame_time: Option<u64>,
    size: (u32, u32),
    timing: Option<PassTimes>,
}

impl RenderPipeline {
    /// Compiles the effect and creates the render targets. Call inside the graphics context.
    pub fn new(effect_file: &Path, name: &str) -> Result<RenderPipeline, String> {
        let effect = Effect::from_file(effect_file)?;
        let params = Params::new(&effect);
        Ok(RenderPipeline {
            effect,
            params,
            kept: std::array::from_fn(|_| TexRender::new(Format::Rgba8)),
            kept_seqs: [None; FRAME_RING],
            shown: None,
            analysis: TexRender::new(Format::Rgba8),
            stages: Default::default(),
            staged: [None; STAGE_RING],
            next_seq: 0,
            mask: None,
            padded_rows: Vec::new(),
            refine_a: TexRender::new(Format::Rgba8),
            refine_b: TexRender::new(Format::Rgba8),
            alpha_fresh: false,
            // Half floats: the blur carries background colour times weight, which 8 bits cannot.
            blur_a: TexRender::new(Format::Rgba16F),
            blur_b: TexRender::new(Format::Rgba16F),
            blurred: TexRender::new(Format::Rgba8),
            blur_fresh: false,
            background: None,
            backdrop: TexRender::new(Format::Rgba8),
            backdrop_drawn: false,
            frame_time: None,
            size: (0, 0),
            timing: PassTimes::from_env(name),
        })
    }

    /// How many frames the shown mask trails the newest frame (`synced` false), or, in sync mode when the
    /// mask's own frame is shown, how many frames the video is delayed (`synced` true).
    pub fn lag(&self) -> Option<Lag> {
        let mask = self.mask.as_ref()?;
        let newest = self.next_seq.saturating_sub(1);
        let shown = self.shown.and_then(|i| self.kept_seqs[i]).unwrap_or(newest);
        Some(Lag { frames: newest.saturating_sub(mask.seq.min(newest)), synced: shown == mask.seq })
    }

    pub fn render(
        &mut self,
        source: FilterSource,
        settings: &Settings,
        worker: &Worker,
        images: &ImageLoader,
        backdrop: Option<&SourceRef>,
    ) {
        let (cx, cy) = source.target_size();
        if cx == 0 || cy == 0 || worker.failed() {
            source.skip();
            return;
        }
        begin(&mut self.timing, "Capture", (cx, cy));
        let captured = source.capture_input();
        end(&mut self.timing);
        if !captured {
            return;
        }
        let live = Input::Live(source);
        let now = super::source::video_frame_time();
        if self.frame_time != Some(now) || self.size != (cx, cy) {
            if let Some(t) = self.timing.as_mut() {
                t.collect();
            }
            self.frame_time = Some(now);
            if self.size != (cx, cy) {
                self.kept_seqs = [None; FRAME_RING];
            }
            self.size = (cx, cy);
            self.blur_fresh = false;
            self.alpha_fresh = false;
            let seq = self.next_seq;
            self.next_seq += 1;
            if settings.sync_video {
                self.keep_frame(live, seq);
            } else {
                self.kept_seqs = [None; FRAME_RING];
            }
            if let Some((w, h)) = worker.input_size() {
                self.analyse(live, worker, w, h, seq);
            }
            self.upload_newest_mask(worker);
            self.shown = self.frame_to_show(settings.sync_video);
            if let Some(loaded) = images.take_loaded() {
                self.background =
                    loaded.result.ok().and_then(|img| Texture::rgba_static(img.width, img.height, &img.rgba));
            }
            self.backdrop_drawn = backdrop.is_some_and(|b| self.draw_backdrop(b, settings));
        }
        let input = match self.shown {
            Some(i) => Input::Kept(self.kept[i].texture()),
            None => live,
        };
        self.composite(input, settings);
    }

    /// Source mode, once per frame however many views show the filter: the background source drawn at the
    /// frame's size, fitted as a picture would be (Contain's borders stay transparent, for the colour). The
    /// only full-size work Source mode adds.
    fn draw_backdrop(&mut self, backdrop: &SourceRef, settings: &Settings) -> bool {
        let (cx, cy) = self.size;
        let (bw, bh) = backdrop.size();
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
        begin(&mut self.timing, "Backdrop", (cx, cy));
        let drawn = self.backdrop.render_view(cx, cy, view, Blending::Over, || backdrop.draw());
        end(&mut self.timing);
        drawn
    }

    /// Sync mode: a copy of this frame, so it can be shown once its mask arrives.
    fn keep_frame(&mut self, live: Input, seq: u64) {
        let slot = (seq % FRAME_RING as u64) as usize;
        let (cx, cy) = self.size;
        let effect = &self.effect;
        begin(&mut self.timing, "KeepFrame", (cx, cy));
        let kept = self.kept[slot].render(cx, cy, || live.draw(effect, c"Copy", cx, cy));
        end(&mut self.timing);
        self.kept_seqs[slot] = kept.then_some(seq);
    }

    /// In sync mode the kept frame the newest mask was computed from, while it is kept; else the live input.
    fn frame_to_show(&self, sync: bool) -> Option<usize> {
        let wanted = self.mask.as_ref().map(|m| m.seq).filter(|_| sync)?;
        self.kept_seqs.iter().position(|s| *s == Some(wanted))
    }

    fn analyse(&mut self, live: Input, worker: &Worker, width: u32, height: u32, seq: u64) {
        let slot = (seq % STAGE_RING as u64) as usize;

        // The surface staged two frames ago: its copy has long finished, so mapping it does not stall.
        let oldest = (slot + 1) % STAGE_RING;
        if let (Some((seq, cut)), Some(surface)) = (self.staged[oldest].take(), self.stages[oldest].as_mut()) {
            let mut rgba = worker.take_buffer();
            if surface.read_rows(|row| rgba.extend_from_slice(row)) {
                let (width, height) = (surface.width, surface.height);
                worker.submit(Frame { seq, width, height, rgba, cut, frame_size: self.size });
            } else {
                worker.cut_unused(cut);
            }
        }
        // The worker keeps only the newest frame: while one still waits, another would only replace it.
        if worker.has_pending_frame() {
            return;
        }

        // The part of the frame the model should see ("Follow the person"): the input is drawn at the
        // model's size and the view selects the crop of it.
        let cut = worker.take_cut();
        let c = cut.crop;
        let (w, h) = (width as f32, height as f32);
        let view = View { left: c.x * w, right: c.right() * w, top: c.y * h, bottom: c.bottom() * h };
        let (effect, p) = (&self.effect, &self.params);
        begin(&mut self.timing, "Downscale", (width, height));
        let drawn = self.analysis.render_view(width, height, view, Blending::Replace, || {
            p.footprint.set_vec2([c.w / w, c.h / h]);
            live.draw(effect, c"Downscale", width, height);
        });
        end(&mut self.timing);
        if !drawn {
            worker.cut_unused(cut);
            return;
        }
        if self.stages[slot].as_ref().map(|s| (s.width, s.height)) != Some((width, height)) {
            self.stages[slot] = StageSurface::new(width, height);
        }
        match self.stages[slot].as_mut() {
            Some(surface) => {
                surface.stage(self.analysis.texture());
                self.staged[slot] = Some((seq, cut));
            }
            None => worker.cut_unused(cut),
        }
    }

    fn upload_newest_mask(&mut self, worker: &Worker) {
        let Some(newest) = worker.latest_mask() else { return };
        if self.mask.as_ref().is_some_and(|m| m.seq == newest.seq) {
            return;
        }
        let m = &newest.refined.mask;
        let g = &newest.refined.guidance;
        let padded_width = m.width.next_multiple_of(4);
        // Reused while the sizes stay (the coefficients' differ from the mask's when edges are refined).
        let textures = match self.mask.take() {
            Some(t)
                if (t.probability.width, t.probability.height) == (padded_width, m.height)
                    && (t.coefficients.width, t.coefficients.height) == (g.width, g.height) =>
            {
                Some((t.probability, t.coefficients))
            }
            _ => Texture::dynamic(padded_width, m.height, Format::R8).zip(Texture::dynamic(
                g.width,
                g.height,
                Format::Rgba32F,
            )),
        };
        let Some((mut probability, mut coefficients)) = textures else { return };
        if padded_width == m.width {
            probability.set_image(&m.data, m.width);
        } else {
            self.padded_rows.clear();
            for row in m.data.chunks_exact(m.width as usize) {
                self.padded_rows.extend_from_slice(row);
                let last = row[row.len() - 1];
                self.padded_rows.resize(self.padded_rows.len() + (padded_width - m.width) as usize, last);
            }
            probability.set_image(&self.padded_rows, padded_width);
        }
        coefficients.set_image(bytemuck::cast_slice(&g.coefficients), g.width * 16);
        let uv_scale = [m.width as f32 / padded_width as f32, 1.0];
        self.mask = Some(MaskTextures {
            probability,
            coefficients,
            seq: newest.seq,
            size: (m.width, m.height),
            uv_scale,
            crop: newest.refined.crop,
        });
    }

    /// With grow or feather set: the person's opacity at (half) output size, grown or shrunk and feathered.
    /// Without, None: the composite applies the coefficients itself and no opacity texture exists.
    fn shaped_alpha(&mut self, input: Input, settings: &Settings, mask: &MaskTextures) -> Option<TextureRef> {
        if settings.grow == 0 && settings.feather == 0 {
            return None;
        }
        if self.alpha_fresh {
            return Some(self.refine_a.texture());
        }
        let plan = refine::plan(settings, self.size, mask.crop.covering(mask.size));
        let (w, h) = (plan.width, plan.height);
        let (effect, p) = (&self.effect, &self.params);
        begin(&mut self.timing, "RefineMask", (w, h));
        self.refine_a.render(w, h, || {
            p.set_mask(mask, settings);
            input.draw(effect, c"RefineMask", w, h);
        });
        end(&mut self.timing);
        let steps = |k: f32| [[k / w as f32, 0.0], [0.0, k / h as f32]];
        if plan.grow_taps != 0.0 {
            let (s, taps) = (steps(plan.grow_step), plan.grow_taps);
            begin(&mut self.timing, "Grow", (w, h));
            grow_pass(p, effect, self.refine_a.texture(), &mut self.refine_b, (w, h), s[0], taps);
            grow_pass(p, effect, self.refine_b.texture(), &mut self.refine_a, (w, h), s[1], taps);
            end(&mut self.timing);
        }
        if plan.feather_sigma > 0.0 {
            let (s, sigma) = (steps(plan.feather_step), plan.feather_sigma);
            begin(&mut self.timing, "Feather", (w, h));
            gaussian_pass(p, effect, self.refine_a.texture(), &mut self.refine_b, (w, h), s[0], sigma);
            gaussian_pass(p, effect, self.refine_b.texture(), &mut self.refine_a, (w, h), s[1], sigma);
            end(&mut self.timing);
        }
        self.alpha_fresh = true;
        Some(self.refine_a.texture())
    }

    /// Blurs the background at reduced resolution; only background pixels are averaged (weighted by how sure
    /// the mask is that they are background), so the person leaves no halo in the blur.
    fn blurred_background(&mut self, input: Input, settings: &Settings, mask: &MaskTextures) -> TextureRef {
        if self.blur_fresh {
            return self.blurred.texture();
        }
        let plan = blur::plan(settings.blur_strength, self.size.0, self.size.1);
        let (w, h) = (plan.width, plan.height);
        let (effect, p) = (&self.effect, &self.params);
        let technique = if plan.downscale >= 8 { c"BlurDownsampleWide" } else { c"BlurDownsample" };
        begin(&mut self.timing, "BlurDownsample", (w, h));
        self.blur_a.render(w, h, || {
            p.set_mask(mask, settings);
            p.footprint.set_vec2([1.0 / w as f32, 1.0 / h as f32]);
            input.draw(effect, technique, w, h);
        });
        end(&mut self.timing);
        begin(&mut self.timing, "Blur", (w, h));
        gaussian_pass(p, effect, self.blur_a.texture(), &mut self.blur_b, (w, h), [1.0 / w as f32, 0.0], plan.sigma);
        let (src, vertical) = (self.blur_b.texture(), [0.0, 1.0 / h as f32]);
        filter_pass(p, effect, c"BlurNormalize", src, &mut self.blurred, (w, h), || {
            p.texel_step.set_vec2(vertical);
            p.sigma.set_float(plan.sigma);
        });
        end(&mut self.timing);
        self.blur_fresh = true;
        self.blurred.texture()
    }

    fn composite(&mut self, input: Input, settings: &Settings) {
        let (cx, cy) = self.size;
        let Some(mask) = self.mask.take() else {
            // No mask yet (the model is still loading): show the input as it is.
            input.draw(&Effect::default_effect(), c"Draw", cx, cy);
            return;
        };
        // OBS resets every effect parameter when a technique ends, so the earlier passes run first and each
        // draw then sets all the parameters it reads.
        let alpha = self.shaped_alpha(input, settings, &mask);
        let background = match settings.mode {
            BackgroundMode::Blur => Some((self.blurred_background(input, settings, &mask), UvTransform::IDENTITY)),
            BackgroundMode::Image => self.background.as_ref().map(|picture| {
                let fit = fit_transform(settings.image_fit, picture.width, picture.height, cx, cy);
                (picture.as_ref(), fit)
            }),
            // Fitted when it was drawn.
            BackgroundMode::Source => self.backdrop_drawn.then(|| (self.backdrop.texture(), UvTransform::IDENTITY)),
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
        } else {
            let p = &self.params;
            p.set_mask(&mask, settings);
            p.alpha_ready.set_float(if alpha.is_some() { 1.0 } else { 0.0 });
            if let Some(a) = alpha {
                p.alpha.set_texture(a);
            }
            p.light_wrap.set_float(settings.light_wrap);
            p.color.set_vec4(settings.color.to_unit());
            if let Some((texture, fit)) = background {
                p.background.set_texture(texture);
                p.bg_uv_scale.set_vec2(fit.scale);
                p.bg_uv_offset.set_vec2(fit.offset);
            }
            begin(&mut self.timing, "Composite", (cx, cy));
            input.draw(&self.effect, technique, cx, cy);
            end(&mut self.timing);
        }
        self.mask = Some(mask);
    }
}

fn begin(timing: &mut Option<PassTimes>, name: &'static str, size: (u32, u32)) {
    if let Some(t) = timing.as_mut() {
        t.begin(name, size);
    }
}

fn end(timing: &mut Option<PassTimes>) {
    if let Some(t) = timing.as_mut() {
        t.end();
    }
}

/// One pass of the effect's `technique` over the whole of `target`, reading `src` as `image`; `set` sets the
/// technique's own parameters.
fn filter_pass(
    p: &Params,
    effect: &Effect,
    technique: &CStr,
    src: TextureRef,
    target: &mut TexRender,
    (w, h): (u32, u32),
    set: impl FnOnce(),
) {
    target.render(w, h, || {
        set();
        p.image.set_texture(src);
        effect.draw(technique, src, w, h);
    });
}

/// One direction of the separable Gaussian (background blur, feathering).
fn gaussian_pass(
    p: &Params,
    effect: &Effect,
    src: TextureRef,
    target: &mut TexRender,
    size: (u32, u32),
    step: [f32; 2],
    sigma: f32,
) {
    filter_pass(p, effect, c"Blur", src, target, size, || {
        p.texel_step.set_vec2(step);
        p.sigma.set_float(sigma);
    });
}

/// One direction of the separable max (grow > 0) or min (grow < 0) on the person's opacity.
fn grow_pass(
    p: &Params,
    effect: &Effect,
    src: TextureRef,
    target: &mut TexRender,
    size: (u32, u32),
    step: [f32; 2],
    grow: f32,
) {
    filter_pass(p, effect, c"Grow", src, target, size, || {
        p.alpha.set_texture(src);
        p.texel_step.set_vec2(step);
        p.grow.set_float(grow);
    });
}

//! The filter's work on the graphics thread. Once per video frame: capture the input, shrink it to the model's
//! size, start its copy to the CPU and hand the copy started two frames ago to the worker, upload the newest
//! mask, blur the background. Then, for every view that draws the source, one compositing pass.
//! Nothing here waits for the worker or for the GPU.

use super::graphics::{Effect, Format, LinearWrites, Param, StageSurface, TexRender, Texture, TextureRef};
use super::source::{self, FilterSource};
use crate::background_image::{fit_transform, UvTransform};
use crate::blur;
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
    background: Param,
    mask_uv_scale: Param,
    bg_uv_scale: Param,
    bg_uv_offset: Param,
    color: Param,
    threshold: Param,
    softness: Param,
    footprint: Param,
    texel_step: Param,
    sigma: Param,
    guide: Param,
    coefficients: Param,
    alpha: Param,
    mask_size: Param,
    edge_refine: Param,
    grow: Param,
    light_wrap: Param,
    previous: Param,
    previous_alpha: Param,
    temporal: Param,
}

impl Params {
    /// The mask and how its edge is shaped, read by the blur weighting and every composite.
    fn set_mask(&self, mask: &MaskTexture, settings: &Settings) {
        self.mask.set_texture(mask.texture.as_ref());
        self.mask_uv_scale.set_vec2(mask.uv_scale);
        self.mask_size.set_vec2([mask.size.0 as f32, mask.size.1 as f32]);
        self.threshold.set_float(settings.threshold);
        self.softness.set_float(settings.softness);
    }

    fn new(e: &Effect) -> Params {
        Params {
            image: e.param(c"image"),
            mask: e.param(c"mask"),
            background: e.param(c"background"),
            mask_uv_scale: e.param(c"mask_uv_scale"),
            bg_uv_scale: e.param(c"bg_uv_scale"),
            bg_uv_offset: e.param(c"bg_uv_offset"),
            color: e.param(c"color"),
            threshold: e.param(c"threshold"),
            softness: e.param(c"softness"),
            footprint: e.param(c"footprint"),
            texel_step: e.param(c"texel_step"),
            sigma: e.param(c"sigma"),
            guide: e.param(c"guide"),
            coefficients: e.param(c"coefficients"),
            alpha: e.param(c"alpha"),
            mask_size: e.param(c"mask_size"),
            edge_refine: e.param(c"edge_refine"),
            grow: e.param(c"grow"),
            light_wrap: e.param(c"light_wrap"),
            previous: e.param(c"previous"),
            previous_alpha: e.param(c"previous_alpha"),
            temporal: e.param(c"temporal"),
        }
    }
}

/// The uploaded mask and what it needs to be sampled right.
struct MaskTexture {
    texture: Texture,
    seq: u64,
    /// The mask's own size (without padding).
    size: (u32, u32),
    /// Rows are padded to a multiple of 4 bytes (OpenGL's unpack alignment); this crops the padding.
    uv_scale: [f32; 2],
}

/// How far mask and video are apart, for the status line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Lag {
    pub frames: u64,
    pub synced: bool,
}

pub struct RenderPipeline {
    effect: Effect,
    params: Params,
    /// The filter's input, one per recent frame in sync mode (else only the first is used), shared by
    /// every view.
    frames: [TexRender; FRAME_RING],
    frame_seqs: [Option<u64>; FRAME_RING],
    /// Slot of the newest captured frame, and of the frame shown (older in sync mode).
    newest: usize,
    shown: usize,
    /// The newest input at the model's size.
    analysis: TexRender,
    /// The shown frame at the mask's size, when it is not the newest (sync mode): the edge guide.
    guide: TexRender,
    stages: [Option<StageSurface>; STAGE_RING],
    staged_seq: [Option<u64>; STAGE_RING],
    next_seq: u64,
    mask: Option<MaskTexture>,
    padded_rows: Vec<u8>,
    /// The guided filter's fit per mask texel, then averaged (see `guided_fit`).
    guided_fit: TexRender,
    guided_mean: TexRender,
    /// The person's opacity at half output size, refined once per frame.
    refine_a: TexRender,
    refine_b: TexRender,
    refine_fresh: bool,
    /// Temporal state at the opacity's size, ping-ponged: the stabilized opacity (half floats, so slow
    /// blends do not stall on 8-bit rounding) and the frame it went with.
    stable: [TexRender; 2],
    stable_frames: [TexRender; 2],
    stable_current: usize,
    stable_size: Option<(u32, u32)>,
    blur_a: TexRender,
    blur_b: TexRender,
    blur_fresh: bool,
    background: Option<Texture>,
    frame_time: Option<u64>,
    size: (u32, u32),
}

impl RenderPipeline {
    /// Compiles the effect and creates the render targets. Call inside the graphics context.
    pub fn new(effect_file: &Path) -> Result<RenderPipeline, String> {
        let effect = Effect::from_file(effect_file)?;
        let params = Params::new(&effect);
        Ok(RenderPipeline {
            effect,
            params,
            frames: std::array::from_fn(|_| TexRender::new(Format::Rgba8)),
            frame_seqs: [None; FRAME_RING],
            newest: 0,
            shown: 0,
            analysis: TexRender::new(Format::Rgba8),
            guide: TexRender::new(Format::Rgba8),
            stages: Default::default(),
            staged_seq: [None; STAGE_RING],
            next_seq: 0,
            mask: None,
            padded_rows: Vec::new(),
            guided_fit: TexRender::new(Format::Rgba16F),
            guided_mean: TexRender::new(Format::Rgba16F),
            refine_a: TexRender::new(Format::Rgba8),
            refine_b: TexRender::new(Format::Rgba8),
            refine_fresh: false,
            stable: [TexRender::new(Format::Rgba16F), TexRender::new(Format::Rgba16F)],
            stable_frames: [TexRender::new(Format::Rgba8), TexRender::new(Format::Rgba8)],
            stable_current: 0,
            stable_size: None,
            // Half floats: the blurred background is divided by its weight, which 8 bits cannot carry.
            blur_a: TexRender::new(Format::Rgba16F),
            blur_b: TexRender::new(Format::Rgba16F),
            blur_fresh: false,
            background: None,
            frame_time: None,
            size: (0, 0),
        })
    }

    /// How many frames the shown mask trails the newest frame (`synced` false), or, in sync mode when the
    /// mask's own frame is shown, how many frames the video is delayed (`synced` true).
    pub fn lag(&self) -> Option<Lag> {
        let mask = self.mask.as_ref()?;
        let newest = self.next_seq.saturating_sub(1);
        let shown = self.frame_seqs[self.shown].unwrap_or(newest);
        Some(Lag { frames: newest.saturating_sub(mask.seq.min(newest)), synced: shown == mask.seq })
    }

    /// The captured frame the composite shows.
    fn input(&self) -> TextureRef {
        self.frames[self.shown].texture()
    }

    pub fn render(&mut self, source: FilterSource, settings: &Settings, worker: &Worker, images: &ImageLoader) {
        let (cx, cy) = source.target_size();
        if cx == 0 || cy == 0 || worker.failed() {
            source.skip();
            return;
        }
        let now = source::video_frame_time();
        if self.frame_time != Some(now) || self.size != (cx, cy) {
            self.frame_time = Some(now);
            self.size = (cx, cy);
            self.blur_fresh = false;
            self.refine_fresh = false;
            let seq = self.next_seq;
            self.next_seq += 1;
            // Without sync one slot is reused, so the ring costs memory only when asked for.
            self.newest = if settings.sync_video { (seq % FRAME_RING as u64) as usize } else { 0 };
            if !self.frames[self.newest].render(cx, cy, || source.draw_input(cx, cy)) {
                source.skip();
                return;
            }
            self.frame_seqs[self.newest] = Some(seq);
            if let Some((w, h)) = worker.input_size() {
                self.analyse(worker, w, h, seq);
            }
            self.upload_newest_mask(worker);
            self.shown = self.frame_to_show(settings.sync_video);
            if let Some(loaded) = images.take_loaded() {
                self.background =
                    loaded.result.ok().and_then(|img| Texture::rgba_static(img.width, img.height, &img.rgba));
            }
        }
        self.composite(settings);
    }

    /// The newest frame, or in sync mode the frame the newest mask was computed from while it is kept.
    fn frame_to_show(&self, sync: bool) -> usize {
        let wanted = self.mask.as_ref().map(|m| m.seq).filter(|_| sync);
        wanted.and_then(|seq| self.frame_seqs.iter().position(|s| *s == Some(seq))).unwrap_or(self.newest)
    }

    fn analyse(&mut self, worker: &Worker, width: u32, height: u32, seq: u64) {
        let input = self.frames[self.newest].texture();
        let (effect, p) = (&self.effect, &self.params);
        let drawn = self.analysis.render(width, height, || {
            p.image.set_texture(input);
            p.footprint.set_vec2([1.0 / width as f32, 1.0 / height as f32]);
            effect.draw(c"Downscale", input, width, height);
        });
        if !drawn {
            return;
        }
        let slot = (seq % STAGE_RING as u64) as usize;

        // The surface staged two frames ago: its copy has long finished, so mapping it does not stall.
        let oldest = (slot + 1) % STAGE_RING;
        if let (Some(staged), Some(surface)) = (self.staged_seq[oldest].take(), self.stages[oldest].as_mut()) {
            let mut rgba = worker.take_buffer();
            if surface.read_rows(|row| rgba.extend_from_slice(row)) {
                worker.submit(Frame { seq: staged, width: surface.width, height: surface.height, rgba });
            }
        }

        if self.stages[slot].as_ref().map(|s| (s.width, s.height)) != Some((width, height)) {
            self.stages[slot] = StageSurface::new(width, height);
        }
        if let Some(surface) = self.stages[slot].as_mut() {
            surface.stage(self.analysis.texture());
            self.staged_seq[slot] = Some(seq);
        }
    }

    fn upload_newest_mask(&mut self, worker: &Worker) {
        let Some(newest) = worker.latest_mask() else { return };
        if self.mask.as_ref().is_some_and(|m| m.seq == newest.seq) {
            return;
        }
        let m = &newest.mask;
        let padded_width = m.width.next_multiple_of(4);
        let texture = match self.mask.take() {
            Some(t) if (t.texture.width, t.texture.height) == (padded_width, m.height) => Some(t.texture),
            _ => Texture::dynamic(padded_width, m.height, Format::R8),
        };
        let Some(mut texture) = texture else { return };
        if padded_width == m.width {
            texture.set_image(&m.data, m.width);
        } else {
            self.padded_rows.clear();
            for row in m.data.chunks_exact(m.width as usize) {
                self.padded_rows.extend_from_slice(row);
                let last = row[row.len() - 1];
                self.padded_rows.resize(self.padded_rows.len() + (padded_width - m.width) as usize, last);
            }
            texture.set_image(&self.padded_rows, padded_width);
        }
        let uv_scale = [m.width as f32 / padded_width as f32, 1.0];
        self.mask = Some(MaskTexture { texture, seq: newest.seq, size: (m.width, m.height), uv_scale });
    }

    /// The person's opacity at half output size: the mask upsampled with the frame as a guide (fast guided
    /// filter), shaped by threshold and softness, then grown or shrunk and feathered.
    fn refined_alpha(&mut self, settings: &Settings, mask: &MaskTexture) -> TextureRef {
        if self.refine_fresh {
            return self.stable[self.stable_current].texture();
        }
        let plan = refine::plan(settings, self.size, mask.size);
        let (w, h) = (plan.width, plan.height);
        let input = self.input();
        let guide = if self.shown == self.newest {
            self.analysis.texture()
        } else {
            // Sync mode shows an older frame: its own small copy guides the edges.
            let (gw, gh) = mask.size;
            let (effect, p) = (&self.effect, &self.params);
            self.guide.render(gw, gh, || {
                p.image.set_texture(input);
                p.footprint.set_vec2([1.0 / gw as f32, 1.0 / gh as f32]);
                effect.draw(c"Downscale", input, gw, gh);
            });
            self.guide.texture()
        };
        let coefficients = settings.edge_refine.then(|| self.guided_fit(guide, mask, settings));
        let (effect, p) = (&self.effect, &self.params);
        self.refine_a.render(w, h, || {
            p.image.set_texture(input);
            if let Some(c) = coefficients {
                p.coefficients.set_texture(c);
            }
            p.set_mask(mask, settings);
            p.edge_refine.set_float(if settings.edge_refine { 1.0 } else { 0.0 });
            effect.draw(c"RefineMask", input, w, h);
        });
        let steps = |k: f32| [[k / w as f32, 0.0], [0.0, k / h as f32]];
        if plan.grow_taps != 0.0 {
            let (s, taps) = (steps(plan.grow_step), plan.grow_taps);
            grow_pass(p, effect, self.refine_a.texture(), &mut self.refine_b, (w, h), s[0], taps);
            grow_pass(p, effect, self.refine_b.texture(), &mut self.refine_a, (w, h), s[1], taps);
        }
        if plan.feather_sigma > 0.0 {
            let (s, sigma) = (steps(plan.feather_step), plan.feather_sigma);
            gaussian_pass(p, effect, self.refine_a.texture(), &mut self.refine_b, (w, h), s[0], sigma);
            gaussian_pass(p, effect, self.refine_b.texture(), &mut self.refine_a, (w, h), s[1], sigma);
        }
        self.refine_fresh = true;
        self.stabilize(settings.temporal_smoothing, input, (w, h))
    }

    /// The guided filter's local fits of the mask against `guide` (the frame at the mask's size), then
    /// averaged: two small passes at the mask's size.
    fn guided_fit(&mut self, guide: TextureRef, mask: &MaskTexture, settings: &Settings) -> TextureRef {
        let (mw, mh) = mask.size;
        let step = [1.0 / mw as f32, 1.0 / mh as f32];
        let (effect, p) = (&self.effect, &self.params);
        filter_pass(effect, c"GuidedFit", guide, &mut self.guided_fit, (mw, mh), || {
            p.guide.set_texture(guide);
            p.set_mask(mask, settings);
            p.texel_step.set_vec2(step);
        });
        let fit = self.guided_fit.texture();
        filter_pass(effect, c"GuidedMean", fit, &mut self.guided_mean, (mw, mh), || {
            p.image.set_texture(fit);
            p.texel_step.set_vec2(step);
        });
        self.guided_mean.texture()
    }

    /// Blends this frame's opacity with the previous one where the picture is still.
    fn stabilize(&mut self, smoothing: f32, input: TextureRef, (w, h): (u32, u32)) -> TextureRef {
        // The previous state counts only at the same size; the first frame after a change starts afresh.
        let keep = if self.stable_size == Some((w, h)) { smoothing } else { 0.0 };
        let (previous, current) = (self.stable_current, self.stable_current ^ 1);
        let (previous_alpha, previous_frame) =
            (self.stable[previous].texture(), self.stable_frames[previous].texture());
        let (effect, p, refined) = (&self.effect, &self.params, self.refine_a.texture());
        self.stable[current].render(w, h, || {
            p.alpha.set_texture(refined);
            p.image.set_texture(input);
            p.previous.set_texture(previous_frame);
            p.previous_alpha.set_texture(previous_alpha);
            p.temporal.set_float(keep);
            effect.draw(c"Stabilize", refined, w, h);
        });
        self.stable_frames[current].render(w, h, || {
            p.image.set_texture(input);
            effect.draw(c"Copy", input, w, h);
        });
        self.stable_current = current;
        self.stable_size = Some((w, h));
        self.stable[current].texture()
    }

    /// Blurs the background at reduced resolution; only background pixels are averaged (weighted by how sure
    /// the mask is that they are background), so the person leaves no halo in the blur.
    fn blurred_background(&mut self, settings: &Settings, alpha: TextureRef) -> TextureRef {
        if self.blur_fresh {
            return self.blur_a.texture();
        }
        let plan = blur::plan(settings.blur_strength, self.size.0, self.size.1);
        let (w, h) = (plan.width, plan.height);
        let input = self.input();
        let (effect, p) = (&self.effect, &self.params);
        self.blur_a.render(w, h, || {
            p.image.set_texture(input);
            p.alpha.set_texture(alpha);
            p.footprint.set_vec2([1.0 / w as f32, 1.0 / h as f32]);
            effect.draw(c"BlurDownsample", input, w, h);
        });
        gaussian_pass(p, effect, self.blur_a.texture(), &mut self.blur_b, (w, h), [1.0 / w as f32, 0.0], plan.sigma);
        gaussian_pass(p, effect, self.blur_b.texture(), &mut self.blur_a, (w, h), [0.0, 1.0 / h as f32], plan.sigma);
        self.blur_fresh = true;
        self.blur_a.texture()
    }

    fn composite(&mut self, settings: &Settings) {
        let (cx, cy) = self.size;
        let input = self.input();
        let Some(mask) = self.mask.take() else {
            // No mask yet (the model is still loading): show the input as it is.
            let _linear = LinearWrites::begin();
            source::draw_texture(input, cx, cy);
            return;
        };
        // OBS resets every effect parameter when a technique ends, so the blur passes run first and each
        // draw then sets all the parameters it reads.
        let alpha = self.refined_alpha(settings, &mask);
        let background = match settings.mode {
            BackgroundMode::Blur => Some((self.blurred_background(settings, alpha), UvTransform::IDENTITY)),
            BackgroundMode::Image => self.background.as_ref().map(|picture| {
                let fit = fit_transform(settings.image_fit, picture.width, picture.height, cx, cy);
                (picture.as_ref(), fit)
            }),
            BackgroundMode::Color | BackgroundMode::Transparent => None,
        };
        let technique = match settings.mode {
            BackgroundMode::Blur => c"CompositeBlur",
            BackgroundMode::Image => c"CompositeImage",
            BackgroundMode::Color => c"CompositeColor",
            BackgroundMode::Transparent => c"CompositeTransparent",
        };
        let _linear = LinearWrites::begin();
        if settings.mode == BackgroundMode::Image && background.is_none() {
            // No usable picture: the status line says why; show the input unchanged.
            source::draw_texture(input, cx, cy);
        } else {
            let p = &self.params;
            p.image.set_texture(input);
            p.alpha.set_texture(alpha);
            p.set_mask(&mask, settings);
            p.light_wrap.set_float(settings.light_wrap);
            p.color.set_vec4(settings.color.to_unit());
            if let Some((texture, fit)) = background {
                p.background.set_texture(texture);
                p.bg_uv_scale.set_vec2(fit.scale);
                p.bg_uv_offset.set_vec2(fit.offset);
            }
            self.effect.draw(technique, input, cx, cy);
        }
        self.mask = Some(mask);
    }
}

/// One pass of the effect's `technique` over the whole of `target`, reading `src`; `set` sets the
/// technique's own parameters.
fn filter_pass(
    effect: &Effect,
    technique: &CStr,
    src: TextureRef,
    target: &mut TexRender,
    (w, h): (u32, u32),
    set: impl FnOnce(),
) {
    target.render(w, h, || {
        set();
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
    filter_pass(effect, c"Blur", src, target, size, || {
        p.image.set_texture(src);
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
    filter_pass(effect, c"Grow", src, target, size, || {
        p.alpha.set_texture(src);
        p.texel_step.set_vec2(step);
        p.grow.set_float(grow);
    });
}

//! A small safe layer over the libobs graphics calls the filter needs (obs-wrapper has none of these).
//!
//! Every type here must be created, used and dropped on a thread inside the OBS graphics context: in
//! `video_render`, or between `obs_enter_graphics` and `obs_leave_graphics` (see `with_graphics`).

use super::sys::*;
use std::ffi::{CStr, CString};
use std::path::Path;
use std::ptr::null_mut;

/// Runs `f` inside the graphics context (for creating and destroying graphics objects off the render thread).
pub fn with_graphics<R>(f: impl FnOnce() -> R) -> R {
    struct Leave;
    impl Drop for Leave {
        fn drop(&mut self) {
            unsafe { obs_leave_graphics() };
        }
    }
    unsafe { obs_enter_graphics() };
    let _leave = Leave;
    f()
}

// In libobs since 27 (its 29 headers declare it), but not in obs-sys's bindings.
extern "C" {
    fn obs_in_task_thread(task_type: obs_task_type) -> bool;
}

/// Whether this is OBS's graphics thread (not, for example, obs-websocket's screenshot thread, which renders
/// sources inside the graphics context too).
pub fn on_graphics_thread() -> bool {
    unsafe { obs_in_task_thread(obs_task_type_OBS_TASK_GRAPHICS) }
}

fn vec2(v: [f32; 2]) -> super::sys::vec2 {
    super::sys::vec2 { __bindgen_anon_1: vec2__bindgen_ty_1 { ptr: v } }
}

fn vec4(v: [f32; 4]) -> super::sys::vec4 {
    super::sys::vec4 { __bindgen_anon_1: vec4__bindgen_ty_1 { ptr: v } }
}

/// Pixel formats the filter uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Rgba8,
    /// 8-bit RGBA without sRGB in its type (OpenGL's GL_RGBA8; GS_RGBA is GL_SRGB8_ALPHA8, whose copies to
    /// the CPU take Mesa's slow path). Drawn and read the same: the filter never converts sRGB.
    Rgba8Unorm,
    Rgba16F,
    Rgba32F,
    R8,
}

impl Format {
    fn raw(self) -> gs_color_format {
        match self {
            Format::Rgba8 => gs_color_format_GS_RGBA,
            Format::Rgba8Unorm => gs_color_format_GS_RGBA_UNORM,
            Format::Rgba16F => gs_color_format_GS_RGBA16F,
            Format::Rgba32F => gs_color_format_GS_RGBA32F,
            Format::R8 => gs_color_format_GS_R8,
        }
    }
}

/// A borrowed texture handle, valid for the current frame.
#[derive(Clone, Copy, Debug)]
pub struct TextureRef(*mut gs_texture_t);

impl TextureRef {
    pub fn is_null(self) -> bool {
        self.0.is_null()
    }
}

/// The region of drawing coordinates a render target shows (an orthographic projection).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct View {
    pub left: f32,
    pub right: f32,
    pub top: f32,
    pub bottom: f32,
}

impl View {
    /// One drawing unit per target pixel.
    pub fn pixels(width: u32, height: u32) -> View {
        View { left: 0.0, right: width as f32, top: 0.0, bottom: height as f32 }
    }
}

/// How drawn pixels combine with the cleared target.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Blending {
    /// They replace it (the filter's own passes).
    Replace,
    /// Blended over it as OBS draws sources (another source drawn into a texture).
    Over,
}

/// An offscreen render target, reused frame after frame (resized only when the size changes).
pub struct TexRender {
    raw: *mut gs_texrender_t,
    size: (u32, u32),
}

impl TexRender {
    pub fn new(format: Format) -> TexRender {
        let raw = unsafe { gs_texrender_create(format.raw(), gs_zstencil_format_GS_ZS_NONE) };
        TexRender { raw, size: (0, 0) }
    }

    /// Renders `draw` into the target at `width` x `height`, with a matching orthographic projection, cleared
    /// to transparent and with blending off (the drawn pixels replace the target's). False if it could not.
    pub fn render(&mut self, width: u32, height: u32, draw: impl FnOnce()) -> bool {
        self.render_view(width, height, View::pixels(width, height), Blending::Replace, draw)
    }

    /// Renders `draw` into the target at `width` x `height`, cleared to transparent, with `view` as the
    /// region of the drawing's coordinates the target shows.
    pub fn render_view(
        &mut self,
        width: u32,
        height: u32,
        view: View,
        blending: Blending,
        draw: impl FnOnce(),
    ) -> bool {
        if self.raw.is_null() || width == 0 || height == 0 {
            return false;
        }
        unsafe {
            gs_texrender_reset(self.raw);
            if !gs_texrender_begin(self.raw, width, height) {
                return false;
            }
            let clear = vec4([0.0; 4]);
            gs_clear(GS_CLEAR_COLOR, &clear, 0.0, 0);
            gs_ortho(view.left, view.right, view.top, view.bottom, -100.0, 100.0);
            gs_blend_state_push();
            match blending {
                Blending::Replace => gs_blend_function(gs_blend_type_GS_BLEND_ONE, gs_blend_type_GS_BLEND_ZERO),
                // What OBS uses to draw sources into a texture: colour comes out premultiplied by alpha.
                Blending::Over => gs_blend_function_separate(
                    gs_blend_type_GS_BLEND_SRCALPHA,
                    gs_blend_type_GS_BLEND_INVSRCALPHA,
                    gs_blend_type_GS_BLEND_ONE,
                    gs_blend_type_GS_BLEND_INVSRCALPHA,
                ),
            }
        }
        draw();
        unsafe {
            gs_blend_state_pop();
            gs_texrender_end(self.raw);
        }
        self.size = (width, height);
        true
    }

    pub fn texture(&self) -> TextureRef {
        if self.raw.is_null() {
            return TextureRef(null_mut());
        }
        TextureRef(unsafe { gs_texrender_get_texture(self.raw) })
    }
}

impl Drop for TexRender {
    fn drop(&mut self) {
        if !self.raw.is_null() {
            unsafe { gs_texrender_destroy(self.raw) };
        }
    }
}

/// A texture the CPU writes (masks, background pictures).
pub struct Texture {
    raw: *mut gs_texture_t,
    pub width: u32,
    pub height: u32,
}

impl Texture {
    /// A texture updated often through `set_image`.
    pub fn dynamic(width: u32, height: u32, format: Format) -> Option<Texture> {
        let raw = unsafe { gs_texture_create(width, height, format.raw(), 1, null_mut(), GS_DYNAMIC) };
        (!raw.is_null()).then_some(Texture { raw, width, height })
    }

    /// A texture filled once from tightly packed RGBA pixels.
    pub fn rgba_static(width: u32, height: u32, pixels: &[u8]) -> Option<Texture> {
        assert_eq!(pixels.len(), width as usize * height as usize * 4);
        let mut data = pixels.as_ptr();
        let raw = unsafe { gs_texture_create(width, height, gs_color_format_GS_RGBA, 1, &mut data, 0) };
        (!raw.is_null()).then_some(Texture { raw, width, height })
    }

    /// Replaces the pixels; `linesize` is the byte length of one row in `pixels`.
    pub fn set_image(&mut self, pixels: &[u8], linesize: u32) {
        assert!(pixels.len() >= linesize as usize * self.height as usize);
        unsafe { gs_texture_set_image(self.raw, pixels.as_ptr(), linesize, false) };
    }

    pub fn as_ref(&self) -> TextureRef {
        TextureRef(self.raw)
    }
}

impl Drop for Texture {
    fn drop(&mut self) {
        unsafe { gs_texture_destroy(self.raw) };
    }
}

/// A GPU-to-CPU copy target. `stage` starts a copy; `map` reads it, and only stalls if the copy has not
/// finished, which is why callers map a surface staged at least a frame earlier.
pub struct StageSurface {
    raw: *mut gs_stagesurf_t,
    pub width: u32,
    pub height: u32,
}

impl StageSurface {
    /// A copy to the CPU of an 8-bit RGBA texture of `format` (Rgba8 or Rgba8Unorm: the two must match).
    pub fn new(width: u32, height: u32, format: Format) -> Option<StageSurface> {
        // `read_rows` reads 4 bytes a pixel.
        assert!(matches!(format, Format::Rgba8 | Format::Rgba8Unorm), "not an 8-bit RGBA format");
        let raw = unsafe { gs_stagesurface_create(width, height, format.raw()) };
        (!raw.is_null()).then_some(StageSurface { raw, width, height })
    }

    pub fn stage(&mut self, texture: TextureRef) {
        if !texture.is_null() {
            unsafe { gs_stage_texture(self.raw, texture.0) };
        }
    }

    /// Calls `read` with each row of the staged RGBA pixels (top row first).
    pub fn read_rows(&mut self, mut read: impl FnMut(&[u8])) -> bool {
        let mut data: *mut u8 = null_mut();
        let mut linesize = 0u32;
        if !unsafe { gs_stagesurface_map(self.raw, &mut data, &mut linesize) } || data.is_null() {
            return false;
        }
        let row_bytes = self.width as usize * 4;
        for y in 0..self.height as usize {
            // SAFETY: a mapped surface holds `height` rows of `linesize` bytes, each at least `row_bytes` long.
            let row = unsafe { std::slice::from_raw_parts(data.add(y * linesize as usize), row_bytes) };
            read(row);
        }
        unsafe { gs_stagesurface_unmap(self.raw) };
        true
    }
}

impl Drop for StageSurface {
    fn drop(&mut self) {
        unsafe { gs_stagesurface_destroy(self.raw) };
    }
}

/// A parameter of an effect, looked up once.
#[derive(Clone, Copy)]
pub struct Param(*mut gs_eparam_t);

impl Param {
    pub fn set_texture(self, texture: TextureRef) {
        unsafe { gs_effect_set_texture(self.0, texture.0) };
    }
    pub fn set_float(self, value: f32) {
        unsafe { gs_effect_set_float(self.0, value) };
    }
    pub fn set_vec2(self, value: [f32; 2]) {
        let v = vec2(value);
        unsafe { gs_effect_set_vec2(self.0, &v) };
    }
    pub fn set_vec4(self, value: [f32; 4]) {
        let v = vec4(value);
        unsafe { gs_effect_set_vec4(self.0, &v) };
    }
}

/// A compiled effect file.
pub struct Effect {
    raw: *mut gs_effect_t,
    owned: bool,
}

impl Effect {
    pub fn from_file(path: &Path) -> Result<Effect, String> {
        let cpath = CString::new(path.to_string_lossy().as_bytes()).map_err(|e| e.to_string())?;
        let mut errors: *mut std::os::raw::c_char = null_mut();
        let raw = unsafe { gs_effect_create_from_file(cpath.as_ptr(), &mut errors) };
        let message = if errors.is_null() {
            String::new()
        } else {
            let m = unsafe { CStr::from_ptr(errors) }.to_string_lossy().into_owned();
            unsafe { bfree(errors.cast()) };
            m
        };
        if raw.is_null() {
            Err(format!("cannot compile {}: {}", path.display(), message.trim()))
        } else {
            Ok(Effect { raw, owned: true })
        }
    }

    /// OBS's default effect (plain textured drawing).
    pub fn default_effect() -> Effect {
        Effect { raw: unsafe { obs_get_base_effect(obs_base_effect_OBS_EFFECT_DEFAULT) }, owned: false }
    }

    pub(super) fn raw(&self) -> *mut gs_effect_t {
        self.raw
    }

    pub fn param(&self, name: &CStr) -> Param {
        Param(unsafe { gs_effect_get_param_by_name(self.raw, name.as_ptr()) })
    }

    /// Draws `texture` as the effect's `image` the way OBS hands this filter its input: the stored
    /// (sRGB-encoded) values, written unconverted (as `obs_source_process_filter_tech_end` does for a filter
    /// without `OBS_SOURCE_SRGB`).
    pub fn draw_stored(&self, technique: &CStr, texture: TextureRef, width: u32, height: u32) {
        let _plain = StoredWrites::begin();
        self.param(c"image").set_texture(texture);
        self.draw(technique, texture, width, height);
    }

    /// Draws a `width` x `height` quad at the origin with the effect's `technique`.
    pub fn draw(&self, technique: &CStr, texture: TextureRef, width: u32, height: u32) {
        unsafe {
            while gs_effect_loop(self.raw, technique.as_ptr()) {
                gs_draw_sprite(texture.0, 0, width, height);
            }
        }
    }
}

impl Drop for Effect {
    fn drop(&mut self) {
        if self.owned {
            unsafe { gs_effect_destroy(self.raw) };
        }
    }
}

/// Turns off the framebuffer's sRGB conversion while alive: the filter works on the stored (gamma-encoded)
/// values end to end, so colours pass through it unchanged.
pub struct StoredWrites {
    previous: bool,
}

impl StoredWrites {
    pub fn begin() -> StoredWrites {
        let previous = unsafe { gs_framebuffer_srgb_enabled() };
        unsafe { gs_enable_framebuffer_srgb(false) };
        StoredWrites { previous }
    }
}

impl Drop for StoredWrites {
    fn drop(&mut self) {
        unsafe { gs_enable_framebuffer_srgb(self.previous) };
    }
}

/// GPU time of a span of draws (libobs timer queries). Results arrive a few frames later; `take` returns
/// one when it is ready, without waiting.
pub struct GpuTimer {
    raw: *mut gs_timer_t,
    running: bool,
    pending: bool,
}

impl GpuTimer {
    pub fn new() -> Option<GpuTimer> {
        let raw = unsafe { gs_timer_create() };
        (!raw.is_null()).then_some(GpuTimer { raw, running: false, pending: false })
    }

    /// Starts a span, unless an earlier measurement is still in flight (then this span is not measured).
    pub fn begin(&mut self) {
        if !self.pending && !self.running {
            unsafe { gs_timer_begin(self.raw) };
            self.running = true;
        }
    }

    pub fn end(&mut self) {
        if self.running {
            unsafe { gs_timer_end(self.raw) };
            self.running = false;
            self.pending = true;
        }
    }

    /// Nanoseconds of the last measured span, once the GPU has it.
    pub fn take(&mut self) -> Option<u64> {
        if !self.pending {
            return None;
        }
        let mut ticks = 0u64;
        if unsafe { gs_timer_get_data(self.raw, &mut ticks) } {
            self.pending = false;
            Some(ticks)
        } else {
            None
        }
    }
}

impl Drop for GpuTimer {
    fn drop(&mut self) {
        unsafe { gs_timer_destroy(self.raw) };
    }
}

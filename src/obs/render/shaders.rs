//! The effect file and its parameters, looked up once, and the one-pass helpers every stage draws with.

use super::super::graphics::{Effect, Param, TexRender, TextureRef};
use super::mask_textures::MaskTextures;
use crate::settings::Settings;
use std::ffi::CStr;

/// The compiled effect and its parameters.
pub struct Shaders {
    pub effect: Effect,
    pub params: Params,
}

pub struct Params {
    pub image: Param,
    pub mask: Param,
    pub coefficients: Param,
    pub background: Param,
    pub alpha: Param,
    pub mask_uv_scale: Param,
    pub crop_origin: Param,
    pub crop_size: Param,
    pub bg_uv_scale: Param,
    pub bg_uv_offset: Param,
    pub color: Param,
    pub threshold: Param,
    pub softness: Param,
    pub footprint: Param,
    pub texel_step: Param,
    pub sigma: Param,
    pub grow: Param,
    pub light_wrap: Param,
    pub alpha_ready: Param,
    pub held: Param,
    pub cut_verdict: Param,
    pub hold_check: Param,
    pub previous: Param,
    pub cut_level: Param,
}

impl Shaders {
    pub fn new(effect: Effect) -> Shaders {
        let e = &effect;
        let params = Params {
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
            held: e.param(c"held"),
            cut_verdict: e.param(c"cut_verdict"),
            hold_check: e.param(c"hold_check"),
            previous: e.param(c"previous"),
            cut_level: e.param(c"cut_level"),
        };
        Shaders { effect, params }
    }

    /// The mask, its coefficients, where they lie on the frame shown and how the edge is shaped: read by the
    /// blur weighting, the opacity passes and every composite.
    pub fn set_mask(&self, mask: &MaskTextures, settings: &Settings) {
        let p = &self.params;
        p.mask.set_texture(mask.probability.as_ref());
        p.mask_uv_scale.set_vec2(mask.uv_scale);
        let (origin, size) = mask.shown_crop.shader_params();
        p.crop_origin.set_vec2(origin);
        p.crop_size.set_vec2(size);
        p.coefficients.set_texture(mask.coefficients.as_ref());
        p.threshold.set_float(settings.threshold);
        p.softness.set_float(settings.softness);
    }

    /// Everything the person's opacity is read from, as every composite (and the mask view) applies it: the
    /// mask, and the shaped opacity when grow or feather made one.
    pub fn set_opacity(&self, mask: &MaskTextures, settings: &Settings, shaped: Option<TextureRef>) {
        self.set_mask(mask, settings);
        self.params.alpha_ready.set_float(if shaped.is_some() { 1.0 } else { 0.0 });
        if let Some(a) = shaped {
            self.params.alpha.set_texture(a);
        }
    }

    /// One pass of `technique` over the whole of `target`, reading `src` as `image`; `set` sets the
    /// technique's own parameters. False if the target could not be drawn.
    pub fn filter_pass(
        &self,
        technique: &CStr,
        src: TextureRef,
        target: &mut TexRender,
        (w, h): (u32, u32),
        set: impl FnOnce(),
    ) -> bool {
        target.render(w, h, || {
            set();
            self.params.image.set_texture(src);
            self.effect.draw(technique, src, w, h);
        })
    }

    /// One direction of the separable Gaussian (background blur, feathering).
    pub fn gaussian_pass(&self, src: TextureRef, target: &mut TexRender, size: (u32, u32), step: [f32; 2], sigma: f32) {
        self.filter_pass(c"Blur", src, target, size, || {
            self.params.texel_step.set_vec2(step);
            self.params.sigma.set_float(sigma);
        });
    }

    /// One direction of the separable max (grow > 0) or min (grow < 0) on the person's opacity.
    pub fn grow_pass(&self, src: TextureRef, target: &mut TexRender, size: (u32, u32), step: [f32; 2], grow: f32) {
        self.filter_pass(c"Grow", src, target, size, || {
            self.params.alpha.set_texture(src);
            self.params.texel_step.set_vec2(step);
            self.params.grow.set_float(grow);
        });
    }
}

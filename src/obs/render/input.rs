//! The frame a pass reads: the input OBS captured for this filter, or an earlier copy (sync mode).

use super::super::graphics::{Effect, TextureRef};
use super::super::source::FilterSource;
use super::mask_textures::MaskTextures;
use super::shaders::Shaders;
use crate::settings::Settings;
use std::ffi::CStr;

/// What the passes of one video frame read: the frame, the settings, the mask placed on it, the frame's size
/// and the effect.
#[derive(Clone, Copy)]
pub struct FramePasses<'a> {
    pub input: Input,
    pub settings: &'a Settings,
    pub mask: &'a MaskTextures,
    pub size: (u32, u32),
    pub shaders: &'a Shaders,
}

#[derive(Clone, Copy)]
pub enum Input {
    Live(FilterSource),
    Kept(TextureRef),
}

impl Input {
    /// One pass of `technique` with this frame as the effect's `image`, its stored values either way.
    pub fn draw(self, effect: &Effect, technique: &CStr, width: u32, height: u32) {
        match self {
            Input::Live(source) => source.draw_input(effect, technique, width, height),
            Input::Kept(texture) => effect.draw_stored(technique, texture, width, height),
        }
    }
}

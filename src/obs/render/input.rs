//! The frame a pass reads: the input OBS captured for this filter, or an earlier copy (sync mode).

use super::super::graphics::{Effect, TextureRef};
use super::super::source::FilterSource;
use std::ffi::CStr;

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

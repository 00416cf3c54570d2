//! "Keep mask and video in sync": copies of recent frames, so each can be shown once its mask arrives.

use super::super::graphics::{Format, TexRender, TextureRef};
use super::super::pass_times::{timed, PassTimes};
use super::input::Input;
use super::shaders::Shaders;

/// Captured frames kept: the longest video delay sync mode can absorb.
pub const FRAME_RING: usize = 8;

pub struct KeptFrames {
    frames: [TexRender; FRAME_RING],
    /// The video frame each copy holds.
    seqs: [Option<u64>; FRAME_RING],
}

impl KeptFrames {
    pub fn new() -> KeptFrames {
        KeptFrames { frames: std::array::from_fn(|_| TexRender::new(Format::Rgba8)), seqs: [None; FRAME_RING] }
    }

    /// Forgets every copy (sync mode off, or the frame size changed).
    pub fn clear(&mut self) {
        self.seqs = [None; FRAME_RING];
    }

    /// A copy of video frame `seq`.
    pub fn keep(
        &mut self,
        input: Input,
        seq: u64,
        (cx, cy): (u32, u32),
        shaders: &Shaders,
        timing: &mut Option<PassTimes>,
    ) {
        let slot = (seq % FRAME_RING as u64) as usize;
        let kept = timed(timing, "KeepFrame", (cx, cy), || {
            self.frames[slot].render(cx, cy, || input.draw(&shaders.effect, c"Copy", cx, cy))
        });
        self.seqs[slot] = kept.then_some(seq);
    }

    /// The copy of video frame `seq`, while it is kept.
    pub fn find(&self, seq: u64) -> Option<(TextureRef, u64)> {
        let i = self.seqs.iter().position(|s| *s == Some(seq))?;
        Some((self.frames[i].texture(), seq))
    }
}

//! Scene cuts on the GPU (the plan is `crate::cut_hold`): each frame's 8x8 thumbnail, the verdict on
//! whether it is a new scene (one pixel, compared with the previous frame's thumbnail, read back a frame
//! later), and a full-size copy of the frame, which the next frame shows instead of its own where the
//! verdict says cut (`frame_color` in the effect) and which is held until the new scene's mask is ready.
//! Per frame that is a full-size copy, passes of 64 and 1 pixels and a 1-pixel read. Off in sync mode,
//! which shows every frame with its own mask anyway.

use super::super::graphics::{Format, StageSurface, TexRender, TextureRef};
use super::super::pass_times::{timed, PassTimes};
use super::input::Input;
use super::shaders::Shaders;
use crate::cut_hold::{Check, CutHold, NewestMask, CUT_LEVEL};

/// Cells per side of the thumbnail (the effect's Thumbnail and CutVerdict read 8x8 too).
const THUMB: u32 = 8;

/// What the frame passes show this frame.
#[derive(Clone, Copy)]
pub enum Shown {
    /// The input.
    Live,
    /// The input, or, where the GPU's verdict says this frame is a cut, the previous frame (`held`).
    LiveUnlessCut { held: TextureRef, verdict: TextureRef },
    /// A cut the CPU knows of: the old scene's last frame (video frame `seq`).
    Held { frame: TextureRef, seq: u64 },
}

pub struct CutFrames {
    plan: CutHold,
    copies: [TexRender; 2],
    thumbnails: [TexRender; 2],
    verdict: TexRender,
    staged: Option<StageSurface>,
    size: (u32, u32),
}

impl CutFrames {
    pub fn new() -> CutFrames {
        CutFrames {
            plan: CutHold::default(),
            copies: std::array::from_fn(|_| TexRender::new(Format::Rgba8)),
            thumbnails: std::array::from_fn(|_| TexRender::new(Format::Rgba8)),
            verdict: TexRender::new(Format::Rgba8),
            staged: None,
            size: (0, 0),
        }
    }

    /// Forgets every frame (sync mode).
    pub fn clear(&mut self) {
        self.plan.clear();
    }

    /// Whether a cut is held (the worker is then given the whole frame).
    pub fn holding(&self) -> bool {
        self.plan.holding()
    }

    /// Whether a mask of video frame `seq` may be shown now (not one of the new scene while a cut is held).
    pub fn shows_mask_of(&self, seq: u64) -> bool {
        self.plan.shows_mask_of(seq)
    }

    /// The cuts held so far and the frames they held in all.
    pub fn held(&self) -> (u64, u64) {
        (self.plan.cuts, self.plan.held_frames)
    }

    /// Once per video frame `seq` (after the newest mask was taken): learns the previous frame's verdict,
    /// ends a hold once the newest mask is of the new scene, and makes this frame's thumbnail, verdict and
    /// copy. Returns what the frame passes show.
    pub fn next_frame(
        &mut self,
        live: Input,
        seq: u64,
        size: (u32, u32),
        newest: Option<NewestMask>,
        shaders: &Shaders,
        timing: &mut Option<PassTimes>,
    ) -> Shown {
        if self.size != size {
            self.plan.clear();
            self.size = size;
        }
        let verdict = if self.plan.verdict_due() { self.read_verdict() } else { None };
        let plan = self.plan.plan(seq, verdict, newest);

        let thumbnail = &mut self.thumbnails[plan.thumbnail];
        let made = timed(timing, "CutThumbnail", (THUMB, THUMB), || {
            thumbnail.render(THUMB, THUMB, || {
                shaders.params.footprint.set_vec2([1.0 / THUMB as f32, 1.0 / THUMB as f32]);
                live.draw(&shaders.effect, c"Thumbnail", THUMB, THUMB);
            })
        });
        self.plan.thumbnail_made(plan.thumbnail, seq, made);
        let checked = plan.check.filter(|check| made && self.verdict(plan.thumbnail, *check, shaders, timing));
        if let Some(check) = checked {
            self.plan.checked(seq, check);
        }
        if let Some(slot) = plan.copy_to {
            let copy = &mut self.copies[slot];
            let copied = timed(timing, "CutCopy", size, || {
                copy.render(size.0, size.1, || live.draw(&shaders.effect, c"Copy", size.0, size.1))
            });
            self.plan.copied(slot, seq, copied);
        }
        match (plan.held, checked) {
            (Some((slot, seq)), _) => Shown::Held { frame: self.copies[slot].texture(), seq },
            (None, Some(check)) => {
                Shown::LiveUnlessCut { held: self.copies[check.copy].texture(), verdict: self.verdict.texture() }
            }
            (None, None) => Shown::Live,
        }
    }

    /// The verdict on this frame (its thumbnail `now` against the previous frame's) into the 1-pixel target,
    /// and its copy to the CPU started.
    fn verdict(&mut self, now: usize, check: Check, shaders: &Shaders, timing: &mut Option<PassTimes>) -> bool {
        let (now, before) = (self.thumbnails[now].texture(), self.thumbnails[check.thumbnail].texture());
        let p = &shaders.params;
        let target = &mut self.verdict;
        let drawn = timed(timing, "CutVerdict", (1, 1), || {
            shaders.filter_pass(c"CutVerdict", now, target, (1, 1), || {
                p.previous.set_texture(before);
                p.cut_level.set_float(CUT_LEVEL / 255.0);
            })
        });
        if !drawn {
            return false;
        }
        if self.staged.is_none() {
            self.staged = StageSurface::new(1, 1);
        }
        let Some(stage) = self.staged.as_mut() else { return false };
        stage.stage(self.verdict.texture());
        true
    }

    /// The verdict staged on the previous frame: whether it says cut, None if it could not be read.
    fn read_verdict(&mut self) -> Option<bool> {
        let mut cut = false;
        self.staged.as_mut()?.read_rows(|row| cut = row[0] > 127).then_some(cut)
    }
}

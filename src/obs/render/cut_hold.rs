//! Scene cuts on the GPU (the plan is `crate::cut_hold`): each frame's 8x8 thumbnail, the verdict on
//! whether it is a new scene (one pixel, compared with the previous frame's thumbnail, read back a frame
//! later), and, once the source has cut (`cut_hold::ARMED_FRAMES`), the copy every later pass reads: the
//! frame itself, or where the verdict says cut the previous frame shown, which is then held until the new
//! scene's mask is ready. Per frame that is passes of 64 and 1 pixels and a 1-pixel read, and while armed
//! one full-size pass. Off in sync mode, which shows every frame with its own mask anyway (and keeps copies
//! of its own).

use super::super::copy_fence::CopyFence;
use super::super::graphics::{Format, StageSurface, TexRender, TextureRef};
use super::super::pass_times::{timed, PassTimes};
use super::input::Input;
use super::shaders::Shaders;
use crate::cut_hold::{Check, CutHold, NewestMask, CUT_LEVEL};

/// Cells per side of the thumbnail (the effect's Thumbnail and CutVerdict read 8x8 too).
const THUMB: u32 = 8;

pub struct CutFrames {
    plan: CutHold,
    copies: [TexRender; 2],
    thumbnails: [TexRender; 2],
    verdict: TexRender,
    staged: Option<StageSurface>,
    /// Where the renderer can be asked (D3D11), whether the verdict's copy is done: one not done is not read
    /// (no hold for that frame) rather than waited for.
    fence: Option<CopyFence>,
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
            fence: None,
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

    /// The cuts seen and held so far, and the frames they held in all.
    pub fn counts(&self) -> (u64, u64, u64) {
        (self.plan.cuts_seen, self.plan.cuts, self.plan.held_frames)
    }

    /// Once per video frame `seq` (after the newest mask was taken): learns the previous frame's verdict,
    /// ends a hold once the newest mask is of the new scene, and makes this frame's thumbnail, verdict and
    /// copy. Returns what the frame passes read, and its video frame (None: the input itself).
    pub fn next_frame(
        &mut self,
        live: Input,
        seq: u64,
        size: (u32, u32),
        newest: Option<NewestMask>,
        shaders: &Shaders,
        timing: &mut Option<PassTimes>,
    ) -> Option<(TextureRef, u64)> {
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
        if let Some((slot, held)) = plan.held {
            return Some((self.copies[slot].texture(), held));
        }
        let slot = plan.copy_to?;
        let (copies, verdict, p) = (&mut self.copies, self.verdict.texture(), &shaders.params);
        let before = checked.and_then(|check| check.copy).map(|copy| copies[copy].texture());
        let copy = &mut copies[slot];
        let copied = timed(timing, "CutCopy", size, || {
            copy.render(size.0, size.1, || {
                p.hold_check.set_float(if before.is_some() { 1.0 } else { 0.0 });
                if let Some(before) = before {
                    p.held.set_texture(before);
                    p.cut_verdict.set_texture(verdict);
                }
                live.draw(&shaders.effect, c"CutCopy", size.0, size.1);
            })
        });
        self.plan.copied(slot, seq, copied);
        copied.then(|| (self.copies[slot].texture(), seq))
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
            self.staged = StageSurface::new(1, 1, Format::Rgba8);
            self.fence = CopyFence::new();
        }
        let Some(stage) = self.staged.as_mut() else { return false };
        stage.stage(self.verdict.texture());
        if let Some(fence) = &self.fence {
            fence.mark();
        }
        true
    }

    /// The verdict staged on the previous frame: whether it says cut, None if it could not be read (or, on
    /// D3D11, was not done yet).
    fn read_verdict(&mut self) -> Option<bool> {
        if self.fence.as_ref().is_some_and(|f| !f.passed()) {
            return None;
        }
        let mut cut = false;
        self.staged.as_mut()?.read_rows(|row| cut = row[0] > 127).then_some(cut)
    }
}

//! Scene cuts: the old scene's last frame is held until the new scene's first mask is ready, so no frame of
//! the new scene is shown with the old scene's mask (and never unmasked).
//!
//! The CPU learns of a cut a frame late (it reads the GPU's verdict a frame after it was made, as it reads
//! the worker's copies), so the cut's own frame is decided on the GPU: each frame an 8x8 thumbnail is
//! compared with the previous frame's, and the frame passes read the previous frame (`held`) instead of the
//! input where the verdict says cut (`frame_color` in the effect). From the next frame on the CPU holds that
//! frame itself until a mask of the new scene arrives. Costs per frame: a full-size copy (the frame that may
//! have to be held), two passes of 64 and 1 pixels, and a 1-pixel read. Off in sync mode, which shows every
//! frame with its own mask anyway.

use super::super::graphics::{Format, StageSurface, TexRender, TextureRef};
use super::super::pass_times::{timed, PassTimes};
use super::input::Input;
use super::shaders::Shaders;
use crate::crop::Crop;

/// Cells per side of the thumbnail the verdict compares (as the worker's own cut measure).
const THUMB: u32 = 8;
/// Mean change of the thumbnail's luma (0..255) between two frames that makes a cut. The largest change
/// between neighbouring frames of real footage here is 7.6 (DAVIS parkour: a panning camera, a running
/// person, 24 fps; talking heads stay under 3); the cut clip's two rooms differ by 43. The worker's own
/// measure (`change::SCENE_CUT`, 50) compares its crops, where the person fills more of the picture.
const CUT_LEVEL: f32 = 25.0;
/// Video frames a cut is held at most, if the new scene's mask is slow to come (a slow model, a stalled
/// worker): a quarter of a second at 30 fps; after that the new scene shows with the masks there are.
pub const HOLD_MAX: u64 = 8;

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

struct Hold {
    slot: usize,
    /// The held frame's number.
    seq: u64,
    /// The newest cut seen while holding: the hold ends with a mask of this frame or later.
    cut: u64,
    started: u64,
}

#[derive(Default)]
struct Copy {
    seq: Option<u64>,
}

pub struct CutHold {
    frames: [TexRender; 2],
    copies: [Copy; 2],
    thumbs: [TexRender; 2],
    thumb_seqs: [Option<u64>; 2],
    verdict: TexRender,
    staged: Option<StageSurface>,
    /// The frame whose verdict was staged, and the copy slot that frame would show instead.
    pending: Option<(u64, usize)>,
    holding: Option<Hold>,
    /// The last frame this ran on.
    last_seq: Option<u64>,
    size: (u32, u32),
    /// Cuts held, and the frames they held for in all, for the log line when the filter goes.
    pub cuts: u64,
    pub held_frames: u64,
}

impl CutHold {
    pub fn new() -> CutHold {
        CutHold {
            frames: std::array::from_fn(|_| TexRender::new(Format::Rgba8)),
            copies: Default::default(),
            thumbs: std::array::from_fn(|_| TexRender::new(Format::Rgba8)),
            thumb_seqs: [None; 2],
            verdict: TexRender::new(Format::Rgba8),
            staged: None,
            pending: None,
            holding: None,
            last_seq: None,
            size: (0, 0),
            cuts: 0,
            held_frames: 0,
        }
    }

    /// Forgets every frame (sync mode, or a new size).
    pub fn clear(&mut self) {
        self.copies = Default::default();
        self.thumb_seqs = [None; 2];
        self.pending = None;
        self.holding = None;
        self.last_seq = None;
    }

    /// Whether a cut is being held (the worker is then given the whole frame).
    pub fn holding(&self) -> bool {
        self.holding.is_some()
    }

    /// Once per video frame `seq` (after the newest mask was taken: its frame and crop): learns the previous
    /// frame's verdict, ends a hold once the newest mask is of the new scene, and makes this frame's
    /// thumbnail, verdict and copy. Returns what the frame passes show.
    pub fn next_frame(
        &mut self,
        live: Input,
        seq: u64,
        size: (u32, u32),
        newest: Option<(u64, Crop)>,
        shaders: &Shaders,
        timing: &mut Option<PassTimes>,
    ) -> Shown {
        if self.size != size {
            self.clear();
            self.size = size;
        }
        let previous = self.last_seq.replace(seq);
        let learned = self.read_verdict();
        if let Some(hold) = self.holding.as_mut() {
            if let Some((cut, _)) = learned {
                hold.cut = hold.cut.max(cut);
            }
        } else if let Some((cut, slot)) = learned {
            if let Some(held) = self.copies[slot].seq {
                self.holding = Some(Hold { slot, seq: held, cut, started: cut });
                self.cuts += 1;
            }
        }
        if let Some(hold) = &self.holding {
            // The new scene's first mask of the whole frame ("Follow the person" cuts the cut's own frame to
            // the old scene's crop), or a hold that lasted too long.
            let new_scene = newest.is_some_and(|(mask, crop)| mask >= hold.cut && crop.is_full());
            if new_scene || seq.saturating_sub(hold.started) >= HOLD_MAX {
                self.holding = None;
            }
        }

        let thumb = self.thumb_seqs.iter().position(|s| *s != previous || s.is_none()).unwrap_or(0);
        let thumbed = timed(timing, "CutThumbnail", (THUMB, THUMB), || {
            self.thumbs[thumb].render(THUMB, THUMB, || {
                shaders.params.footprint.set_vec2([1.0 / THUMB as f32, 1.0 / THUMB as f32]);
                live.draw(&shaders.effect, c"Thumbnail", THUMB, THUMB);
            })
        });
        self.thumb_seqs[thumb] = thumbed.then_some(seq);
        let before = 1 - thumb;
        // Only against the frame just before: a copy of an older one would step back in time.
        let held_slot = self.copies.iter().position(|c| c.seq.is_some() && c.seq == previous);
        let checked = match held_slot {
            Some(slot) if thumbed && self.holding.is_none() && self.thumb_seqs[before] == previous => {
                self.verdict(thumb, before, shaders, timing).then_some(slot)
            }
            _ => None,
        };
        self.pending = checked.map(|slot| (seq, slot));

        match &self.holding {
            Some(hold) => {
                self.held_frames += 1;
                Shown::Held { frame: self.frames[hold.slot].texture(), seq: hold.seq }
            }
            None => {
                let shown = match checked {
                    Some(slot) => {
                        Shown::LiveUnlessCut { held: self.frames[slot].texture(), verdict: self.verdict.texture() }
                    }
                    None => Shown::Live,
                };
                // This frame's copy, into the slot the check above does not read.
                let slot = held_slot.map_or(0, |s| 1 - s);
                let copied = timed(timing, "CutCopy", size, || {
                    self.frames[slot].render(size.0, size.1, || live.draw(&shaders.effect, c"Copy", size.0, size.1))
                });
                self.copies[slot].seq = copied.then_some(seq);
                shown
            }
        }
    }

    /// The verdict on this frame: thumbnail `now` against `before`, into the 1-pixel target, and its copy to
    /// the CPU started.
    fn verdict(&mut self, now: usize, before: usize, shaders: &Shaders, timing: &mut Option<PassTimes>) -> bool {
        let (now, before) = (self.thumbs[now].texture(), self.thumbs[before].texture());
        let p = &shaders.params;
        let drawn = timed(timing, "CutVerdict", (1, 1), || {
            shaders.filter_pass(c"CutVerdict", now, &mut self.verdict, (1, 1), || {
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
        match self.staged.as_mut() {
            Some(stage) => {
                stage.stage(self.verdict.texture());
                true
            }
            None => false,
        }
    }

    /// The verdict staged on the previous frame, if it says cut: that frame's number and the copy slot it
    /// showed instead.
    fn read_verdict(&mut self) -> Option<(u64, usize)> {
        let (seq, slot) = self.pending.take()?;
        let mut cut = false;
        let read = self.staged.as_mut()?.read_rows(|row| cut = row[0] > 127);
        (read && cut).then_some((seq, slot))
    }
}

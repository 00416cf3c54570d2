//! Scene cuts: the old scene's last frame is held until the new scene's first mask is ready, so no frame of
//! the new scene is shown with the old scene's mask, and none unmasked. This is the plan, frame by frame; the
//! GPU side (thumbnails, the verdict, the copies) is `obs/render/cut_hold.rs`.
//!
//! The CPU learns of a frame's picture a frame late (it reads GPU results a frame after they were made), so
//! the cut's own frame is decided on the GPU: each frame's 8x8 thumbnail is compared with the previous
//! frame's, and where they differ as a new scene does the frame passes show a copy of the previous frame.
//! When the CPU reads that verdict, a frame later, it holds the copy itself until a mask of the new scene,
//! of the whole frame, arrives (or HOLD_MAX frames passed). The viewer sees the cut those frames later; the
//! video then goes on live, so audio is out of step only while a cut is held.

/// Mean change of the thumbnail's luma (0..255) between two frames that makes a cut. The largest change
/// between neighbouring frames of real footage here is 7.6 (DAVIS parkour: a panning camera, a running
/// person, 24 fps; talking heads stay under 3); the cut clip's two rooms differ by 43. (The worker's own
/// measure, `change::SCENE_CUT`, compares its crops, where the person fills more of the picture.)
pub const CUT_LEVEL: f32 = 25.0;
/// Video frames a cut is held at most, if the new scene's mask is slow to come (a slow model, a stalled
/// worker): a quarter of a second at 30 fps; after that the new scene shows with the masks there are.
pub const HOLD_MAX: u64 = 8;

/// The newest mask, as far as a hold cares: its video frame, and whether it covers the whole frame ("Follow
/// the person" cuts the cut's own frame to the old scene's crop; the hold waits for a whole look).
#[derive(Clone, Copy, Debug)]
pub struct NewestMask {
    pub seq: u64,
    pub whole_frame: bool,
}

/// This frame's work on the GPU.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FramePlan {
    /// Where this frame's thumbnail goes (of two).
    pub thumbnail: usize,
    /// The verdict to make, if this frame can be checked (its thumbnail made).
    pub check: Option<Check>,
    /// Where this frame is copied (of two), unless a cut is held.
    pub copy_to: Option<usize>,
    /// The frame held: its copy and its video frame number.
    pub held: Option<(usize, u64)>,
}

/// A check of this frame against the one just before it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Check {
    /// The previous frame's thumbnail.
    pub thumbnail: usize,
    /// The previous frame's copy: shown instead where the verdict says cut.
    pub copy: usize,
}

#[derive(Clone, Copy, Debug)]
struct Hold {
    copy: usize,
    seq: u64,
    /// The cut's own frame: the hold ends with a mask of it or later.
    cut: u64,
}

#[derive(Default)]
pub struct CutHold {
    /// The video frame each copy holds, and each thumbnail.
    copies: [Option<u64>; 2],
    thumbnails: [Option<u64>; 2],
    /// The frame whose verdict was made and not read yet, and the copy it showed where the verdict said cut.
    pending: Option<(u64, usize)>,
    holding: Option<Hold>,
    last_seq: Option<u64>,
    /// Cuts held, and the frames they held for in all (the log line when the filter goes).
    pub cuts: u64,
    pub held_frames: u64,
}

impl CutHold {
    /// Forgets every frame (sync mode, which shows every frame with its own mask; a new frame size).
    pub fn clear(&mut self) {
        *self = CutHold { cuts: self.cuts, held_frames: self.held_frames, ..CutHold::default() };
    }

    /// Whether a verdict waits to be read (before `plan`).
    pub fn verdict_due(&self) -> bool {
        self.pending.is_some()
    }

    /// Whether a cut is held: the worker is then given the whole frame.
    pub fn holding(&self) -> bool {
        self.holding.is_some()
    }

    /// Whether a mask of video frame `seq` may be shown now: while a cut is held, only the old scene's (a
    /// new scene's mask that does not end the hold, cut to the old crop, would not fit the held frame).
    pub fn shows_mask_of(&self, seq: u64) -> bool {
        self.holding.is_none_or(|h| seq < h.cut)
    }

    /// Video frame `seq`: `verdict` is the previous frame's, as read back (None: none was due, or it could
    /// not be read), `newest` the newest mask.
    pub fn plan(&mut self, seq: u64, verdict: Option<bool>, newest: Option<NewestMask>) -> FramePlan {
        let previous = self.last_seq.replace(seq);
        if let (Some((cut, copy)), Some(true)) = (self.pending.take(), verdict) {
            if let Some(held) = self.copies[copy].filter(|_| self.holding.is_none()) {
                self.holding = Some(Hold { copy, seq: held, cut });
                self.cuts += 1;
            }
        }
        self.pending = None;
        if let Some(hold) = self.holding {
            let new_scene = newest.is_some_and(|m| m.seq >= hold.cut && m.whole_frame);
            if new_scene || seq.saturating_sub(hold.cut) >= HOLD_MAX {
                self.holding = None;
            }
        }
        // Never over the previous frame's thumbnail or copy: this frame is compared with them.
        let thumbnail = usize::from(previous.is_some() && self.thumbnails[0] == previous);
        let before = self.copies.iter().position(|c| c.is_some() && *c == previous);
        if let Some(hold) = self.holding {
            self.held_frames += 1;
            return FramePlan { thumbnail, check: None, copy_to: None, held: Some((hold.copy, hold.seq)) };
        }
        // Only against the frame just before: a copy of an older one would step back in time.
        let check = before
            .filter(|_| self.thumbnails[1 - thumbnail] == previous)
            .map(|copy| Check { thumbnail: 1 - thumbnail, copy });
        FramePlan { thumbnail, check, copy_to: Some(before.map_or(0, |b| 1 - b)), held: None }
    }

    /// This frame's thumbnail was made (or not).
    pub fn thumbnail_made(&mut self, slot: usize, seq: u64, made: bool) {
        self.thumbnails[slot] = made.then_some(seq);
    }

    /// This frame's verdict was made and its copy to the CPU started; it is read next frame.
    pub fn checked(&mut self, seq: u64, check: Check) {
        self.pending = Some((seq, check.copy));
    }

    /// This frame was copied (or not).
    pub fn copied(&mut self, slot: usize, seq: u64, made: bool) {
        self.copies[slot] = made.then_some(seq);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs frame `seq` as the GPU side does, with every pass succeeding; `cut` is what the GPU finds.
    fn frame(
        h: &mut CutHold,
        seq: u64,
        cut: bool,
        gpu_found: &mut Option<bool>,
        newest: Option<NewestMask>,
    ) -> FramePlan {
        let verdict = if h.verdict_due() { gpu_found.take() } else { None };
        let plan = h.plan(seq, verdict, newest);
        h.thumbnail_made(plan.thumbnail, seq, true);
        if let Some(check) = plan.check {
            h.checked(seq, check);
            *gpu_found = Some(cut);
        }
        if let Some(slot) = plan.copy_to {
            h.copied(slot, seq, true);
        }
        plan
    }

    fn mask(seq: u64) -> Option<NewestMask> {
        Some(NewestMask { seq, whole_frame: true })
    }

    #[test]
    fn every_frame_is_checked_against_the_one_before_without_overwriting_it() {
        let (mut h, mut found) = (CutHold::default(), None);
        assert_eq!(frame(&mut h, 0, false, &mut found, None).check, None, "nothing before the first frame");
        for seq in 1..20 {
            let plan = frame(&mut h, seq, false, &mut found, mask(seq - 1));
            let check = plan.check.expect("checked");
            assert_eq!(h.copies[check.copy], Some(seq - 1));
            assert_ne!(plan.copy_to, Some(check.copy), "frame {seq} copied over the frame it may show");
            assert_ne!(plan.thumbnail, check.thumbnail);
            assert_eq!(plan.held, None);
        }
        assert_eq!(h.cuts, 0);
    }

    #[test]
    fn a_cut_holds_the_frame_before_it_until_the_new_scenes_whole_mask() {
        let (mut h, mut found) = (CutHold::default(), None);
        for seq in 0..10 {
            frame(&mut h, seq, false, &mut found, mask(seq.saturating_sub(2)));
        }
        // Frame 10 is a new scene: the GPU shows frame 9 instead; the CPU learns of it on frame 11.
        let plan = frame(&mut h, 10, true, &mut found, mask(8));
        let check = plan.check.expect("frame 10 checked");
        assert_eq!(h.copies[check.copy], Some(9));
        let plan = frame(&mut h, 11, false, &mut found, mask(9));
        assert_eq!(plan.held, Some((check.copy, 9)));
        assert_eq!(plan.copy_to, None, "the held copy is kept");
        assert_eq!(plan.check, None);
        assert!(h.holding());
        // A mask of the new scene cut to the old crop does not end it; a whole one does.
        let cropped = Some(NewestMask { seq: 10, whole_frame: false });
        assert_eq!(frame(&mut h, 12, false, &mut found, cropped).held, Some((check.copy, 9)));
        assert!(h.shows_mask_of(9) && !h.shows_mask_of(10), "only the old scene's masks go with the held frame");
        let plan = frame(&mut h, 13, false, &mut found, mask(11));
        assert_eq!(plan.held, None);
        assert!(h.shows_mask_of(11));
        assert_eq!(plan.check, None, "frame 12 was never copied: nothing to step back to");
        assert!(frame(&mut h, 14, false, &mut found, mask(12)).check.is_some());
        assert_eq!((h.cuts, h.held_frames), (1, 2));
    }

    #[test]
    fn a_hold_ends_after_hold_max_frames_without_a_new_mask() {
        let (mut h, mut found) = (CutHold::default(), None);
        for seq in 0..5 {
            frame(&mut h, seq, seq == 4, &mut found, mask(0));
        }
        let held: Vec<u64> =
            (5..20).filter(|&seq| frame(&mut h, seq, false, &mut found, mask(3)).held.is_some()).collect();
        assert_eq!(held, (5..4 + HOLD_MAX).collect::<Vec<_>>());
    }

    #[test]
    fn skipped_video_frames_still_compare_with_the_last_frame_rendered() {
        let (mut h, mut found) = (CutHold::default(), None);
        frame(&mut h, 0, false, &mut found, None);
        let plan = frame(&mut h, 3, true, &mut found, None);
        assert_eq!(h.copies[plan.check.expect("checked").copy], Some(0));
        assert_eq!(frame(&mut h, 4, false, &mut found, None).held.map(|(_, seq)| seq), Some(0));
    }

    #[test]
    fn no_check_without_the_previous_frames_thumbnail_or_an_unread_verdict() {
        let (mut h, mut found) = (CutHold::default(), None);
        frame(&mut h, 0, false, &mut found, None);
        let plan = h.plan(1, None, None);
        h.thumbnail_made(plan.thumbnail, 1, false);
        h.copied(plan.copy_to.expect("copied"), 1, true);
        assert_eq!(h.plan(2, None, None).check, None, "frame 1 has no thumbnail");
        // A verdict that says cut but could not be read holds nothing.
        let (mut h, mut found) = (CutHold::default(), None);
        frame(&mut h, 0, false, &mut found, None);
        frame(&mut h, 1, true, &mut found, None);
        assert_eq!(h.plan(2, None, None).held, None);
    }

    #[test]
    fn clearing_forgets_the_frames_but_not_the_counts() {
        let (mut h, mut found) = (CutHold::default(), None);
        for seq in 0..3 {
            frame(&mut h, seq, seq == 2, &mut found, None);
        }
        frame(&mut h, 3, false, &mut found, None);
        assert!(h.holding());
        h.clear();
        assert!(!h.holding());
        assert_eq!(h.plan(4, None, None).check, None);
        assert_eq!(h.cuts, 1);
    }
}

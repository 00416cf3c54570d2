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
//!
//! The copy is a full-size pass every frame, insurance that a webcam, which never cuts, should not pay for.
//! So the thumbnails and verdicts always run (they are tiny), but the copies, and with them the holds, only
//! once a cut was seen on the source, until ARMED_FRAMES pass without one: a source fed by a scene switcher
//! or a playlist has its first cut shown as before (two frames with the old scene's mask) and the later
//! ones held.

/// Mean change of the thumbnail's luma (0..255) between two frames that makes a cut. The largest change
/// between neighbouring frames of real footage here is 7.6 (DAVIS parkour: a panning camera, a running
/// person, 24 fps; talking heads stay under 3); the cut clip's two rooms differ by 43. (The worker's own
/// measure, `change::SCENE_CUT`, compares its crops, where the person fills more of the picture.)
pub const CUT_LEVEL: f32 = 25.0;
/// Video frames a cut is held at most, if the new scene's mask is slow to come (a slow model, a stalled
/// worker): a quarter of a second at 30 fps; after that the new scene shows with the masks there are.
pub const HOLD_MAX: u64 = 8;

/// Video frames the copies go on after a cut was seen: ten minutes at 30 fps.
pub const ARMED_FRAMES: u64 = 18_000;

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
    /// The previous frame's copy, while copies are made: shown instead where the verdict says cut.
    pub copy: Option<usize>,
}

/// Video frames between two renders past which the earlier one says nothing of the later: OBS skips a frame
/// or two under load, but a longer gap means the source was not drawn in between (its scene off screen, the
/// filter off), and a picture from before the pause must not be shown again.
pub const MAX_GAP: u64 = 3;

#[derive(Clone, Copy, Debug)]
struct Hold {
    copy: usize,
    seq: u64,
    /// The cut's own frame: masks from it on belong to the new scene.
    first: u64,
    /// The newest cut seen while holding: the hold ends with a whole mask of it or later.
    last: u64,
}

/// A verdict made and not read yet.
#[derive(Clone, Copy, Debug)]
struct Pending {
    seq: u64,
    /// The previous frame's copy, which the GPU copied instead of this frame where the verdict said cut.
    before: Option<usize>,
    /// Where this frame was copied: the previous frame's picture if the verdict said cut.
    copied_to: Option<usize>,
}

#[derive(Default)]
pub struct CutHold {
    /// The video frame each copy holds, and each thumbnail.
    copies: [Option<u64>; 2],
    thumbnails: [Option<u64>; 2],
    pending: Option<Pending>,
    holding: Option<Hold>,
    last_seq: Option<u64>,
    /// Copies are made before this video frame (a cut was seen ARMED_FRAMES before it).
    armed_until: u64,
    /// Cuts seen, cuts held, and the frames they held for in all (the log line when the filter goes).
    pub cuts_seen: u64,
    pub cuts: u64,
    pub held_frames: u64,
}

impl CutHold {
    /// Forgets every frame (sync mode, which shows every frame with its own mask; a new frame size).
    pub fn clear(&mut self) {
        let CutHold { armed_until, cuts_seen, cuts, held_frames, .. } = *self;
        *self = CutHold { armed_until, cuts_seen, cuts, held_frames, ..CutHold::default() };
    }

    /// Whether a verdict waits to be read (before `plan`).
    pub fn verdict_due(&self) -> bool {
        self.pending.is_some()
    }

    /// Whether copies are made: a cut was seen less than ARMED_FRAMES ago.
    pub fn armed(&self) -> bool {
        self.last_seq.is_some_and(|seq| seq < self.armed_until)
    }

    /// Whether a cut is held: the worker is then given the whole frame.
    pub fn holding(&self) -> bool {
        self.holding.is_some()
    }

    /// Whether a mask of video frame `seq` may be shown now: while a cut is held, only the old scene's (a
    /// new scene's mask that does not end the hold, cut to the old crop, would not fit the held frame).
    pub fn shows_mask_of(&self, seq: u64) -> bool {
        self.holding.is_none_or(|h| seq < h.first)
    }

    /// Video frame `seq`: `verdict` is the previous frame's, as read back (None: none was due, or it could
    /// not be read), `newest` the newest mask.
    pub fn plan(&mut self, seq: u64, verdict: Option<bool>, newest: Option<NewestMask>) -> FramePlan {
        let last = self.last_seq.replace(seq);
        let previous = last.filter(|last| seq.saturating_sub(*last) <= MAX_GAP);
        if last.is_some() && previous.is_none() {
            // After a pause nothing from before it is compared with, shown or held.
            self.clear();
            self.last_seq = Some(seq);
        }
        if let Some(pending) = self.pending.take() {
            self.learn(pending, verdict);
        }
        if let Some(hold) = self.holding {
            let new_scene = newest.is_some_and(|m| m.seq >= hold.last && m.whole_frame);
            if new_scene || seq.saturating_sub(hold.first) >= HOLD_MAX {
                self.holding = None;
            }
        }
        let armed = seq < self.armed_until;
        if !armed {
            self.copies = [None; 2];
        }
        // Never over the previous frame's thumbnail or copy: this frame is compared with them.
        let thumbnail = usize::from(previous.is_some() && self.thumbnails[0] == previous);
        let before = self.copies.iter().position(|c| c.is_some() && *c == previous);
        // Only against the frame just before: a copy of an older one would step back in time. While a cut is
        // held the CPU shows the held frame whatever the verdict, and a further cut only moves the hold's end.
        let compared = previous.is_some() && self.thumbnails[1 - thumbnail] == previous;
        if let Some(hold) = self.holding {
            self.held_frames += 1;
            let check = compared.then_some(Check { thumbnail: 1 - thumbnail, copy: None });
            return FramePlan { thumbnail, check, copy_to: None, held: Some((hold.copy, hold.seq)) };
        }
        let check = compared.then_some(Check { thumbnail: 1 - thumbnail, copy: before });
        let copy_to = armed.then_some(before.map_or(0, |b| 1 - b));
        FramePlan { thumbnail, check, copy_to, held: None }
    }

    /// What a read verdict means: a cut starts the copies and, if the GPU showed the previous frame's copy
    /// instead, a hold on that copy (or, during a hold, moves its end).
    fn learn(&mut self, pending: Pending, verdict: Option<bool>) {
        let held = pending.before.and_then(|c| self.copies[c].map(|seq| (c, seq)));
        match verdict {
            Some(true) => {
                self.cuts_seen += 1;
                self.armed_until = pending.seq + ARMED_FRAMES;
                if let Some(hold) = self.holding.as_mut() {
                    hold.last = hold.last.max(pending.seq);
                } else if let Some((copy, seq)) = held {
                    self.holding = Some(Hold { copy, seq, first: pending.seq, last: pending.seq });
                    self.cuts += 1;
                }
                // The GPU copied the previous frame's picture there, not this one's.
                if let (Some(to), Some((_, seq))) = (pending.copied_to, held) {
                    self.copies[to] = Some(seq);
                }
            }
            // Unread: which picture the GPU copied is unknown, so that copy is never shown again.
            None => {
                if let (Some(to), Some(_)) = (pending.copied_to, held) {
                    self.copies[to] = None;
                }
            }
            Some(false) => {}
        }
    }

    /// This frame's thumbnail was made (or not).
    pub fn thumbnail_made(&mut self, slot: usize, seq: u64, made: bool) {
        self.thumbnails[slot] = made.then_some(seq);
    }

    /// This frame's verdict was made and its copy to the CPU started; it is read next frame.
    pub fn checked(&mut self, seq: u64, check: Check) {
        self.pending = Some(Pending { seq, before: check.copy, copied_to: None });
    }

    /// This frame was copied (or not). A copy that failed where the GPU may have chosen the previous frame
    /// leaves the input shown: that verdict must then start no hold, or the old frame would come back.
    pub fn copied(&mut self, slot: usize, seq: u64, made: bool) {
        self.copies[slot] = made.then_some(seq);
        match self.pending.as_mut().filter(|p| p.seq == seq) {
            Some(p) if made => p.copied_to = Some(slot),
            Some(p) => p.before = None,
            None => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Frame `seq` as the GPU side runs it, every pass succeeding; `cut`: what the GPU finds on it.
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

    /// Frames 0-3 with a cut on frame 2, seen on frame 3: copies from then on, nothing held.
    fn armed() -> (CutHold, Option<bool>) {
        let (mut h, mut found) = (CutHold::default(), None);
        for seq in 0..4 {
            let plan = frame(&mut h, seq, seq == 2, &mut found, None);
            assert_eq!(plan.held, None);
        }
        assert!(h.armed());
        assert_eq!((h.cuts_seen, h.cuts), (1, 0), "the first cut is seen, not held: nothing was copied");
        (h, found)
    }

    #[test]
    fn a_source_without_cuts_is_checked_every_frame_and_never_copied() {
        let (mut h, mut found) = (CutHold::default(), None);
        assert_eq!(frame(&mut h, 0, false, &mut found, None).check, None, "nothing before the first frame");
        for seq in 1..100 {
            let plan = frame(&mut h, seq, false, &mut found, mask(seq - 1));
            let check = plan.check.expect("checked");
            assert_ne!(plan.thumbnail, check.thumbnail);
            assert_eq!((check.copy, plan.copy_to, plan.held), (None, None, None));
        }
        assert!(!h.armed());
    }

    #[test]
    fn once_armed_each_frame_is_copied_beside_the_previous_frames_copy() {
        let (mut h, mut found) = armed();
        for seq in 4..20 {
            let plan = frame(&mut h, seq, false, &mut found, mask(seq - 1));
            let before = plan.check.and_then(|c| c.copy).expect("checked against a copy");
            assert_eq!(h.copies[before], Some(seq - 1));
            assert_eq!(plan.copy_to, Some(1 - before), "frame {seq} copied over the frame it may show");
        }
    }

    #[test]
    fn copies_stop_armed_frames_after_the_last_cut() {
        let (mut h, mut found) = armed();
        let last = 2 + ARMED_FRAMES;
        assert!(frame(&mut h, last - 1, false, &mut found, None).copy_to.is_some());
        assert!(frame(&mut h, last, false, &mut found, None).copy_to.is_none());
        assert!(!h.armed());
    }

    #[test]
    fn a_cut_holds_the_frame_before_it_until_the_new_scenes_whole_mask() {
        let (mut h, mut found) = armed();
        for seq in 4..10 {
            frame(&mut h, seq, false, &mut found, mask(seq - 2));
        }
        // Frame 10 is a new scene: the GPU shows frame 9 instead; the CPU learns of it on frame 11.
        let plan = frame(&mut h, 10, true, &mut found, mask(8));
        let copy = plan.check.and_then(|c| c.copy).expect("frame 10 checked against a copy");
        assert_eq!(h.copies[copy], Some(9));
        let plan = frame(&mut h, 11, false, &mut found, mask(9));
        assert_eq!(plan.held, Some((copy, 9)));
        assert_eq!(plan.copy_to, None, "the held copy is kept");
        assert_eq!(plan.check.map(|c| c.copy), Some(None), "checked for a further cut, against no copy");
        assert!(h.holding());
        // A mask of the new scene cut to the old crop does not end it; a whole one does.
        let cropped = Some(NewestMask { seq: 10, whole_frame: false });
        assert_eq!(frame(&mut h, 12, false, &mut found, cropped).held, Some((copy, 9)));
        assert!(h.shows_mask_of(9) && !h.shows_mask_of(10), "only the old scene's masks go with the held frame");
        let plan = frame(&mut h, 13, false, &mut found, mask(11));
        assert_eq!(plan.held, None);
        assert!(h.shows_mask_of(11));
        assert_eq!(plan.check.and_then(|c| c.copy), None, "frame 12 was never copied: nothing to step back to");
        assert!(frame(&mut h, 14, false, &mut found, mask(12)).check.and_then(|c| c.copy).is_some());
        assert_eq!((h.cuts_seen, h.cuts, h.held_frames), (2, 1, 2));
    }

    #[test]
    fn a_hold_ends_after_hold_max_frames_without_a_new_mask() {
        let (mut h, mut found) = armed();
        for seq in 4..8 {
            frame(&mut h, seq, seq == 7, &mut found, mask(0));
        }
        let held: Vec<u64> =
            (8..30).filter(|&seq| frame(&mut h, seq, false, &mut found, mask(6)).held.is_some()).collect();
        assert_eq!(held, (8..7 + HOLD_MAX).collect::<Vec<_>>());
    }

    #[test]
    fn skipped_video_frames_still_compare_with_the_last_frame_rendered() {
        let (mut h, mut found) = armed();
        frame(&mut h, 4, false, &mut found, None);
        let plan = frame(&mut h, 7, true, &mut found, None);
        assert_eq!(plan.check.and_then(|c| c.copy).map(|c| h.copies[c]), Some(Some(4)));
        assert_eq!(frame(&mut h, 8, false, &mut found, None).held.map(|(_, seq)| seq), Some(4));
    }

    #[test]
    fn no_check_without_the_previous_frames_thumbnail_and_no_hold_without_a_verdict() {
        let (mut h, mut found) = armed();
        let plan = h.plan(4, found.take(), None);
        h.thumbnail_made(plan.thumbnail, 4, false);
        h.copied(plan.copy_to.expect("copied"), 4, true);
        assert_eq!(h.plan(5, None, None).check, None, "frame 4 has no thumbnail");
        // A verdict that says cut but could not be read holds nothing.
        let (mut h, mut found) = armed();
        frame(&mut h, 4, false, &mut found, None);
        frame(&mut h, 5, true, &mut found, None);
        assert_eq!(h.plan(6, None, None).held, None);
    }

    #[test]
    fn nothing_from_before_a_pause_is_compared_with_or_held() {
        let (mut h, mut found) = armed();
        for seq in 4..8 {
            frame(&mut h, seq, false, &mut found, None);
        }
        // The source was not drawn for 100 frames (its scene off screen): no check against frame 7.
        let plan = frame(&mut h, 107, true, &mut found, None);
        assert_eq!(plan.check, None);
        assert_eq!(frame(&mut h, 108, false, &mut found, None).held, None);
        assert!(frame(&mut h, 109, false, &mut found, None).check.and_then(|c| c.copy).is_some());
        // A hold does not outlast a pause either.
        frame(&mut h, 110, true, &mut found, None);
        assert!(frame(&mut h, 111, false, &mut found, None).held.is_some());
        assert_eq!(frame(&mut h, 200, false, &mut found, None).held, None);
    }

    #[test]
    fn a_further_cut_while_holding_moves_the_end_and_keeps_its_masks_off() {
        let (mut h, mut found) = armed();
        for seq in 4..8 {
            frame(&mut h, seq, seq == 6, &mut found, None);
        }
        assert!(h.holding(), "the cut on frame 6 is held from frame 7");
        // Frame 8 cuts again, to a third scene: a whole mask of the second scene no longer ends the hold.
        frame(&mut h, 8, true, &mut found, mask(5));
        let plan = frame(&mut h, 9, false, &mut found, mask(7));
        assert_eq!(plan.held.map(|(_, seq)| seq), Some(5));
        assert!(!h.shows_mask_of(7), "the second scene's mask is not shown on the first's frame");
        assert!(frame(&mut h, 10, false, &mut found, mask(8)).held.is_none(), "the third scene's mask ends it");
        assert_eq!((h.cuts_seen, h.cuts), (3, 1), "the first cut started the copies; the third extended the hold");
    }

    #[test]
    fn a_copy_the_gpu_filled_with_the_previous_frame_is_labelled_so() {
        let (mut h, mut found) = armed();
        frame(&mut h, 4, false, &mut found, None);
        let plan = frame(&mut h, 5, true, &mut found, None);
        let copied_to = plan.copy_to.expect("copied");
        frame(&mut h, 6, false, &mut found, None);
        assert_eq!(h.copies[copied_to], Some(4), "frame 5's copy holds frame 4's picture");
        // Unread, the verdict leaves that copy's picture unknown: it is never shown.
        let (mut h, mut found) = armed();
        frame(&mut h, 4, false, &mut found, None);
        let plan = frame(&mut h, 5, true, &mut found, None);
        let plan6 = h.plan(6, None, None);
        assert_eq!(h.copies[plan.copy_to.expect("copied")], None);
        assert_eq!(plan6.check.and_then(|c| c.copy), None);
    }

    #[test]
    fn a_failed_copy_on_a_cut_starts_no_hold() {
        let (mut h, mut found) = armed();
        frame(&mut h, 4, false, &mut found, None);
        let plan = h.plan(5, found.take(), None);
        h.thumbnail_made(plan.thumbnail, 5, true);
        h.checked(5, plan.check.expect("checked"));
        h.copied(plan.copy_to.expect("a copy"), 5, false);
        // The GPU said cut, but the input was shown (no copy): frame 4 must not come back.
        assert_eq!(h.plan(6, Some(true), None).held, None);
        assert_eq!(h.cuts_seen, 2, "the cut still counts, and keeps the copies on");
    }

    #[test]
    fn clearing_forgets_the_frames_but_not_the_counts() {
        let (mut h, mut found) = armed();
        for seq in 4..7 {
            frame(&mut h, seq, seq == 5, &mut found, None);
        }
        assert!(h.holding());
        h.clear();
        assert!(!h.holding());
        assert_eq!(h.plan(7, None, None).check, None);
        assert_eq!((h.cuts_seen, h.cuts), (2, 1));
    }
}

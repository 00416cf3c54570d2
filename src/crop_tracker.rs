//! "Follow the person": where the model should look next. From each mask, the box around every person
//! pixel (in frame coordinates), a margin that grows with motion, shaped to the model's aspect and kept
//! steady while the person stays well inside it; the whole frame when nobody is found, after a scene cut
//! (told by `motion`), and for a periodic full-frame look that finds a person entering elsewhere. Runs on the worker at the
//! mask's size (microseconds); the GPU downscale then cuts the next frame to the chosen crop.

use crate::crop::Crop;

/// Masks between full-frame looks: a third of a second at 30 masks per second. Each look costs one mask (a
/// tenth of them). In OBS the worker also asks for one at least every 0.4 s (`worker::LOOK_PERIOD`), so at
/// lower mask rates someone entering outside the crop is still found within a second.
pub const LOOK_EVERY: u32 = 10;
/// Margin around the person's box on every side, as a share of the box's larger side.
const MARGIN: f32 = 0.12;
/// Extra margin per unit of recent movement (frame units per mask): room for the motion until a crop chosen
/// now is used and its mask shown (in OBS up to about 5 frames: readback, the frame waiting, inference).
const MOTION_MASKS: f32 = 6.0;
/// How far the crop's aspect (in frame pixels) may differ from the model's: a tall person in a portrait
/// frame gets a taller crop, seen stretched as the whole frame always was (a 16:9 webcam into a square model
/// is 1.78). Measured: 1.6 keeps every evaluation set at or above the undistorted crop (docs/quality.md, Follow the person).
const MAX_STRETCH: f32 = 1.6;
/// A side of the box this close to the crop's edge (in mask texels) is cut off by it: the person goes on.
const TOUCH_TEXELS: f32 = 1.5;
/// Person texels in a crop's outermost line that mean the person goes on past it.
const MIN_EDGE_TEXELS: u32 = 3;
/// How far past a cut-off side the crop reaches next, as a share of the box's larger side.
const REACH: f32 = 0.5;
/// The crop is never smaller than this share of the model's input size in frame pixels: beyond a modest
/// enlargement the model sees only blur.
const MIN_MODEL_SCALE: f32 = 0.5;
/// Fewer person texels than this share of the mask is noise, not a person.
const MIN_PERSON_SHARE: f32 = 0.002;
/// Share of person texels ignored at each end of the box (stray specks do not stretch it).
const TRIM_SHARE: f32 = 0.002;
/// A crop this many times the area the person needs shrinks towards it.
const SHRINK_RATIO: f32 = 1.2;
/// Share of the way a too-large crop shrinks per mask (smooth, no jumps while the person is inside).
const SHRINK_RATE: f32 = 0.3;

/// What the next frame sent to the worker should be cut to.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Cut {
    pub crop: Crop,
    /// A full-frame look: its mask is not shown, it only tells the tracker where people are.
    pub look: bool,
}

impl Cut {
    pub const FULL: Cut = Cut { crop: Crop::FULL, look: false };
}

/// The box around the person pixels of a mask, in frame coordinates, and which of its sides the crop cut.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Found {
    pub person: Crop,
    /// Left, top, right, bottom: the person reaches the crop's edge there (where it is not the frame's edge).
    pub cut_off: [bool; 4],
}

#[derive(Default)]
pub struct CropTracker {
    current: Crop,
    previous: Option<Crop>,
    /// The crop `previous` was seen through.
    seen_through: Crop,
    /// Smoothed movement of the box's edges, frame units per mask.
    motion: f32,
    since_look: u32,
}

impl CropTracker {
    /// Starts over from the whole frame (a new video, a new model, the setting switched).
    pub fn reset(&mut self) {
        *self = CropTracker::default();
    }

    pub fn current(&self) -> Crop {
        self.current
    }

    /// The cut for the next frame: the current crop, or a full-frame look when one is due.
    pub fn next_cut(&self) -> Cut {
        // Due once per LOOK_EVERY masks (in OBS the worker asks again for a look whose frame was lost).
        let look = !self.current.is_full() && self.since_look > 0 && self.since_look.is_multiple_of(LOOK_EVERY);
        if look {
            Cut { crop: Crop::FULL, look: true }
        } else {
            Cut { crop: self.current, look: false }
        }
    }

    /// Takes the mask of a frame cut to `crop` (person probability 0..=255 per texel, `mask_size`), and
    /// whether that frame is a new scene, and chooses the next crop for a frame of `frame_size` pixels.
    pub fn observe(
        &mut self,
        cut: bool,
        mask: &[u8],
        mask_size: (u32, u32),
        crop: Crop,
        threshold: f32,
        frame_size: (u32, u32),
    ) {
        self.since_look += 1;
        if cut {
            self.current = Crop::FULL;
            self.previous = None;
            self.motion = 0.0;
            return;
        }
        let Some(found) = person_box(mask, mask_size, crop, threshold) else {
            self.current = Crop::FULL;
            self.previous = None;
            return;
        };
        // Boxes seen through different crops differ by the model's resolution, not by motion.
        if let Some(p) = self.previous.filter(|_| self.seen_through == crop) {
            let moved = (found.person.x - p.x)
                .abs()
                .max((found.person.right() - p.right()).abs())
                .max((found.person.y - p.y).abs())
                .max((found.person.bottom() - p.bottom()).abs());
            self.motion = 0.5 * self.motion + 0.5 * moved;
        }
        self.previous = Some(found.person);
        self.seen_through = crop;
        let needed = self.needed(found, frame_size, mask_size);
        // Half the still margin and all the motion's left on every side: the person is well inside, the crop
        // stays where it is.
        let (still, moving) = self.margin(found.person, frame_size);
        let half = 0.5 * still + moving;
        let (fw, fh) = (frame_size.0 as f32, frame_size.1 as f32);
        let roomy = self.current.contains(&found.person.grown(half / fw, half / fh), 1e-4);
        if self.current.is_full() || !roomy || found.cut_off.iter().any(|c| *c) {
            // Found, or about to leave the crop: catch up at once, never leaving part of the person outside.
            self.current = needed;
        } else if self.current.area() > SHRINK_RATIO * needed.area() {
            self.current = self.current.lerp(&needed, SHRINK_RATE);
        }
    }

    /// A due look whose picture had not changed since the previous look (`ChangeGate`): it would find what
    /// that one found, so it counts as done.
    pub fn look_unchanged(&mut self) {
        self.since_look = 0;
    }

    /// Takes the mask of a full-frame look: anyone outside the current crop widens it to hold everyone.
    pub fn observe_look(&mut self, mask: &[u8], mask_size: (u32, u32), threshold: f32, frame_size: (u32, u32)) {
        self.since_look = 0;
        let Some(found) = person_box(mask, mask_size, Crop::FULL, threshold) else { return };
        let slack = 2.0 / mask_size.0.min(mask_size.1) as f32;
        if !self.current.contains(&found.person, slack) {
            let everyone = self.previous.map_or(found.person, |p| p.union(&found.person));
            self.previous = Some(everyone);
            self.current = self.needed(Found { person: everyone, cut_off: [false; 4] }, frame_size, mask_size);
        }
    }

    /// The margin in frame pixels, the same left, right, above and below: a share of the box's larger side,
    /// and room for the recent motion.
    fn margin(&self, person: Crop, (fw, fh): (u32, u32)) -> (f32, f32) {
        let side = (person.w * fw as f32).max(person.h * fh as f32);
        (MARGIN * side, self.motion * MOTION_MASKS * fw.max(fh) as f32)
    }

    /// The crop that holds `found` with its margin, shaped to the model's aspect in frame pixels (as
    /// undistorted as the frame allows), at least the minimum size, inside the frame.
    fn needed(&self, found: Found, frame_size: (u32, u32), (mw, mh): (u32, u32)) -> Crop {
        let (fw, fh) = (frame_size.0 as f32, frame_size.1 as f32);
        let p = found.person;
        let (still, moving) = self.margin(p, frame_size);
        let margin = still + moving;
        let reach = REACH * (p.w * fw).max(p.h * fh);
        let extra = |cut: bool| margin + if cut { reach } else { 0.0 };
        let mut left = p.x * fw - extra(found.cut_off[0]);
        let mut top = p.y * fh - extra(found.cut_off[1]);
        let mut right = p.right() * fw + extra(found.cut_off[2]);
        let mut bottom = p.bottom() * fh + extra(found.cut_off[3]);
        left = left.max(0.0);
        top = top.max(0.0);
        right = right.min(fw);
        bottom = bottom.min(fh);
        let aspect = mw as f32 / mh as f32;
        let (mut w, mut h) = (right - left, bottom - top);
        if w < h * aspect / MAX_STRETCH {
            w = h * aspect / MAX_STRETCH;
        } else if w > h * aspect * MAX_STRETCH {
            h = w / aspect / MAX_STRETCH;
        }
        let min_w = MIN_MODEL_SCALE * mw as f32;
        if w < min_w {
            (w, h) = (min_w, min_w / aspect);
        }
        let (w, h) = (w.min(fw), h.min(fh));
        // Centred on the box, then pushed back inside the frame.
        let cx = ((left + right) / 2.0 - w / 2.0).clamp(0.0, fw - w);
        let cy = ((top + bottom) / 2.0 - h / 2.0).clamp(0.0, fh - h);
        let crop = Crop { x: cx / fw, y: cy / fh, w: w / fw, h: h / fh };
        if crop.w > 0.999 && crop.h > 0.999 {
            Crop::FULL
        } else {
            crop
        }
    }
}

/// The box around the person texels (probability at or above `threshold`) of a mask computed on `crop`, in
/// frame coordinates; None when there are too few to be a person.
pub fn person_box(mask: &[u8], (w, h): (u32, u32), crop: Crop, threshold: f32) -> Option<Found> {
    let (w, h) = (w as usize, h as usize);
    let level = (threshold * 255.0).round().clamp(1.0, 255.0) as u8;
    let mut columns = vec![0u32; w];
    let mut rows = vec![0u32; h];
    for (y, row) in mask.chunks_exact(w).enumerate().take(h) {
        let mut n = 0;
        for (x, &v) in row.iter().enumerate() {
            if v >= level {
                columns[x] += 1;
                n += 1;
            }
        }
        rows[y] = n;
    }
    let total: u32 = rows.iter().sum();
    if (total as f32) < MIN_PERSON_SHARE * (w * h) as f32 {
        return None;
    }
    let trim = (TRIM_SHARE * total as f32) as u32;
    let span = |counts: &[u32]| {
        let first = first_past(counts.iter().copied(), trim);
        let last = counts.len() - 1 - first_past(counts.iter().rev().copied(), trim);
        (first, last.max(first))
    };
    let ((x0, x1), (y0, y1)) = (span(&columns), span(&rows));
    let (u0, u1) = (x0 as f32 / w as f32, (x1 + 1) as f32 / w as f32);
    let (v0, v1) = (y0 as f32 / h as f32, (y1 + 1) as f32 / h as f32);
    // Cut off where the outermost lines of the mask hold person texels, trimmed or not (an arm's tip
    // reaching past the crop is thin): more than a speck's worth there.
    let touch = TOUCH_TEXELS.ceil() as usize;
    let reaches = |counts: &[u32], far: bool| {
        let edge = if far { &counts[counts.len().saturating_sub(touch)..] } else { &counts[..touch.min(counts.len())] };
        edge.iter().any(|&c| c >= MIN_EDGE_TEXELS)
    };
    let cut_off = [
        reaches(&columns, false) && crop.x > 1e-4,
        reaches(&rows, false) && crop.y > 1e-4,
        reaches(&columns, true) && crop.right() < 1.0 - 1e-4,
        reaches(&rows, true) && crop.bottom() < 1.0 - 1e-4,
    ];
    let (left, top) = crop.to_frame(u0, v0);
    let (right, bottom) = crop.to_frame(u1, v1);
    Some(Found { person: Crop { x: left, y: top, w: right - left, h: bottom - top }, cut_off })
}

/// Index of the first count at which the running total exceeds `skip`.
fn first_past(counts: impl Iterator<Item = u32>, skip: u32) -> usize {
    let mut sum = 0;
    for (i, c) in counts.enumerate() {
        sum += c;
        if sum > skip {
            return i;
        }
    }
    0
}

#[cfg(test)]
mod tests {
    use super::*;

    const MODEL: (u32, u32) = (256, 256);
    const FRAME: (u32, u32) = (1280, 720);

    /// The mask a perfect model gives for people covering `people` (frame coordinates) in a frame cut to
    /// `crop`.
    fn mask_of(people: &[Crop], crop: Crop) -> Vec<u8> {
        let (w, h) = MODEL;
        let mut m = vec![0u8; (w * h) as usize];
        for y in 0..h {
            for x in 0..w {
                let (fx, fy) = crop.to_frame((x as f32 + 0.5) / w as f32, (y as f32 + 0.5) / h as f32);
                if people.iter().any(|p| fx >= p.x && fx < p.right() && fy >= p.y && fy < p.bottom()) {
                    m[(y * w + x) as usize] = 255;
                }
            }
        }
        m
    }

    struct Scene {
        tracker: CropTracker,
        cut: bool,
    }

    impl Scene {
        fn new() -> Scene {
            Scene { tracker: CropTracker::default(), cut: false }
        }

        /// One frame through the tracker as the worker runs it (a due look first), returning the crop the
        /// frame's mask was computed on.
        fn frame(&mut self, people: &[Crop]) -> Crop {
            let cut = self.tracker.next_cut();
            if cut.look {
                self.tracker.observe_look(&mask_of(people, Crop::FULL), MODEL, 0.5, FRAME);
            }
            let crop = self.tracker.next_cut().crop;
            self.tracker.observe(std::mem::take(&mut self.cut), &mask_of(people, crop), MODEL, crop, 0.5, FRAME);
            crop
        }
    }

    fn pixels(c: Crop) -> (f32, f32) {
        (c.w * FRAME.0 as f32, c.h * FRAME.1 as f32)
    }

    #[test]
    fn a_person_is_cropped_with_a_margin_at_the_models_aspect_and_the_crop_holds_still() {
        let person = Crop { x: 0.4, y: 0.3, w: 0.15, h: 0.7 };
        let mut s = Scene::new();
        assert!(s.frame(&[person]).is_full(), "the first mask sees the whole frame");
        let crop = s.tracker.current();
        assert!(crop.contains(&person.grown(0.01, 0.01), 0.0), "{crop:?}");
        let (w, h) = pixels(crop);
        assert!(w / h >= 1.0 / MAX_STRETCH - 0.01 && w / h <= 1.0, "near the model's square: {w}x{h}");
        assert!(crop.w < 0.6, "{crop:?}");
        for _ in 0..10 {
            s.frame(&[person]);
            assert_eq!(s.tracker.current(), crop, "a still person keeps the crop still");
        }
    }

    #[test]
    fn a_moving_person_is_followed_and_never_left_outside() {
        let mut s = Scene::new();
        let mut person = Crop { x: 0.05, y: 0.35, w: 0.12, h: 0.6 };
        for _ in 0..80 {
            let crop = s.frame(&[person]);
            if !crop.is_full() {
                // The crop the mask was computed on still holds the person it followed.
                assert!(crop.contains(&person, 0.02), "{crop:?} lost {person:?}");
            }
            person.x = (person.x + 0.01).min(0.85);
        }
        assert!(s.tracker.current().contains(&person, 0.0));
        assert!(s.tracker.current().x > 0.5, "followed to the right: {:?}", s.tracker.current());
    }

    #[test]
    fn nobody_means_the_whole_frame() {
        let mut s = Scene::new();
        s.frame(&[Crop { x: 0.4, y: 0.3, w: 0.15, h: 0.7 }]);
        assert!(!s.tracker.current().is_full());
        s.frame(&[]);
        assert!(s.tracker.current().is_full());
    }

    #[test]
    fn a_full_frame_look_finds_someone_entering_elsewhere() {
        let mut s = Scene::new();
        let left = Crop { x: 0.05, y: 0.3, w: 0.12, h: 0.7 };
        let right = Crop { x: 0.85, y: 0.3, w: 0.1, h: 0.7 };
        s.frame(&[left]);
        let mut looks = 0;
        for i in 1..=LOOK_EVERY + 1 {
            if s.tracker.next_cut().look {
                looks += 1;
                assert_eq!(i, LOOK_EVERY, "the look comes every LOOK_EVERY masks");
            }
            s.frame(&[left, right]);
        }
        assert_eq!(looks, 1);
        let crop = s.tracker.current();
        assert!(crop.contains(&left, 0.0) && crop.contains(&right, 0.0), "one box around everyone: {crop:?}");
    }

    #[test]
    fn a_person_cut_off_by_the_crop_widens_it_at_once() {
        let mut s = Scene::new();
        let person = Crop { x: 0.45, y: 0.3, w: 0.1, h: 0.7 };
        s.frame(&[person]);
        let crop = s.tracker.current();
        // An arm reaches out past the crop's right edge.
        let arm = Crop { x: 0.5, y: 0.5, w: crop.right() + 0.1 - 0.5, h: 0.05 };
        s.frame(&[person, arm]);
        assert!(s.tracker.current().right() > crop.right() + 0.05, "{:?} then {:?}", crop, s.tracker.current());
    }

    #[test]
    fn a_scene_cut_starts_from_the_whole_frame() {
        let mut s = Scene::new();
        let person = Crop { x: 0.4, y: 0.3, w: 0.15, h: 0.7 };
        s.frame(&[person]);
        s.frame(&[person]);
        assert!(!s.tracker.current().is_full());
        s.cut = true;
        s.frame(&[person]);
        assert!(s.tracker.current().is_full());
    }

    #[test]
    fn a_small_distant_person_is_enlarged_only_so_far() {
        let mut s = Scene::new();
        let tiny = Crop { x: 0.5, y: 0.5, w: 0.02, h: 0.06 };
        s.frame(&[tiny]);
        let (w, _) = pixels(s.tracker.current());
        assert!(w >= MIN_MODEL_SCALE * MODEL.0 as f32 - 0.5, "{w}");
    }
}

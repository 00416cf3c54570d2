//! How the picture moves between two analysed frames, measured once per mask on the worker: the person's
//! velocity (the shift that best lays the person's texels of the new frame over the previous frame, found
//! coarse to fine on small luma pyramids) and whether the picture cut to a new scene.
//!
//! The velocity feeds the prediction: the composite moves a mask computed a few frames ago by the velocity
//! times the frames it trails the picture shown, so it lands where the person is now. The cut resets what
//! the worker carries from one mask to the next (smoothing, the guided filter's fit, the crop). One change
//! measure for both, at a quarter and half of the model's size (well under a millisecond at 256x256).

use crate::change::{scene_cut, Picture, Plane};
use crate::crop::Crop;

/// Search radius at the coarse level (a quarter of the model's size), in its texels: 8 of 64 texels is an
/// eighth of the crop per frame, beyond a person's motion between two frames.
const COARSE_RADIUS: i32 = 8;
/// Search radius at the fine level (half the model's size) around the coarse estimate.
const FINE_RADIUS: i32 = 2;
/// Fewer person texels than this at the fine level: nobody to follow.
const MIN_PERSON_TEXELS: usize = 24;
/// A shift must match better than "not moved" by this much mean luma difference (0..255) to count as motion:
/// flat clothing and sensor noise make shallow minima that are not motion.
const MIN_GAIN: f32 = 0.75;
/// Share of a new velocity measurement taken per video frame it spans (the rest is the previous velocity):
/// damps one bad match without trailing a change of direction by more than a frame.
pub const VELOCITY_GAIN: f32 = 0.7;
/// Measurements the velocity takes the median of before smoothing, when there is a mask every frame: a source
/// that shows one picture twice and then catches up (a decoder or a camera under load) gives single
/// measurements of none and of double the motion, which the median drops. Also how many the steadiness
/// compares.
const VELOCITY_MEDIAN: usize = 3;
/// Video frames the median reaches back over. With fewer masks than frames (a loaded machine makes a mask
/// every 2-3 frames) it takes fewer measurements, each over more frames, so the velocity trails the motion by
/// as many frames, not as many masks.
const MEDIAN_FRAMES: u64 = 3;
/// Spread of the latest measurements, as a multiple of the speed, at which the prediction stops (see
/// `MotionEstimator::steadiness`).
const STEADY_SPREAD: f32 = 2.0;
/// Frames between two analysed frames beyond which their difference says nothing of the motion (a pause,
/// or a still picture segmented again after a while): the motion starts afresh.
const MAX_MOTION_GAP: u64 = 8;

/// How many frames ahead the prediction extrapolates the person's motion (the live pipeline's usual lag is 2):
/// further than that a straight-line guess costs more than it saves.
pub const MAX_PREDICTED_FRAMES: u64 = 4;

/// Where a mask computed on `crop`, and already moved on `moved` frames by the worker, lies on a frame
/// `frames_ahead` video frames after its own: moved on further with the person's `velocity` (the rest of the
/// prediction), or back when it is shown sooner than the worker expected. The composite draws the mask there,
/// in OBS and in `vbg`.
pub fn predicted_crop(crop: Crop, velocity: [f32; 2], moved: u64, frames_ahead: u64) -> Crop {
    let k = frames_ahead.min(MAX_PREDICTED_FRAMES) as f32 - moved as f32;
    crop.shifted(k * velocity[0], k * velocity[1])
}

/// Fine texels per side of a block of the motion field (8 of 128: a 16x16 field over the crop).
const FIELD_BLOCK: usize = 8;
/// Search radius per block around the person's overall shift, in fine texels: limbs move apart from the body.
const BLOCK_RADIUS: i32 = 3;
/// Person texels a block needs for its own match (of 64); blocks with fewer take their neighbours' motion.
const MIN_BLOCK_PERSON: usize = 24;
/// Fine texels per video frame a block of a still person must move for the field to be kept. Any block with a
/// match of its own clears it over one frame (its shift is at least 0.5 after the sub-texel step): what
/// keeps sensor noise out is MIN_GAIN and BLOCK_GAIN, and this drops the field only when every block's own
/// shift is 0 (the usual still picture). Over a gap of more than 7 frames no block can clear it.
const LIMB_SHIFT: f32 = 0.5;
/// A block's own shift must also match this much better than the person's overall shift, relatively: along a
/// straight edge every shift matches about as well (the aperture problem), and a block there moves with
/// the person.
const BLOCK_GAIN: f32 = 0.8;

/// What changed between the previous analysed frame and this one.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Motion {
    /// The person's velocity in frame units (0..1 across the frame) per video frame.
    pub velocity: [f32; 2],
    /// How each part of the person moves (None without a person to follow, or when nothing of theirs moves).
    pub field: Option<MotionField>,
    /// The picture is a new scene: nothing carried over from earlier frames applies to it.
    pub cut: bool,
}

/// Per block of the crop, the velocity of what is there (for the person and around it: blocks without person
/// take their person neighbours' motion, so a mask moved along the field grows at the leading edge and gives
/// way at the trailing one). In crop units (0..1 across the crop) per video frame.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct MotionField {
    pub cols: usize,
    pub rows: usize,
    pub velocity: Vec<[f32; 2]>,
}

impl MotionField {
    /// The velocity at `(u, v)` in crop units, interpolated between block centres (edges clamped).
    pub fn at(&self, u: f32, v: f32) -> [f32; 2] {
        let axis = |t: f32, n: usize| {
            let f = (t * n as f32 - 0.5).clamp(0.0, (n - 1) as f32);
            let i = f.floor() as usize;
            (i, (i + 1).min(n - 1), f - i as f32)
        };
        let ((x0, x1, fx), (y0, y1, fy)) = (axis(u, self.cols), axis(v, self.rows));
        let g = |x: usize, y: usize| self.velocity[y * self.cols + x];
        let lerp = |a: [f32; 2], b: [f32; 2], t: f32| [a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t];
        lerp(lerp(g(x0, y0), g(x1, y0), fx), lerp(g(x0, y1), g(x1, y1), fx), fy)
    }
}

/// The person's velocity (frame units per video frame) between video frame `seq` and the one `gap` frames
/// before it.
#[derive(Clone, Copy, Debug)]
struct Measurement {
    velocity: [f32; 2],
    seq: u64,
    gap: u64,
}

/// A frame's luma at half and a quarter of the model's size, and the crop it was cut to.
struct Pyramid {
    fine: Plane,
    coarse: Plane,
    crop: Crop,
    seq: u64,
}

#[derive(Default)]
pub struct MotionEstimator {
    previous: Option<Pyramid>,
    /// The latest velocity measurements, newest last (at most VELOCITY_MEDIAN).
    measured: Vec<Measurement>,
    velocity: [f32; 2],
    /// What the last frame with a picture of its own said, and how many frames since showed it again.
    last: Motion,
    repeats: u32,
    scratch: Vec<f32>,
}

impl MotionEstimator {
    /// Forgets the previous frame (a new video, a new model).
    pub fn reset(&mut self) {
        self.previous = None;
        self.stop();
    }

    /// No motion to carry on: the person is still, gone, or in a new scene.
    fn stop(&mut self) {
        self.measured.clear();
        self.velocity = [0.0; 2];
        self.last = Motion::default();
    }

    /// How far the latest measurements agree, 0..1: 1 when they are one steady motion, towards 0 when they
    /// scatter as much as the motion itself (a jump, a spin, a camera whipping round): there a straight-line
    /// guess moves the mask off the person as often as onto them, so the prediction is scaled by this.
    fn steadiness(&self) -> f32 {
        self.agreement(self.speed())
    }

    /// The same for what moves apart from the person (an arm while the body stays), judged against at least
    /// `floor` of motion a frame: a body holding still (its measurements all near 0) is steady and lets its
    /// limbs' own motion through; one that jerks about by more than that stops it.
    fn local_steadiness(&self, floor: f32) -> f32 {
        self.agreement(self.speed().max(floor))
    }

    fn agreement(&self, speed: f32) -> f32 {
        let Some(newest) = self.measured.last() else { return 0.0 };
        // Judged over twice the median's frames, and at least back to the measurement before the newest:
        // sparser masks each measure over longer, an accelerating person's older measurements differ from
        // the newest by more, and one measurement alone says nothing of how steady the motion is.
        let window = self.latest((2 * MEDIAN_FRAMES).max(newest.gap + 1));
        // Two measurements at least, over MEDIAN_FRAMES frames at least: three with a mask every frame, two
        // when masks come every other frame or less often.
        let oldest = window[0];
        let covered = newest.seq.saturating_sub(oldest.seq) + oldest.gap;
        if window.len() < 2 || covered < MEDIAN_FRAMES || speed <= 0.0 {
            return 0.0;
        }
        let spread = (0..2)
            .map(|axis| {
                let values = window.iter().map(|m| m.velocity[axis]);
                values.clone().fold(f32::MIN, f32::max) - values.fold(f32::MAX, f32::min)
            })
            .fold(0.0f32, f32::max);
        (1.0 - spread / (STEADY_SPREAD * speed)).clamp(0.0, 1.0)
    }

    /// The measurements of the last `frames` video frames up to the newest, oldest first (never empty when
    /// there is one).
    fn latest(&self, frames: u64) -> Vec<Measurement> {
        let newest = self.measured.last().map_or(0, |m| m.seq);
        self.measured.iter().filter(|m| m.seq + frames > newest).copied().collect()
    }

    fn speed(&self) -> f32 {
        // Not f32::hypot: glibc 2.35 versioned hypotf anew, and the plugin keeps to glibc 2.34 (Debian 12's
        // OBS 29 era and every Flatpak runtime; scripts/test-tarball checks the symbol versions).
        (self.velocity[0] * self.velocity[0] + self.velocity[1] * self.velocity[1]).sqrt()
    }

    /// Takes a velocity measurement: the median of those over the last MEDIAN_FRAMES frames (of two, their
    /// mean), smoothed by VELOCITY_GAIN per frame it spans.
    fn measure(&mut self, m: Measurement) {
        if self.measured.len() == VELOCITY_MEDIAN {
            self.measured.remove(0);
        }
        self.measured.push(m);
        let recent = self.latest(MEDIAN_FRAMES);
        let gain = 1.0 - (1.0 - VELOCITY_GAIN).powi(m.gap.min(MAX_MOTION_GAP) as i32);
        for axis in 0..2 {
            let mut values: Vec<f32> = recent.iter().map(|r| r.velocity[axis]).collect();
            values.sort_by(f32::total_cmp);
            let n = values.len();
            let median = if n % 2 == 1 { values[n / 2] } else { 0.5 * (values[n / 2 - 1] + values[n / 2]) };
            self.velocity[axis] += gain * (median - self.velocity[axis]);
        }
    }

    /// Takes frame `seq` (the model's input, cut from the video frame to `crop`) and its person probability
    /// (0..=255, the frame's size; None when the mask has another size), and says how the picture moved since
    /// the previous frame given.
    pub fn observe(&mut self, picture: &Picture, person: Option<&[u8]>, crop: Crop, seq: u64) -> Motion {
        let fine = picture.fine.clone();
        // The same picture again (a source that showed one picture twice, as a decoder or camera under load
        // does, or a paused one): it says nothing of the motion. Once, the motion goes on and the next
        // picture is compared with the earlier frame, over the time between them; more often, it stopped.
        let same = self.previous.as_ref().is_some_and(|p| p.crop == crop && p.fine.luma == fine.luma);
        self.repeats = if same { self.repeats.saturating_add(1) } else { 0 };
        if same && self.repeats == 1 {
            return self.last.clone();
        }
        let now = Pyramid { fine, coarse: picture.coarse.clone(), crop, seq };
        let Some(mut before) = self.previous.replace(now) else {
            self.stop();
            return Motion::default();
        };
        let now = self.previous.as_ref().expect("just stored");
        if (before.fine.width, before.fine.height) != (now.fine.width, now.fine.height) || now.fine.width < 8 {
            self.stop();
            return Motion::default();
        }
        // The previous frame onto this frame's grid, so both compare texel by texel.
        let (seen_fine, seen_coarse) = if before.crop == crop {
            (None, None)
        } else {
            let from = before.crop;
            (
                Some(before.fine.move_to(from, crop, &mut self.scratch)),
                Some(before.coarse.move_to(from, crop, &mut self.scratch)),
            )
        };
        if scene_cut(&now.coarse, &before.coarse, seen_coarse.as_deref()) {
            self.stop();
            return Motion { cut: true, ..Motion::default() };
        }
        let frames = now.seq.saturating_sub(before.seq).max(1);
        if frames > MAX_MOTION_GAP {
            self.stop();
            return Motion::default();
        }
        let gap = frames as f32;
        let (fw, fh) = (now.fine.width as f32, now.fine.height as f32);
        let (seen_fine, seen_coarse) = (seen_fine.as_deref(), seen_coarse.as_deref());
        let found = person.and_then(|p| {
            let (width, height) = (picture.size.0 as usize, picture.size.1 as usize);
            let (fine_person, coarse_person) = person_texels(p, width, height);
            let shift = match_person(now, &before, &fine_person, &coarse_person, seen_fine, seen_coarse)?;
            Some((shift, fine_person))
        });
        let Some((shift, person)) = found else {
            self.stop();
            return Motion::default();
        };
        let mut field = block_field(&now.fine, &before.fine, &person, seen_fine, shift.unwrap_or((0.0, 0.0)));
        let (shift, local) = match shift {
            // The person as a whole holds still: nothing of theirs to carry on (a stop is not extrapolated),
            // but an arm may still be moving. When no block moved on its own, there is no field, the mask
            // counts as still, and a still picture can settle to the keep-alive.
            None => {
                self.stop();
                let limb = field.velocity.iter().flatten().any(|v| v.abs() >= LIMB_SHIFT * gap);
                if !limb {
                    return Motion::default();
                }
                ((0.0, 0.0), 1.0)
            }
            Some(shift) => {
                // Fine texels to frame units, per video frame.
                let velocity = [shift.0 * crop.w / fw / gap, shift.1 * crop.h / fh / gap];
                self.measure(Measurement { velocity, seq: now.seq, gap: frames });
                (shift, self.local_steadiness((crop.w / fw).max(crop.h / fh)))
            }
        };
        // Each block moves as the person does overall (smoothed), plus what it did apart from them between
        // these two frames: taken whole for a still body (an arm moves while the body stays), else judged
        // against at least a fine texel of motion a frame (`local_steadiness`).
        let steady = self.steadiness();
        let velocity = [steady * self.velocity[0], steady * self.velocity[1]];
        let overall = [velocity[0] / crop.w, velocity[1] / crop.h];
        for v in &mut field.velocity {
            let own = [(v[0] - shift.0) / fw / gap, (v[1] - shift.1) / fh / gap];
            *v = [overall[0] + local * own[0], overall[1] + local * own[1]];
        }
        self.last = Motion { velocity, field: Some(field), cut: false };
        self.last.clone()
    }
}

/// The person's texels (mostly person over the block) at half and a quarter of the mask's size.
fn person_texels(person: &[u8], width: usize, height: usize) -> (Vec<usize>, Vec<usize>) {
    let blocks = |k: usize| {
        let (w, h) = (width / k, height / k);
        let mut out = Vec::new();
        for y in 0..h {
            for x in 0..w {
                let sum: u32 = (0..k)
                    .flat_map(|dy| (0..k).map(move |dx| (y * k + dy) * width + x * k + dx))
                    .map(|i| u32::from(person[i]))
                    .sum();
                if sum >= 128 * (k * k) as u32 {
                    out.push(y * w + x);
                }
            }
        }
        out
    };
    (blocks(2), blocks(4))
}

/// Mean luma difference between the person's texels in `now` and the texels `shift` before them in
/// `before`; None when too few of them have a counterpart.
fn cost(now: &Plane, before: &Plane, texels: &[usize], seen: Option<&[bool]>, (dx, dy): (i32, i32)) -> Option<f32> {
    let (w, h) = (now.width as i32, now.height as i32);
    let (mut sum, mut n) = (0.0f32, 0usize);
    for &i in texels {
        let (x, y) = ((i % now.width) as i32 - dx, (i / now.width) as i32 - dy);
        if x < 0 || y < 0 || x >= w || y >= h {
            continue;
        }
        let j = (y * w + x) as usize;
        if seen.is_some_and(|s| !s[j]) {
            continue;
        }
        sum += (now.luma[i] - before.luma[j]).abs();
        n += 1;
    }
    (2 * n >= texels.len() && n > 0).then(|| sum / n as f32)
}

/// The person's shift from `before` to `now` in fine texels (sub-texel): None when there is no person to match,
/// Some(None) when no shift matches clearly better than none (the person holds still).
fn match_person(
    now: &Pyramid,
    before: &Pyramid,
    fine: &[usize],
    coarse: &[usize],
    seen_fine: Option<&[bool]>,
    seen_coarse: Option<&[bool]>,
) -> Option<Option<(f32, f32)>> {
    if fine.len() < MIN_PERSON_TEXELS || coarse.is_empty() {
        return None;
    }
    let search = |plane: &Plane, prev: &Plane, texels: &[usize], seen, centre: (i32, i32), radius: i32| {
        let mut best: Option<((i32, i32), f32)> = None;
        for dy in -radius..=radius {
            for dx in -radius..=radius {
                let d = (centre.0 + dx, centre.1 + dy);
                if let Some(c) = cost(plane, prev, texels, seen, d) {
                    if best.is_none_or(|(_, b)| c < b) {
                        best = Some((d, c));
                    }
                }
            }
        }
        best
    };
    let (coarse_shift, _) = search(&now.coarse, &before.coarse, coarse, seen_coarse, (0, 0), COARSE_RADIUS)?;
    let centre = (2 * coarse_shift.0, 2 * coarse_shift.1);
    let ((bx, by), best) = search(&now.fine, &before.fine, fine, seen_fine, centre, FINE_RADIUS)?;
    let still = cost(&now.fine, &before.fine, fine, seen_fine, (0, 0))?;
    if still - best < MIN_GAIN {
        return Some(None);
    }
    let at = |d| cost(&now.fine, &before.fine, fine, seen_fine, d);
    Some(Some(sub_texel((bx, by), best, at)))
}

/// Per block, the shift of its person texels (fine texels, searched around the person's overall `shift`);
/// blocks with too few take the person-weighted mean of their neighbours', and blocks away from the person
/// the overall shift.
fn block_field(now: &Plane, before: &Plane, person: &[usize], seen: Option<&[bool]>, shift: (f32, f32)) -> MotionField {
    let (cols, rows) = (now.width.div_ceil(FIELD_BLOCK), now.height.div_ceil(FIELD_BLOCK));
    let mut members: Vec<Vec<usize>> = vec![Vec::new(); cols * rows];
    for &i in person {
        let (x, y) = (i % now.width, i / now.width);
        members[(y / FIELD_BLOCK) * cols + x / FIELD_BLOCK].push(i);
    }
    let centre = (shift.0.round() as i32, shift.1.round() as i32);
    let own: Vec<Option<[f32; 2]>> = members
        .iter()
        .map(|texels| {
            if texels.len() < MIN_BLOCK_PERSON {
                return None;
            }
            let at = |d| cost(now, before, texels, seen, d);
            let mut best: Option<((i32, i32), f32)> = None;
            for dy in -BLOCK_RADIUS..=BLOCK_RADIUS {
                for dx in -BLOCK_RADIUS..=BLOCK_RADIUS {
                    let d = (centre.0 + dx, centre.1 + dy);
                    if let Some(c) = at(d) {
                        if best.is_none_or(|(_, b)| c < b) {
                            best = Some((d, c));
                        }
                    }
                }
            }
            let ((bx, by), b) = best?;
            // A flat block matches anywhere about as well: it moves with the person.
            if at(centre).is_some_and(|c| c - b < MIN_GAIN || b > BLOCK_GAIN * c) {
                return Some([shift.0, shift.1]);
            }
            let (x, y) = sub_texel((bx, by), b, at);
            Some([x, y])
        })
        .collect();
    let weights: Vec<f32> = members.iter().map(|m| m.len() as f32).collect();
    let velocity = (0..cols * rows)
        .map(|b| {
            if let Some(v) = own[b] {
                return v;
            }
            let (bx, by) = ((b % cols) as i32, (b / cols) as i32);
            let (mut sum, mut weight) = ([0.0f32; 2], 0.0f32);
            for ny in by - 1..=by + 1 {
                for nx in bx - 1..=bx + 1 {
                    if nx < 0 || ny < 0 || nx >= cols as i32 || ny >= rows as i32 {
                        continue;
                    }
                    let n = ny as usize * cols + nx as usize;
                    if let Some(v) = own[n] {
                        sum = [sum[0] + weights[n] * v[0], sum[1] + weights[n] * v[1]];
                        weight += weights[n];
                    }
                }
            }
            if weight > 0.0 {
                [sum[0] / weight, sum[1] / weight]
            } else {
                [shift.0, shift.1]
            }
        })
        .collect();
    MotionField { cols, rows, velocity }
}

/// The shift `best` (whose cost is `cost_there`) placed between texels: per axis, the minimum of a parabola
/// through the cost there and at its two neighbours (`at` gives the cost of a shift, None off the picture).
fn sub_texel(best: (i32, i32), cost_there: f32, at: impl Fn((i32, i32)) -> Option<f32>) -> (f32, f32) {
    let vertex = |minus: Option<f32>, plus: Option<f32>| match (minus, plus) {
        (Some(m), Some(p)) if m + p - 2.0 * cost_there > 1e-6 => {
            (0.5 * (m - p) / (m + p - 2.0 * cost_there)).clamp(-0.5, 0.5)
        }
        _ => 0.0,
    };
    let (bx, by) = best;
    let fx = vertex(at((bx - 1, by)), at((bx + 1, by)));
    let fy = vertex(at((bx, by - 1)), at((bx, by + 1)));
    (bx as f32 + fx, by as f32 + fy)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::preprocess::RgbaView;

    /// A 256x256 frame: a textured 80x120 "person" at `x` over a textured background, and its mask.
    fn scene(x: i32, background_shift: i32) -> (Vec<u8>, Vec<u8>) {
        let (w, h) = (256i32, 256i32);
        let mut rgba = Vec::with_capacity((w * h * 4) as usize);
        let mut mask = Vec::with_capacity((w * h) as usize);
        for py in 0..h {
            for px in 0..w {
                let inside = px >= x && px < x + 80 && (60..180).contains(&py);
                let v = if inside {
                    // Texture fixed to the person.
                    (((px - x) * 7 + py * 3) % 64 + 150) as u8
                } else {
                    (((px + background_shift) / 9 + py / 11) % 2 * 60 + 20) as u8
                };
                rgba.extend_from_slice(&[v, v, v, 255]);
                mask.push(if inside { 255 } else { 0 });
            }
        }
        (rgba, mask)
    }

    fn observe(m: &mut MotionEstimator, x: i32, seq: u64, crop: Crop) -> Motion {
        let (rgba, mask) = scene(x, 0);
        m.observe(&Picture::of(RgbaView::new(256, 256, &rgba)), Some(&mask), crop, seq)
    }

    #[test]
    fn a_moving_person_gives_their_velocity_in_frame_units() {
        let mut m = MotionEstimator::default();
        assert_eq!(observe(&mut m, 60, 0, Crop::FULL), Motion::default(), "nothing to compare the first frame with");
        let mut last = Motion::default();
        for (i, seq) in (1..8).enumerate() {
            last = observe(&mut m, 60 + 6 * (i as i32 + 1), seq, Crop::FULL);
            assert!(!last.cut);
        }
        // 6 texels of 256 per frame, converged after a few frames.
        let want = 6.0 / 256.0;
        assert!((last.velocity[0] - want).abs() < 0.1 * want, "{last:?}");
        assert!(last.velocity[1].abs() < 0.05 * want, "{last:?}");
    }

    #[test]
    fn a_picture_shown_twice_and_the_catch_up_after_it_do_not_swing_the_velocity() {
        // 6 texels per video frame, but the source shows frame 4's picture again at 5 and catches up at 6.
        let mut m = MotionEstimator::default();
        let want = 6.0 / 256.0;
        for (seq, x) in [60, 66, 72, 78, 84, 84, 96, 102].into_iter().enumerate() {
            let motion = observe(&mut m, x, seq as u64, Crop::FULL);
            if seq >= 4 {
                assert!((motion.velocity[0] - want).abs() < 0.25 * want, "frame {seq}: {motion:?}");
            }
        }
    }

    /// A 256x256 frame: a still textured 80x120 "person" at x = 60 with an "arm" (24x40, its own texture) beside
    /// it at rows 60 + `arm_dy`.., and their mask.
    fn scene_with_arm(arm_dy: i32) -> (Vec<u8>, Vec<u8>) {
        let (rgba, mut mask) = scene(60, 0);
        let mut rgba = rgba;
        for py in (60 + arm_dy)..(100 + arm_dy) {
            for px in 140..164 {
                let v = (((px - 140) * 5 + (py - arm_dy) * 9) % 64 + 140) as u8;
                let i = (py * 256 + px) as usize;
                rgba[i * 4..i * 4 + 3].copy_from_slice(&[v, v, v]);
                mask[i] = 255;
            }
        }
        (rgba, mask)
    }

    #[test]
    fn an_arm_moving_while_the_body_stays_has_its_own_motion_in_the_field() {
        // The arm rises 4 texels a frame; the body does not move, so the person's velocity stays 0.
        let mut m = MotionEstimator::default();
        let mut last = Motion::default();
        for seq in 0..7u64 {
            let (rgba, mask) = scene_with_arm(-4 * seq as i32);
            last = m.observe(&Picture::of(RgbaView::new(256, 256, &rgba)), Some(&mask), Crop::FULL, seq);
        }
        let want: f32 = -4.0 / 256.0;
        assert!(last.velocity[0].abs() < 0.2 * want.abs() && last.velocity[1].abs() < 0.2 * want.abs(), "{last:?}");
        let field = last.field.expect("a person to follow");
        let arm = field.at(152.0 / 256.0, 60.0 / 256.0);
        assert!(arm[1] < 0.5 * want, "the arm's own motion is missing: {arm:?}");
        let body = field.at(70.0 / 256.0, 150.0 / 256.0);
        assert!(body[1].abs() < 0.25 * want.abs(), "the body moved: {body:?}");
    }

    #[test]
    fn scattered_motion_is_not_predicted() {
        // Back and forth by 8 texels: the measurements scatter as much as the motion, a guess would miss.
        let mut m = MotionEstimator::default();
        let mut last = Motion::default();
        for (seq, x) in [60, 68, 60, 68, 60, 68, 60].into_iter().enumerate() {
            last = observe(&mut m, x, seq as u64, Crop::FULL);
        }
        assert!(last.velocity[0].abs() < 0.2 * 8.0 / 256.0, "{last:?}");
    }

    #[test]
    fn a_paused_picture_stops_the_motion() {
        let mut m = MotionEstimator::default();
        for (seq, x) in [60, 66, 72, 78].into_iter().enumerate() {
            observe(&mut m, x, seq as u64, Crop::FULL);
        }
        assert!(observe(&mut m, 78, 4, Crop::FULL).velocity[0] > 0.0, "one repeat: the motion goes on");
        assert_eq!(observe(&mut m, 78, 5, Crop::FULL).velocity, [0.0, 0.0], "paused: no motion");
        assert_eq!(observe(&mut m, 78, 6, Crop::FULL).velocity, [0.0, 0.0]);
    }

    #[test]
    fn frames_skipped_between_masks_divide_the_shift() {
        let mut m = MotionEstimator::default();
        observe(&mut m, 60, 0, Crop::FULL);
        let mut last = Motion::default();
        for i in 1..8 {
            // 8 texels between masks two video frames apart: 4 per frame.
            last = observe(&mut m, 60 + 8 * i, 2 * i as u64, Crop::FULL);
        }
        let want = 4.0 / 256.0;
        assert!((last.velocity[0] - want).abs() < 0.1 * want, "{last:?}");
    }

    #[test]
    fn with_a_mask_every_third_frame_the_prediction_starts_and_follows_as_soon_as_in_frames() {
        // A loaded machine makes a mask of every third frame: 4 texels per frame, 12 between masks.
        let mut m = MotionEstimator::default();
        let want = 4.0 / 256.0;
        observe(&mut m, 60, 0, Crop::FULL);
        observe(&mut m, 72, 3, Crop::FULL);
        // Two measurements cover six frames, more than three masks in a row would: predicted already.
        let second = observe(&mut m, 84, 6, Crop::FULL);
        assert!((second.velocity[0] - want).abs() < 0.15 * want, "{second:?}");
        // Twice as fast from here: one mask, three frames later, the velocity has followed (scaled down for the
        // sudden change by the steadiness, 0.75 here). A median over three masks would still say `want`.
        let faster = observe(&mut m, 108, 9, Crop::FULL);
        assert!(faster.velocity[0] > 1.3 * want, "{faster:?}");
    }

    #[test]
    fn with_a_mask_every_sixth_frame_steady_motion_is_predicted_and_scattered_motion_is_not() {
        // Each measurement spans more frames than the steadiness window's usual reach: it still compares
        // two, and back and forth by 8 texels scatters as much as the motion.
        let mut m = MotionEstimator::default();
        let mut last = Motion::default();
        for (i, x) in [60, 68, 60, 68, 60, 68, 60].into_iter().enumerate() {
            last = observe(&mut m, x, 6 * i as u64, Crop::FULL);
        }
        assert!(last.velocity[0].abs() < 0.2 * 8.0 / 6.0 / 256.0, "{last:?}");
        // A steady motion at that rate is predicted once two measurements agree.
        let mut m = MotionEstimator::default();
        for (i, x) in [60, 84, 108].into_iter().enumerate() {
            last = observe(&mut m, x, 6 * i as u64, Crop::FULL);
        }
        let want = 4.0 / 256.0;
        assert!((last.velocity[0] - want).abs() < 0.15 * want, "{last:?}");
    }

    #[test]
    fn a_still_person_has_no_velocity_and_a_moving_background_is_not_the_person() {
        let mut m = MotionEstimator::default();
        for seq in 0..5 {
            let (rgba, mask) = scene(80, seq as i32 * 5);
            let motion = m.observe(&Picture::of(RgbaView::new(256, 256, &rgba)), Some(&mask), Crop::FULL, seq);
            assert_eq!(motion.velocity, [0.0, 0.0], "frame {seq}");
        }
    }

    #[test]
    fn a_moved_crop_is_not_motion() {
        // The same still picture seen through a crop that moved: on the frame, nothing moved.
        let (w, h) = (512usize, 256usize);
        let (wide, wide_mask) = {
            let (a, m) = scene(100, 0);
            // Twice as wide: the 256-wide scene, then a copy of its background.
            let mut rgba = vec![0u8; w * h * 4];
            let mut mask = vec![0u8; w * h];
            for y in 0..h {
                for x in 0..w {
                    let sx = x.min(255);
                    let src = if x < 256 { y * 256 + sx } else { y * 256 + (x - 256) % 40 };
                    rgba[(y * w + x) * 4..(y * w + x) * 4 + 4].copy_from_slice(&a[src * 4..src * 4 + 4]);
                    mask[y * w + x] = if x < 256 { m[src] } else { 0 };
                }
            }
            (rgba, mask)
        };
        let cut_out = |x0: usize| {
            let mut rgba = Vec::with_capacity(256 * 256 * 4);
            let mut mask = Vec::with_capacity(256 * 256);
            for y in 0..256 {
                rgba.extend_from_slice(&wide[(y * w + x0) * 4..(y * w + x0 + 256) * 4]);
                mask.extend_from_slice(&wide_mask[y * w + x0..y * w + x0 + 256]);
            }
            (rgba, mask)
        };
        let mut m = MotionEstimator::default();
        let (a, am) = cut_out(0);
        m.observe(&Picture::of(RgbaView::new(256, 256, &a)), Some(&am), Crop { x: 0.0, y: 0.0, w: 0.5, h: 1.0 }, 0);
        let (b, bm) = cut_out(32);
        let motion = m.observe(
            &Picture::of(RgbaView::new(256, 256, &b)),
            Some(&bm),
            Crop { x: 32.0 / 512.0, y: 0.0, w: 0.5, h: 1.0 },
            1,
        );
        assert!(!motion.cut);
        assert!(motion.velocity[0].abs() < 0.002, "{motion:?}");
    }

    #[test]
    fn a_new_scene_is_a_cut_and_stops_the_prediction() {
        let mut m = MotionEstimator::default();
        for (seq, x) in [60, 66, 72, 78].into_iter().enumerate() {
            observe(&mut m, x, seq as u64, Crop::FULL);
        }
        assert!(observe(&mut m, 84, 4, Crop::FULL).velocity[0] > 0.0);
        let other: Vec<u8> = (0..256 * 256)
            .flat_map(|i| {
                let v = if i % 256 < 128 { 250 } else { 200 };
                [v, v, v, 255]
            })
            .collect();
        let motion = m.observe(&Picture::of(RgbaView::new(256, 256, &other)), None, Crop::FULL, 5);
        assert!(motion.cut);
        assert_eq!(motion.velocity, [0.0, 0.0]);
    }
}

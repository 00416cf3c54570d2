//! The prediction: a mask computed from an earlier frame, moved on to where the person is on the frame shown.
//!
//! The live pipeline always trails by at least `WORKER_AHEAD` frames (the frame's copy is read one frame
//! after it was made, and its mask is uploaded on the next). So the worker moves the mask and the guided
//! filter's coefficients that far along the motion field at the mask's size (each part of the person by its
//! own motion), and the composite moves them further by the person's overall velocity for every frame it
//! trails beyond that (`motion::predicted_crop`): no extra pass on the GPU.

use crate::motion::MotionField;

/// Frames the worker moves each mask on until the filter has measured how late masks are shown: the live
/// pipeline's shortest lag.
pub const WORKER_AHEAD: u64 = 2;

/// How many video frames after its own each new mask is first shown, over the last few masks: the worker moves
/// masks on by the median. Under load (a recording, a busy GPU) masks are shown 4-5 frames late rather than 2,
/// and moving them on 2 frames along the motion field and the rest by the person's overall velocity left the
/// seen lag spread from -1 to 4 frames.
#[derive(Clone, Debug, Default)]
pub struct FirstShownLag {
    recent: [u64; Self::MASKS],
    len: usize,
    next: usize,
}

impl FirstShownLag {
    const MASKS: usize = 9;

    /// A new mask first shown `frames` after its own frame.
    pub fn push(&mut self, frames: u64) {
        self.recent[self.next] = frames;
        self.next = (self.next + 1) % Self::MASKS;
        self.len = (self.len + 1).min(Self::MASKS);
    }

    /// The median of the recent masks, `WORKER_AHEAD` before any.
    pub fn median(&self) -> u64 {
        if self.len == 0 {
            return WORKER_AHEAD;
        }
        let mut v = self.recent;
        let v = &mut v[..self.len];
        v.sort_unstable();
        v[self.len / 2]
    }
}

/// Moves a plane of `C` values per texel (`width x height`, covering the crop the field describes) `frames`
/// video frames on along `field`: each texel takes the value from where the field says its content was.
/// What comes from outside the plane is 0 (background, for the probability and the coefficients alike).
pub fn warp<T: Copy + Default + Into<f32>, const C: usize>(
    plane: &[T],
    (width, height): (u32, u32),
    field: &MotionField,
    frames: f32,
    from_f32: impl Fn(f32) -> T,
) -> Vec<T> {
    let (w, h) = (width as usize, height as usize);
    assert_eq!(plane.len(), w * h * C, "plane does not match its size");
    let mut out = vec![T::default(); plane.len()];
    let (wf, hf) = (w as f32, h as f32);
    let texel = |x: i64, y: i64, c: usize| -> f32 {
        if x < 0 || y < 0 || x >= w as i64 || y >= h as i64 {
            0.0
        } else {
            plane[(y as usize * w + x as usize) * C + c].into()
        }
    };
    for y in 0..h {
        let v = (y as f32 + 0.5) / hf;
        for x in 0..w {
            let u = (x as f32 + 0.5) / wf;
            let d = field.at(u, v);
            // Source position in texels, between texel centres.
            let sx = (u - frames * d[0]) * wf - 0.5;
            let sy = (v - frames * d[1]) * hf - 0.5;
            let (x0, y0) = (sx.floor(), sy.floor());
            let (fx, fy) = (sx - x0, sy - y0);
            let (x0, y0) = (x0 as i64, y0 as i64);
            for c in 0..C {
                let top = texel(x0, y0, c) * (1.0 - fx) + texel(x0 + 1, y0, c) * fx;
                let bottom = texel(x0, y0 + 1, c) * (1.0 - fx) + texel(x0 + 1, y0 + 1, c) * fx;
                out[(y * w + x) * C + c] = from_f32(top * (1.0 - fy) + bottom * fy);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_shown_lag_is_the_median_of_the_recent_masks() {
        let mut lag = FirstShownLag::default();
        assert_eq!(lag.median(), WORKER_AHEAD, "before any mask");
        for frames in [4, 5, 4, 9, 4] {
            lag.push(frames);
        }
        assert_eq!(lag.median(), 4, "one late mask does not move it");
        for _ in 0..9 {
            lag.push(2);
        }
        assert_eq!(lag.median(), 2, "only the last masks count");
    }

    #[test]
    fn a_plane_moves_along_the_field_and_background_fills_in_behind() {
        // Everything moves right by a quarter of the plane per frame.
        let field = MotionField { cols: 2, rows: 2, velocity: vec![[0.25, 0.0]; 4] };
        let plane: Vec<u8> = vec![0, 255, 0, 0, 0, 255, 0, 0];
        let moved = warp::<u8, 1>(&plane, (4, 2), &field, 1.0, |v| (v + 0.5) as u8);
        assert_eq!(moved, vec![0, 0, 255, 0, 0, 0, 255, 0]);
        let twice = warp::<u8, 1>(&plane, (4, 2), &field, 2.0, |v| (v + 0.5) as u8);
        assert_eq!(twice, vec![0, 0, 0, 255, 0, 0, 0, 255]);
        // Backwards, what enters from outside the plane is background.
        let back = warp::<u8, 1>(&[255u8; 8], (4, 2), &field, 1.0, |v| (v + 0.5) as u8);
        assert_eq!(back, vec![0, 255, 255, 255, 0, 255, 255, 255]);
    }

    #[test]
    fn a_still_field_changes_nothing() {
        let field = MotionField { cols: 1, rows: 1, velocity: vec![[0.0, 0.0]] };
        let plane: Vec<f32> = (0..32).map(|i| i as f32).collect();
        assert_eq!(warp::<f32, 4>(&plane, (4, 2), &field, 2.0, |v| v), plane);
    }
}

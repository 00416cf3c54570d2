//! The part of the frame the model looks at: a rectangle in frame coordinates (0..1 across the frame), cut
//! out and shrunk to the model's input by the GPU downscale. The mask computed from it covers only that
//! rectangle; outside it is background. Also moves per-texel state (the temporal filter's, the guided
//! filter's) from one crop's grid to another's, so smoothing stays anchored to the picture, not the grid.

/// A rectangle of the frame, in frame texture coordinates: origin `x, y`, size `w, h`, all 0..=1.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Crop {
    pub x: f32,
    pub y: f32,
    pub w: f32,
    pub h: f32,
}

impl Default for Crop {
    fn default() -> Self {
        Crop::FULL
    }
}

impl Crop {
    /// The whole frame: what the model saw before crops existed, and the shader's identity.
    pub const FULL: Crop = Crop { x: 0.0, y: 0.0, w: 1.0, h: 1.0 };

    pub fn is_full(&self) -> bool {
        *self == Crop::FULL
    }

    pub fn right(&self) -> f32 {
        self.x + self.w
    }

    pub fn bottom(&self) -> f32 {
        self.y + self.h
    }

    /// Frame coordinates of a point given in this crop's coordinates (0..1 across the crop).
    pub fn to_frame(&self, u: f32, v: f32) -> (f32, f32) {
        (self.x + u * self.w, self.y + v * self.h)
    }

    /// This crop's coordinates of a point given in frame coordinates.
    pub fn from_frame(&self, x: f32, y: f32) -> (f32, f32) {
        ((x - self.x) / self.w, (y - self.y) / self.h)
    }

    /// Whether `other` lies inside this crop, allowing `slack` (frame units) on every side.
    pub fn contains(&self, other: &Crop, slack: f32) -> bool {
        other.x >= self.x - slack
            && other.y >= self.y - slack
            && other.right() <= self.right() + slack
            && other.bottom() <= self.bottom() + slack
    }

    /// Grown by `dx` left and right and `dy` above and below, within the frame.
    pub fn grown(&self, dx: f32, dy: f32) -> Crop {
        let (x, y) = ((self.x - dx).max(0.0), (self.y - dy).max(0.0));
        Crop { x, y, w: (self.right() + dx).min(1.0) - x, h: (self.bottom() + dy).min(1.0) - y }
    }

    /// Moved by `dx, dy` (frame units), without clamping: a mask moved on with the person may reach past the
    /// frame's edge.
    pub fn shifted(&self, dx: f32, dy: f32) -> Crop {
        Crop { x: self.x + dx, y: self.y + dy, ..*self }
    }

    pub fn area(&self) -> f32 {
        self.w * self.h
    }

    /// The smallest rectangle holding both.
    pub fn union(&self, other: &Crop) -> Crop {
        let (x, y) = (self.x.min(other.x), self.y.min(other.y));
        Crop { x, y, w: self.right().max(other.right()) - x, h: self.bottom().max(other.bottom()) - y }
    }

    /// The way from `self` to `to` by `t` (0 stays, 1 arrives), edge by edge: a rectangle between two that
    /// both hold a box still holds it.
    pub fn lerp(&self, to: &Crop, t: f32) -> Crop {
        let mix = |a: f32, b: f32| a + (b - a) * t;
        let (x, y) = (mix(self.x, to.x), mix(self.y, to.y));
        Crop { x, y, w: mix(self.right(), to.right()) - x, h: mix(self.bottom(), to.bottom()) - y }
    }

    /// The size in texels a grid of `size` texels over this crop would have over the whole frame: how fine
    /// a mask of that size is on the frame.
    pub fn covering(&self, (w, h): (u32, u32)) -> (u32, u32) {
        ((w as f32 / self.w).round() as u32, (h as f32 / self.h).round() as u32)
    }

    /// The shader's mapping from frame coordinates to mask coordinates, `(uv - origin) / size`: origin then
    /// size, as two vec2.
    pub fn shader_params(&self) -> ([f32; 2], [f32; 2]) {
        ([self.x, self.y], [self.w, self.h])
    }
}

/// Moves a plane of `channels` values per texel (row-major, `width x height` texels) from the grid of crop
/// `from` to the grid of crop `to` (both the same size in texels), sampling bilinearly between texel centres.
/// Returns, per texel of the new grid, whether it was inside `from` (the rest holds the nearest edge value
/// and should be treated as unseen).
pub fn move_plane(
    plane: &mut Vec<f32>,
    channels: usize,
    size: (u32, u32),
    from: Crop,
    to: Crop,
    scratch: &mut Vec<f32>,
) -> Vec<bool> {
    // One copy per channel count, so the compiler unrolls the per-texel loop (a move costs a few
    // hundred microseconds at 256x256, not milliseconds).
    match channels {
        1 => move_channels::<1>(plane, size, from, to, scratch),
        4 => move_channels::<4>(plane, size, from, to, scratch),
        n => panic!("move_plane: {n} channels per texel are not supported"),
    }
}

/// One axis of a move: per texel of the new grid, the two old texels around it, the weight of the second,
/// and whether it lay inside the old crop.
fn axis_taps(
    n: usize,
    to_origin: f32,
    to_size: f32,
    from_origin: f32,
    from_size: f32,
) -> Vec<(usize, usize, f32, bool)> {
    (0..n)
        .map(|i| {
            let frame = to_origin + (i as f32 + 0.5) / n as f32 * to_size;
            let old = (frame - from_origin) / from_size;
            let inside = (-1e-4..=1.0 + 1e-4).contains(&old);
            let f = (old * n as f32 - 0.5).clamp(0.0, (n - 1) as f32);
            let i0 = f.floor() as usize;
            (i0, (i0 + 1).min(n - 1), f - i0 as f32, inside)
        })
        .collect()
}

fn move_channels<const C: usize>(
    plane: &mut Vec<f32>,
    (width, height): (u32, u32),
    from: Crop,
    to: Crop,
    scratch: &mut Vec<f32>,
) -> Vec<bool> {
    let (w, h) = (width as usize, height as usize);
    assert_eq!(plane.len(), w * h * C, "plane does not match its size");
    scratch.clear();
    scratch.resize(plane.len(), 0.0);
    let mut seen = vec![false; w * h];
    // Per column and per row of the new grid: the old grid's position, independent of the other axis.
    let xs = axis_taps(w, to.x, to.w, from.x, from.w);
    let ys = axis_taps(h, to.y, to.h, from.y, from.h);
    let texel = |row: &[f32], x: usize| -> [f32; C] { std::array::from_fn(|c| row[x * C + c]) };
    for ((out, seen), &(y0, y1, fy, in_y)) in scratch.chunks_exact_mut(w * C).zip(seen.chunks_exact_mut(w)).zip(&ys) {
        let (top, bottom) = (&plane[y0 * w * C..(y0 + 1) * w * C], &plane[y1 * w * C..(y1 + 1) * w * C]);
        for ((out, seen), &(x0, x1, fx, in_x)) in out.chunks_exact_mut(C).zip(seen.iter_mut()).zip(&xs) {
            let (a, b, c, d) = (texel(top, x0), texel(top, x1), texel(bottom, x0), texel(bottom, x1));
            for i in 0..C {
                let upper = a[i] * (1.0 - fx) + b[i] * fx;
                let lower = c[i] * (1.0 - fx) + d[i] * fx;
                out[i] = upper * (1.0 - fy) + lower * fy;
            }
            *seen = in_x && in_y;
        }
    }
    std::mem::swap(plane, scratch);
    seen
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn coordinates_round_trip_and_containment() {
        let c = Crop { x: 0.25, y: 0.1, w: 0.5, h: 0.8 };
        let (fx, fy) = c.to_frame(0.5, 0.5);
        assert!((fx - 0.5).abs() < 1e-6 && (fy - 0.5).abs() < 1e-6);
        let (u, v) = c.from_frame(fx, fy);
        assert!((u - 0.5).abs() < 1e-6 && (v - 0.5).abs() < 1e-6);
        assert!(Crop::FULL.contains(&c, 0.0));
        assert!(!c.contains(&Crop::FULL, 0.0));
        assert!(c.contains(&Crop { x: 0.24, y: 0.1, w: 0.5, h: 0.8 }, 0.02));
        assert_eq!(c.union(&Crop::FULL), Crop::FULL);
        let halfway = c.lerp(&Crop::FULL, 0.5);
        assert!(halfway.contains(&c, 1e-6) && Crop::FULL.contains(&halfway, 1e-6));
    }

    #[test]
    fn a_plane_moves_with_the_picture() {
        // A ramp over the frame's x, sampled on the left half: 4 texels at x = 0.0625, 0.1875, ...
        let from = Crop { x: 0.0, y: 0.0, w: 0.5, h: 1.0 };
        let mut plane: Vec<f32> = (0..4).map(|i| (i as f32 + 0.5) / 8.0).collect();
        let mut scratch = Vec::new();
        // Onto the middle half: the first two new texels (x = 0.3125, 0.4375) lie in the old crop.
        let to = Crop { x: 0.25, y: 0.0, w: 0.5, h: 1.0 };
        let seen = move_plane(&mut plane, 1, (4, 1), from, to, &mut scratch);
        assert_eq!(seen, vec![true, true, false, false]);
        assert!((plane[0] - 0.3125).abs() < 1e-6 && (plane[1] - 0.4375).abs() < 1e-6, "{plane:?}");
        // The same crop again changes nothing.
        let before = plane.clone();
        let seen = move_plane(&mut plane, 1, (4, 1), to, to, &mut scratch);
        assert!(seen.iter().all(|s| *s));
        assert_eq!(plane, before);
    }
}

//! Quality metrics for person masks. All pure functions on row-major pixel slices of one image.
//!
//! Conventions, shared with `/work/shared/eval/score_masks.py`:
//! * a binary mask is `true` = person; 8-bit masks are binarised with `value >= MASK_THRESHOLD` ([`binarize`]);
//! * `valid` (when given) is `false` for pixels excluded from scoring; an ignore map (>= 128 = excluded)
//!   becomes one with [`valid_from_ignore`];
//! * soft masks and alpha are 8-bit, 0 = background ..= 255 = person.

/// An 8-bit mask value of at least this is person; an ignore-map value of at least this excludes the pixel.
pub const MASK_THRESHOLD: u8 = 128;

/// Boundary tolerance as a fraction of the image diagonal: the DAVIS benchmark's default for its boundary F
/// measure (`bound_th = 0.008`, Perazzi et al. 2016). See [`boundary_tolerance`].
pub const BOUNDARY_TOLERANCE_FRACTION: f64 = 0.008;

/// Pixels whose colour changes by at most this much (largest absolute difference over R, G and B, 0..=255)
/// between two consecutive frames count as "still" for [`Flicker`]. 8 sits above JPEG/H.264 noise on a
/// static scene but below the change a moving edge causes.
pub const FLICKER_STILL_MAX_DIFF: u8 = 8;

/// `value >= MASK_THRESHOLD` per pixel.
pub fn binarize(values: &[u8]) -> Vec<bool> {
    values.iter().map(|&v| v >= MASK_THRESHOLD).collect()
}

/// The `valid` slice for an ignore map: a pixel is valid (scored) where `ignore < MASK_THRESHOLD`.
pub fn valid_from_ignore(ignore: &[u8]) -> Vec<bool> {
    ignore.iter().map(|&v| v < MASK_THRESHOLD).collect()
}

/// Intersection over union: `|pred ∧ truth ∧ valid| / |(pred ∨ truth) ∧ valid|`, and 1.0 when the union is
/// empty (nothing to find and nothing found). Exactly `score_masks.py`'s per-image IoU.
pub fn iou(pred: &[bool], truth: &[bool], valid: Option<&[bool]>) -> f64 {
    assert_eq!(pred.len(), truth.len(), "iou: mask sizes differ");
    if let Some(v) = valid {
        assert_eq!(v.len(), pred.len(), "iou: valid mask size differs");
    }
    let (mut inter, mut union) = (0u64, 0u64);
    for (i, (&p, &t)) in pred.iter().zip(truth).enumerate() {
        if valid.is_none_or(|v| v[i]) {
            inter += u64::from(p && t);
            union += u64::from(p || t);
        }
    }
    if union == 0 {
        1.0
    } else {
        inter as f64 / union as f64
    }
}

/// Mean absolute difference of two 8-bit alpha mattes, in 0..=1: `mean(|pred - truth|) / 255` over all pixels
/// (`score_masks.py`'s MAD). NaN for empty slices.
pub fn alpha_mae(pred: &[u8], truth: &[u8]) -> f64 {
    assert_eq!(pred.len(), truth.len(), "alpha_mae: sizes differ");
    let sum: u64 = pred.iter().zip(truth).map(|(&p, &t)| u64::from(p.abs_diff(t))).sum();
    sum as f64 / pred.len() as f64 / 255.0
}

/// Contour pixels of a binary mask: mask pixels with at least one 4-neighbour (left, right, up, down) inside
/// the image that is outside the mask. The image border is not a contour, so a mask covering the whole
/// picture has none.
pub fn contour(mask: &[bool], width: u32, height: u32) -> Vec<bool> {
    let (w, h) = (width as usize, height as usize);
    assert_eq!(mask.len(), w * h, "contour: mask size differs from {width}x{height}");
    let mut out = vec![false; w * h];
    for y in 0..h {
        for x in 0..w {
            let i = y * w + x;
            out[i] = mask[i]
                && ((x > 0 && !mask[i - 1])
                    || (x + 1 < w && !mask[i + 1])
                    || (y > 0 && !mask[i - w])
                    || (y + 1 < h && !mask[i + w]));
        }
    }
    out
}

/// Boundary matching distance in pixels for a `width`×`height` image, as in DAVIS:
/// `max(1, ceil(BOUNDARY_TOLERANCE_FRACTION * sqrt(width² + height²)))`. 854×480 → 8 px, 1280×720 → 12 px,
/// 1920×1080 → 18 px.
pub fn boundary_tolerance(width: u32, height: u32) -> u32 {
    let diagonal = f64::from(width).hypot(f64::from(height));
    ((BOUNDARY_TOLERANCE_FRACTION * diagonal).ceil() as u32).max(1)
}

/// Boundary precision, recall and F measure.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BoundaryScore {
    pub precision: f64,
    pub recall: f64,
    pub f: f64,
}

/// [`boundary_f_with_tolerance`] with the DAVIS tolerance [`boundary_tolerance`]`(width, height)`.
pub fn boundary_f(pred: &[bool], truth: &[bool], valid: Option<&[bool]>, width: u32, height: u32) -> BoundaryScore {
    boundary_f_with_tolerance(pred, truth, valid, width, height, boundary_tolerance(width, height))
}

/// Boundary F measure: how well the mask outlines agree, forgiving offsets up to `tolerance` pixels.
///
/// The outlines are the [`contour`] pixels of each mask, minus those where `valid` is false. A predicted contour
/// pixel is matched if a true contour pixel lies within Euclidean distance `tolerance` (a disk
/// `dx² + dy² <= tolerance²`, DAVIS's dilation), and vice versa. Precision = matched predicted / predicted
/// contour pixels, recall = matched true / true contour pixels, F = 2PR / (P + R) (0 when P + R = 0).
/// With no contour in either mask P = R = F = 1; with no predicted contour P = 1, R = 0; with no true
/// contour P = 0, R = 1 (F = 0 in both cases), as DAVIS does. Runs in time linear in the pixel count.
pub fn boundary_f_with_tolerance(
    pred: &[bool],
    truth: &[bool],
    valid: Option<&[bool]>,
    width: u32,
    height: u32,
    tolerance: u32,
) -> BoundaryScore {
    assert_eq!(pred.len(), truth.len(), "boundary_f: mask sizes differ");
    let keep = |mut c: Vec<bool>| {
        if let Some(v) = valid {
            assert_eq!(v.len(), c.len(), "boundary_f: valid mask size differs");
            c.iter_mut().zip(v).for_each(|(c, &v)| *c &= v);
        }
        c
    };
    let pred_c = keep(contour(pred, width, height));
    let truth_c = keep(contour(truth, width, height));
    let n_pred = pred_c.iter().filter(|&&c| c).count();
    let n_truth = truth_c.iter().filter(|&&c| c).count();
    let (precision, recall) = match (n_pred, n_truth) {
        (0, 0) => (1.0, 1.0),
        (0, _) => (1.0, 0.0),
        (_, 0) => (0.0, 1.0),
        _ => {
            let reach = f64::from(tolerance) * f64::from(tolerance);
            let matched = |from: &[bool], to: &[bool]| {
                let d2 = squared_distance_to(to, width, height);
                from.iter().zip(&d2).filter(|&(&c, &d)| c && d <= reach).count()
            };
            (matched(&pred_c, &truth_c) as f64 / n_pred as f64, matched(&truth_c, &pred_c) as f64 / n_truth as f64)
        }
    };
    let f = if precision + recall == 0.0 { 0.0 } else { 2.0 * precision * recall / (precision + recall) };
    BoundaryScore { precision, recall, f }
}

/// `pred` with every pixel within `reach` pixels of its outline (either side) replaced by `truth`: the mask a
/// perfect edge refiner would make if it could move the outline by at most `reach`. Its scores are the
/// ceiling for any edge refinement of that reach; errors farther from the outline are the model's to fix.
pub fn perfect_edges_within(pred: &[bool], truth: &[bool], width: u32, height: u32, reach: f64) -> Vec<bool> {
    assert_eq!(pred.len(), truth.len(), "perfect_edges_within: mask sizes differ");
    let inverse: Vec<bool> = pred.iter().map(|&p| !p).collect();
    let outline: Vec<bool> =
        contour(pred, width, height).iter().zip(contour(&inverse, width, height)).map(|(&a, b)| a || b).collect();
    let d2 = squared_distance_to(&outline, width, height);
    pred.iter().zip(truth).zip(&d2).map(|((&p, &t), &d)| if d <= reach * reach { t } else { p }).collect()
}

/// Exact squared Euclidean distance from every pixel to the nearest `true` pixel of `sites` (infinity if there
/// is none), by Felzenszwalb & Huttenlocher's separable transform: columns, then rows, O(pixels).
fn squared_distance_to(sites: &[bool], width: u32, height: u32) -> Vec<f64> {
    let (w, h) = (width as usize, height as usize);
    let mut d: Vec<f64> = sites.iter().map(|&s| if s { 0.0 } else { f64::INFINITY }).collect();
    let mut scratch = Envelope::default();
    let mut line = vec![0.0; w.max(h)];
    let mut out = vec![0.0; w.max(h)];
    for x in 0..w {
        for y in 0..h {
            line[y] = d[y * w + x];
        }
        scratch.transform(&line[..h], &mut out[..h]);
        for y in 0..h {
            d[y * w + x] = out[y];
        }
    }
    for y in 0..h {
        line[..w].copy_from_slice(&d[y * w..(y + 1) * w]);
        scratch.transform(&line[..w], &mut d[y * w..(y + 1) * w]);
    }
    d
}

/// Buffers of the one-dimensional transform: the lower envelope of parabolas `(q - p)² + f(p)`.
#[derive(Default)]
struct Envelope {
    /// Positions of the parabolas in the envelope.
    v: Vec<usize>,
    /// Left end of each parabola's stretch of the envelope.
    z: Vec<f64>,
}

impl Envelope {
    /// `out[q] = min_p (q - p)² + f[p]` over the finite `f[p]`; infinity if all are infinite.
    fn transform(&mut self, f: &[f64], out: &mut [f64]) {
        let (v, z) = (&mut self.v, &mut self.z);
        v.clear();
        z.clear();
        for (q, &fq) in f.iter().enumerate().filter(|(_, f)| f.is_finite()) {
            let qf = q as f64;
            loop {
                let Some(&p) = v.last() else {
                    v.push(q);
                    z.push(f64::NEG_INFINITY);
                    break;
                };
                let pf = p as f64;
                let s = ((fq + qf * qf) - (f[p] + pf * pf)) / (2.0 * (qf - pf));
                if s <= *z.last().unwrap() {
                    v.pop();
                    z.pop();
                } else {
                    v.push(q);
                    z.push(s);
                    break;
                }
            }
        }
        if v.is_empty() {
            out.fill(f64::INFINITY);
            return;
        }
        let mut k = 0;
        for (q, o) in out.iter_mut().enumerate() {
            let qf = q as f64;
            while k + 1 < v.len() && z[k + 1] < qf {
                k += 1;
            }
            let p = v[k] as f64;
            *o = (qf - p) * (qf - p) + f[v[k]];
        }
    }
}

/// Temporal flicker of a sequence's masks where the picture stands still.
///
/// Feed frames in order with [`Flicker::push`]. For each consecutive pair, the pixels whose colour changed by
/// at most [`FLICKER_STILL_MAX_DIFF`] in every one of R, G, B are "still"; the pair's flicker is the mean of
/// `|mask_t - mask_{t-1}| / 255` over its still pixels. The score is the mean of that over the pairs that
/// had any still pixel, in 0..=1 (multiply by 255 for 8-bit levels). A still picture should get a still mask,
/// so on these pixels any change is flicker; moving pixels are not judged.
#[derive(Clone, Debug, Default)]
pub struct Flicker {
    previous: Option<(u32, u32, Vec<u8>, Vec<u8>)>,
    sum: f64,
    pairs: usize,
    pairs_without_still: usize,
    still_pixels: u64,
}

/// The result of a [`Flicker`] measurement.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FlickerScore {
    /// Mean over pairs of the mean absolute mask change on still pixels, 0..=1; NaN if no pair had any.
    pub mean: f64,
    /// Frame pairs that contributed (had at least one still pixel).
    pub pairs: usize,
    /// Frame pairs left out because no pixel was still.
    pub pairs_without_still: usize,
    /// Still pixels summed over all contributing pairs.
    pub still_pixels: u64,
}

impl Flicker {
    pub fn new() -> Flicker {
        Flicker::default()
    }

    /// Adds the next frame: its RGBA pixels (alpha unused) and its 8-bit soft mask or alpha. A frame of a
    /// different size than the one before starts over without forming a pair (a cut).
    pub fn push(&mut self, width: u32, height: u32, rgba: &[u8], mask: &[u8]) {
        let n = width as usize * height as usize;
        assert_eq!(rgba.len(), n * 4, "Flicker::push: RGBA size differs from {width}x{height}");
        assert_eq!(mask.len(), n, "Flicker::push: mask size differs from {width}x{height}");
        if let Some((pw, ph, prgba, pmask)) = &self.previous {
            if (*pw, *ph) == (width, height) {
                let (mut still, mut change) = (0u64, 0u64);
                for i in 0..n {
                    let (a, b) = (&rgba[i * 4..i * 4 + 3], &prgba[i * 4..i * 4 + 3]);
                    if a.iter().zip(b).all(|(&a, &b)| a.abs_diff(b) <= FLICKER_STILL_MAX_DIFF) {
                        still += 1;
                        change += u64::from(mask[i].abs_diff(pmask[i]));
                    }
                }
                if still == 0 {
                    self.pairs_without_still += 1;
                } else {
                    self.sum += change as f64 / still as f64 / 255.0;
                    self.pairs += 1;
                    self.still_pixels += still;
                }
            }
        }
        match &mut self.previous {
            Some((pw, ph, prgba, pmask)) => {
                (*pw, *ph) = (width, height);
                prgba.clear();
                prgba.extend_from_slice(rgba);
                pmask.clear();
                pmask.extend_from_slice(mask);
            }
            None => self.previous = Some((width, height, rgba.to_vec(), mask.to_vec())),
        }
    }

    pub fn score(&self) -> FlickerScore {
        FlickerScore {
            mean: if self.pairs == 0 { f64::NAN } else { self.sum / self.pairs as f64 },
            pairs: self.pairs,
            pairs_without_still: self.pairs_without_still,
            still_pixels: self.still_pixels,
        }
    }
}

/// Arithmetic mean; NaN for an empty list (as numpy).
pub fn mean(values: &[f64]) -> f64 {
    values.iter().sum::<f64>() / values.len() as f64
}

/// The `q`-th percentile (0..=100) as `numpy.percentile`'s default ("linear"): sort, take the virtual index
/// `q/100 * (n - 1)` and interpolate linearly between its neighbours. NaN for an empty list. The
/// "10th-percentile IoU" is `percentile(&ious, 10.0)`.
pub fn percentile(values: &[f64], q: f64) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let index = (q / 100.0).clamp(0.0, 1.0) * (sorted.len() - 1) as f64;
    let lo = index.floor() as usize;
    let hi = (lo + 1).min(sorted.len() - 1);
    let (a, b, t) = (sorted[lo], sorted[hi], index - lo as f64);
    // numpy's lerp: from the nearer end, so the ends are reproduced exactly.
    if t >= 0.5 {
        b - (b - a) * (1.0 - t)
    } else {
        a + (b - a) * t
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A `w`×`h` mask with the rectangle `x0..x1` × `y0..y1` set.
    fn rect(w: usize, h: usize, x0: usize, y0: usize, x1: usize, y1: usize) -> Vec<bool> {
        (0..w * h).map(|i| (x0..x1).contains(&(i % w)) && (y0..y1).contains(&(i / w))).collect()
    }

    #[test]
    fn perfect_edges_fix_only_errors_near_the_outline() {
        let or = |a: Vec<bool>, b: Vec<bool>| -> Vec<bool> { a.iter().zip(b).map(|(&a, b)| a || b).collect() };
        // Truth: columns 0..10 of a 20x10 picture. Prediction: columns 0..7 (3 short) and a false blob at
        // columns 14..20.
        let truth = rect(20, 10, 0, 0, 10, 10);
        let pred = or(rect(20, 10, 0, 0, 7, 10), rect(20, 10, 14, 0, 20, 10));
        // Reach 1: columns 7 and 8 (next to the outline at 6|7) and the blob's columns 14 and 15 are fixed;
        // column 9 and the blob's far part stay wrong.
        let near = perfect_edges_within(&pred, &truth, 20, 10, 1.0);
        assert_eq!(near, or(rect(20, 10, 0, 0, 9, 10), rect(20, 10, 16, 0, 20, 10)));
        // Reach 6 covers every error.
        assert_eq!(perfect_edges_within(&pred, &truth, 20, 10, 6.0), truth);
    }

    #[test]
    fn iou_of_overlapping_rectangles() {
        let a = rect(10, 10, 0, 0, 6, 4); // 24 px
        let b = rect(10, 10, 3, 0, 9, 4); // 24 px, 12 shared
        assert!((iou(&a, &b, None) - 12.0 / 36.0).abs() < 1e-12);
        assert_eq!(iou(&a, &a, None), 1.0);
        assert_eq!(iou(&a, &rect(10, 10, 0, 5, 10, 10), None), 0.0);
    }

    #[test]
    fn iou_of_empty_masks_is_one() {
        let empty = vec![false; 12];
        assert_eq!(iou(&empty, &empty, None), 1.0);
        let mut one = empty.clone();
        one[3] = true;
        assert_eq!(iou(&one, &empty, None), 0.0);
    }

    #[test]
    fn iou_leaves_out_ignored_pixels() {
        let a = rect(10, 10, 0, 0, 6, 4);
        let b = rect(10, 10, 3, 0, 9, 4);
        // Ignore columns 6..10: what is left of b is columns 3..6 (12 px, all inside a), so union = a = 24.
        let valid: Vec<bool> = (0..100).map(|i| i % 10 < 6).collect();
        assert!((iou(&a, &b, Some(&valid)) - 0.5).abs() < 1e-12);
        // Everything ignored: empty union.
        assert_eq!(iou(&a, &b, Some(&[false; 100])), 1.0);
        assert_eq!(valid_from_ignore(&[0, 127, 128, 255]), [true, true, false, false]);
        assert_eq!(binarize(&[0, 127, 128, 255]), [false, false, true, true]);
    }

    #[test]
    fn contour_is_the_inner_ring_and_not_the_image_border() {
        let sq = rect(5, 5, 1, 1, 4, 4);
        let c = contour(&sq, 5, 5);
        let expect: Vec<bool> = (0..25).map(|i| sq[i] && i != 12).collect(); // all but the centre
        assert_eq!(c, expect);
        assert!(contour(&[true; 25], 5, 5).iter().all(|&c| !c));
        // A mask touching the left border: the border column is contour only where a neighbour is outside.
        let left = rect(5, 5, 0, 0, 2, 5);
        let c = contour(&left, 5, 5);
        assert_eq!((0..25).filter(|&i| c[i]).collect::<Vec<_>>(), [1, 6, 11, 16, 21]);
    }

    #[test]
    fn tolerance_follows_davis() {
        assert_eq!(boundary_tolerance(854, 480), 8); // 0.008 * 979.7 = 7.84
        assert_eq!(boundary_tolerance(1920, 1080), 18); // 17.6
        assert_eq!(boundary_tolerance(10, 10), 1);
    }

    #[test]
    fn identical_and_empty_boundaries() {
        let sq = rect(20, 20, 5, 5, 12, 12);
        let one = BoundaryScore { precision: 1.0, recall: 1.0, f: 1.0 };
        assert_eq!(boundary_f(&sq, &sq, None, 20, 20), one);
        let empty = vec![false; 400];
        assert_eq!(boundary_f(&empty, &empty, None, 20, 20), one);
        assert_eq!(boundary_f(&[true; 400], &empty, None, 20, 20), one); // neither has a contour
        assert_eq!(boundary_f(&empty, &sq, None, 20, 20), BoundaryScore { precision: 1.0, recall: 0.0, f: 0.0 });
        assert_eq!(boundary_f(&sq, &empty, None, 20, 20), BoundaryScore { precision: 0.0, recall: 1.0, f: 0.0 });
    }

    #[test]
    fn shifted_square_within_and_outside_tolerance() {
        // A 20x20 square at (40, 40) and the same moved 2 px right.
        let truth = rect(100, 100, 40, 40, 60, 60);
        let pred = rect(100, 100, 42, 40, 62, 60);
        // Every contour pixel is within 2 px of the other contour.
        let s = boundary_f_with_tolerance(&pred, &truth, None, 100, 100, 2);
        assert_eq!(s.f, 1.0);
        // Within 1 px: of the 76 predicted contour pixels, the right column (20) is 2 px from the true right
        // column and 16 of the left column are 2 px from the true left column; the rest match. Symmetric for
        // recall.
        let s = boundary_f_with_tolerance(&pred, &truth, None, 100, 100, 1);
        assert!((s.precision - 40.0 / 76.0).abs() < 1e-12, "{s:?}");
        assert!((s.recall - 40.0 / 76.0).abs() < 1e-12, "{s:?}");
        assert!((s.f - 40.0 / 76.0).abs() < 1e-12, "{s:?}");
        // Far apart: nothing matches.
        let far = rect(100, 100, 0, 0, 10, 10);
        assert_eq!(boundary_f_with_tolerance(&far, &truth, None, 100, 100, 5).f, 0.0);
    }

    #[test]
    fn boundary_leaves_out_ignored_pixels() {
        let truth = rect(50, 50, 10, 10, 30, 30);
        let mut pred = truth.clone();
        for i in rect(50, 50, 40, 40, 45, 45).iter().enumerate().filter(|(_, &b)| b).map(|(i, _)| i) {
            pred[i] = true; // a spurious blob far from the person
        }
        assert!(boundary_f(&pred, &truth, None, 50, 50).precision < 1.0);
        let valid: Vec<bool> = rect(50, 50, 40, 40, 45, 45).iter().map(|&b| !b).collect();
        assert_eq!(boundary_f(&pred, &truth, Some(&valid), 50, 50).f, 1.0);
    }

    #[test]
    fn distance_transform_is_exact() {
        // Compare with brute force on pseudo-random sparse sites, including an empty row and column.
        let (w, h) = (23usize, 17usize);
        let mut state = 12345u32;
        let sites: Vec<bool> = (0..w * h)
            .map(|i| {
                state = state.wrapping_mul(1_103_515_245).wrapping_add(12345);
                i % w != 7 && i / w != 4 && (state >> 16).is_multiple_of(29)
            })
            .collect();
        assert!(sites.iter().any(|&s| s));
        let d = squared_distance_to(&sites, w as u32, h as u32);
        for (i, &di) in d.iter().enumerate() {
            let (x, y) = ((i % w) as i64, (i / w) as i64);
            let brute = (0..w * h)
                .filter(|&j| sites[j])
                .map(|j| {
                    let (dx, dy) = ((j % w) as i64 - x, (j / w) as i64 - y);
                    (dx * dx + dy * dy) as f64
                })
                .fold(f64::INFINITY, f64::min);
            assert_eq!(di, brute, "pixel {x},{y}");
        }
        assert!(squared_distance_to(&[false; 6], 3, 2).iter().all(|d| d.is_infinite()));
    }

    #[test]
    fn alpha_mae_in_unit_range() {
        assert!((alpha_mae(&[0, 255, 128, 64], &[0, 0, 128, 0]) - (255.0 + 64.0) / 4.0 / 255.0).abs() < 1e-12);
        assert_eq!(alpha_mae(&[9; 8], &[9; 8]), 0.0);
        assert_eq!(alpha_mae(&[255; 3], &[0; 3]), 1.0);
    }

    #[test]
    fn flicker_counts_only_still_pixels() {
        // 2x2 frames. Between frames 0 and 1 pixel 3 changes colour a lot, pixel 2 a little (within 8).
        let f0 = [10, 10, 10, 255, 50, 50, 50, 255, 100, 100, 100, 255, 0, 0, 0, 255];
        let f1 = [10, 10, 10, 0, 50, 50, 50, 255, 108, 92, 100, 255, 200, 0, 0, 255];
        let mut fl = Flicker::new();
        fl.push(2, 2, &f0, &[0, 255, 100, 0]);
        assert!(fl.score().mean.is_nan());
        // Still pixels 0, 1, 2 change by 51, 0, 0; moving pixel 3 by 255 (not counted).
        fl.push(2, 2, &f1, &[51, 255, 100, 255]);
        let s = fl.score();
        assert!((s.mean - 51.0 / 3.0 / 255.0).abs() < 1e-12, "{s:?}");
        assert_eq!((s.pairs, s.still_pixels, s.pairs_without_still), (1, 3, 0));
        // A static repeat with a steady mask: the second pair adds 0 flicker over 4 still pixels.
        fl.push(2, 2, &f1, &[51, 255, 100, 255]);
        let s = fl.score();
        assert!((s.mean - 51.0 / 3.0 / 255.0 / 2.0).abs() < 1e-12, "{s:?}");
        assert_eq!((s.pairs, s.still_pixels), (2, 7));
        // Everything moves: the pair is left out.
        let f2: Vec<u8> = f1.iter().map(|v| v.wrapping_add(100)).collect();
        fl.push(2, 2, &f2, &[0; 4]);
        assert_eq!(fl.score().pairs_without_still, 1);
        assert_eq!(fl.score().pairs, 2);
        // A different size is a cut: no pair.
        fl.push(1, 1, &[0; 4], &[0]);
        assert_eq!((fl.score().pairs, fl.score().pairs_without_still), (2, 1));
    }

    #[test]
    fn percentile_and_mean_match_numpy() {
        // Values from numpy 2.4: np.percentile(l, q) and np.mean(l).
        let close = |a: f64, b: f64| (a - b).abs() < 1e-12;
        let l = [0.9, 0.1, 0.5, 0.7, 0.3];
        assert!(close(percentile(&l, 10.0), 0.18));
        assert!(close(percentile(&l, 50.0), 0.5));
        assert!(close(percentile(&l, 90.0), 0.8200000000000001));
        assert_eq!((percentile(&l, 0.0), percentile(&l, 100.0)), (0.1, 0.9));
        assert!(close(mean(&l), 0.5));
        let l = [1.0, 2.0, 3.0, 4.0];
        assert!(close(percentile(&l, 10.0), 1.3));
        assert!(close(percentile(&l, 50.0), 2.5));
        assert!(close(percentile(&l, 90.0), 3.7));
        assert_eq!(percentile(&[5.0], 10.0), 5.0);
        let l = [0.95, 0.2, 0.81, 0.77, 0.64, 0.9, 0.99, 0.33, 0.5, 0.88, 0.71];
        assert!(close(percentile(&l, 10.0), 0.33));
        assert!(close(percentile(&l, 90.0), 0.95));
        assert!(close(mean(&l), 0.6981818181818181));
        assert!(percentile(&[], 10.0).is_nan());
        assert!(mean(&[]).is_nan());
    }
}

//! Turning an RGBA frame into a model's input tensor: resize, channel layout and normalisation.
//!
//! In the plugin the GPU has already scaled the frame to the model's size, so only the layout step runs; the
//! offline tools and tests feed full-size pictures, which are resized here first.

use crate::model::{Layout, ModelSpec};

/// A tightly packed 8-bit RGBA picture.
#[derive(Clone, Copy, Debug)]
pub struct RgbaView<'a> {
    pub width: u32,
    pub height: u32,
    pub data: &'a [u8],
}

impl<'a> RgbaView<'a> {
    pub fn new(width: u32, height: u32, data: &'a [u8]) -> RgbaView<'a> {
        assert_eq!(data.len(), width as usize * height as usize * 4, "RGBA buffer does not match its size");
        RgbaView { width, height, data }
    }
}

/// Source indices and weights that make one output sample along one axis.
struct Taps {
    start: usize,
    weights: Vec<f32>,
}

/// Area averaging when shrinking (every source pixel counts by the share it covers, so no aliasing), linear
/// interpolation between pixel centres when enlarging.
fn axis_taps(src: u32, dst: u32) -> Vec<Taps> {
    let scale = f64::from(src) / f64::from(dst);
    (0..dst)
        .map(|o| {
            let o = f64::from(o);
            if scale >= 1.0 {
                let (a, b) = (o * scale, (o + 1.0) * scale);
                let start = a.floor() as usize;
                let end = (b.ceil() as usize).min(src as usize);
                let weights =
                    (start..end).map(|i| ((b.min(i as f64 + 1.0) - a.max(i as f64)) / scale) as f32).collect();
                Taps { start, weights }
            } else {
                let c = ((o + 0.5) * scale - 0.5).clamp(0.0, f64::from(src - 1));
                let i0 = c.floor() as usize;
                let f = (c - i0 as f64) as f32;
                if i0 + 1 < src as usize {
                    Taps { start: i0, weights: vec![1.0 - f, f] }
                } else {
                    Taps { start: i0, weights: vec![1.0] }
                }
            }
        })
        .collect()
}

/// Resizes an RGBA picture (separable: rows first, then columns).
pub fn resize_rgba(src: RgbaView<'_>, width: u32, height: u32) -> Vec<u8> {
    if (src.width, src.height) == (width, height) {
        return src.data.to_vec();
    }
    let (sw, sh) = (src.width as usize, src.height as usize);
    let (dw, dh) = (width as usize, height as usize);
    let xt = axis_taps(src.width, width);
    let yt = axis_taps(src.height, height);

    let mut rows = vec![0f32; sh * dw * 4];
    for y in 0..sh {
        let line = &src.data[y * sw * 4..(y + 1) * sw * 4];
        for (x, t) in xt.iter().enumerate() {
            let mut acc = [0f32; 4];
            for (k, w) in t.weights.iter().enumerate() {
                let p = &line[(t.start + k) * 4..(t.start + k) * 4 + 4];
                for c in 0..4 {
                    acc[c] += w * f32::from(p[c]);
                }
            }
            rows[(y * dw + x) * 4..(y * dw + x) * 4 + 4].copy_from_slice(&acc);
        }
    }

    let mut out = vec![0u8; dw * dh * 4];
    for (y, t) in yt.iter().enumerate() {
        for x in 0..dw {
            let mut acc = [0f32; 4];
            for (k, w) in t.weights.iter().enumerate() {
                let i = ((t.start + k) * dw + x) * 4;
                for c in 0..4 {
                    acc[c] += w * rows[i + c];
                }
            }
            for c in 0..4 {
                out[(y * dw + x) * 4 + c] = acc[c].round().clamp(0.0, 255.0) as u8;
            }
        }
    }
    out
}

/// Writes `frame` into `tensor` in the model's layout and value range, resizing when the frame is not
/// already the model's size. `tensor` must hold `spec.input_len()` values.
pub fn fill_tensor(frame: RgbaView<'_>, spec: &ModelSpec, tensor: &mut [f32]) {
    assert_eq!(tensor.len(), spec.input_len(), "tensor size does not match the model");
    let resized;
    let pixels = if (frame.width, frame.height) == (spec.width, spec.height) {
        frame.data
    } else {
        resized = resize_rgba(frame, spec.width, spec.height);
        &resized
    };
    let n = spec.width as usize * spec.height as usize;
    let norm = spec.normalization;
    let value = |b: u8| f32::from(b) * norm.scale + norm.offset;
    match spec.layout {
        Layout::Nhwc => {
            for (px, out) in pixels.chunks_exact(4).zip(tensor.chunks_exact_mut(3)) {
                out[0] = value(px[0]);
                out[1] = value(px[1]);
                out[2] = value(px[2]);
            }
        }
        Layout::Nchw => {
            let (r, gb) = tensor.split_at_mut(n);
            let (g, b) = gb.split_at_mut(n);
            for (i, px) in pixels.chunks_exact(4).enumerate() {
                r[i] = value(px[0]);
                g[i] = value(px[1]);
                b[i] = value(px[2]);
            }
        }
    }
}

/// Mirrors a filled input tensor left to right, in place.
pub fn mirror_tensor(spec: &ModelSpec, tensor: &mut [f32]) {
    let w = spec.width as usize;
    match spec.layout {
        // Reverse each row's pixels, keeping each pixel's channel order.
        Layout::Nhwc => tensor.chunks_exact_mut(w * 3).for_each(|row| row.as_chunks_mut::<3>().0.reverse()),
        Layout::Nchw => tensor.chunks_exact_mut(w).for_each(|row| row.reverse()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Normalization, OutputSpec};

    fn spec(w: u32, h: u32, layout: Layout, normalization: Normalization) -> ModelSpec {
        ModelSpec {
            label: "test".into(),
            input_name: "x".into(),
            width: w,
            height: h,
            layout,
            normalization,
            output: OutputSpec { layout, channels: 1 },
        }
    }

    /// A 2x1 picture: a red pixel then a blue one, opaque.
    const RED_BLUE: [u8; 8] = [255, 0, 0, 255, 0, 0, 255, 255];

    #[test]
    fn mirroring_a_tensor_equals_filling_it_from_the_mirrored_picture() {
        // 3x1: red, green, blue; its mirror: blue, green, red.
        let picture = [255, 0, 0, 255, 0, 255, 0, 255, 0, 0, 255, 255];
        let mirrored = [0, 0, 255, 255, 0, 255, 0, 255, 255, 0, 0, 255];
        for layout in [Layout::Nhwc, Layout::Nchw] {
            let spec = spec(3, 1, layout, Normalization::UNIT);
            let (mut a, mut b) = (vec![0.0; 9], vec![0.0; 9]);
            fill_tensor(RgbaView::new(3, 1, &picture), &spec, &mut a);
            fill_tensor(RgbaView::new(3, 1, &mirrored), &spec, &mut b);
            mirror_tensor(&spec, &mut a);
            assert_eq!(a, b, "{layout:?}");
        }
    }

    #[test]
    fn nhwc_interleaves_channels_and_scales_to_unit() {
        let mut t = vec![0.0; 6];
        fill_tensor(RgbaView::new(2, 1, &RED_BLUE), &spec(2, 1, Layout::Nhwc, Normalization::UNIT), &mut t);
        assert_eq!(t, vec![1.0, 0.0, 0.0, 0.0, 0.0, 1.0]);
    }

    #[test]
    fn nchw_makes_planes_and_scales_to_signed() {
        let mut t = vec![0.0; 6];
        fill_tensor(RgbaView::new(2, 1, &RED_BLUE), &spec(2, 1, Layout::Nchw, Normalization::SIGNED), &mut t);
        let expect = [1.0, -1.0, -1.0, -1.0, -1.0, 1.0];
        for (a, b) in t.iter().zip(expect) {
            assert!((a - b).abs() < 1e-6, "{t:?}");
        }
    }

    #[test]
    fn fill_tensor_resizes_to_the_model() {
        // 4x2 picture: left half white, right half black -> 2x1 model input: one white, one black pixel.
        let mut px = Vec::new();
        for _y in 0..2 {
            for x in 0..4 {
                let v = if x < 2 { 255 } else { 0 };
                px.extend_from_slice(&[v, v, v, 255]);
            }
        }
        let mut t = vec![0.0; 6];
        fill_tensor(RgbaView::new(4, 2, &px), &spec(2, 1, Layout::Nhwc, Normalization::UNIT), &mut t);
        assert_eq!(t, vec![1.0, 1.0, 1.0, 0.0, 0.0, 0.0]);
    }

    #[test]
    fn shrinking_averages_areas() {
        // 3 pixels 0, 90, 180 shrunk to 2: each output covers 1.5 source pixels.
        let px: Vec<u8> = [0u8, 90, 180].iter().flat_map(|&v| [v, v, v, 255]).collect();
        let out = resize_rgba(RgbaView::new(3, 1, &px), 2, 1);
        assert_eq!(out[0], 30); // (0 + 0.5 * 90) / 1.5
        assert_eq!(out[4], 150); // (0.5 * 90 + 180) / 1.5
        assert_eq!(out[3], 255);
    }

    #[test]
    fn enlarging_interpolates_between_centres() {
        let px: Vec<u8> = [0u8, 200].iter().flat_map(|&v| [v, v, v, 255]).collect();
        let out = resize_rgba(RgbaView::new(2, 1, &px), 4, 1);
        let reds: Vec<u8> = out.chunks(4).map(|p| p[0]).collect();
        assert_eq!(reds, vec![0, 50, 150, 200]);
    }

    #[test]
    fn same_size_is_a_copy() {
        let out = resize_rgba(RgbaView::new(2, 1, &RED_BLUE), 2, 1);
        assert_eq!(out, RED_BLUE.to_vec());
    }
}

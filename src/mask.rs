//! Person masks: reading them out of a model's output, and the same upsampling and edge shaping the
//! compositing shader applies, so offline measurements see what OBS shows.

use crate::error::Error;
use crate::model::{Layout, OutputSpec};

/// Person probability per pixel, 0 (background) ..= 255 (person), at the model's resolution.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mask {
    pub width: u32,
    pub height: u32,
    pub data: Vec<u8>,
}

impl Mask {
    /// Extracts the person channel from a model output. Values are clamped to 0..=1 and NaN counts as
    /// background, so a misbehaving model can only produce a wrong mask, never a broken frame.
    pub fn from_output(values: &[f32], width: u32, height: u32, output: OutputSpec) -> Result<Mask, Error> {
        let n = width as usize * height as usize;
        let channels = output.channels as usize;
        if values.len() != n * channels {
            return Err(Error::inference(format!(
                "model returned {} values, expected {} for a {width}x{height} mask",
                values.len(),
                n * channels
            )));
        }
        let person = channels - 1; // with two channels (background, person) the second is the person
        let to_byte = |p: f32| if p.is_nan() { 0 } else { (p.clamp(0.0, 1.0) * 255.0).round() as u8 };
        let data = match output.layout {
            Layout::Nhwc => values.iter().skip(person).step_by(channels).map(|&p| to_byte(p)).collect(),
            Layout::Nchw => values[person * n..(person + 1) * n].iter().map(|&p| to_byte(p)).collect(),
        };
        Ok(Mask { width, height, data })
    }

    /// The mean of this mask and the mirror image of `mirrored` (a mask of the mirrored frame).
    pub fn averaged_with_mirror_of(&self, mirrored: &Mask) -> Mask {
        assert_eq!((self.width, self.height), (mirrored.width, mirrored.height), "masks of different sizes");
        let w = self.width as usize;
        let rows = self.data.chunks_exact(w).zip(mirrored.data.chunks_exact(w));
        let data = rows
            .flat_map(|(row, flipped)| {
                row.iter().zip(flipped.iter().rev()).map(|(&a, &b)| (u16::from(a) + u16::from(b)).div_ceil(2) as u8)
            })
            .collect();
        Mask { width: self.width, height: self.height, data }
    }

    /// Probability at a pixel, 0..=1.
    pub fn at(&self, x: u32, y: u32) -> f32 {
        f32::from(self.data[(y * self.width + x) as usize]) / 255.0
    }

    /// Bilinear upsampling to `width` x `height` with texel centres aligned and edges clamped, exactly as a
    /// GPU's linear sampler does when the mask texture is stretched over the frame.
    pub fn upsample(&self, width: u32, height: u32) -> Vec<f32> {
        let sx = self.width as f32 / width as f32;
        let sy = self.height as f32 / height as f32;
        let max_x = self.width as f32 - 1.0;
        let max_y = self.height as f32 - 1.0;
        let mut out = Vec::with_capacity(width as usize * height as usize);
        for y in 0..height {
            let fy = ((y as f32 + 0.5) * sy - 0.5).clamp(0.0, max_y);
            let (y0, wy) = (fy.floor() as u32, fy.fract());
            let y1 = (y0 + 1).min(self.height - 1);
            for x in 0..width {
                let fx = ((x as f32 + 0.5) * sx - 0.5).clamp(0.0, max_x);
                let (x0, wx) = (fx.floor() as u32, fx.fract());
                let x1 = (x0 + 1).min(self.width - 1);
                let top = self.at(x0, y0) * (1.0 - wx) + self.at(x1, y0) * wx;
                let bottom = self.at(x0, y1) * (1.0 - wx) + self.at(x1, y1) * wx;
                out.push(top * (1.0 - wy) + bottom * wy);
            }
        }
        out
    }
}

/// How opaque the person is at probability `p`: a smooth step of width `softness` centred on `threshold`
/// (a hard cut when softness is 0). Same formula as `person_alpha` in the effect file.
pub fn person_alpha(p: f32, threshold: f32, softness: f32) -> f32 {
    if softness <= 1e-4 {
        return if p >= threshold { 1.0 } else { 0.0 };
    }
    let t = ((p - (threshold - 0.5 * softness)) / softness).clamp(0.0, 1.0);
    t * t * (3.0 - 2.0 * t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mirror_averaging_flips_the_second_mask_back() {
        let direct = Mask { width: 3, height: 2, data: vec![0, 100, 255, 10, 20, 30] };
        // The model saw the mirrored frame: its mask is mirrored too.
        let of_mirror = Mask { width: 3, height: 2, data: vec![255, 100, 0, 31, 20, 10] };
        let averaged = direct.averaged_with_mirror_of(&of_mirror);
        assert_eq!(averaged.data, vec![0, 100, 255, 10, 20, 31]);
    }

    #[test]
    fn single_channel_output_becomes_bytes() {
        let m = Mask::from_output(
            &[0.0, 0.5, 1.0, 2.0, -1.0, f32::NAN],
            3,
            2,
            OutputSpec { layout: Layout::Nhwc, channels: 1 },
        )
        .unwrap();
        assert_eq!(m.data, vec![0, 128, 255, 255, 0, 0]);
    }

    #[test]
    fn two_channel_outputs_take_the_person_channel() {
        let nhwc =
            Mask::from_output(&[0.9, 0.1, 0.2, 0.8], 2, 1, OutputSpec { layout: Layout::Nhwc, channels: 2 }).unwrap();
        assert_eq!(nhwc.data, vec![26, 204]);
        let nchw =
            Mask::from_output(&[0.9, 0.2, 0.1, 0.8], 2, 1, OutputSpec { layout: Layout::Nchw, channels: 2 }).unwrap();
        assert_eq!(nchw.data, vec![26, 204]);
    }

    #[test]
    fn wrong_output_size_is_an_error() {
        let e = Mask::from_output(&[0.0; 5], 2, 2, OutputSpec { layout: Layout::Nhwc, channels: 1 }).unwrap_err();
        assert!(e.message.contains("expected 4"));
    }

    #[test]
    fn upsampling_interpolates_like_a_gpu_sampler() {
        let m = Mask { width: 2, height: 1, data: vec![0, 255] };
        let up = m.upsample(4, 1);
        let expect = [0.0, 0.25, 0.75, 1.0];
        for (a, b) in up.iter().zip(expect) {
            assert!((a - b).abs() < 1e-6, "{up:?}");
        }
        assert_eq!(m.upsample(2, 1), vec![0.0, 1.0]);
    }

    #[test]
    fn person_alpha_is_a_step_or_a_smooth_ramp() {
        assert_eq!(person_alpha(0.49, 0.5, 0.0), 0.0);
        assert_eq!(person_alpha(0.5, 0.5, 0.0), 1.0);
        assert_eq!(person_alpha(0.39, 0.5, 0.2), 0.0);
        assert_eq!(person_alpha(0.61, 0.5, 0.2), 1.0);
        assert!((person_alpha(0.5, 0.5, 0.2) - 0.5).abs() < 1e-6);
        assert!(person_alpha(0.45, 0.5, 0.2) < person_alpha(0.55, 0.5, 0.2));
    }
}

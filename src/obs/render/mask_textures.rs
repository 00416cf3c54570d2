//! The newest mask on the GPU: uploaded once per new mask (the smoothed probability and the guided filter's
//! coefficients, both at the mask's size), and placed on each frame shown where the prediction says the
//! person now is.

use super::super::graphics::{Format, Texture};
use crate::crop::Crop;
use crate::motion::predicted_crop;
use crate::worker::MaskFrame;

pub struct MaskTextures {
    pub probability: Texture,
    pub coefficients: Texture,
    /// The video frame the mask was computed from.
    pub seq: u64,
    /// The newest video frame the mask holds for (`MaskFrame::holds_through`).
    pub holds_through: u64,
    /// The mask's own size (without padding).
    pub size: (u32, u32),
    /// The probability's rows are padded to a multiple of 4 bytes (OpenGL's unpack alignment); this crops
    /// the padding.
    pub uv_scale: [f32; 2],
    /// The part of its own frame the mask covers.
    pub crop: Crop,
    /// The person's velocity on that frame, frame units per video frame (zero without prediction).
    pub velocity: [f32; 2],
    /// Frames the worker already moved the mask on.
    pub ahead: u64,
    /// Where the mask is drawn on the frame shown: `crop` moved on with the person (`place_on`).
    pub shown_crop: Crop,
}

impl MaskTextures {
    /// `newest` on the GPU, reusing `current`'s textures while the sizes stay. `padded_rows` is scratch space.
    pub fn upload(
        current: Option<MaskTextures>,
        newest: &MaskFrame,
        padded_rows: &mut Vec<u8>,
    ) -> Option<MaskTextures> {
        let m = &newest.refined.mask;
        let g = &newest.refined.guidance;
        let padded_width = m.width.next_multiple_of(4);
        // The coefficients' size differs from the mask's when edges are refined.
        let textures = match current {
            Some(t)
                if (t.probability.width, t.probability.height) == (padded_width, m.height)
                    && (t.coefficients.width, t.coefficients.height) == (g.width, g.height) =>
            {
                Some((t.probability, t.coefficients))
            }
            _ => Texture::dynamic(padded_width, m.height, Format::R8).zip(Texture::dynamic(
                g.width,
                g.height,
                Format::Rgba32F,
            )),
        };
        let (mut probability, mut coefficients) = textures?;
        if padded_width == m.width {
            probability.set_image(&m.data, m.width);
        } else {
            padded_rows.clear();
            for row in m.data.chunks_exact(m.width as usize) {
                padded_rows.extend_from_slice(row);
                let last = row[row.len() - 1];
                padded_rows.resize(padded_rows.len() + (padded_width - m.width) as usize, last);
            }
            probability.set_image(padded_rows, padded_width);
        }
        coefficients.set_image(bytemuck::cast_slice(&g.coefficients), g.width * 16);
        let crop = newest.refined.crop;
        Some(MaskTextures {
            probability,
            coefficients,
            seq: newest.seq,
            holds_through: newest.holds_through(),
            size: (m.width, m.height),
            uv_scale: [m.width as f32 / padded_width as f32, 1.0],
            crop,
            velocity: newest.refined.velocity,
            ahead: newest.refined.ahead,
            shown_crop: crop,
        })
    }

    /// Places the mask on video frame `shown`: moved on by the frames it trails it that the worker did not
    /// move it on already (none when the mask's own frame is shown, as in sync mode).
    pub fn place_on(&mut self, shown: u64) {
        self.shown_crop = predicted_crop(self.crop, self.velocity, self.ahead, shown.saturating_sub(self.seq));
    }
}

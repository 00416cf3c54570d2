//! What a segmentation model expects and returns, and the catalogue of models that ship with the plugin.

use crate::error::Error;
use crate::settings::ModelChoice;

/// Order of the dimensions of an image tensor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Layout {
    /// `[1, height, width, channels]` (TensorFlow / MediaPipe).
    Nhwc,
    /// `[1, channels, height, width]` (PyTorch).
    Nchw,
}

/// Maps an 8-bit channel value `x` to the model's input as `x * scale + offset`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Normalization {
    pub scale: f32,
    pub offset: f32,
}

impl Normalization {
    /// x / 255, in 0..=1.
    pub const UNIT: Normalization = Normalization { scale: 1.0 / 255.0, offset: 0.0 };
    /// (x - 127.5) / 127.5, in -1..=1.
    pub const SIGNED: Normalization = Normalization { scale: 1.0 / 127.5, offset: -1.0 };
}

/// A model that ships in `data/models`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CatalogEntry {
    pub choice: ModelChoice,
    /// File name under the models folder.
    pub file: &'static str,
    /// Short name for the status line and logs.
    pub label: &'static str,
    pub normalization: Normalization,
    /// Input size to use when the model's own is dynamic.
    pub input_size: Option<(u32, u32)>,
}

pub const SELFIE_GENERAL: CatalogEntry = CatalogEntry {
    choice: ModelChoice::SelfieGeneral,
    file: "selfie_segmentation.onnx",
    label: "MediaPipe selfie (general, 256x256)",
    normalization: Normalization::UNIT,
    input_size: None,
};

pub const SELFIE_LANDSCAPE: CatalogEntry = CatalogEntry {
    choice: ModelChoice::SelfieLandscape,
    file: "selfie_segmentation_landscape.onnx",
    label: "MediaPipe selfie (landscape, 256x144)",
    normalization: Normalization::UNIT,
    input_size: None,
};

/// Portrait matting: much slower, much finer hair and shoulders. Its input size is free (multiples of 32);
/// 512x288 keeps a 16:9 frame's proportions. Fetched at set-up time, not committed.
pub const MODNET: CatalogEntry = CatalogEntry {
    choice: ModelChoice::Modnet,
    file: "modnet.onnx",
    label: "MODNet portrait matting (512x288)",
    normalization: Normalization::SIGNED,
    input_size: Some((512, 288)),
};

pub const CATALOG: &[CatalogEntry] = &[SELFIE_GENERAL, SELFIE_LANDSCAPE, MODNET];

pub fn catalog_entry(choice: ModelChoice) -> Option<&'static CatalogEntry> {
    CATALOG.iter().find(|e| e.choice == choice)
}

/// Everything the pre- and post-processing need to know about a loaded model, read from its ONNX graph.
#[derive(Clone, Debug, PartialEq)]
pub struct ModelSpec {
    pub label: String,
    pub input_name: String,
    pub width: u32,
    pub height: u32,
    pub layout: Layout,
    pub normalization: Normalization,
    pub output: OutputSpec,
}

/// Where the person probability sits in the model's output tensor.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct OutputSpec {
    pub layout: Layout,
    /// Number of channels in the output; with 2 the second is taken as "person" (softmax over bg/person).
    pub channels: u32,
}

impl ModelSpec {
    /// Derives the spec from the model's declared input and output shapes. Only fixed-size, single-image,
    /// 3-channel float models are accepted: anything else gets a message a user can act on.
    pub fn from_shapes(
        label: &str,
        input_name: &str,
        input_shape: &[i64],
        output_shape: &[i64],
        normalization: Normalization,
        size_if_dynamic: Option<(u32, u32)>,
    ) -> Result<ModelSpec, Error> {
        // A dynamic dimension (-1) takes the size the catalogue chose for the model, in inputs and outputs.
        let fixed = |shape: &[i64]| -> Vec<i64> {
            let Some((w, h)) = size_if_dynamic else { return shape.to_vec() };
            let n = shape.len();
            shape
                .iter()
                .enumerate()
                .map(|(i, &d)| match (d, i) {
                    (-1, 0) => 1,
                    (-1, i) if n == 4 && ((i == 2 && shape[1] == 3) || (i == 1 && shape[3] == 3)) => i64::from(h),
                    (-1, i) if n == 4 && ((i == 3 && shape[1] == 3) || (i == 2 && shape[3] == 3)) => i64::from(w),
                    (-1, i) if n >= 3 && i == n - 2 => i64::from(h),
                    (-1, i) if n >= 3 && i == n - 1 => i64::from(w),
                    (d, _) => d,
                })
                .collect()
        };
        let (input_shape, output_shape) = (&fixed(input_shape)[..], &fixed(output_shape)[..]);
        let (layout, height, width) = match input_shape {
            [n, h, w, 3] if *n <= 1 => (Layout::Nhwc, *h, *w),
            [n, 3, h, w] if *n <= 1 => (Layout::Nchw, *h, *w),
            _ => {
                return Err(Error::model(format!(
                    "unsupported model input shape {input_shape:?}: expected [1,H,W,3] or [1,3,H,W]"
                )))
            }
        };
        if !(1..=4096).contains(&height) || !(1..=4096).contains(&width) {
            return Err(Error::model(format!(
                "unsupported model input size {width}x{height}: the model must declare a fixed input size"
            )));
        }
        let output = match output_shape {
            [_, h, w, c] if (*h, *w) == (height, width) && (1..=2).contains(c) => {
                OutputSpec { layout: Layout::Nhwc, channels: *c as u32 }
            }
            [_, c, h, w] if (*h, *w) == (height, width) && (1..=2).contains(c) => {
                OutputSpec { layout: Layout::Nchw, channels: *c as u32 }
            }
            [_, h, w] if (*h, *w) == (height, width) => OutputSpec { layout: Layout::Nchw, channels: 1 },
            _ => {
                return Err(Error::model(format!(
                "unsupported model output shape {output_shape:?}: expected a 1- or 2-channel mask of {width}x{height}"
            )))
            }
        };
        Ok(ModelSpec {
            label: label.to_string(),
            input_name: input_name.to_string(),
            width: width as u32,
            height: height as u32,
            layout,
            normalization,
            output,
        })
    }

    /// Number of f32 values in one input tensor.
    pub fn input_len(&self) -> usize {
        self.width as usize * self.height as usize * 3
    }

    pub fn input_shape(&self) -> [i64; 4] {
        let (w, h) = (i64::from(self.width), i64::from(self.height));
        match self.layout {
            Layout::Nhwc => [1, h, w, 3],
            Layout::Nchw => [1, 3, h, w],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mediapipe_shapes_are_nhwc() {
        let s = ModelSpec::from_shapes("m", "input_1", &[1, 144, 256, 3], &[1, 144, 256, 1], Normalization::UNIT, None)
            .unwrap();
        assert_eq!((s.width, s.height, s.layout), (256, 144, Layout::Nhwc));
        assert_eq!(s.output, OutputSpec { layout: Layout::Nhwc, channels: 1 });
        assert_eq!(s.input_shape(), [1, 144, 256, 3]);
    }

    #[test]
    fn pytorch_shapes_are_nchw() {
        let s = ModelSpec::from_shapes("m", "x", &[1, 3, 192, 320], &[1, 2, 192, 320], Normalization::SIGNED, None)
            .unwrap();
        assert_eq!((s.width, s.height, s.layout), (320, 192, Layout::Nchw));
        assert_eq!(s.output.channels, 2);
        assert_eq!(s.input_shape(), [1, 3, 192, 320]);
    }

    #[test]
    fn wrong_shapes_are_rejected_with_a_reason() {
        let dynamic = ModelSpec::from_shapes("m", "x", &[1, 3, -1, -1], &[1, 1, -1, -1], Normalization::UNIT, None);
        assert!(dynamic.unwrap_err().to_string().contains("fixed input size"));
        let classifier = ModelSpec::from_shapes("m", "x", &[1, 224, 224, 3], &[1, 1000], Normalization::UNIT, None);
        assert!(classifier.unwrap_err().to_string().contains("output shape"));
        let grey = ModelSpec::from_shapes("m", "x", &[1, 1, 64, 64], &[1, 1, 64, 64], Normalization::UNIT, None);
        assert!(grey.unwrap_err().to_string().contains("input shape"));
    }

    #[test]
    fn normalizations_map_the_byte_range() {
        let f = |n: Normalization, x: f32| x * n.scale + n.offset;
        assert_eq!(f(Normalization::UNIT, 0.0), 0.0);
        assert!((f(Normalization::UNIT, 255.0) - 1.0).abs() < 1e-6);
        assert!((f(Normalization::SIGNED, 0.0) + 1.0).abs() < 1e-6);
        assert!((f(Normalization::SIGNED, 255.0) - 1.0).abs() < 1e-6);
    }

    #[test]
    fn dynamic_sizes_take_the_catalogue_size() {
        let s = ModelSpec::from_shapes(
            "m",
            "input",
            &[-1, 3, -1, -1],
            &[-1, 1, -1, -1],
            Normalization::SIGNED,
            Some((512, 288)),
        )
        .unwrap();
        assert_eq!((s.width, s.height, s.layout), (512, 288, Layout::Nchw));
        assert_eq!(s.output, OutputSpec { layout: Layout::Nchw, channels: 1 });
    }

    #[test]
    fn every_choice_but_custom_is_in_the_catalog() {
        for c in ModelChoice::ALL {
            assert_eq!(catalog_entry(*c).is_some(), *c != ModelChoice::Custom);
        }
    }
}

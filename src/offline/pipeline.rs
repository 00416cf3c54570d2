//! One frame through the plugin's processing outside OBS: GPU downscale to the model's size, segmentation
//! on the CPU, GPU compositing. Also finds the models and ONNX Runtime for command-line use.

use super::compositor::Compositor;
use super::gpu::Gpu;
use crate::error::Error;
use crate::mask::Mask;
use crate::mask_refiner::{MaskRefiner, RefinedMask};
use crate::model::catalog_entry;
use crate::preprocess::RgbaView;
use crate::runtime;
use crate::segmenter::{ModelSource, Segmenter};
use crate::settings::Settings;
use std::path::{Path, PathBuf};

pub struct Pipeline {
    pub compositor: Compositor,
    pub segmenter: Segmenter,
    pub settings: Settings,
    refiner: MaskRefiner,
}

impl Pipeline {
    pub fn new(settings: Settings) -> Result<Pipeline, Error> {
        let environment = runtime::environment(&runtime_library())?;
        let segmenter = Segmenter::load(&environment, &model_source(&settings)?, settings.threads as usize)?;
        let compositor = Compositor::new(Gpu::new()?)?;
        Ok(Pipeline { compositor, segmenter, settings, refiner: MaskRefiner::default() })
    }

    /// Starts a new video: the next mask does not blend with the previous ones.
    pub fn reset_temporal(&mut self) {
        self.refiner.reset();
    }

    /// Uploads `frame`, segments it (the model sees the GPU-shrunk frame, as in OBS) and refines the mask as
    /// the plugin's worker does.
    pub fn mask(&mut self, frame: RgbaView<'_>) -> Result<RefinedMask, Error> {
        self.compositor.upload_frame(frame);
        let (w, h) = (self.segmenter.spec().width, self.segmenter.spec().height);
        let small = self.compositor.analysis_input(w, h);
        let view = RgbaView::new(w, h, &small);
        let mask = self.segmenter.segment(view)?;
        let s = &self.settings;
        Ok(self.refiner.refine(view, mask, s.temporal_smoothing, s.edge_refine))
    }

    /// The finished frame, and the mask it used.
    pub fn render(&mut self, frame: RgbaView<'_>) -> Result<(Vec<u8>, Mask), Error> {
        let refined = self.mask(frame)?;
        Ok((self.compositor.composite(&refined, &self.settings), refined.mask))
    }
}

fn exe_dir() -> Option<PathBuf> {
    std::env::current_exe().ok()?.parent().map(Path::to_path_buf)
}

fn cache_dir() -> PathBuf {
    std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(".cache"))
        .join("obs-virtual-background")
}

/// ONNX Runtime: `ORT_DYLIB_PATH`, beside the executable, or the copy scripts/setup caches.
pub fn runtime_library() -> PathBuf {
    if let Some(p) = runtime::library_from_env() {
        return p;
    }
    let mut candidates = exe_dir().map(|d| runtime::library_candidates(&d)).unwrap_or_default();
    candidates.push(cache_dir().join("ort").join(runtime::LIBRARY_FILE));
    candidates.iter().find(|p| p.is_file()).cloned().unwrap_or_else(|| candidates.last().cloned().unwrap())
}

/// The shipped models: `VBG_MODELS_DIR`, `models/` beside the executable or in the source tree it was built
/// from.
pub fn models_dir() -> PathBuf {
    let mut candidates: Vec<PathBuf> = std::env::var_os("VBG_MODELS_DIR").map(PathBuf::from).into_iter().collect();
    if let Some(d) = exe_dir() {
        candidates.push(d.join("models"));
    }
    candidates.push(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("models"));
    candidates.iter().find(|d| d.is_dir()).cloned().unwrap_or_else(|| candidates.last().cloned().unwrap())
}

pub fn model_source(settings: &Settings) -> Result<ModelSource, Error> {
    match catalog_entry(settings.model) {
        Some(e) => Ok(ModelSource::catalog(e, model_file(e.file))),
        None if settings.model_path.is_empty() => Err(Error::model("--model custom needs --model-path FILE")),
        None => Ok(ModelSource::custom(PathBuf::from(&settings.model_path))),
    }
}

/// A shipped model's file: in the models folder, or (MODNet, fetched at set-up) in the set-up cache.
pub fn model_file(name: &str) -> PathBuf {
    let shipped = models_dir().join(name);
    let fetched = cache_dir().join("models").join(name);
    if !shipped.is_file() && fetched.is_file() {
        fetched
    } else {
        shipped
    }
}

//! One frame through the plugin's processing outside OBS: GPU downscale to the model's size, segmentation
//! on the CPU, GPU compositing. Also finds the models and ONNX Runtime for command-line use.

use super::compositor::Compositor;
use super::gpu::Gpu;
use crate::change::Picture;
use crate::change_gate::{ChangeGate, Decision};
use crate::crop::Crop;
use crate::crop_tracker::Cut;
use crate::error::Error;
use crate::mask::Mask;
use crate::mask_refiner::{MaskOptions, MaskRefiner, RefinedMask};
use crate::model::catalog_entry;
use crate::preprocess::RgbaView;
use crate::runtime;
use crate::segmenter::{ModelSource, Segmenter};
use crate::settings::Settings;
use std::collections::VecDeque;
use std::path::{Path, PathBuf};

/// Masks of a still picture at most, until the crop settles: the first sees the whole frame, the second the
/// crop around the person; a third only when the second moved it again.
pub const MAX_SETTLE_PASSES: usize = 3;

/// How OBS shows masks live (`Pipeline::render_live`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Live {
    /// Frames between a frame and the first showing of its mask.
    pub lag: usize,
    /// A mask is made of one frame in this many: the worker's rate under load (30 fps video, 10 masks a
    /// second: 3).
    pub mask_every: usize,
}

pub struct Pipeline {
    pub compositor: Compositor,
    pub segmenter: Segmenter,
    pub settings: Settings,
    refiner: MaskRefiner,
    /// Skips frames whose picture did not change, as the plugin's worker does (`--every-frame` turns it off).
    gate: Option<ChangeGate>,
    /// The last mask made, shown again for a frame the gate skips.
    last: Option<RefinedMask>,
    /// Frames per second of the video, for the gate's keep-alive.
    pub frame_rate: f64,
    /// The number of the next frame, as the plugin numbers video frames.
    seq: u64,
    segmented: u64,
    skipped: u64,
    /// Live timing: the latest masks and their frames, oldest first.
    recent: VecDeque<(u64, RefinedMask)>,
    /// Frames are shown live (`render_live`) this many frames after their mask's (0: not live): masks are moved
    /// on for a later frame, as in OBS.
    lag: usize,
    /// The part of the frame the model is told to look at instead of following the person (`look_at`).
    fixed_crop: Option<Crop>,
}

impl Pipeline {
    pub fn new(settings: Settings) -> Result<Pipeline, Error> {
        let environment = runtime::environment(&runtime_library())?;
        let segmenter = Segmenter::load(&environment, &model_source(&settings)?, settings.threads as usize)?;
        let compositor = Compositor::new(Gpu::new()?)?;
        Ok(Pipeline {
            compositor,
            segmenter,
            settings,
            refiner: MaskRefiner::default(),
            gate: Some(ChangeGate::default()),
            last: None,
            frame_rate: 30.0,
            seq: 0,
            segmented: 0,
            skipped: 0,
            recent: VecDeque::new(),
            lag: 0,
            fixed_crop: None,
        })
    }

    /// Starts a new video: the next mask does not blend with the previous ones.
    pub fn reset_temporal(&mut self) {
        self.refiner.reset();
        self.recent.clear();
        self.last = None;
        if let Some(gate) = self.gate.as_mut() {
            gate.reset();
        }
    }

    /// The model looks only at `crop` of every frame (None: the settings decide, following the person or
    /// not). Reproduces a crop the plugin reports (`maskCrop` in its status), whatever path led it there.
    pub fn look_at(&mut self, crop: Option<Crop>) {
        self.fixed_crop = crop;
    }

    /// Segments every frame, as the plugin did before it skipped unchanged pictures (for comparison).
    pub fn segment_every_frame(&mut self) {
        self.gate = None;
    }

    /// Model runs (masks and full-frame looks) and frames skipped as unchanged since the pipeline was made.
    pub fn counts(&self) -> (u64, u64) {
        (self.segmented, self.skipped)
    }

    fn options(&self) -> MaskOptions {
        let options = MaskOptions::from_settings(&self.settings);
        MaskOptions { predict: options.predict && self.lag > 0, ..options }
    }

    /// Uploads `frame`, segments it (the model sees the GPU-shrunk frame, or the crop of it around the
    /// person, as in OBS) and refines the mask as the plugin's worker does. A full-frame look, when due,
    /// runs first on the same frame (in OBS it takes the place of one mask).
    pub fn mask(&mut self, frame: RgbaView<'_>) -> Result<RefinedMask, Error> {
        self.compositor.upload_frame(frame);
        let frame_size = (frame.width, frame.height);
        let (w, h) = (self.segmenter.spec().width, self.segmenter.spec().height);
        let options = self.options();
        let seq = self.seq;
        self.seq += 1;
        let time = seq as f64 / self.frame_rate.max(1.0);
        loop {
            let cut = match self.fixed_crop {
                Some(crop) => Cut { crop, look: false },
                None if options.follow => self.refiner.next_cut(),
                None => Cut::FULL,
            };
            let small = self.compositor.analysis_input(w, h, cut.crop);
            let view = RgbaView::new(w, h, &small);
            let picture = Picture::of(view);
            let settled = self.refiner.settled();
            let decision =
                self.gate.as_mut().map_or(Decision::Segment, |g| g.decide(&picture, cut, frame_size, time, settled));
            match (decision, cut.look, self.last.as_ref()) {
                (Decision::Unchanged, true, _) => {
                    self.refiner.look_unchanged();
                    continue;
                }
                (Decision::Unchanged, false, Some(last)) => {
                    self.skipped += 1;
                    return Ok(last.clone());
                }
                (Decision::Still, ..) => self.refiner.still_picture_next(),
                _ => {}
            }
            let mask = self.segmenter.segment_with(view, options.mirror_average)?;
            self.segmented += 1;
            if let Some(refined) = self.refiner.process(view, &picture, mask, cut, seq, frame_size, options) {
                self.last = Some(refined.clone());
                return Ok(refined);
            }
        }
    }

    /// A still picture as OBS shows it once the crop has settled: masks of the same picture until the crop
    /// stops moving (at most `MAX_SETTLE_PASSES`), starting afresh, and the last of them, unblended with
    /// the earlier ones (which saw the picture coarser).
    pub fn settled_mask(&mut self, frame: RgbaView<'_>) -> Result<RefinedMask, Error> {
        self.reset_temporal();
        let mut refined = self.mask(frame)?;
        for _ in 1..MAX_SETTLE_PASSES {
            if self.fixed_crop.is_some() {
                break;
            }
            let crop = self.refiner.crop();
            if crop == refined.crop {
                break;
            }
            self.refiner.forget_masks();
            refined = self.mask(frame)?;
        }
        Ok(refined)
    }

    /// The finished frame, and the mask it used.
    pub fn render(&mut self, frame: RgbaView<'_>) -> Result<(Vec<u8>, Mask), Error> {
        let refined = self.mask(frame)?;
        Ok((self.compositor.composite(&refined, &self.settings), refined.mask))
    }

    /// The finished frame as OBS shows it live: a mask is made of every `live.mask_every`-th frame, and each
    /// frame is composited with the newest mask at least `live.lag` frames old (the oldest one at the start
    /// of a video), placed where the prediction says the person now is, as the filter does
    /// (`motion::predicted_crop`). Lag 0, a mask every frame, is sync mode.
    pub fn render_live(&mut self, frame: RgbaView<'_>, live: Live) -> Result<(Vec<u8>, Mask), Error> {
        self.lag = live.lag;
        // Every mask is first shown `lag` frames after its own (OBS measures it: `FirstShownLag`).
        self.refiner.set_first_shown_lag(live.lag as u64);
        let seq = self.seq;
        // A mask every `mask_every` frames from the first frame of each video.
        let due = self.recent.back().is_none_or(|(last, _)| seq >= last + live.mask_every.max(1) as u64);
        if due {
            let refined = self.mask(frame)?;
            self.recent.push_back((seq, refined));
        } else {
            // A frame the worker has no time for: shown, never segmented.
            self.compositor.upload_frame(frame);
            self.seq += 1;
        }
        while self.recent.len() > 1 && self.recent[1].0 + live.lag as u64 <= seq {
            self.recent.pop_front();
        }
        let (own, mask) = &self.recent[0];
        let shown = RefinedMask { crop: mask.predicted_crop(seq - own), ..mask.clone() };
        Ok((self.compositor.composite(&shown, &self.settings), shown.mask))
    }

    /// The finished frame of a still picture once the crop has settled (`settled_mask`), and its mask.
    pub fn render_still(&mut self, frame: RgbaView<'_>) -> Result<(Vec<u8>, Mask), Error> {
        let refined = self.settled_mask(frame)?;
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

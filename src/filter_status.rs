//! What a filter says about itself to remote tools (obs-websocket's `GetFilterStatus`, `ListFilters` and the
//! `FilterStatusChanged` event): what runs, how fast, and what is wrong, as data rather than one line of text.

use crate::crop::Crop;
use crate::settings::{BackgroundMode, Device, MaskView};
use crate::status::Fallback;

/// How far the model has got.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stage {
    /// No model requested yet.
    Starting,
    Loading,
    Ready,
    /// The filter passes video through unchanged (see the fault): the model, the runtime, the plugin's
    /// files or Image mode's picture failed.
    Failed,
}

impl Stage {
    pub fn key(self) -> &'static str {
        match self {
            Stage::Starting => "starting",
            Stage::Loading => "loading",
            Stage::Ready => "ready",
            Stage::Failed => "failed",
        }
    }
}

/// What keeps the filter from doing what its settings ask.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FaultKind {
    /// The plugin's own files (the effect) are missing or broken: video passes through.
    Install,
    /// The model or ONNX Runtime could not be loaded or run: video passes through.
    Model,
    /// Image mode's picture could not be loaded: video passes through.
    Image,
    /// Source mode's source cannot be shown (missing, or it would show itself): the colour instead.
    Background,
}

impl FaultKind {
    /// Whether the filter then passes the video through unchanged (the other faults show the colour).
    pub fn passes_through(self) -> bool {
        self != FaultKind::Background
    }

    pub fn key(self) -> &'static str {
        match self {
            FaultKind::Install => "install",
            FaultKind::Model => "model",
            FaultKind::Image => "image",
            FaultKind::Background => "background",
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Fault {
    pub kind: FaultKind,
    pub reason: String,
}

/// One filter's state at one moment.
#[derive(Clone, Debug, PartialEq)]
pub struct FilterStatus {
    pub stage: Stage,
    /// The model's name ("" before one is requested).
    pub model: String,
    pub device: Device,
    pub ms_per_mask: f32,
    /// Masks run per second (over up to ten seconds when fewer than a few a second come).
    pub masks_per_second: f32,
    /// The picture has not changed for a while: the mask shown holds, only a keep-alive mask runs.
    pub idle: bool,
    /// Frames between the newest frame and the mask shown on it; None before the first mask.
    pub mask_lag_frames: Option<u64>,
    /// The mask shown belongs to the frame shown (sync mode).
    pub mask_synced: bool,
    /// The part of the frame the model looked at for the mask shown (with "Follow the person", the crop
    /// around the person); None before the first mask.
    pub mask_crop: Option<Crop>,
    pub mode: BackgroundMode,
    /// The filter is switched on (the eye in OBS's filter list).
    pub enabled: bool,
    /// What is drawn instead of the composite ("Show the mask"): a script can warn before it is streamed.
    pub mask_view: MaskView,
    pub fault: Option<Fault>,
    /// The chosen device could not run the model; the CPU does.
    pub fallback: Option<Fallback>,
    /// The properties window's status line.
    pub text: String,
}

impl FilterStatus {
    /// Whether `FilterStatusChanged` announces the move from `before` to this: a fault appeared, cleared or
    /// changed, the model loaded or changed, the device, the mode or the mask view changed. Speed and lag
    /// change all the time and are left to polling.
    pub fn announces_change_from(&self, before: &FilterStatus) -> bool {
        self.stage != before.stage
            || self.model != before.model
            || self.device != before.device
            || self.fault != before.fault
            || self.fallback != before.fallback
            || self.mode != before.mode
            || self.mask_view != before.mask_view
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ready() -> FilterStatus {
        FilterStatus {
            stage: Stage::Ready,
            model: "MediaPipe selfie".into(),
            device: Device::Cpu,
            ms_per_mask: 5.0,
            masks_per_second: 30.0,
            idle: false,
            mask_lag_frames: Some(1),
            mask_synced: false,
            mask_crop: Some(Crop::FULL),
            mode: BackgroundMode::Blur,
            enabled: true,
            mask_view: MaskView::Off,
            fault: None,
            fallback: None,
            text: "MediaPipe selfie · 5.0 ms".into(),
        }
    }

    #[test]
    fn faults_and_loads_are_announced_speed_is_not() {
        let a = ready();
        let faster = FilterStatus { ms_per_mask: 4.0, masks_per_second: 31.0, mask_lag_frames: Some(2), ..a.clone() };
        assert!(!faster.announces_change_from(&a));
        let idle = FilterStatus { idle: true, masks_per_second: 1.0, ..a.clone() };
        assert!(!idle.announces_change_from(&a), "idling comes and goes with the picture: polled, not announced");
        let broken = FilterStatus {
            stage: Stage::Failed,
            fault: Some(Fault { kind: FaultKind::Model, reason: "no such file".into() }),
            ..a.clone()
        };
        assert!(broken.announces_change_from(&a) && a.announces_change_from(&broken));
        let other_reason = FilterStatus {
            fault: Some(Fault { kind: FaultKind::Model, reason: "not an ONNX model".into() }),
            ..broken.clone()
        };
        assert!(other_reason.announces_change_from(&broken));
        let loading = FilterStatus { stage: Stage::Loading, ..a.clone() };
        assert!(a.announces_change_from(&loading));
        assert!(FilterStatus { mode: BackgroundMode::Color, ..a.clone() }.announces_change_from(&a));
        let showing_mask = FilterStatus { mask_view: MaskView::Mask, ..a.clone() };
        assert!(showing_mask.announces_change_from(&a) && a.announces_change_from(&showing_mask));
    }
}

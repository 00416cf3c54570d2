//! The "Virtual Background" video filter: OBS callbacks, settings, properties and the status line.
//!
//! Threads: OBS calls `update`/`get_properties` on the UI thread and `video_render` on the graphics thread;
//! the filter's own worker and image-loader threads do the slow work. Shared state is behind locks that are
//! held only for copies.

use super::chosen_source::{ChosenSource, Notify};
use super::data::Data;
use super::graphics::{on_graphics_thread, with_graphics};
use super::guard::guard;
use super::locale::{text, text_ptr};
use super::module;
use super::properties::{set_visible, Properties};
use super::remote;
use super::render::{BackdropSource, MaskShown, RenderPipeline};
use super::source::{FilterSource, WeakSource};
use super::source_ref::{video_source_names, SourceRef};
use super::sys::{
    obs_data_t, obs_properties_t, obs_property_t, obs_register_source_s, obs_source_info, obs_source_t,
    obs_source_type_OBS_SOURCE_TYPE_FILTER, OBS_SOURCE_VIDEO,
};
use crate::filter_status::{Fault, FaultKind, FilterStatus, Stage};
use crate::image_loader::ImageLoader;
use crate::mask_refiner::MaskOptions;
use crate::model::catalog_entry;
use crate::runtime;
use crate::segmenter::ModelSource;
use crate::settings::{self, keys, BackgroundMode, Device, ImageFit, MaskView, ModelChoice, Settings};
use crate::status::ModelState;
use crate::worker::{Worker, WorkerConfig};
use parking_lot::Mutex;
use std::ffi::c_void;
use std::os::raw::c_char;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

pub const FILTER_ID: &std::ffi::CStr = c"virtual_background_filter";
const EFFECT_FILE: &str = "effects/virtual_background.effect";
const STATUS: &str = "status";
/// Settings key where releases before the obs-websocket vendor requests kept the status line: dropped
/// when a saved filter carrying it is loaded (the status is no longer written into the settings, where it
/// raced OBS's own reads and was saved with scenes).
const OBSOLETE_STATUS_SETTING: &str = "status_text";

struct Filter {
    source: FilterSource,
    settings: Mutex<Arc<Settings>>,
    /// The config last sent to the worker, so unrelated setting changes do not reload the model.
    sent_config: Mutex<Option<WorkerConfig>>,
    worker: Worker,
    images: ImageLoader,
    /// Source mode's background source.
    chosen: ChosenSource,
    /// Set while this filter renders: a render that starts while it is set was reached through the
    /// filter's own background (a scene holding this filter's source), and draws nothing.
    rendering: AtomicBool,
    /// None when the effect file could not be loaded (`install_error` says why).
    pipeline: Mutex<Option<RenderPipeline>>,
    /// The mask on the last frame drawn, for the status: read without the pipeline's lock, which a render
    /// holds for milliseconds and which obs-websocket's threads must never wait for.
    mask_shown: Mutex<Option<MaskShown>>,
    install_error: Option<String>,
    runtime_library: PathBuf,
    /// Taken in `create`; the worker and picture threads hold their own copies.
    weak: Option<WeakSource>,
    /// The status last shown and announced (UI thread), to rebuild the window and tell remote tools only
    /// when it changed.
    published: Mutex<Option<FilterStatus>>,
}

impl Filter {
    fn new(source: FilterSource, settings: Settings) -> Filter {
        let name = source.name();
        let weak = source.weak();
        let for_worker = weak.clone();
        let worker = Worker::start(&name, move |_: &ModelState| {
            if let Some(w) = &for_worker {
                w.on_ui_thread(publish_status)
            }
        });
        let for_images = weak.clone();
        let images = ImageLoader::start(&name, move |_| {
            if let Some(w) = &for_images {
                w.on_ui_thread(publish_status)
            }
        });
        let notify = Notify { status: publish_status, renamed: follow_rename, sources_changed: refresh_sources };
        let chosen = ChosenSource::new(source, weak.clone(), notify);
        let pipeline = match module::data_file(EFFECT_FILE) {
            Some(path) => with_graphics(|| RenderPipeline::new(&path, &name)),
            None => Err(format!("{EFFECT_FILE} is missing from the plugin's data folder (reinstall the plugin)")),
        };
        let install_error = pipeline.as_ref().err().cloned();
        if let Some(e) = &install_error {
            log::error!("[{name}] passing video through unchanged: {e}");
        }
        let filter = Filter {
            source,
            // The view starts off, so a filter loaded with the mask view on logs it as it turns on (below).
            settings: Mutex::new(Arc::new(Settings { mask_view: MaskView::Off, ..settings.clone() })),
            sent_config: Mutex::new(None),
            worker,
            images,
            chosen,
            rendering: AtomicBool::new(false),
            pipeline: Mutex::new(pipeline.ok()),
            mask_shown: Mutex::new(None),
            install_error,
            runtime_library: runtime::plugin_library(),
            weak,
            published: Mutex::new(None),
        };
        filter.apply(settings);
        filter
    }

    fn apply(&self, settings: Settings) {
        let config = WorkerConfig {
            runtime_library: self.runtime_library.clone(),
            model: model_source(&settings),
            threads: settings.threads as usize,
            device: settings.device,
        };
        {
            // Reload only when the model changes, or to retry one that failed (the user may have fixed it).
            let mut sent = self.sent_config.lock();
            if sent.as_ref() != Some(&config) || self.worker.failed() {
                *sent = Some(config.clone());
                self.worker.configure(config);
            }
        }
        self.worker.set_mask_options(MaskOptions::from_settings(&settings));
        if settings.mode == BackgroundMode::Image {
            self.images.request(&settings.image_path);
        }
        self.chosen.choose(settings.mode == BackgroundMode::Source, &settings.background_source);
        let before = std::mem::replace(&mut *self.settings.lock(), Arc::new(settings.clone()));
        if settings.mask_view != before.mask_view {
            log_mask_view(&self.source.name(), settings.mask_view);
        }
        // The mode shapes the status (Image and Source mode have faults of their own).
        if let Some(w) = &self.weak {
            w.on_ui_thread(publish_status);
        }
    }

    fn render(&self) {
        if self.rendering.swap(true, Ordering::Acquire) {
            return;
        }
        struct Done<'a>(&'a AtomicBool);
        impl Drop for Done<'_> {
            fn drop(&mut self) {
                self.0.store(false, Ordering::Release);
            }
        }
        let _done = Done(&self.rendering);
        let settings = self.settings.lock().clone();
        // Inside another filter's background no background source is drawn (the colour stands in): two
        // filters whose backgrounds hold each other's sources would otherwise draw a scene inside itself,
        // which OBS 32 deadlocks on (its scene lock is taken again on the same thread).
        let nested = BACKDROP_DEPTH.with(|d| d.get()) > 0;
        // Other sources are drawn only on OBS's graphics thread; a screenshot shows the picture drawn last.
        let source_mode = settings.mode == BackgroundMode::Source && !nested;
        let off_graphics_thread = source_mode && !on_graphics_thread();
        let drawable = if source_mode && !off_graphics_thread { self.chosen.drawable() } else { None };
        let backdrop = match &drawable {
            Some(source) => BackdropSource::Draw(source),
            None if off_graphics_thread => BackdropSource::Last,
            None => BackdropSource::None,
        };
        let _depth = drawable.is_some().then(BackdropDepth::enter);
        match self.pipeline.lock().as_mut() {
            Some(p) => {
                p.render(self.source, &settings, &self.worker, &self.images, backdrop);
                *self.mask_shown.lock() = p.mask_shown();
            }
            None => self.source.skip(),
        }
    }

    /// One line for the properties window: what runs and how fast, or what is wrong in plain words.
    fn status_line(&self) -> String {
        self.status().text
    }

    /// The status as data, for remote tools, and its line: each part read once, so the two agree.
    fn status(&self) -> FilterStatus {
        let settings = self.settings.lock().clone();
        let worker = self.worker.status();
        let (stage, model) = match &worker.state {
            ModelState::Idle => (Stage::Starting, String::new()),
            ModelState::Loading(label) => (Stage::Loading, label.clone()),
            ModelState::Ready(label) => (Stage::Ready, label.clone()),
            ModelState::Failed(_) => (Stage::Failed, String::new()),
        };
        let fault = |kind, reason: String| Some(Fault { kind, reason });
        let fault = match (&self.install_error, &worker.state) {
            (Some(e), _) => fault(FaultKind::Install, e.clone()),
            (None, ModelState::Failed(e)) => fault(FaultKind::Model, e.message.clone()),
            _ => match settings.mode {
                // The picture's error counts once the model runs (until then the video passes through anyway).
                BackgroundMode::Image if stage == Stage::Ready => {
                    self.images.error().and_then(|e| fault(FaultKind::Image, e.message))
                }
                BackgroundMode::Source => self.chosen.refusal().and_then(|r| {
                    let (key, arg) = r.locale();
                    fault(FaultKind::Background, fill(&text(key), &[arg]))
                }),
                _ => None,
            },
        };
        let shown = *self.mask_shown.lock();
        let passing_through = fault.as_ref().is_some_and(|f| f.kind.passes_through());
        let mut status = FilterStatus {
            stage: if passing_through { Stage::Failed } else { stage },
            model,
            device: worker.device,
            ms_per_mask: worker.ms_per_mask,
            masks_per_second: worker.masks_per_second,
            idle: worker.idle && stage == Stage::Ready,
            mask_lag_frames: shown.as_ref().map(|m| m.frames),
            mask_synced: shown.is_some_and(|m| m.synced),
            mask_crop: shown.map(|m| m.crop),
            mode: settings.mode,
            enabled: self.source.enabled(),
            mask_view: settings.mask_view,
            fault,
            fallback: worker.fallback.clone(),
            text: String::new(),
        };
        status.text = status_text(&status);
        status
    }
}

/// The status line of `s`, in the user's language.
fn status_text(s: &FilterStatus) -> String {
    let running = || match s.stage {
        Stage::Starting => text("Status.Starting"),
        Stage::Loading => fill(&text("Status.Loading"), &[&s.model]),
        // A failed filter always has a fault that passes video through (below); this is its line anyway.
        Stage::Failed => fill(&text("Status.Error"), &[s.fault.as_ref().map_or("", |f| f.reason.as_str())]),
        Stage::Ready => {
            let lag = match (s.mask_lag_frames, s.mask_synced) {
                (None, _) => text("Status.NoMask"),
                (Some(frames), true) => fill(&text("Status.Synced"), &[&frames.to_string()]),
                (Some(frames), false) => fill(&text("Status.Behind"), &[&frames.to_string()]),
            };
            let ms = format!("{:.1}", s.ms_per_mask);
            let rate = if s.masks_per_second < 10.0 {
                format!("{:.1}", s.masks_per_second)
            } else {
                format!("{:.0}", s.masks_per_second)
            };
            let ready = fill(&text(if s.idle { "Status.Idle" } else { "Status.Ready" }), &[&s.model, &ms, &rate, &lag]);
            match &s.fallback {
                Some(f) => {
                    format!("{} · {ready}", fill(&text("Status.Fallback"), &[f.wanted.display_name(), &f.reason]))
                }
                None if s.device != Device::Cpu => format!("{} · {ready}", s.device.display_name()),
                None => ready,
            }
        }
    };
    let line = match &s.fault {
        Some(f) if f.kind.passes_through() => fill(&text("Status.Error"), &[&f.reason]),
        Some(f) => format!("{} · {}", fill(&text("Status.SourceFallback"), &[&f.reason]), running()),
        None => running(),
    };
    match s.mask_view {
        MaskView::Off => line,
        // First, so it is read before anything else in the window.
        _ => format!("{} · {line}", fill(&text("Status.MaskView"), &[&text("MaskView"), &text("MaskView.off")])),
    }
}

/// One line in OBS's log each time the mask view turns on or off: what OBS outputs then is not the composite,
/// and a log is what users send when a stream "looked wrong".
fn log_mask_view(name: &str, view: MaskView) {
    match view {
        MaskView::Off => log::info!("[{name}] mask view off: the composite is shown"),
        _ => log::warn!("[{name}] mask view on ({}): OBS outputs the mask instead of the composite", view.key()),
    }
}

impl Drop for Filter {
    fn drop(&mut self) {
        self.worker.stop();
        self.images.stop();
        // Release the lock before entering graphics: video_render takes them in the other order.
        let pipeline = self.pipeline.lock().take();
        if let Some(pipeline) = pipeline {
            if let Some(reads) = pipeline.fenced_reads() {
                log::info!("[{}] {reads}", self.source.name());
            }
            if let Some(waited) = pipeline.copies_started_late() {
                log::info!(
                    "[{}] copies for the worker were started a frame late: started at once they waited {:.1} ms \
                     for the renderer (software rendering)",
                    self.source.name(),
                    waited.as_secs_f64() * 1000.0
                );
            }
            let (seen, cuts, held) = pipeline.cuts();
            if seen > 0 {
                log::info!("[{}] {seen} scene cuts seen, {cuts} held ({held} frames in all)", self.source.name());
            }
            with_graphics(|| drop(pipeline));
        }
    }
}

/// On the UI thread after a state change: a new status line into an open properties window, and a
/// `FilterStatusChanged` event to obs-websocket clients when the change is one they hear of.
fn publish_status(source: FilterSource, data: *mut c_void) {
    // SAFETY: `data` is null or this filter's data, kept alive by the source reference the task holds.
    let Some(f) = (unsafe { filter(data) }) else { return };
    // Not on a source yet (obs-websocket's CreateSourceFilter creates it first): nothing to name or show.
    let Some(parent) = source.parent() else { return };
    let now = f.status();
    let before = f.published.lock().replace(now.clone());
    // Only a new line rebuilds an open properties window: every settings change queues this task, and a
    // rebuild on each step of a slider being dragged would get in the user's way.
    if before.as_ref().is_none_or(|b| b.text != now.text) {
        source.refresh_properties();
    }
    if before.as_ref().is_none_or(|b| now.announces_change_from(b)) {
        remote::announce(&parent.name(), &source.name(), &now);
    }
}

/// Marks the filter type this copy of the plugin registered: a second copy (a system-wide and a per-user
/// install) registers the same id, and only the first registered is used; its data is not our `Filter`.
static TYPE_MARK: u8 = 0;

fn type_mark() -> *mut c_void {
    (&TYPE_MARK as *const u8).cast_mut().cast()
}

/// The status of `filter` when it is one of ours (any thread: every part of it is read under its lock).
pub fn status_of(filter_source: &SourceRef) -> Option<FilterStatus> {
    if filter_source.kind().as_bytes() != FILTER_ID.to_bytes() || filter_source.type_mark() != type_mark() {
        return None;
    }
    // SAFETY: a filter of the type this copy registered has our data (or null while created); the reference
    // held keeps the filter from being destroyed meanwhile.
    unsafe { filter(filter_source.type_data()) }.map(Filter::status)
}

/// On the UI thread after the chosen background source was renamed: its new name into the settings, so the
/// saved scene collection and the properties window name it as OBS now does.
fn follow_rename(source: FilterSource, data: *mut c_void) {
    // SAFETY: as in publish_status.
    let Some(f) = (unsafe { filter(data) }) else { return };
    if source.set_setting_string(keys::BACKGROUND_SOURCE, &f.chosen.name()) {
        source.refresh_properties();
    }
}

/// On the UI thread after a source was created, renamed or removed: an open properties window lists the
/// sources again.
fn refresh_sources(source: FilterSource, _: *mut c_void) {
    source.refresh_properties();
}

/// Replaces %1, %2, ... in a translated template.
fn fill(template: &str, args: &[&str]) -> String {
    args.iter().enumerate().rev().fold(template.to_string(), |s, (i, a)| s.replace(&format!("%{}", i + 1), a))
}

fn model_source(settings: &Settings) -> ModelSource {
    match catalog_entry(settings.model) {
        Some(entry) => {
            let relative = format!("models/{}", entry.file);
            let path = module::data_file(&relative).unwrap_or_else(|| module::data_dir().join(&relative));
            ModelSource::catalog(entry, path)
        }
        None => ModelSource::custom(PathBuf::from(&settings.model_path)),
    }
}

/// The choices of the Inference device list: the CPU, the devices the loaded ONNX Runtime offers, and the
/// chosen one even when it is not offered (so the window shows what is set; the status line says why it
/// does not run). Before the runtime has loaded only the CPU and the chosen device are known.
fn device_choices(available: Option<&[Device]>, chosen: Device) -> Vec<Device> {
    Device::ALL
        .iter()
        .copied()
        .filter(|&d| d == Device::Cpu || d == chosen || available.is_some_and(|a| a.contains(&d)))
        .collect()
}

fn device_items(chosen: Device) -> Vec<(String, &'static str)> {
    let available = runtime::available_devices();
    device_choices(available.as_deref(), chosen)
        .into_iter()
        .map(|d| {
            let label = text(&format!("Device.{}", d.key()));
            let offered = d == Device::Cpu || available.as_ref().is_some_and(|a| a.contains(&d));
            let label =
                if offered || available.is_none() { label } else { format!("{label} {}", text("Device.Missing")) };
            (label, d.key())
        })
        .collect()
}

/// The Background source list: "none", every source with video and every scene (not the filter's own
/// source), and the chosen name even when no such source exists now (so the window shows what is set; the
/// status line says why it is not shown).
fn source_items(chosen: &str, own: Option<&str>) -> Vec<(String, String)> {
    let mut items = vec![(text("BackgroundSource.None"), String::new())];
    let names = video_source_names();
    items.extend(names.iter().filter(|n| Some(n.as_str()) != own).map(|n| (n.clone(), n.clone())));
    if !chosen.is_empty() && !names.iter().any(|n| n == chosen) {
        items.push((format!("{chosen} {}", text("BackgroundSource.Missing")), chosen.to_string()));
    }
    items
}

fn defaults(data: Data<'_>) {
    data.set_default_string(keys::MODE, settings::DEFAULT_MODE.key());
    data.set_default_int(keys::BLUR_STRENGTH, settings::BLUR_STRENGTH.default);
    data.set_default_string(keys::IMAGE_FIT, settings::DEFAULT_FIT.key());
    data.set_default_string(keys::BACKGROUND_SOURCE, "");
    data.set_default_int(keys::COLOR, settings::DEFAULT_COLOR.to_obs());
    data.set_default_string(keys::MODEL, settings::DEFAULT_MODEL.key());
    data.set_default_double(keys::THRESHOLD, settings::THRESHOLD.default);
    data.set_default_double(keys::SOFTNESS, settings::SOFTNESS.default);
    data.set_default_int(keys::THREADS, settings::THREADS.default);
    data.set_default_bool(keys::EDGE_REFINE, settings::DEFAULT_EDGE_REFINE);
    data.set_default_double(keys::TEMPORAL_SMOOTHING, settings::TEMPORAL_SMOOTHING.default);
    data.set_default_int(keys::GROW, settings::GROW.default);
    data.set_default_int(keys::FEATHER, settings::FEATHER.default);
    data.set_default_double(keys::LIGHT_WRAP, settings::LIGHT_WRAP.default);
    data.set_default_bool(keys::SYNC_VIDEO, settings::DEFAULT_SYNC_VIDEO);
    data.set_default_bool(keys::FOLLOW_PERSON, settings::DEFAULT_FOLLOW_PERSON);
    data.set_default_bool(keys::MIRROR_AVERAGE, settings::DEFAULT_MIRROR_AVERAGE);
    data.set_default_bool(keys::PREDICT_MOTION, settings::DEFAULT_PREDICT_MOTION);
    data.set_default_string(keys::DEVICE, settings::DEFAULT_DEVICE.key());
    data.set_default_string(keys::MASK_VIEW, settings::DEFAULT_MASK_VIEW.key());
}

/// Locale key of a choice's label: e.g. "Mode.Blur", "Fit.Cover", "Model.selfie_general".
fn labelled<T: Copy>(prefix: &str, all: &[T], key: impl Fn(T) -> &'static str) -> Vec<(String, &'static str)> {
    all.iter().map(|&v| (text(&format!("{prefix}.{}", key(v))), key(v))).collect()
}

fn properties(filter: Option<&Filter>) -> Properties {
    let mut props = Properties::new();
    if let Some(f) = filter {
        props.info(STATUS, &f.status_line()).tooltip(&text("Status.Tooltip"));
    }
    props
        .list(keys::MODE, &text("Mode"), &labelled("Mode", BackgroundMode::ALL, BackgroundMode::key))
        .tooltip(&text("Mode.Tooltip"))
        .on_modified(choice_changed);
    props
        .int_slider(keys::BLUR_STRENGTH, &text("BlurStrength"), settings::BLUR_STRENGTH)
        .tooltip(&text("BlurStrength.Tooltip"));
    props.file(keys::IMAGE_PATH, &text("ImagePath"), &text("ImagePath.Filter")).tooltip(&text("ImagePath.Tooltip"));
    let chosen = filter.map(|f| f.chosen.name()).unwrap_or_default();
    let own = filter.and_then(|f| f.source.parent()).map(|p| p.name());
    props
        .list(keys::BACKGROUND_SOURCE, &text("BackgroundSource"), &source_items(&chosen, own.as_deref()))
        .tooltip(&text("BackgroundSource.Tooltip"));
    props
        .list(keys::IMAGE_FIT, &text("Fit"), &labelled("Fit", ImageFit::ALL, ImageFit::key))
        .tooltip(&text("Fit.Tooltip"));
    props.color(keys::COLOR, &text("Color")).tooltip(&text("Color.Tooltip"));
    props
        .list(keys::MODEL, &text("Model"), &labelled("Model", ModelChoice::ALL, ModelChoice::key))
        .tooltip(&text("Model.Tooltip"))
        .on_modified(choice_changed);
    props.file(keys::MODEL_PATH, &text("ModelPath"), &text("ModelPath.Filter")).tooltip(&text("ModelPath.Tooltip"));
    props
        .list(keys::MASK_VIEW, &text("MaskView"), &labelled("MaskView", MaskView::ALL, MaskView::key))
        .tooltip(&text("MaskView.Tooltip"));
    props.float_slider(keys::THRESHOLD, &text("Threshold"), settings::THRESHOLD).tooltip(&text("Threshold.Tooltip"));
    props.float_slider(keys::SOFTNESS, &text("Softness"), settings::SOFTNESS).tooltip(&text("Softness.Tooltip"));
    props.checkbox(keys::EDGE_REFINE, &text("EdgeRefine")).tooltip(&text("EdgeRefine.Tooltip"));
    props.checkbox(keys::FOLLOW_PERSON, &text("FollowPerson")).tooltip(&text("FollowPerson.Tooltip"));
    props.checkbox(keys::MIRROR_AVERAGE, &text("MirrorAverage")).tooltip(&text("MirrorAverage.Tooltip"));
    props.int_slider(keys::GROW, &text("Grow"), settings::GROW).tooltip(&text("Grow.Tooltip"));
    props.int_slider(keys::FEATHER, &text("Feather"), settings::FEATHER).tooltip(&text("Feather.Tooltip"));
    props.float_slider(keys::LIGHT_WRAP, &text("LightWrap"), settings::LIGHT_WRAP).tooltip(&text("LightWrap.Tooltip"));
    props
        .float_slider(keys::TEMPORAL_SMOOTHING, &text("Temporal"), settings::TEMPORAL_SMOOTHING)
        .tooltip(&text("Temporal.Tooltip"));
    props.checkbox(keys::PREDICT_MOTION, &text("PredictMotion")).tooltip(&text("PredictMotion.Tooltip"));
    props.checkbox(keys::SYNC_VIDEO, &text("SyncVideo")).tooltip(&text("SyncVideo.Tooltip"));
    props.int_slider(keys::THREADS, &text("Threads"), settings::THREADS).tooltip(&text("Threads.Tooltip"));
    // Reads only what the worker recorded when the runtime loaded: never loads or queries ONNX Runtime here.
    let chosen = filter.map_or(settings::DEFAULT_DEVICE, |f| f.settings.lock().device);
    props.list(keys::DEVICE, &text("Device"), &device_items(chosen)).tooltip(&text("Device.Tooltip"));
    props
}

/// Shows only the properties that matter for the chosen mode and model.
unsafe extern "C" fn choice_changed(
    props: *mut obs_properties_t,
    _: *mut obs_property_t,
    data: *mut obs_data_t,
) -> bool {
    guard("choice_changed", false, || unsafe {
        let s = Settings::read(&Data::new(data));
        set_visible(props, keys::BLUR_STRENGTH, s.mode == BackgroundMode::Blur);
        set_visible(props, keys::IMAGE_PATH, s.mode == BackgroundMode::Image);
        set_visible(props, keys::BACKGROUND_SOURCE, s.mode == BackgroundMode::Source);
        set_visible(props, keys::IMAGE_FIT, s.mode.shows_picture());
        // Colour fills Contain's borders, and stands in for a background source that cannot be shown.
        set_visible(props, keys::COLOR, s.mode.has_backdrop());
        set_visible(props, keys::MODEL_PATH, s.model == ModelChoice::Custom);
        set_visible(props, keys::LIGHT_WRAP, s.mode.has_backdrop());
        true
    })
}

// ---- OBS callbacks: each one is guarded, so no panic reaches OBS. ----

/// # Safety
/// `data` is null or the pointer returned by `create`.
unsafe fn filter<'a>(data: *mut c_void) -> Option<&'a Filter> {
    (data as *const Filter).as_ref()
}

unsafe extern "C" fn get_name(_: *mut c_void) -> *const c_char {
    text_ptr(c"VirtualBackground")
}

thread_local! {
    /// How many filters on this thread are drawing their background source right now.
    static BACKDROP_DEPTH: std::cell::Cell<u32> = const { std::cell::Cell::new(0) };
}

/// Counts one filter drawing its background source on this thread, until dropped.
struct BackdropDepth;

impl BackdropDepth {
    fn enter() -> BackdropDepth {
        BACKDROP_DEPTH.with(|d| d.set(d.get() + 1));
        BackdropDepth
    }
}

impl Drop for BackdropDepth {
    fn drop(&mut self) {
        BACKDROP_DEPTH.with(|d| d.set(d.get().saturating_sub(1)));
    }
}

/// Filters created and not yet destroyed, for the unload line.
static ALIVE: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// How many filters of ours OBS has not destroyed.
pub fn alive() -> usize {
    ALIVE.load(Ordering::Acquire)
}

unsafe extern "C" fn create(settings: *mut obs_data_t, source: *mut obs_source_t) -> *mut c_void {
    guard("create", std::ptr::null_mut(), || unsafe {
        let data = Data::new(settings);
        if data.has_user_value(OBSOLETE_STATUS_SETTING) {
            data.erase(OBSOLETE_STATUS_SETTING);
        }
        let filter = Filter::new(FilterSource::new(source), Settings::read(&data));
        ALIVE.fetch_add(1, Ordering::AcqRel);
        Box::into_raw(Box::new(filter)).cast()
    })
}

unsafe extern "C" fn destroy(data: *mut c_void) {
    guard("destroy", (), || unsafe {
        if !data.is_null() {
            let filter = Box::from_raw(data as *mut Filter);
            let late = module::unloaded().then(|| filter.source.name());
            drop(filter);
            ALIVE.fetch_sub(1, Ordering::AcqRel);
            if let Some(name) = late {
                log::info!("[{name}] destroyed after the module was unloaded (OBS freed it with its leftovers)");
            }
        }
    })
}

unsafe extern "C" fn update(data: *mut c_void, settings: *mut obs_data_t) {
    guard("update", (), || unsafe {
        if let Some(f) = filter(data) {
            f.apply(Settings::read(&Data::new(settings)));
        }
    })
}

unsafe extern "C" fn get_defaults(settings: *mut obs_data_t) {
    guard("get_defaults", (), || unsafe { defaults(Data::new(settings)) })
}

unsafe extern "C" fn get_properties(data: *mut c_void) -> *mut obs_properties_t {
    guard("get_properties", std::ptr::null_mut(), || unsafe { properties(filter(data)).into_raw() })
}

unsafe extern "C" fn video_render(data: *mut c_void, _effect: *mut super::sys::gs_effect_t) {
    guard("video_render", (), || unsafe {
        if let Some(f) = filter(data) {
            f.render();
        }
    })
}

unsafe extern "C" fn video_tick(data: *mut c_void, _seconds: f32) {
    guard("video_tick", (), || unsafe {
        if let Some(f) = filter(data) {
            f.chosen.tick();
        }
    })
}

unsafe extern "C" fn filter_remove(data: *mut c_void, _parent: *mut obs_source_t) {
    guard("filter_remove", (), || unsafe {
        if let Some(f) = filter(data) {
            // No more ticks come once off its source: give the background back now.
            f.chosen.release();
        }
    })
}

pub fn register() {
    let info = obs_source_info {
        id: FILTER_ID.as_ptr(),
        type_: obs_source_type_OBS_SOURCE_TYPE_FILTER,
        output_flags: OBS_SOURCE_VIDEO,
        get_name: Some(get_name),
        create: Some(create),
        destroy: Some(destroy),
        get_defaults: Some(get_defaults),
        get_properties: Some(get_properties),
        update: Some(update),
        video_render: Some(video_render),
        video_tick: Some(video_tick),
        filter_remove: Some(filter_remove),
        type_data: type_mark(),
        ..Default::default()
    };
    // SAFETY: OBS copies the struct; the id and callbacks are 'static.
    unsafe { obs_register_source_s(&info, std::mem::size_of::<obs_source_info>() as _) };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_list_is_cpu_plus_what_the_runtime_offers_plus_the_choice() {
        use Device::*;
        assert_eq!(device_choices(None, Cpu), vec![Cpu]);
        assert_eq!(device_choices(None, Cuda), vec![Cpu, Cuda]);
        assert_eq!(device_choices(Some(&[Cpu]), Cpu), vec![Cpu]);
        assert_eq!(device_choices(Some(&[Cpu, Cuda, TensorRt]), Cpu), vec![Cpu, Cuda, TensorRt]);
        assert_eq!(device_choices(Some(&[Cpu]), OpenVino), vec![Cpu, OpenVino]);
    }

    #[test]
    fn templates_are_filled_in_order() {
        assert_eq!(fill("%1 · %2 ms · %3/s", &["m", "3.5", "30"]), "m · 3.5 ms · 30/s");
        assert_eq!(fill("no args", &[]), "no args");
    }
}

//! The inference thread of one filter. It owns the ONNX session (created and replaced only here, never on
//! OBS's graphics or UI threads), takes the newest frame from a latest-frame slot, and publishes the newest
//! mask with the sequence number of the frame it came from. Callers never wait for it.

use crate::change::Picture;
use crate::change_gate::{ChangeGate, Decision};
use crate::crop_tracker::Cut;
use crate::error::{Error, ErrorKind};
use crate::latest_slot::{LatestSlot, Taken};
use crate::mask_refiner::{MaskOptions, MaskRefiner, RefinedMask};
use crate::preprocess::RgbaView;
use crate::runtime;
use crate::segmenter::{ModelSource, Segmenter};
use crate::settings::Device;
use crate::status::{Fallback, ModelState, RateMeter, WorkerStatus};
use parking_lot::Mutex;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A frame scaled to the model's input size, tightly packed RGBA: the part of the video frame `cut` names.
pub struct Frame {
    pub seq: u64,
    pub width: u32,
    pub height: u32,
    pub rgba: Vec<u8>,
    pub cut: Cut,
    /// The video frame's size in pixels (the crop's aspect is chosen in pixels).
    pub frame_size: (u32, u32),
}

/// The crop the graphics thread cuts the next frame to, and whether a full-frame look is due instead.
#[derive(Clone, Copy, Debug, Default)]
struct NextCut {
    crop: crate::crop::Crop,
    look_due: bool,
}

/// A mask ready for compositing and the sequence number of the frame it was computed from.
#[derive(Debug)]
pub struct MaskFrame {
    pub seq: u64,
    pub refined: RefinedMask,
    /// The newest video frame the mask holds for: its own, or a later one whose picture had not changed
    /// (`ChangeGate`). Moves on while the mask is shown, so lag and sync count from it.
    holds_through: AtomicU64,
}

impl MaskFrame {
    pub fn new(seq: u64, refined: RefinedMask) -> MaskFrame {
        MaskFrame { seq, refined, holds_through: AtomicU64::new(seq) }
    }

    pub fn holds_through(&self) -> u64 {
        self.holds_through.load(Ordering::Acquire)
    }
}

/// What the worker did with a frame.
enum Handled {
    /// Segmented; the mask to show (None for a full-frame look, which only moves the crop).
    Segmented(Option<RefinedMask>),
    /// Its picture had not changed since the frame the mask shown came from: no inference.
    Unchanged,
}

/// Everything that decides which session runs. A change creates a new session.
#[derive(Clone, Debug, PartialEq)]
pub struct WorkerConfig {
    pub runtime_library: PathBuf,
    pub model: ModelSource,
    pub threads: usize,
    /// Where to run the model; the CPU takes over if this device fails.
    pub device: Device,
}

type StateListener = Box<dyn Fn(&ModelState) + Send + Sync>;

struct Shared {
    name: String,
    frames: LatestSlot<Frame>,
    pending_config: Mutex<Option<WorkerConfig>>,
    /// The input size of the running model, or None while no model runs.
    input_size: Mutex<Option<(u32, u32)>>,
    mask: Mutex<Option<Arc<MaskFrame>>>,
    status: Mutex<WorkerStatus>,
    spare_buffers: Mutex<Vec<Vec<u8>>>,
    /// Mirrors `ModelState::Failed`, readable without a lock on every frame.
    failed: AtomicBool,
    options: Mutex<MaskOptions>,
    /// Frames after its own that a new mask is first shown (the graphics thread measures it).
    first_shown_lag: AtomicU64,
    next_cut: Mutex<NextCut>,
    on_state_change: StateListener,
    /// The failure last written to the log: the same failure again (a retry after an unrelated settings
    /// change) is not logged again until a model has run.
    logged_failure: Mutex<Option<Error>>,
}

pub struct Worker {
    shared: Arc<Shared>,
    thread: Option<crate::threads::PluginThread>,
}

impl Worker {
    /// Starts the thread. `on_state_change` runs on the worker thread whenever the model state changes kind
    /// or reason (not for throughput updates).
    pub fn start(name: &str, on_state_change: impl Fn(&ModelState) + Send + Sync + 'static) -> Worker {
        let shared = Arc::new(Shared {
            name: name.to_string(),
            frames: LatestSlot::default(),
            pending_config: Mutex::new(None),
            input_size: Mutex::new(None),
            mask: Mutex::new(None),
            status: Mutex::new(WorkerStatus::default()),
            spare_buffers: Mutex::new(Vec::new()),
            failed: AtomicBool::new(false),
            options: Mutex::new(MaskOptions::default()),
            first_shown_lag: AtomicU64::new(crate::prediction::WORKER_AHEAD),
            next_cut: Mutex::new(NextCut::default()),
            on_state_change: Box::new(on_state_change),
            logged_failure: Mutex::new(None),
        });
        let thread = {
            let (for_stop, shared) = (shared.clone(), shared.clone());
            crate::threads::spawn("vbg-inference", move || for_stop.frames.close(), move || run(&shared))
                .map_err(|e| log::error!("cannot start the inference thread: {e}"))
                .ok()
        };
        if thread.is_none() {
            set_state(&shared, ModelState::Failed(Error::runtime("cannot start the inference thread")));
        }
        Worker { shared, thread }
    }

    /// Requests a model. Sending the same config again retries a failed load (the file may now exist).
    pub fn configure(&self, config: WorkerConfig) {
        *self.shared.pending_config.lock() = Some(config);
        self.shared.frames.wake();
    }

    /// Smoothing, edge refinement and following, from the next mask on.
    pub fn set_mask_options(&self, options: MaskOptions) {
        *self.shared.options.lock() = options;
    }

    /// How many frames after its own a new mask is now first shown: the worker moves masks on that far.
    pub fn set_first_shown_lag(&self, frames: u64) {
        self.shared.first_shown_lag.store(frames, Ordering::Relaxed);
    }

    /// What to cut the next frame to. A due full-frame look is handed out once.
    pub fn take_cut(&self) -> Cut {
        let mut next = self.shared.next_cut.lock();
        if std::mem::take(&mut next.look_due) {
            Cut { crop: crate::crop::Crop::FULL, look: true }
        } else {
            Cut { crop: next.crop, look: false }
        }
    }

    /// Gives back a cut whose frame never reached the worker (not drawn, not read back, or replaced by a newer
    /// frame before the worker took it): a look in it is due again, or it would wait LOOK_EVERY more masks.
    pub fn cut_unused(&self, cut: Cut) {
        if cut.look {
            self.shared.next_cut.lock().look_due = true;
        }
    }

    /// The size frames should have, while a model runs.
    pub fn input_size(&self) -> Option<(u32, u32)> {
        *self.shared.input_size.lock()
    }

    /// Hands over a frame; an unprocessed older frame is dropped. Never blocks on inference.
    pub fn submit(&self, frame: Frame) {
        if let Some(old) = self.shared.frames.put(frame) {
            self.cut_unused(old.cut);
            self.recycle(old.rgba);
        }
    }

    /// An empty buffer for the next frame, reusing one the worker has finished with.
    pub fn take_buffer(&self) -> Vec<u8> {
        let mut b = self.shared.spare_buffers.lock().pop().unwrap_or_default();
        b.clear();
        b
    }

    fn recycle(&self, buffer: Vec<u8>) {
        recycle(&self.shared, buffer);
    }

    /// True while no model can run (the filter then passes video through).
    pub fn failed(&self) -> bool {
        self.shared.failed.load(Ordering::Acquire)
    }

    /// The newest mask, if the lock is free right now: the graphics thread must not wait, it can use the
    /// mask it already has.
    pub fn latest_mask(&self) -> Option<Arc<MaskFrame>> {
        self.shared.mask.try_lock().and_then(|m| m.clone())
    }

    pub fn status(&self) -> WorkerStatus {
        self.shared.status.lock().clone()
    }

    /// Stops the thread and waits for it. Inference in flight finishes first (a few milliseconds).
    pub fn stop(&mut self) {
        if let Some(t) = self.thread.take() {
            if !t.stop() {
                log::error!("[{}] the inference thread ended with a panic", self.shared.name);
            }
        }
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        self.stop();
    }
}

fn recycle(shared: &Shared, buffer: Vec<u8>) {
    let mut spares = shared.spare_buffers.lock();
    if spares.len() < 3 {
        spares.push(buffer);
    }
}

fn set_state(shared: &Shared, state: ModelState) {
    let mut status = shared.status.lock();
    if status.state == state {
        return;
    }
    match &state {
        ModelState::Ready(label) => {
            *shared.logged_failure.lock() = None;
            log::info!("[{}] model ready: {label}", shared.name)
        }
        ModelState::Failed(e) => {
            let mut logged = shared.logged_failure.lock();
            if logged.as_ref() != Some(e) {
                log::warn!("[{}] passing video through unchanged: {e}", shared.name);
                *logged = Some(e.clone());
            }
        }
        _ => {}
    }
    if !matches!(state, ModelState::Ready(_)) {
        status.ms_per_mask = 0.0;
        status.masks_per_second = 0.0;
        status.idle = false;
    }
    status.state = state.clone();
    shared.failed.store(matches!(state, ModelState::Failed(_)), Ordering::Release);
    drop(status);
    (shared.on_state_change)(&state);
}

/// Records where the model runs and whether the CPU took over; tells the listener when that changed.
fn set_device(shared: &Shared, device: Device, fallback: Option<Fallback>) {
    let mut status = shared.status.lock();
    if status.device == device && status.fallback == fallback {
        return;
    }
    if let Some(f) = &fallback {
        log::warn!("[{}] {}", shared.name, f.describe());
    }
    status.device = device;
    status.fallback = fallback;
    let state = status.state.clone();
    drop(status);
    (shared.on_state_change)(&state);
}

/// A session on the configured device or, when that device cannot run the model, on the CPU (with the reason).
fn load(config: &WorkerConfig) -> Result<(Segmenter, Option<Fallback>), Error> {
    let environment = runtime::environment(&config.runtime_library)?;
    if config.device != Device::Cpu {
        match Segmenter::load_on(&environment, &config.model, config.threads, config.device) {
            Ok(s) => return Ok((s, None)),
            Err(e) if e.kind == ErrorKind::Device => {
                let fallback = Fallback { wanted: config.device, reason: e.message };
                return Ok((Segmenter::load(&environment, &config.model, config.threads)?, Some(fallback)));
            }
            Err(e) => return Err(e),
        }
    }
    Ok((Segmenter::load(&environment, &config.model, config.threads)?, None))
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into())
}

/// Full-frame looks come at least this often, whatever the mask rate: the tracker asks for one every
/// `LOOK_EVERY` masks, which on a machine turning out 15 masks a second or fewer would leave someone
/// entering outside the crop unseen for more than a second.
const LOOK_PERIOD: Duration = Duration::from_millis(400);

fn run(shared: &Shared) {
    crate::threads::yield_to_obs();
    let mut segmenter: Option<Segmenter> = None;
    // The config of the running session, and whether it runs on the configured (non-CPU) device.
    let mut current: Option<WorkerConfig> = None;
    let mut on_device = false;
    let mut refiner = MaskRefiner::default();
    let mut meter = RateMeter::new(Instant::now());
    let mut last_look = Instant::now();
    let mut gate = ChangeGate::default();
    let mut gated_options = MaskOptions::default();
    let clock = Instant::now();
    loop {
        let pending = shared.pending_config.lock().take();
        if let Some(config) = pending {
            segmenter = None;
            refiner.reset();
            gate.reset();
            *shared.next_cut.lock() = NextCut::default();
            *shared.input_size.lock() = None;
            set_state(shared, ModelState::Loading(config.model.label.clone()));
            let started = Instant::now();
            match catch_unwind(|| load(&config)) {
                Ok(Ok((s, fallback))) => {
                    let device = if fallback.is_some() { Device::Cpu } else { config.device };
                    log::info!(
                        "[{}] loaded {} ({}x{}, {} thread(s), {}) in {} ms",
                        shared.name,
                        config.model.path.display(),
                        s.spec().width,
                        s.spec().height,
                        config.threads,
                        device.display_name(),
                        started.elapsed().as_millis()
                    );
                    *shared.input_size.lock() = Some((s.spec().width, s.spec().height));
                    on_device = device != Device::Cpu;
                    set_device(shared, device, fallback);
                    set_state(shared, ModelState::Ready(config.model.label.clone()));
                    segmenter = Some(s);
                    current = Some(config);
                }
                Ok(Err(e)) => set_state(shared, ModelState::Failed(e)),
                Err(p) => set_state(
                    shared,
                    ModelState::Failed(Error::runtime(format!("internal error: {}", panic_message(&*p)))),
                ),
            }
            meter = RateMeter::new(Instant::now());
            // The old session and the new one's loading scratch are freed by now.
            crate::platform::return_freed_memory();
        }

        let frame = match shared.frames.wait(Duration::from_millis(500)) {
            Taken::Closed => break,
            Taken::Value(frame) => frame,
            Taken::Woken | Taken::Empty => {
                meter.roll(Instant::now());
                shared.status.lock().masks_per_second = meter.masks_per_second;
                continue;
            }
        };
        if let Some(s) = segmenter.as_mut() {
            let started = Instant::now();
            let options = *shared.options.lock();
            if options != gated_options {
                gate.reset(); // new options: the next frame is segmented with them at once
                gated_options = options;
            }
            let view = RgbaView::new(frame.width, frame.height, &frame.rgba);
            let time = clock.elapsed().as_secs_f64();
            let result = catch_unwind(AssertUnwindSafe(|| {
                let picture = Picture::of(view);
                match gate.decide(&picture, frame.cut, frame.frame_size, time, refiner.settled()) {
                    Decision::Unchanged => return Ok::<_, Error>(Handled::Unchanged),
                    Decision::Still => refiner.still_picture_next(),
                    Decision::Segment => {}
                }
                let mask = s.segment_with(view, options.mirror_average)?;
                refiner.set_first_shown_lag(shared.first_shown_lag.load(Ordering::Relaxed));
                let shown = refiner.process(view, &picture, mask, frame.cut, frame.seq, frame.frame_size, options);
                Ok(Handled::Segmented(shown))
            }));
            match result {
                Ok(Ok(handled)) => {
                    let segmented = matches!(handled, Handled::Segmented(_));
                    match handled {
                        Handled::Segmented(Some(refined)) => {
                            *shared.mask.lock() = Some(Arc::new(MaskFrame::new(frame.seq, refined)));
                        }
                        Handled::Segmented(None) => {}
                        Handled::Unchanged if frame.cut.look => refiner.look_unchanged(),
                        Handled::Unchanged => {
                            // The mask shown holds for this frame too: lag and sync count from it.
                            if let Some(m) = shared.mask.lock().as_ref().filter(|m| m.seq < frame.seq) {
                                m.holds_through.fetch_max(frame.seq, Ordering::AcqRel);
                            }
                        }
                    }
                    let mut next = shared.next_cut.lock();
                    let cut = refiner.next_cut();
                    if frame.cut.look {
                        last_look = started;
                    }
                    let overdue = options.follow && !refiner.crop().is_full() && last_look.elapsed() >= LOOK_PERIOD;
                    if overdue {
                        last_look = Instant::now(); // handed out now: ask again only if it is lost
                    }
                    *next = NextCut { crop: refiner.crop(), look_due: next.look_due || cut.look || overdue };
                    drop(next);
                    let now = Instant::now();
                    if segmented {
                        meter.record(now - started, now);
                    } else {
                        meter.roll(now);
                    }
                    let mut status = shared.status.lock();
                    status.ms_per_mask = meter.ms_per_mask;
                    status.masks_per_second = meter.masks_per_second;
                    status.idle = gate.idle();
                }
                Ok(Err(e)) if on_device => {
                    // The device took the session but cannot run it: the CPU takes over from the next frame,
                    // starting afresh (the failed frame was taken as the gate's reference).
                    on_device = false;
                    gate.reset();
                    refiner.reset();
                    let config = current.clone().expect("a running session has a config");
                    let reason = format!("run failed: {}", e.message);
                    let cpu = catch_unwind(AssertUnwindSafe(|| {
                        runtime::environment(&config.runtime_library)
                            .and_then(|env| Segmenter::load(&env, &config.model, config.threads))
                    }))
                    .unwrap_or_else(|p| Err(Error::runtime(format!("internal error: {}", panic_message(&*p)))));
                    match cpu {
                        Ok(s) => {
                            segmenter = Some(s);
                            set_device(shared, Device::Cpu, Some(Fallback { wanted: config.device, reason }));
                        }
                        Err(e) => {
                            segmenter = None;
                            *shared.input_size.lock() = None;
                            set_state(shared, ModelState::Failed(e));
                        }
                    }
                }
                Ok(Err(e)) => {
                    segmenter = None;
                    *shared.input_size.lock() = None;
                    set_state(shared, ModelState::Failed(e));
                }
                Err(p) => {
                    segmenter = None;
                    *shared.input_size.lock() = None;
                    let e = Error::inference(format!("internal error: {}", panic_message(&*p)));
                    set_state(shared, ModelState::Failed(e));
                }
            }
        }
        recycle(shared, frame.rgba);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    fn config(path: &str) -> WorkerConfig {
        WorkerConfig {
            runtime_library: runtime::library_from_env().unwrap_or_else(|| "/nonexistent/libonnxruntime.so".into()),
            model: ModelSource::custom(path.into()),
            threads: 1,
            device: Device::Cpu,
        }
    }

    fn wait_for(worker: &Worker, what: impl Fn(&WorkerStatus) -> bool) -> WorkerStatus {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let s = worker.status();
            if what(&s) || Instant::now() > deadline {
                return s;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// Has `worker` run the shipped general model on `device` (one thread) and waits until it is ready.
    fn run_general_model(worker: &Worker, library: PathBuf, device: Device) -> WorkerStatus {
        let model = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("models").join(crate::model::SELFIE_GENERAL.file);
        worker.configure(WorkerConfig {
            runtime_library: library,
            model: ModelSource::catalog(&crate::model::SELFIE_GENERAL, model),
            threads: 1,
            device,
        });
        let s = wait_for(worker, |s| matches!(s.state, ModelState::Ready(_) | ModelState::Failed(_)));
        assert!(matches!(s.state, ModelState::Ready(_)), "{s:?}");
        s
    }

    #[test]
    fn a_bad_model_fails_once_and_stop_joins_promptly() {
        let changes = Arc::new(AtomicUsize::new(0));
        let counter = changes.clone();
        let mut worker = Worker::start("test", move |_| {
            counter.fetch_add(1, Ordering::SeqCst);
        });
        worker.configure(config("/nonexistent/model.onnx"));
        let s = wait_for(&worker, |s| matches!(s.state, ModelState::Failed(_)));
        assert!(matches!(s.state, ModelState::Failed(_)), "{s:?}");
        assert!(worker.failed());
        assert_eq!(worker.input_size(), None);
        // Frames keep arriving while failed: no mask, no new state changes.
        let before = changes.load(Ordering::SeqCst);
        for seq in 0..20 {
            worker.submit(Frame { seq, width: 2, height: 2, rgba: vec![0; 16], cut: Cut::FULL, frame_size: (2, 2) });
        }
        std::thread::sleep(Duration::from_millis(50));
        assert!(worker.latest_mask().is_none());
        assert_eq!(changes.load(Ordering::SeqCst), before);

        let started = Instant::now();
        worker.stop();
        assert!(started.elapsed() < Duration::from_secs(1), "stop took {:?}", started.elapsed());
        assert!(worker.thread.is_none());
    }

    #[test]
    fn an_unusable_device_falls_back_to_the_cpu_and_masks_still_come() {
        let Some(library) = runtime::library_from_env() else {
            eprintln!("ORT_DYLIB_PATH not set: skipped");
            return;
        };
        let changes = Arc::new(AtomicUsize::new(0));
        let counter = changes.clone();
        let mut worker = Worker::start("test", move |_| {
            counter.fetch_add(1, Ordering::SeqCst);
        });
        // This machine has no GPU: the CPU build of ONNX Runtime has no CUDA provider at all, and the GPU build
        // finds no CUDA libraries or driver. Either way the session must come up on the CPU, saying why.
        let s = run_general_model(&worker, library, Device::Cuda);
        if runtime::device_available(Device::Cuda) == Some(true) && s.fallback.is_none() {
            eprintln!("CUDA works here: nothing to fall back from");
            return;
        }
        assert_eq!(s.device, Device::Cpu);
        let fallback = s.fallback.clone().expect("the status names the fallback");
        assert_eq!(fallback.wanted, Device::Cuda);
        let line = fallback.describe();
        eprintln!("{line}");
        assert!(line.starts_with("CUDA unavailable (") && line.ends_with("); running on CPU"), "{line}");
        assert!(!fallback.reason.is_empty());
        let (w, h) = worker.input_size().expect("a model runs");
        for seq in 0..3 {
            worker.submit(Frame {
                seq,
                width: w,
                height: h,
                rgba: vec![128; (w * h * 4) as usize],
                cut: Cut::FULL,
                frame_size: (w, h),
            });
            std::thread::sleep(Duration::from_millis(50));
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        while worker.latest_mask().is_none() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        assert!(worker.latest_mask().is_some(), "no mask from the CPU session");
        worker.stop();
    }

    #[test]
    fn an_unchanged_picture_settles_to_the_keep_alive_and_a_change_is_segmented_at_once() {
        let Some(library) = runtime::library_from_env() else {
            eprintln!("ORT_DYLIB_PATH not set: skipped");
            return;
        };
        let mut worker = Worker::start("test", |_| {});
        worker.set_mask_options(MaskOptions { follow: false, ..MaskOptions::default() });
        run_general_model(&worker, library, Device::Cpu);
        let (w, h) = worker.input_size().expect("a model runs");
        let picture = |shift: u32| -> Vec<u8> {
            (0..w * h).flat_map(|i| [((i + shift) % w * 255 / w) as u8, (i / w * 255 / h) as u8, 90, 255]).collect()
        };
        let submit = |seq: u64, rgba: &[u8]| {
            let mut buffer = worker.take_buffer();
            buffer.extend_from_slice(rgba);
            worker.submit(Frame { seq, width: w, height: h, rgba: buffer, cut: Cut::FULL, frame_size: (w, h) });
        };
        // 2.5 s of one picture at 30 frames a second.
        let still = picture(0);
        let (mut masks, mut last) = (0, None);
        for seq in 0..75 {
            submit(seq, &still);
            std::thread::sleep(Duration::from_millis(33));
            let newest = worker.latest_mask().map(|m| m.seq);
            if newest != last {
                masks += 1;
                last = newest;
            }
        }
        let mask = worker.latest_mask().expect("a mask");
        // The first frame, SETTLE_MASKS more, and a keep-alive a second.
        assert!((3..=7).contains(&masks), "{masks} masks of a still picture in 2.5 s");
        assert!(mask.holds_through() >= 70, "the mask holds for the frames since: {}", mask.holds_through());
        assert!(worker.status().idle);
        // A change is segmented at once.
        submit(75, &picture(w / 3));
        let deadline = Instant::now() + Duration::from_secs(2);
        while worker.latest_mask().is_none_or(|m| m.seq != 75) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(2));
        }
        assert_eq!(worker.latest_mask().map(|m| m.seq), Some(75), "the changed picture's mask");
        std::thread::sleep(Duration::from_millis(20)); // the status is written just after the mask
        assert!(!worker.status().idle);
        worker.stop();
    }

    #[test]
    fn dropping_a_worker_stops_its_thread() {
        let worker = Worker::start("test", |_| {});
        let shared = Arc::downgrade(&worker.shared);
        drop(worker);
        // The thread held the only other reference; once joined, nothing keeps the shared state alive.
        assert!(shared.upgrade().is_none());
    }

    #[test]
    fn a_look_that_never_reached_the_worker_is_due_again() {
        let worker = Worker::start("test", |_| {});
        assert!(!worker.take_cut().look);
        let look = Cut { crop: crate::crop::Crop::FULL, look: true };
        worker.cut_unused(Cut::FULL);
        assert!(!worker.take_cut().look, "an ordinary cut given back asks for no look");
        worker.cut_unused(look);
        assert!(worker.take_cut().look);
        assert!(!worker.take_cut().look, "a look is handed out once");
    }

    #[test]
    fn buffers_are_recycled() {
        let worker = Worker::start("test", |_| {});
        worker.submit(Frame {
            seq: 1,
            width: 1,
            height: 1,
            rgba: Vec::with_capacity(4096),
            cut: Cut::FULL,
            frame_size: (1, 1),
        });
        worker.submit(Frame { seq: 2, width: 1, height: 1, rgba: vec![0; 4], cut: Cut::FULL, frame_size: (1, 1) });
        // The first frame was replaced before the worker took it: its buffer is reusable.
        let deadline = Instant::now() + Duration::from_secs(2);
        while worker.shared.spare_buffers.lock().is_empty() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(1));
        }
        assert!(worker.take_buffer().capacity() >= 4);
    }
}

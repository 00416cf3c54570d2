//! `vbg bench --worker-cpu INPUTS`: what the filter's worker thread costs per second of video, fed in real time
//! as OBS feeds it (a frame every 1/fps seconds, cut to the crop the worker asks for and shrunk on the GPU,
//! a frame still waiting replaced by the next). `still` is the bundled sample picture with webcam-like noise
//! (Gaussian sensor noise of sigma 2 levels per frame and an exposure drift of 1 level a second); any other
//! input is a video file, looped. The CPU time is the worker's threads' own (Linux per-thread accounting:
//! every thread of this process named `vbg-inference`, which includes ONNX Runtime's pool threads it starts).

use crate::json::Json;
use obs_virtual_background::error::Error;
use obs_virtual_background::mask_refiner::MaskOptions;
use obs_virtual_background::offline::compositor::Compositor;
use obs_virtual_background::offline::gpu::Gpu;
use obs_virtual_background::offline::pipeline::{model_source, runtime_library};
use obs_virtual_background::offline::video::LoopingDecoder;
use obs_virtual_background::preprocess::RgbaView;
use obs_virtual_background::settings::Settings;
use obs_virtual_background::worker::{Frame, Worker, WorkerConfig};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Seconds fed before measuring: the model's first runs and the gate settling on a still picture.
const WARMUP_SECONDS: f64 = 3.0;
const STILL_SIZE: (u32, u32) = (1280, 720);
const STILL_FPS: f64 = 30.0;
/// Distinct noise fields the still picture cycles through (a fresh field per frame would cost the feeding
/// thread more than a frame's time; eight differ from each other as much as fresh ones).
const NOISE_FIELDS: usize = 8;

/// One input's measurement.
pub struct Measured {
    pub input: String,
    pub frames_per_second: f64,
    pub masks_per_second: f64,
    /// CPU seconds of the worker's threads per second of video.
    pub worker_cores: f64,
    pub idle_share: f64,
}

impl Measured {
    pub fn json(&self) -> Json {
        Json::obj(vec![
            ("input", Json::Str(self.input.clone())),
            ("frames_per_second", Json::Num(self.frames_per_second)),
            ("masks_per_second", Json::Num(self.masks_per_second)),
            ("worker_cpu_seconds_per_second", Json::Num(self.worker_cores)),
            ("idle_share", Json::Num(self.idle_share)),
        ])
    }
}

/// Frames of one input, at video rate.
enum Source {
    Still { picture: Vec<u8>, noise: Vec<Vec<i8>>, frame: usize },
    Video(LoopingDecoder),
}

impl Source {
    fn open(input: &str) -> Result<Source, Error> {
        if input != "still" {
            return Ok(Source::Video(LoopingDecoder::open(Path::new(input))?));
        }
        let path = sample_picture();
        let img = image::open(&path).map_err(|e| Error::image(format!("cannot read {}: {e}", path.display())))?;
        let (w, h) = STILL_SIZE;
        let picture = img.resize_exact(w, h, image::imageops::FilterType::Triangle).to_rgba8().into_raw();
        let mut state = 0x9E37_79B9_7F4A_7C15u64;
        let mut uniform = move || {
            // xorshift64*: cheap and deterministic.
            state ^= state >> 12;
            state ^= state << 25;
            state ^= state >> 27;
            (state.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 40) as f32 / (1u64 << 24) as f32
        };
        // The sum of four uniforms: near enough a Gaussian, scaled to sigma 2.
        let noise = (0..NOISE_FIELDS)
            .map(|_| {
                (0..(w * h * 3) as usize)
                    .map(|_| {
                        let sum = uniform() + uniform() + uniform() + uniform() - 2.0;
                        (sum * 2.0 * 3f32.sqrt()).round() as i8
                    })
                    .collect()
            })
            .collect();
        Ok(Source::Still { picture, noise, frame: 0 })
    }

    fn size(&self) -> (u32, u32) {
        match self {
            Source::Still { .. } => STILL_SIZE,
            Source::Video(d) => (d.info.width, d.info.height),
        }
    }

    fn fps(&self) -> f64 {
        match self {
            Source::Still { .. } => STILL_FPS,
            Source::Video(d) => d.info.frame_rate(),
        }
    }

    fn next(&mut self, buf: &mut Vec<u8>) -> Result<(), Error> {
        match self {
            Source::Video(d) => d.next_frame(buf),
            Source::Still { picture, noise, frame } => {
                let drift = (*frame as f64 / STILL_FPS) as i32; // 1 level a second
                let n = &noise[*frame % NOISE_FIELDS];
                *frame += 1;
                buf.clear();
                let mut k = 0;
                for px in picture.chunks_exact(4) {
                    for &c in &px[..3] {
                        buf.push((i32::from(c) + drift + i32::from(n[k])).clamp(0, 255) as u8);
                        k += 1;
                    }
                    buf.push(255);
                }
                Ok(())
            }
        }
    }
}

fn sample_picture() -> PathBuf {
    let beside = std::env::current_exe().ok().and_then(|e| e.parent().map(|d| d.join("data/sample/astronaut.png")));
    beside
        .filter(|p| p.is_file())
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("data/sample/astronaut.png"))
}

/// CPU seconds (user and system) of the thread or process whose `/proc/.../stat` file is `stat` (Linux).
pub fn stat_cpu_seconds(stat: &Path) -> Option<f64> {
    let text = std::fs::read_to_string(stat).ok()?;
    let fields: Vec<&str> = text.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks: f64 = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    Some(ticks / 100.0) // USER_HZ, fixed at 100 on Linux
}

/// CPU seconds used so far by this process's threads named `name` (Linux; None elsewhere).
fn threads_cpu_seconds(name: &str) -> Option<f64> {
    let mut total = 0.0;
    for task in std::fs::read_dir("/proc/self/task").ok()?.flatten() {
        let comm = std::fs::read_to_string(task.path().join("comm")).unwrap_or_default();
        if comm.trim_end() == name {
            total += stat_cpu_seconds(&task.path().join("stat")).unwrap_or(0.0);
        }
    }
    Some(total)
}

/// Feeds `input` to a fresh worker with `settings` for `seconds` of video after a warm-up.
pub fn measure(input: &str, settings: &Settings, seconds: f64) -> Result<Measured, Error> {
    let mut source = Source::open(input)?;
    let fps = source.fps();
    let size = source.size();
    let mut worker = Worker::start("bench", |_| {});
    worker.set_mask_options(MaskOptions::from_settings(settings));
    worker.configure(WorkerConfig {
        runtime_library: runtime_library(),
        model: model_source(settings)?,
        threads: settings.threads as usize,
        device: obs_virtual_background::settings::Device::Cpu,
    });
    let deadline = Instant::now() + Duration::from_secs(30);
    let (w, h) = loop {
        if let Some(s) = worker.input_size() {
            break s;
        }
        if worker.failed() || Instant::now() > deadline {
            return Err(Error::runtime("the worker did not load the model"));
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let mut compositor = Compositor::new(Gpu::new()?)?;
    let mut frame = Vec::new();
    let period = Duration::from_secs_f64(1.0 / fps);
    let warmup = (WARMUP_SECONDS * fps).round() as u64;
    let total = warmup + (seconds * fps).round() as u64;
    let started = Instant::now();
    let (mut cpu_start, mut masks, mut last_mask, mut idle) = (0.0, 0u64, None, 0u64);
    for seq in 0..total {
        if seq == warmup {
            cpu_start = threads_cpu_seconds("vbg-inference").unwrap_or(0.0);
            masks = 0;
        }
        source.next(&mut frame)?;
        compositor.upload_frame(RgbaView::new(size.0, size.1, &frame));
        let cut = worker.take_cut();
        let mut rgba = worker.take_buffer();
        rgba.extend_from_slice(&compositor.analysis_input(w, h, cut.crop));
        worker.submit(Frame { seq, width: w, height: h, rgba, cut, frame_size: size });
        // Until this frame's time is up, count the masks the worker publishes.
        let due = started + period * (seq as u32 + 1);
        loop {
            let newest = worker.latest_mask().map(|m| m.seq);
            if newest.is_some() && newest != last_mask {
                last_mask = newest;
                masks += 1;
            }
            let now = Instant::now();
            if now >= due {
                break;
            }
            std::thread::sleep((due - now).min(Duration::from_millis(2)));
        }
        if seq >= warmup && worker.status().idle {
            idle += 1;
        }
        if worker.failed() {
            return Err(Error::runtime("inference failed in the worker"));
        }
    }
    let cpu = threads_cpu_seconds("vbg-inference").unwrap_or(0.0) - cpu_start;
    worker.stop();
    let measured_frames = (total - warmup) as f64;
    let video_seconds = measured_frames / fps;
    let wall = started.elapsed().as_secs_f64() - warmup as f64 / fps;
    if wall > 1.1 * video_seconds {
        eprintln!("vbg: {input}: frames were fed in {wall:.1} s for {video_seconds:.1} s of video (a busy machine)");
    }
    Ok(Measured {
        input: Path::new(input).file_name().map_or(input.to_string(), |n| n.to_string_lossy().into_owned()),
        frames_per_second: fps,
        masks_per_second: masks as f64 / video_seconds,
        worker_cores: cpu / video_seconds,
        idle_share: idle as f64 / measured_frames,
    })
}

//! `vbg bench`: where the time goes, per model and thread count, and what compositing costs on the GPU.

use crate::args::{usage, Args};
use crate::json::Json;
use obs_virtual_background::error::Error;
use obs_virtual_background::mask::Mask;
use obs_virtual_background::model::{CatalogEntry, CATALOG, MODNET, SELFIE_GENERAL, SELFIE_LANDSCAPE};
use obs_virtual_background::offline::compositor::Compositor;
use obs_virtual_background::offline::gpu::Gpu;
use obs_virtual_background::offline::pipeline::{model_file, runtime_library};
use obs_virtual_background::preprocess::RgbaView;
use obs_virtual_background::runtime;
use obs_virtual_background::segmenter::{ModelSource, Segmenter};
use obs_virtual_background::settings::{BackgroundMode, Settings};
use obs_virtual_background::worker::{Frame, Worker, WorkerConfig};
use std::time::{Duration, Instant};

const WARMUP: usize = 10;
const WORKER_SECONDS: f64 = 3.0;
const COMPOSITE_SIZES: [(u32, u32); 2] = [(1280, 720), (1920, 1080)];
const COMPOSITE_MODES: [BackgroundMode; 2] = [BackgroundMode::Blur, BackgroundMode::Color];

/// Median and 90th percentile, in milliseconds.
struct Spread {
    median: f64,
    p90: f64,
}

impl Spread {
    fn of(mut samples: Vec<Duration>) -> Spread {
        samples.sort();
        let at = |p: f64| samples[((samples.len() - 1) as f64 * p).round() as usize].as_secs_f64() * 1000.0;
        Spread { median: at(0.5), p90: at(0.9) }
    }

    fn json(&self) -> Json {
        Json::obj(vec![("median_ms", Json::Num(self.median)), ("p90_ms", Json::Num(self.p90))])
    }
}

/// A deterministic picture with structure (gradients and stripes) so the model does real work.
fn test_frame(w: u32, h: u32) -> Vec<u8> {
    (0..w * h).flat_map(|i| [(i % w * 255 / w) as u8, (i / w * 255 / h) as u8, ((i % 13) * 19) as u8, 255]).collect()
}

/// A centred disc, as a person-shaped stand-in.
fn test_mask(w: u32, h: u32) -> Mask {
    let data = (0..w * h)
        .map(|i| {
            let (x, y) = ((i % w) as f32 / w as f32 - 0.5, (i / w) as f32 / h as f32 - 0.5);
            if x * x + y * y < 0.09 {
                255
            } else {
                0
            }
        })
        .collect();
    Mask { width: w, height: h, data }
}

pub fn run(raw: &[String]) -> Result<(), Error> {
    let args = Args::parse(raw, &["--runs", "--json"], &[])?;
    let runs: usize = args.number("--runs", 200)?.max(1);
    let models: Vec<&CatalogEntry> = match args.value("--model").unwrap_or("all") {
        "all" => CATALOG.iter().filter(|e| model_file(e.file).is_file()).collect(),
        "general" => vec![&SELFIE_GENERAL],
        "landscape" => vec![&SELFIE_LANDSCAPE],
        "modnet" => vec![&MODNET],
        other => return Err(usage(format!("--model: '{other}' is not one of general, landscape, modnet, all"))),
    };
    let threads: Vec<usize> = args
        .value("--threads")
        .unwrap_or("1,2")
        .split(',')
        .map(|t| t.trim().parse().map_err(|_| usage(format!("--threads: '{t}' is not a number"))))
        .collect::<Result<_, _>>()?;

    let library = runtime_library();
    let environment = runtime::environment(&library)?;
    let mut model_rows = Vec::new();
    println!(
        "{:<40} {:>3} {:>14} {:>14} {:>14} {:>9}",
        "model (median / p90 ms)", "thr", "preprocess", "inference", "postprocess", "masks/s"
    );
    for entry in &models {
        let source = ModelSource::catalog(entry, model_file(entry.file));
        for &t in &threads {
            let mut model = Segmenter::load(&environment, &source, t)?;
            let (w, h) = (model.spec().width, model.spec().height);
            let frame = test_frame(w, h);
            let (mut pre, mut inf, mut post) = (Vec::new(), Vec::new(), Vec::new());
            for i in 0..WARMUP + runs {
                let (_, timing) = model.segment_timed(RgbaView::new(w, h, &frame))?;
                if i >= WARMUP {
                    pre.push(timing.preprocess);
                    inf.push(timing.inference);
                    post.push(timing.postprocess);
                }
            }
            let (pre, inf, post) = (Spread::of(pre), Spread::of(inf), Spread::of(post));
            let config = WorkerConfig {
                runtime_library: library.clone(),
                model: source.clone(),
                threads: t,
                device: obs_virtual_background::settings::Device::Cpu,
            };
            let rate = worker_rate(config, w, h, &frame)?;
            let cell = |s: &Spread| format!("{:.2} / {:.2}", s.median, s.p90);
            println!(
                "{:<40} {:>3} {:>14} {:>14} {:>14} {:>9.1}",
                entry.label,
                t,
                cell(&pre),
                cell(&inf),
                cell(&post),
                rate
            );
            model_rows.push(Json::obj(vec![
                ("model", Json::Str(entry.choice.key().into())),
                ("threads", Json::Num(t as f64)),
                ("preprocess", pre.json()),
                ("inference", inf.json()),
                ("postprocess", post.json()),
                ("worker_masks_per_second", Json::Num(rate)),
            ]));
        }
    }

    // The setting flags (--edge-refine, --temporal, --grow ...) shape the compositing, to price each stage;
    // `--model` picks the models above and does not apply here.
    let base = if args.value("--model") == Some("all") { Settings::read(&args) } else { args.settings()? };
    let mut compositor = Compositor::new(Gpu::new()?)?;
    let adapter = compositor.gpu().describe();
    println!("\ncompositing on {adapter} (upload, passes, read back; median / p90 ms)");
    let mask = test_mask(256, 256);
    let mut composite_rows = Vec::new();
    for (w, h) in COMPOSITE_SIZES {
        let frame = test_frame(w, h);
        for mode in COMPOSITE_MODES {
            let settings = Settings { mode, ..base.clone() };
            let mut samples = Vec::new();
            for i in 0..WARMUP + runs.min(60) {
                let started = Instant::now();
                compositor.upload_frame(RgbaView::new(w, h, &frame));
                let _ = compositor.composite(&mask, &settings);
                if i >= WARMUP {
                    samples.push(started.elapsed());
                }
            }
            let s = Spread::of(samples);
            println!("  {w}x{h} {:<12} {:>8.2} / {:.2}", mode.key(), s.median, s.p90);
            composite_rows.push(Json::obj(vec![
                ("width", Json::Num(w.into())),
                ("height", Json::Num(h.into())),
                ("mode", Json::Str(mode.key().into())),
                ("frame", s.json()),
            ]));
        }
    }
    if let Some(path) = args.value("--json") {
        let report = Json::obj(vec![
            ("models", Json::Arr(model_rows)),
            ("adapter", Json::Str(adapter)),
            ("composite", Json::Arr(composite_rows)),
        ]);
        std::fs::write(path, report.render()).map_err(|e| Error::image(format!("cannot write {path}: {e}")))?;
    }
    Ok(())
}

/// Masks per second through the plugin's worker thread: submit a frame, wait for its mask, repeat.
fn worker_rate(config: WorkerConfig, w: u32, h: u32, frame: &[u8]) -> Result<f64, Error> {
    let mut worker = Worker::start("bench", |_| {});
    worker.configure(config);
    let deadline = Instant::now() + Duration::from_secs(20);
    while worker.input_size().is_none() {
        if worker.failed() || Instant::now() > deadline {
            return Err(Error::runtime("the worker did not load the model"));
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    let started = Instant::now();
    let mut seq = 0;
    while started.elapsed().as_secs_f64() < WORKER_SECONDS {
        seq += 1;
        let mut rgba = worker.take_buffer();
        rgba.extend_from_slice(frame);
        worker.submit(Frame { seq, width: w, height: h, rgba });
        while worker.latest_mask().is_none_or(|m| m.seq != seq) {
            if worker.failed() {
                return Err(Error::runtime("inference failed in the worker"));
            }
            std::thread::sleep(Duration::from_micros(50));
        }
    }
    let rate = seq as f64 / started.elapsed().as_secs_f64();
    worker.stop();
    Ok(rate)
}

//! `vbg bench`: where the time goes, per model and thread count, and what compositing costs on the GPU.

use crate::args::{usage, Args};
use crate::json::Json;
use crate::worker_cpu;
use obs_virtual_background::background_image::DecodedImage;
use obs_virtual_background::change::Picture;
use obs_virtual_background::crop_tracker::Cut;
use obs_virtual_background::error::Error;
use obs_virtual_background::mask::Mask;
use obs_virtual_background::mask_refiner::{MaskOptions, MaskRefiner, RefinedMask};
use obs_virtual_background::model::{CatalogEntry, CATALOG, MODNET, SELFIE_GENERAL, SELFIE_LANDSCAPE};
use obs_virtual_background::offline::compositor::{Compositor, Pass};
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
const COMPOSITE_MODES: [BackgroundMode; 4] =
    [BackgroundMode::Blur, BackgroundMode::Image, BackgroundMode::Color, BackgroundMode::Transparent];

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
    let args = Args::parse(raw, &["--runs", "--json", "--worker-cpu", "--seconds"], &[])?;
    if let Some(inputs) = args.value("--worker-cpu") {
        return worker_cpu_section(inputs, &args);
    }
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
    let mut refine_rows = Vec::new();
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
            let raw_rate = worker_rate(config.clone(), w, h, &frame, false)?;
            let rate = worker_rate(config, w, h, &frame, true)?;
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
            if t == threads[0] {
                refine_rows.push((entry.label, w, h, refine_cost(w, h, &frame, runs), raw_rate, rate));
            }
            model_rows.push(Json::obj(vec![
                ("model", Json::Str(entry.choice.key().into())),
                ("threads", Json::Num(t as f64)),
                ("preprocess", pre.json()),
                ("inference", inf.json()),
                ("postprocess", post.json()),
                ("worker_masks_per_second", Json::Num(rate)),
                ("worker_masks_per_second_unrefined", Json::Num(raw_rate)),
            ]));
        }
    }
    println!("\nmask refinement on the worker (temporal smoothing 0.9 + guided fit; median / p90 ms)");
    for (label, w, h, (cost, cpu), raw_rate, rate) in &refine_rows {
        let cpu = cpu.map_or("-".to_string(), |c| format!("{c:.2}"));
        println!(
            "  {label:<38} {w}x{h} {:>6.3} / {:.3} (CPU {cpu} ms)   masks/s {raw_rate:.1} without, {rate:.1} with ({:+.1} %)",
            cost.median,
            cost.p90,
            (rate / raw_rate - 1.0) * 100.0
        );
    }

    // The setting flags (--edge-refine, --temporal, --grow ...) shape the compositing, to price each stage;
    // `--model` picks the models above and does not apply here.
    let base = if args.value("--model") == Some("all") { Settings::read(&args) } else { args.settings()? };
    let mut compositor = Compositor::new(Gpu::new()?)?;
    let adapter = compositor.gpu().describe();
    println!("\ncompositing on {adapter} (upload, passes, read back; median / p90 ms)");
    let small = test_frame(256, 256);
    let full = MaskOptions { follow: false, ..MaskOptions::default() };
    let view = RgbaView::new(256, 256, &small);
    let refined = MaskRefiner::default()
        .process(view, &Picture::of(view), test_mask(256, 256), Cut::FULL, 0, (256, 256), full)
        .expect("a mask of the whole frame is shown");
    let picture = DecodedImage { width: 640, height: 360, rgba: test_frame(640, 360) };
    compositor.set_background(Some(&picture));
    let mut composite_rows = Vec::new();
    for (w, h) in COMPOSITE_SIZES {
        let frame = test_frame(w, h);
        for mode in COMPOSITE_MODES {
            let settings = Settings { mode, ..base.clone() };
            let mut samples = Vec::new();
            for i in 0..WARMUP + runs.min(60) {
                let started = Instant::now();
                compositor.upload_frame(RgbaView::new(w, h, &frame));
                let _ = compositor.composite(&refined, &settings);
                if i >= WARMUP {
                    samples.push(started.elapsed());
                }
            }
            let s = Spread::of(samples);
            let passes = pass_times(&mut compositor, &refined, &settings, RgbaView::new(w, h, &frame));
            let listed: Vec<String> =
                passes.iter().map(|(name, (pw, ph), ms)| format!("{name} {pw}x{ph} {ms:.2}")).collect();
            println!(
                "  {w}x{h} {:<12} {:>8.2} / {:.2}   passes (ms): {}",
                mode.key(),
                s.median,
                s.p90,
                listed.join(", ")
            );
            let pass_json = passes
                .iter()
                .map(|(name, (pw, ph), ms)| {
                    Json::obj(vec![
                        ("pass", Json::Str(name.to_string())),
                        ("width", Json::Num(f64::from(*pw))),
                        ("height", Json::Num(f64::from(*ph))),
                        ("median_ms", Json::Num(*ms)),
                    ])
                })
                .collect();
            composite_rows.push(Json::obj(vec![
                ("width", Json::Num(w.into())),
                ("height", Json::Num(h.into())),
                ("mode", Json::Str(mode.key().into())),
                ("frame", s.json()),
                ("passes", Json::Arr(pass_json)),
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

/// `--worker-cpu`: the worker thread's CPU time per second of video for each input (`worker_cpu`).
fn worker_cpu_section(inputs: &str, args: &Args) -> Result<(), Error> {
    let settings = args.settings()?;
    let seconds: f64 = args.number("--seconds", 20.0)?;
    println!("worker thread CPU per second of video, fed in real time ({seconds} s each, after a warm-up)");
    println!("  {:<28} {:>6} {:>8} {:>11} {:>6}", "input", "fps", "masks/s", "worker CPU", "idle");
    let mut rows = Vec::new();
    for input in inputs.split(',').map(str::trim).filter(|i| !i.is_empty()) {
        let m = worker_cpu::measure(input, &settings, seconds)?;
        println!(
            "  {:<28} {:>6.1} {:>8.2} {:>10.3}c {:>5.0}%",
            m.input,
            m.frames_per_second,
            m.masks_per_second,
            m.worker_cores,
            100.0 * m.idle_share
        );
        rows.push(m.json());
    }
    if let Some(path) = args.value("--json") {
        let report = Json::obj(vec![("worker_cpu", Json::Arr(rows))]);
        std::fs::write(path, report.render()).map_err(|e| Error::image(format!("cannot write {path}: {e}")))?;
    }
    Ok(())
}

/// Median time of each compositing pass, each submitted and waited for alone (wall time on the GPU's queue).
fn pass_times(
    compositor: &mut Compositor,
    refined: &RefinedMask,
    settings: &Settings,
    frame: RgbaView<'_>,
) -> Vec<(&'static str, (u32, u32), f64)> {
    compositor.time_passes(true);
    let mut samples: Vec<(Pass, (u32, u32), Vec<Duration>)> = Vec::new();
    for _ in 0..15 {
        compositor.upload_frame(frame);
        let _ = compositor.composite(refined, settings);
        for (i, (pass, size, took)) in compositor.last_timing().unwrap_or_default().passes.into_iter().enumerate() {
            if samples.len() <= i {
                samples.push((pass, size, Vec::new()));
            }
            samples[i].2.push(took);
        }
    }
    compositor.time_passes(false);
    samples.into_iter().map(|(pass, size, times)| (pass.entry_point(), size, Spread::of(times).median)).collect()
}

/// Refinement as the filter's defaults run it: smoothing, the guided filter, following the person.
const REFINE_OPTIONS: MaskOptions = MaskOptions {
    smoothing: 0.9,
    edge_refine: true,
    follow: true,
    threshold: 0.5,
    mirror_average: false,
    predict: true,
};

/// The worker's added cost per mask: temporal smoothing, the guided filter's fit and the crop tracker, at the
/// model's size, on a person-shaped mask. The same mask through a moving crop reads as a person in motion:
/// the tracker moves the crop and the temporal and guided state are resampled on most masks (the worst case).
/// Wall time per run, and the thread's CPU time over all runs (which a busy neighbour inflates less).
fn refine_cost(w: u32, h: u32, frame: &[u8], runs: usize) -> (Spread, Option<f64>) {
    let view = RgbaView::new(w, h, frame);
    let mask = test_mask(w, h);
    let picture = Picture::of(view);
    let mut refiner = MaskRefiner::default();
    let mut samples = Vec::new();
    let mut cpu_start = None;
    for i in 0..WARMUP + runs {
        if i == WARMUP {
            cpu_start = thread_cpu_ms();
        }
        let m = mask.clone();
        let started = Instant::now();
        let refined = refiner.process(view, &picture, m, refiner.next_cut(), i as u64, (w, h), REFINE_OPTIONS);
        if i >= WARMUP {
            samples.push(started.elapsed());
        }
        std::hint::black_box(refined);
    }
    let cpu = cpu_start.zip(thread_cpu_ms()).map(|(a, b)| (b - a) / runs as f64);
    (Spread::of(samples), cpu)
}

/// CPU time this thread has used, in ms (Linux: /proc/thread-self/stat, in clock ticks of 10 ms).
fn thread_cpu_ms() -> Option<f64> {
    worker_cpu::stat_cpu_seconds(std::path::Path::new("/proc/thread-self/stat")).map(|s| s * 1000.0)
}

/// Masks per second through the plugin's worker thread: submit a frame, wait for its mask, repeat.
fn worker_rate(config: WorkerConfig, w: u32, h: u32, frame: &[u8], refine: bool) -> Result<f64, Error> {
    let mut worker = Worker::start("bench", |_| {});
    worker.set_mask_options(if refine {
        REFINE_OPTIONS
    } else {
        MaskOptions { smoothing: 0.0, edge_refine: false, follow: false, ..MaskOptions::default() }
    });
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
        worker.submit(Frame { seq, width: w, height: h, rgba, cut: worker.take_cut(), frame_size: (w, h) });
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

//! Memory over time and over setting changes, without OBS (issue 33): the worker segments a moving picture
//! at 30 frames a second while, phase by phase, nothing changes, only the mask options change, or only the
//! model switches. Each phase reports the resident memory and glibc's own account (in use, free inside the
//! heap, mapped), so a real leak (in use grows) is told from fragmentation (free grows) and from a plateau.
//!
//! Not a test of CI (it takes minutes): `VBG_SOAK=1 cargo test --release --test memory_soak -- --nocapture`,
//! `VBG_SOAK_SECONDS` per phase (default 60), `VBG_SOAK_CHANGE_MS` between changes (default 5000, as the
//! long run), `VBG_SOAK_OUT` for the JSON (default artifacts/memory-soak.json). Needs `ORT_DYLIB_PATH`.

use obs_virtual_background::crop_tracker::Cut;
use obs_virtual_background::mask_refiner::MaskOptions;
use obs_virtual_background::model::{self, CatalogEntry};
use obs_virtual_background::runtime;
use obs_virtual_background::segmenter::ModelSource;
use obs_virtual_background::settings::Device;
use obs_virtual_background::status::ModelState;
use obs_virtual_background::worker::{Frame, Worker, WorkerConfig};
use std::path::PathBuf;
use std::time::{Duration, Instant};

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// Resident memory of this process in MB.
fn rss_mb() -> f64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: f64 = statm.split_whitespace().nth(1).and_then(|v| v.parse().ok()).unwrap_or(0.0);
    pages * 4096.0 / 1e6
}

/// glibc's account of the heap, in MB: (in use, free inside the heap, mapped separately).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn heap_mb() -> (f64, f64, f64) {
    // SAFETY: mallinfo2 only reads the allocator's counters.
    let m = unsafe { libc::mallinfo2() };
    (m.uordblks as f64 / 1e6, m.fordblks as f64 / 1e6, m.hblkhd as f64 / 1e6)
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn heap_mb() -> (f64, f64, f64) {
    (0.0, 0.0, 0.0)
}

fn config(library: &std::path::Path, entry: &'static CatalogEntry) -> WorkerConfig {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("models").join(entry.file);
    WorkerConfig {
        runtime_library: library.to_path_buf(),
        model: ModelSource::catalog(entry, path),
        threads: 1,
        device: Device::Cpu,
    }
}

fn wait_ready(worker: &Worker) {
    let t = Instant::now();
    while t.elapsed() < Duration::from_secs(30) {
        if matches!(worker.status().state, ModelState::Ready(_)) && worker.input_size().is_some() {
            return;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    panic!("model not ready: {:?}", worker.status().state);
}

/// A bright square moving over a dark background, as the worker's input.
fn frame(seq: u64, (w, h): (u32, u32), buffer: Vec<u8>) -> Frame {
    let mut rgba = buffer;
    rgba.clear();
    rgba.resize((w * h * 4) as usize, 40);
    let x0 = (seq * 3 % w as u64) as u32;
    for y in h / 4..h * 3 / 4 {
        for x in x0..(x0 + w / 3).min(w) {
            let i = ((y * w + x) * 4) as usize;
            rgba[i..i + 3].copy_from_slice(&[220, 200, 180]);
        }
    }
    Frame { seq, width: w, height: h, rgba, cut: Cut::FULL, frame_size: (w, h) }
}

#[test]
fn memory_over_time_and_changes() {
    if std::env::var_os("VBG_SOAK").is_none() {
        eprintln!("memory soak: set VBG_SOAK=1 to run it");
        return;
    }
    let library = runtime::library_from_env().expect("ORT_DYLIB_PATH");
    let seconds = env_u64("VBG_SOAK_SECONDS", 60);
    let change = Duration::from_millis(env_u64("VBG_SOAK_CHANGE_MS", 5000));
    let worker = Worker::start("soak", |_| {});
    worker.configure(config(&library, &model::SELFIE_GENERAL));
    wait_ready(&worker);
    let options = [
        MaskOptions::default(),
        MaskOptions { threshold: 0.6, ..MaskOptions::default() },
        MaskOptions { edge_refine: false, ..MaskOptions::default() },
        MaskOptions { follow: true, ..MaskOptions::default() },
        MaskOptions { smoothing: 0.0, ..MaskOptions::default() },
    ];
    let mut report = Vec::new();
    let mut seq = 0u64;
    for phase in ["none", "options", "models"] {
        let start = Instant::now();
        let mut next_change = change;
        let mut changes = 0usize;
        let mut samples = Vec::new();
        let mut next_sample = Duration::ZERO;
        while start.elapsed() < Duration::from_secs(seconds) {
            let t = start.elapsed();
            if t >= next_change {
                changes += 1;
                next_change += change;
                match phase {
                    "options" => worker.set_mask_options(options[changes % options.len()]),
                    "models" => {
                        let entry = if changes % 2 == 1 { &model::SELFIE_LANDSCAPE } else { &model::SELFIE_GENERAL };
                        worker.configure(config(&library, entry));
                        wait_ready(&worker);
                    }
                    _ => {}
                }
            }
            if let Some(size) = worker.input_size() {
                seq += 1;
                worker.submit(frame(seq, size, worker.take_buffer()));
            }
            if t >= next_sample {
                let (used, free, mapped) = heap_mb();
                samples.push(format!(
                    "{{\"t\":{:.1},\"changes\":{changes},\"rss_mb\":{:.2},\"heap_used_mb\":{used:.2},\"heap_free_mb\":{free:.2},\"mapped_mb\":{mapped:.2}}}",
                    t.as_secs_f64(),
                    rss_mb()
                ));
                next_sample += Duration::from_secs(1);
            }
            std::thread::sleep(Duration::from_millis(33));
        }
        let (used, free, mapped) = heap_mb();
        eprintln!(
            "{phase:8} {changes:4} changes: rss {:.1} MB, heap in use {used:.1}, free in heap {free:.1}, mapped {mapped:.1}",
            rss_mb()
        );
        report.push(format!("\"{phase}\":{{\"changes\":{changes},\"samples\":[{}]}}", samples.join(",")));
    }
    let out = std::env::var("VBG_SOAK_OUT")
        .map(PathBuf::from)
        .unwrap_or_else(|_| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("artifacts/memory-soak.json"));
    let _ = std::fs::create_dir_all(out.parent().unwrap());
    std::fs::write(&out, format!("{{{}}}\n", report.join(","))).unwrap();
    eprintln!("written {}", out.display());
}

//! Inference benchmark: the worker's per-frame CPU work (tensor fill, model, mask extraction) for each shipped
//! model and thread count, on a frame already at the model's size as the plugin delivers it.
//!
//! `cargo bench --bench inference` (needs ONNX Runtime: ORT_DYLIB_PATH or the copy scripts/setup caches).

use obs_virtual_background::model::CATALOG;
use obs_virtual_background::preprocess::RgbaView;
use obs_virtual_background::runtime;
use obs_virtual_background::segmenter::{ModelSource, Segmenter};
use std::path::PathBuf;
use std::time::Duration;

const WARMUP: usize = 20;
const RUNS: usize = 200;

fn runtime_library() -> PathBuf {
    runtime::library_from_env().unwrap_or_else(|| {
        let home = PathBuf::from(std::env::var_os("HOME").unwrap_or_default());
        home.join(".cache/obs-virtual-background/ort").join(runtime::LIBRARY_FILE)
    })
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[i].as_secs_f64() * 1000.0
}

fn main() {
    let env = runtime::environment(&runtime_library()).expect("ONNX Runtime loads");
    let models = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("models");
    println!("{:<40} {:>7} {:>10} {:>10} {:>10} {:>10}", "model", "threads", "pre ms", "infer ms", "post ms", "total p90");
    for entry in CATALOG {
        for threads in [1, 2] {
            let source = ModelSource {
                path: models.join(entry.file),
                label: entry.label.into(),
                normalization: entry.normalization,
            };
            let mut model = Segmenter::load(&env, &source, threads).expect("model loads");
            let (w, h) = (model.spec().width, model.spec().height);
            // A deterministic non-trivial picture: gradients, so the model does real work.
            let frame: Vec<u8> = (0..w * h).flat_map(|i| [(i % w) as u8, (i / w) as u8, (i % 97) as u8, 255]).collect();
            let mut pre = Vec::new();
            let mut infer = Vec::new();
            let mut post = Vec::new();
            let mut total = Vec::new();
            for run in 0..WARMUP + RUNS {
                let (_, t) = model.segment_timed(RgbaView::new(w, h, &frame)).expect("inference runs");
                if run >= WARMUP {
                    pre.push(t.preprocess);
                    infer.push(t.inference);
                    post.push(t.postprocess);
                    total.push(t.preprocess + t.inference + t.postprocess);
                }
            }
            for v in [&mut pre, &mut infer, &mut post, &mut total] {
                v.sort();
            }
            println!(
                "{:<40} {:>7} {:>10.3} {:>10.3} {:>10.3} {:>10.3}",
                entry.label,
                threads,
                percentile(&pre, 0.5),
                percentile(&infer, 0.5),
                percentile(&post, 0.5),
                percentile(&total, 0.9)
            );
        }
    }
}

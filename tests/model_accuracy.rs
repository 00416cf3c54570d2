//! Accuracy of the shipped general model through the plugin's own CPU pipeline (area downscale, model,
//! bilinear upsampling, threshold 0.5) on the person sets in ../shared/eval.
//!
//! Needs the ONNX Runtime library (`ORT_DYLIB_PATH`, or the copy scripts/setup caches) and the eval data
//! (`VBG_EVAL_DIR`, default ../shared/eval beside the repo).

use obs_virtual_background::mask::person_alpha;
use obs_virtual_background::model::SELFIE_GENERAL;
use obs_virtual_background::preprocess::RgbaView;
use obs_virtual_background::runtime;
use obs_virtual_background::segmenter::{ModelSource, Segmenter};
use std::path::{Path, PathBuf};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn eval_dir() -> PathBuf {
    std::env::var_os("VBG_EVAL_DIR").map(PathBuf::from).unwrap_or_else(|| repo().join("../shared/eval"))
}

fn runtime_library() -> PathBuf {
    runtime::library_from_env().unwrap_or_else(|| {
        let cache = std::env::var_os("XDG_CACHE_HOME")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(".cache"));
        cache.join("obs-virtual-background/ort").join(runtime::LIBRARY_FILE)
    })
}

fn general_model() -> Segmenter {
    let library = runtime_library();
    assert!(library.is_file(), "ONNX Runtime not found at {} (run scripts/setup)", library.display());
    let env = runtime::environment(&library).expect("ONNX Runtime loads");
    let source = ModelSource {
        path: repo().join("models").join(SELFIE_GENERAL.file),
        label: SELFIE_GENERAL.label.into(),
        normalization: SELFIE_GENERAL.normalization,
    };
    Segmenter::load(&env, &source, 2).expect("the shipped model loads")
}

/// Rows of `index.csv` as (id, column -> value), skipping those flagged `recommended_exclude`.
fn index(set: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(set.join("index.csv")).expect("index.csv");
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let exclude = header.iter().position(|h| *h == "recommended_exclude");
    lines
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.split(',').collect::<Vec<_>>())
        .filter(|cols| exclude.is_none_or(|i| cols.get(i) != Some(&"1")))
        .map(|cols| cols[0].to_string())
        .collect()
}

fn mean_iou(set_name: &str) -> (f64, usize) {
    let set = eval_dir().join(set_name);
    assert!(set.is_dir(), "eval set {} not found (set VBG_EVAL_DIR)", set.display());
    let mut model = general_model();
    let mut ious = Vec::new();
    for id in index(&set) {
        let picture = image::open(set.join("images").join(format!("{id}.jpg"))).unwrap().into_rgba8();
        let truth = image::open(set.join("masks").join(format!("{id}.png"))).unwrap().into_luma8();
        let (w, h) = picture.dimensions();
        assert_eq!(truth.dimensions(), (w, h), "{id}: mask size differs from the photo");
        let mask = model.segment(RgbaView::new(w, h, picture.as_raw())).unwrap();
        let probability = mask.upsample(w, h);
        let (mut inter, mut union) = (0u64, 0u64);
        for (p, t) in probability.iter().zip(truth.as_raw()) {
            let (p, t) = (person_alpha(*p, 0.5, 0.0) >= 0.5, *t >= 128);
            inter += u64::from(p && t);
            union += u64::from(p || t);
        }
        ious.push(if union == 0 { 1.0 } else { inter as f64 / union as f64 });
    }
    let n = ious.len();
    (ious.iter().sum::<f64>() / n as f64, n)
}

#[test]
fn general_model_on_ccp_fashion_person() {
    let (iou, n) = mean_iou("ccp_fashion_person");
    println!("ccp_fashion_person: n={n} mean IoU={iou:.4}");
    assert!(n >= 150, "too few images scored: {n}");
    assert!(iou >= 0.90, "mean IoU {iou:.4} < 0.90");
}

#[test]
fn general_model_on_humanseg_vikram_removebg() {
    let (iou, n) = mean_iou("humanseg_vikram_removebg");
    println!("humanseg_vikram_removebg: n={n} mean IoU={iou:.4}");
    assert!(n >= 250, "too few images scored: {n}");
    assert!(iou >= 0.85, "mean IoU {iou:.4} < 0.85");
}

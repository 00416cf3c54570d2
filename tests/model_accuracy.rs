//! Accuracy of the shipped general model through the plugin's own CPU pipeline (area downscale, model,
//! bilinear upsampling, threshold 0.5) on the person sets in ../shared/eval.
//!
//! Needs the ONNX Runtime library (`ORT_DYLIB_PATH`, or the copy scripts/setup caches) and the eval data
//! (`VBG_EVAL_DIR`, default ../shared/eval beside the repo).

use obs_virtual_background::eval::dataset::{self, EvalSet};
use obs_virtual_background::eval::metrics;
use obs_virtual_background::mask::person_alpha;
use obs_virtual_background::model::SELFIE_GENERAL;
use obs_virtual_background::preprocess::RgbaView;
use obs_virtual_background::runtime;
use obs_virtual_background::segmenter::{ModelSource, Segmenter};
use std::path::PathBuf;

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
    let source = ModelSource::catalog(&SELFIE_GENERAL, repo().join("models").join(SELFIE_GENERAL.file));
    Segmenter::load(&env, &source, 2).expect("the shipped model loads")
}

fn mean_iou(set_name: &str) -> (f64, usize) {
    let set = eval_dir().join(set_name);
    assert!(set.is_dir(), "eval set {} not found (set VBG_EVAL_DIR)", set.display());
    let EvalSet::Images(samples) = dataset::open(&set).expect("eval set opens") else {
        panic!("{set_name} is not an image set");
    };
    let mut model = general_model();
    let mut ious = Vec::new();
    for s in &samples {
        let (w, h, picture) = dataset::load_rgba(&s.image).unwrap();
        let (tw, th, truth) = dataset::load_gray(s.mask.as_ref().expect("ground truth")).unwrap();
        assert_eq!((tw, th), (w, h), "{}: mask size differs from the photo", s.id);
        let mask = model.segment(RgbaView::new(w, h, &picture)).unwrap();
        let predicted: Vec<bool> = mask.upsample(w, h).iter().map(|&p| person_alpha(p, 0.5, 0.0) >= 0.5).collect();
        ious.push(metrics::iou(&predicted, &metrics::binarize(&truth), None));
    }
    (metrics::mean(&ious), ious.len())
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

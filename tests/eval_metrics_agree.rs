//! The Rust metrics agree with the reference scorer `score_masks.py` on real evaluation sets.
//!
//! For ~10 pictures of each of three sets (an image set with excluded rows and greyscale JPEGs, a composite
//! set with alpha ground truth, a video set) this writes deliberately imperfect predictions (ground truth
//! shifted, eroded, dilated, soft, or stored as colour PNG), scores them with `eval::metrics`, then runs
//! `score_masks.py` on a reduced copy of the set (same header, only those rows, symlinks to the files) and
//! compares mean IoU, 10th-percentile IoU and alpha MAD.
//!
//! Needs the sets (`VBG_EVAL_DIR`, default `<crate>/../shared/eval`) and a Python with numpy and Pillow
//! (`~/.cache/obs-virtual-background/venv/bin/python`, else `python3`). Fails, rather than skips, without them.

use obs_virtual_background::eval::dataset::{self, EvalSet, Sample};
use obs_virtual_background::eval::metrics;
use std::path::{Path, PathBuf};
use std::process::Command;

fn eval_dir() -> PathBuf {
    let dir = std::env::var_os("VBG_EVAL_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/eval"));
    assert!(
        dir.join("score_masks.py").is_file(),
        "no evaluation sets at {} (score_masks.py missing): set VBG_EVAL_DIR",
        dir.display()
    );
    dir
}

/// A Python that can import numpy and Pillow.
fn python() -> PathBuf {
    let mut candidates = Vec::new();
    if let Some(home) = std::env::var_os("HOME") {
        candidates.push(Path::new(&home).join(".cache/obs-virtual-background/venv/bin/python"));
    }
    candidates.push(PathBuf::from("python3"));
    for c in &candidates {
        let ok = Command::new(c).args(["-c", "import numpy, PIL"]).output().is_ok_and(|o| o.status.success());
        if ok {
            return c.clone();
        }
    }
    panic!(
        "none of {candidates:?} can import numpy and PIL, needed to run score_masks.py; create the venv \
         (python3 -m venv ~/.cache/obs-virtual-background/venv && .../bin/pip install numpy pillow)"
    );
}

/// A fresh temporary folder, removed on drop.
struct TempDir(PathBuf);
impl TempDir {
    fn new(name: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!("vbg-eval-agree-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }
}
impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Makes `set` a copy of `source` whose index.csv holds only the header and the chosen data rows: the first
/// `first` rows, every `step`-th row after them, and rows whose first field is in `extra` (up to `limit`
/// rows). Every other entry of `source` (images/, masks/, sequence folders, ...) is symlinked.
fn reduced_set(source: &Path, set: &Path, first: usize, step: usize, extra: &[&str], limit: usize) {
    let index = std::fs::read_to_string(source.join("index.csv")).unwrap();
    let mut lines = index.lines().filter(|l| !l.trim().is_empty());
    let mut out = vec![lines.next().unwrap().to_string()];
    for (i, line) in lines.enumerate() {
        let key = line.split(',').next().unwrap();
        if out.len() <= limit && (i < first || (i - first) % step == step - 1 || extra.contains(&key)) {
            out.push(line.to_string());
        }
    }
    std::fs::create_dir_all(set).unwrap();
    std::fs::write(set.join("index.csv"), out.join("\n") + "\n").unwrap();
    for entry in std::fs::read_dir(source).unwrap() {
        let entry = entry.unwrap();
        if entry.file_name() != "index.csv" {
            std::os::unix::fs::symlink(entry.path(), set.join(entry.file_name())).unwrap();
        }
    }
}

fn erode(m: &[bool], w: usize, h: usize, times: usize) -> Vec<bool> {
    let mut m = m.to_vec();
    for _ in 0..times {
        m = (0..w * h)
            .map(|i| {
                let (x, y) = (i % w, i / w);
                m[i] && (x == 0 || m[i - 1])
                    && (x + 1 == w || m[i + 1])
                    && (y == 0 || m[i - w])
                    && (y + 1 == h || m[i + w])
            })
            .collect();
    }
    m
}

fn dilate(m: &[bool], w: usize, h: usize, times: usize) -> Vec<bool> {
    let inverted: Vec<bool> = m.iter().map(|&b| !b).collect();
    erode(&inverted, w, h, times).iter().map(|&b| !b).collect()
}

fn shift(m: &[bool], w: usize, h: usize, dx: usize, dy: usize) -> Vec<bool> {
    (0..w * h).map(|i| (i % w >= dx && i / w >= dy) && m[i - dy * w - dx]).collect()
}

/// Writes prediction number `k` for `sample` (one of several kinds of error) to where score_masks.py reads it.
fn write_prediction(sample: &Sample, k: usize, pred_dir: &Path) {
    let (w, h, gt) = dataset::load_gray(sample.mask.as_ref().expect("sample without mask")).unwrap();
    let (wu, hu) = (w as usize, h as usize);
    let truth = metrics::binarize(&gt);
    let path = sample.prediction_path(pred_dir);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let gray = |m: Vec<bool>| m.into_iter().map(|b| if b { 255 } else { 0 }).collect::<Vec<u8>>();
    match k % 5 {
        0 => {
            let d = 1 + k % 7;
            image::GrayImage::from_raw(w, h, gray(shift(&truth, wu, hu, d, d / 2))).unwrap().save(&path).unwrap()
        }
        1 => image::GrayImage::from_raw(w, h, gray(erode(&truth, wu, hu, 3))).unwrap().save(&path).unwrap(),
        2 => image::GrayImage::from_raw(w, h, gray(dilate(&truth, wu, hu, 4))).unwrap().save(&path).unwrap(),
        3 => {
            // Colour PNG: person (40, 200, 40) has Pillow luma 134 (person), the rest (0, 180, 0) luma 106
            // (background) — but Rec. 709 luma 129, so a scorer converting differently would disagree.
            let shifted = shift(&truth, wu, hu, 2, 0);
            let rgb = shifted.iter().flat_map(|&b| if b { [40, 200, 40] } else { [0, 180, 0] }).collect();
            image::RgbImage::from_raw(w, h, rgb).unwrap().save(&path).unwrap()
        }
        _ => {
            // Soft: the ground truth box-blurred horizontally, so values near the edges fall on both sides of 128.
            let r = 3usize;
            let soft: Vec<u8> = (0..wu * hu)
                .map(|i| {
                    let (x, y) = (i % wu, i / wu);
                    let (x0, x1) = (x.saturating_sub(r), (x + r + 1).min(wu));
                    let sum: u32 = (x0..x1).map(|xx| u32::from(gt[y * wu + xx])).sum();
                    (sum / (x1 - x0) as u32) as u8
                })
                .collect();
            image::GrayImage::from_raw(w, h, soft).unwrap().save(&path).unwrap()
        }
    }
}

struct Scores {
    n: usize,
    miou: f64,
    p10: f64,
    mad: Option<f64>,
}

/// Scores the predictions in `pred_dir` with the Rust metrics, reading files exactly as score_masks.py does.
fn rust_scores(set: &EvalSet, pred_dir: &Path) -> Scores {
    let (mut ious, mut mads) = (Vec::new(), Vec::new());
    for s in set.samples() {
        let (w, h, gt) = dataset::load_gray(s.mask.as_ref().unwrap()).unwrap();
        let (pw, ph, pred) = dataset::load_gray(&s.prediction_path(pred_dir)).unwrap();
        assert_eq!((pw, ph), (w, h), "{}", s.id);
        let valid = s.ignore.as_ref().map(|p| {
            let (iw, ih, ig) = dataset::load_gray(p).unwrap();
            assert_eq!((iw, ih), (w, h), "{}", s.id);
            metrics::valid_from_ignore(&ig)
        });
        ious.push(metrics::iou(&metrics::binarize(&pred), &metrics::binarize(&gt), valid.as_deref()));
        if let Some(a) = &s.alpha {
            mads.push(metrics::alpha_mae(&pred, &dataset::load_gray(a).unwrap().2));
        }
    }
    Scores {
        n: ious.len(),
        miou: metrics::mean(&ious),
        p10: metrics::percentile(&ious, 10.0),
        mad: (!mads.is_empty()).then(|| metrics::mean(&mads)),
    }
}

fn python_scores(python: &Path, script: &Path, set: &Path, pred_dir: &Path) -> Scores {
    let out = Command::new(python).arg(script).arg(set).arg(pred_dir).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "score_masks.py failed ({}):\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let field = |name: &str| {
        stdout
            .split_whitespace()
            .find_map(|t| t.strip_prefix(name))
            .map(|v| v.parse::<f64>().unwrap_or_else(|e| panic!("{name}{v}: {e}")))
    };
    let missing = |name: &str| format!("no {name} in score_masks.py output: {stdout}");
    Scores {
        n: field("n=").unwrap_or_else(|| panic!("{}", missing("n="))) as usize,
        miou: field("mIoU=").unwrap_or_else(|| panic!("{}", missing("mIoU="))),
        p10: field("p10_IoU=").unwrap_or_else(|| panic!("{}", missing("p10_IoU="))),
        mad: field("MAD="),
    }
}

/// Builds the reduced set, writes predictions, scores both ways and compares.
fn check(name: &str, first: usize, step: usize, extra: &[&str], ignore_some: bool) {
    let eval = eval_dir();
    let source = eval.join(name);
    let tmp = TempDir::new(name);
    let (set_dir, pred_dir) = (tmp.0.join("set"), tmp.0.join("pred"));
    reduced_set(&source, &set_dir, first, step, extra, 12);
    if ignore_some {
        // The packed sets have no ignore maps yet; give two pictures one (a band across the middle), so the
        // exclusion is compared too.
        assert!(!source.join("ignore").exists(), "{name} has ignore/ now; drop the synthetic maps");
        let set = dataset::open(&set_dir).unwrap();
        std::fs::create_dir_all(set_dir.join("ignore")).unwrap();
        for s in set.samples().into_iter().take(2) {
            let (w, h, _) = dataset::load_gray(s.mask.as_ref().unwrap()).unwrap();
            let band = (0..w * h).map(|i| if (h / 3..h / 2).contains(&(i / w)) { 255 } else { 0 }).collect();
            let path = set_dir.join("ignore").join(format!("{}.png", s.id));
            image::GrayImage::from_raw(w, h, band).unwrap().save(path).unwrap();
        }
    }
    let set = dataset::open(&set_dir).unwrap();
    let samples = set.samples();
    assert!(samples.len() >= 8, "{name}: only {} samples", samples.len());
    if ignore_some {
        assert_eq!(samples.iter().filter(|s| s.ignore.is_some()).count(), 2);
    }
    for (k, s) in samples.iter().enumerate() {
        // Pictures decode to RGBA of the mask's size, greyscale JPEGs included.
        let (w, h, rgba) = dataset::load_rgba(&s.image).unwrap();
        assert_eq!(rgba.len(), (w * h * 4) as usize);
        assert_eq!(dataset::load_gray(s.mask.as_ref().unwrap()).unwrap().0, w, "{}", s.id);
        write_prediction(s, k, &pred_dir);
    }
    let rust = rust_scores(&set, &pred_dir);
    let py = python_scores(&python(), &eval.join("score_masks.py"), &set_dir, &pred_dir);
    eprintln!(
        "{name}: n={} rust mIoU={:.6} p10={:.6} MAD={:?} | python mIoU={} p10={} MAD={:?}",
        rust.n, rust.miou, rust.p10, rust.mad, py.miou, py.p10, py.mad
    );
    assert_eq!(rust.n, py.n, "{name}: number of scored pictures");
    assert!(rust.miou > 0.3 && rust.miou < 0.999, "{name}: predictions should be imperfect, mIoU {}", rust.miou);
    assert!((rust.miou - py.miou).abs() < 1e-4, "{name}: mIoU rust {} python {}", rust.miou, py.miou);
    assert!((rust.p10 - py.p10).abs() < 1e-4, "{name}: p10 IoU rust {} python {}", rust.p10, py.p10);
    match (rust.mad, py.mad) {
        (None, None) => {}
        (Some(r), Some(p)) => assert!((r - p).abs() < 1e-4, "{name}: MAD rust {r} python {p}"),
        (r, p) => panic!("{name}: MAD rust {r:?} python {p:?}"),
    }
}

/// Excluded rows (155 statue) are skipped by both; 056 and 097 are greyscale JPEGs; two synthetic ignore maps.
#[test]
fn image_set_with_exclusions_and_ignore_maps() {
    check("humanseg_vikram_removebg", 6, 1000, &["056", "097", "155", "183"], true);
}

/// Alpha ground truth: MAD compared too.
#[test]
fn composite_set_with_alpha() {
    check("composites_dev", 10, 1000, &[], false);
}

/// Sequence layout: predictions at `<pred>/<sequence>/<frame>.png`.
#[test]
fn video_set() {
    check("davis2016_person_video", 0, 27, &[], false);
}

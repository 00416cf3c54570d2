//! `vbg eval`: mask quality of the whole pipeline (GPU downscale, model, the shader's upsampling and edge
//! shaping) on an evaluation set. The predicted mask is the alpha channel of a Transparent-mode render, so it
//! is exactly what the filter would cut out.

use crate::args::{usage, Args};
use crate::json::Json;
use obs_virtual_background::error::Error;
use obs_virtual_background::eval::dataset::{self, EvalSet, Sample};
use obs_virtual_background::eval::metrics::{
    alpha_mae, binarize, boundary_f, boundary_f_with_tolerance, boundary_tolerance, iou, mean, percentile,
    perfect_edges_within, valid_from_ignore, Flicker,
};
use obs_virtual_background::offline::pipeline::{Live, Pipeline};
use obs_virtual_background::offline::video::{probe, Decoder};
use obs_virtual_background::preprocess::RgbaView;
use obs_virtual_background::settings::BackgroundMode;
use std::path::{Path, PathBuf};

/// Tolerance of the second boundary F, in pixels: how exactly the edge lands, which the DAVIS band (8 px at
/// 854x480) forgives. Edge refinement moves the outline by a pixel or two; this is where that shows.
const TIGHT_TOLERANCE_PX: u32 = 2;

/// Scores of one picture with ground truth.
struct Scored {
    iou: f64,
    boundary_f: f64,
    boundary_f_tight: f64,
    alpha_mae: Option<f64>,
}

#[derive(Default)]
struct Totals {
    scored: Vec<Scored>,
    /// Per sequence or clip: name, flicker in 0..1, frame pairs, mean IoU (when it has ground truth).
    flicker: Vec<(String, f64, usize, Option<f64>)>,
    tolerance: Option<u32>,
    /// Frames segmented, and frames skipped because their picture had not changed (`ChangeGate`).
    masks: (u64, u64),
}

pub fn run(raw: &[String]) -> Result<(), Error> {
    let args = Args::parse(
        raw,
        &["--json", "--save-masks", "--limit", "--edge-ceiling", "--live-lag", "--mask-every"],
        &["--quiet", "--every-frame"],
    )?;
    let [set_dir] = args.positional.as_slice() else {
        return Err(usage(
            "vbg eval SET_DIR [settings] [--json FILE] [--save-masks DIR] [--limit N] [--edge-ceiling TEXELS] \
             [--live-lag FRAMES [--mask-every N]] [--every-frame]"
                .into(),
        ));
    };
    // Video sets: each frame composited with the mask of the frame this many before it, as OBS shows it live.
    let lag: Option<usize> = args.value("--live-lag").map(|_| args.number("--live-lag", 0)).transpose()?;
    // ... and a mask made of one frame in this many, as the worker does under load.
    let mask_every: usize = args.number("--mask-every", 1)?;
    if mask_every == 0 || (mask_every > 1 && lag.is_none_or(|lag| lag == 0)) {
        return Err(usage("--mask-every N: N at least 1, with --live-lag 1 or more (sync mode has every mask)".into()));
    }
    let live_lag = lag.map(|lag| Live { lag, mask_every });
    let ceiling: Option<f64> = args.value("--edge-ceiling").map(|_| args.number("--edge-ceiling", 0.0)).transpose()?;
    let set_dir = Path::new(set_dir);
    let limit: usize = args.number("--limit", usize::MAX)?;
    let save = args.value("--save-masks").map(PathBuf::from);
    let mut settings = args.settings()?;
    settings.mode = BackgroundMode::Transparent;
    let mut pipeline = Pipeline::new(settings)?;
    if args.switch("--every-frame") {
        // As the plugin did before it skipped frames whose picture had not changed: for comparison.
        pipeline.segment_every_frame();
    }
    let set = dataset::open(set_dir)?;
    let mut totals = Totals::default();
    let quiet = args.switch("--quiet");

    match &set {
        EvalSet::Images(samples) => {
            for (i, s) in samples.iter().take(limit).enumerate() {
                // Unrelated pictures, each seen as OBS shows a still once the crop has settled.
                let (scored, _) = score(&mut pipeline, s, Still::Yes, save.as_deref(), ceiling, &mut totals)?;
                totals.scored.extend(scored);
                progress(quiet, i + 1, samples.len().min(limit));
            }
        }
        EvalSet::Sequences(sequences) => {
            let total: usize = sequences.iter().map(|q| q.frames.len().min(limit)).sum();
            let mut done = 0;
            for q in sequences {
                let mut flicker = Flicker::new();
                let mut ious = Vec::new();
                pipeline.reset_temporal();
                for s in q.frames.iter().take(limit) {
                    let still = live_lag.map_or(Still::No, Still::Live);
                    let (scored, (w, h, rgba, alpha)) =
                        score(&mut pipeline, s, still, save.as_deref(), ceiling, &mut totals)?;
                    ious.extend(scored.as_ref().map(|s| s.iou));
                    totals.scored.extend(scored);
                    flicker.push(w, h, &rgba, &alpha);
                    done += 1;
                    progress(quiet, done, total);
                }
                let f = flicker.score();
                let iou = (!ious.is_empty()).then(|| mean(&ious));
                totals.flicker.push((q.name.clone(), f.mean, f.pairs, iou));
            }
        }
        EvalSet::Clips(clips) => {
            for clip in clips {
                let f = clip_flicker(&mut pipeline, clip, limit, live_lag, quiet)?;
                let name = clip.file_name().map_or_else(String::new, |n| n.to_string_lossy().into_owned());
                totals.flicker.push((name, f.0, f.1, None));
            }
        }
    }
    if !quiet {
        eprintln!();
    }
    totals.masks = pipeline.counts();
    report(set_dir, &totals, &args)
}

/// Whether a sample is a picture on its own or a frame of a video (shown with its own mask, or live: with
/// the mask of the frame that many before it).
#[derive(Clone, Copy)]
enum Still {
    Yes,
    No,
    Live(Live),
}

/// Renders one sample, scores it if it has ground truth, saves its mask if asked. Returns the frame and the
/// predicted alpha for flicker.
type Rendered = (u32, u32, Vec<u8>, Vec<u8>);

/// With `ceiling` (in mask texels), scores instead what a perfect edge refiner of that reach would make of the
/// prediction (see `perfect_edges_within`): the most that edge refinement could gain over the model's mask.
fn score(
    pipeline: &mut Pipeline,
    s: &Sample,
    still: Still,
    save: Option<&Path>,
    ceiling: Option<f64>,
    totals: &mut Totals,
) -> Result<(Option<Scored>, Rendered), Error> {
    let (w, h, rgba) = dataset::load_rgba(&s.image)?;
    let view = RgbaView::new(w, h, &rgba);
    let (out, mask) = match still {
        Still::Yes => pipeline.render_still(view)?,
        Still::No => pipeline.render(view)?,
        Still::Live(live) => pipeline.render_live(view, live)?,
    };
    let alpha: Vec<u8> = out.chunks_exact(4).map(|p| p[3]).collect();
    if let Some(dir) = save {
        let path = s.prediction_path(dir);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|e| Error::image(format!("cannot create {}: {e}", parent.display())))?;
        }
        image::save_buffer(&path, &alpha, w, h, image::ExtendedColorType::L8)
            .map_err(|e| Error::image(format!("cannot write {}: {e}", path.display())))?;
    }
    let scored = match &s.mask {
        None => None,
        Some(mask_path) => {
            let (mw, mh, truth) = dataset::load_gray(mask_path)?;
            if (mw, mh) != (w, h) {
                return Err(Error::image(format!("{}: mask size differs from the picture", s.id)));
            }
            let valid = match &s.ignore {
                Some(p) => Some(valid_from_ignore(&dataset::load_gray(p)?.2)),
                None => None,
            };
            let (mut pred, truth) = (binarize(&alpha), binarize(&truth));
            if let Some(texels) = ceiling {
                let texel = (f64::from(w) / f64::from(mask.width)).max(f64::from(h) / f64::from(mask.height));
                pred = perfect_edges_within(&pred, &truth, w, h, texels * texel);
            }
            totals.tolerance = Some(boundary_tolerance(w, h));
            let alpha_mae = match &s.alpha {
                Some(p) => Some(alpha_mae(&alpha, &dataset::load_gray(p)?.2)),
                None => None,
            };
            Some(Scored {
                iou: iou(&pred, &truth, valid.as_deref()),
                boundary_f: boundary_f(&pred, &truth, valid.as_deref(), w, h).f,
                boundary_f_tight: boundary_f_with_tolerance(&pred, &truth, valid.as_deref(), w, h, TIGHT_TOLERANCE_PX)
                    .f,
                alpha_mae,
            })
        }
    };
    Ok((scored, (w, h, rgba, alpha)))
}

/// Flicker of one clip without ground truth: (mean in 0..1, frame pairs).
fn clip_flicker(
    pipeline: &mut Pipeline,
    clip: &Path,
    limit: usize,
    live_lag: Option<Live>,
    quiet: bool,
) -> Result<(f64, usize), Error> {
    let info = probe(clip)?;
    let mut decoder = Decoder::open(clip, &info)?;
    let mut frame = Vec::new();
    let mut flicker = Flicker::new();
    let mut n = 0;
    pipeline.reset_temporal();
    pipeline.frame_rate = info.frame_rate();
    while n < limit && decoder.next_frame(&mut frame)? {
        let view = RgbaView::new(info.width, info.height, &frame);
        let (out, _) = match live_lag {
            Some(live) => pipeline.render_live(view, live)?,
            None => pipeline.render(view)?,
        };
        let alpha: Vec<u8> = out.chunks_exact(4).map(|p| p[3]).collect();
        flicker.push(info.width, info.height, &frame, &alpha);
        n += 1;
        progress(quiet, n, info.frames.unwrap_or(0) as usize);
    }
    let f = flicker.score();
    Ok((f.mean, f.pairs))
}

fn progress(quiet: bool, done: usize, total: usize) {
    if !quiet && (done.is_multiple_of(10) || done == total) {
        eprint!("\r{done}/{total}");
    }
}

fn report(set_dir: &Path, t: &Totals, args: &Args) -> Result<(), Error> {
    let name = set_dir.file_name().map_or_else(|| set_dir.display().to_string(), |n| n.to_string_lossy().into_owned());
    let ious: Vec<f64> = t.scored.iter().map(|s| s.iou).collect();
    let bfs: Vec<f64> = t.scored.iter().map(|s| s.boundary_f).collect();
    let tight: Vec<f64> = t.scored.iter().map(|s| s.boundary_f_tight).collect();
    let maes: Vec<f64> = t.scored.iter().filter_map(|s| s.alpha_mae).collect();
    let flickers: Vec<f64> = t.flicker.iter().map(|f| f.1).filter(|f| f.is_finite()).collect();
    let opt = |v: &[f64], f: fn(&[f64]) -> f64| if v.is_empty() { None } else { Some(f(v)) };
    let miou = opt(&ious, mean);
    let p10 = opt(&ious, |v| percentile(v, 10.0));
    let bf = opt(&bfs, mean);
    let bf_tight = opt(&tight, mean);
    let mae = opt(&maes, mean);
    let flicker = opt(&flickers, mean);
    let show = |v: Option<f64>, scale: f64| v.map_or("-".to_string(), |x| format!("{:.4}", x * scale));
    println!(
        "{:<28} {:>5} {:>8} {:>8} {:>10} {:>8} {:>9} {:>14}",
        "set", "n", "mIoU", "p10 IoU", "boundary F", "bF 2px", "alpha MAE", "flicker (1/255)"
    );
    println!(
        "{:<28} {:>5} {:>8} {:>8} {:>10} {:>8} {:>9} {:>14}",
        name,
        t.scored.len().max(t.flicker.len()),
        show(miou, 1.0),
        show(p10, 1.0),
        show(bf, 1.0),
        show(bf_tight, 1.0),
        show(mae, 1.0),
        show(flicker, 255.0)
    );
    for (seq, f, pairs, iou) in &t.flicker {
        let iou = iou.map_or(String::new(), |i| format!("mIoU {i:.4}, "));
        println!("  {seq:<26} {iou}flicker {:.4} (1/255) over {pairs} frame pairs", f * 255.0);
    }
    let (segmented, skipped) = t.masks;
    if skipped > 0 {
        println!("model runs: {segmented} (masks and full-frame looks); frames skipped as unchanged: {skipped}");
    }
    if t.tolerance.is_some() {
        println!("boundary F: contours matched within ceil(0.008 x image diagonal) px (DAVIS); bF 2px: within {TIGHT_TOLERANCE_PX} px; flicker: mean |mask change| on pixels whose colour changed <= 8/255");
    }
    if let Some(path) = args.value("--json") {
        let num = |v: Option<f64>| v.map_or(Json::Null, Json::Num);
        let report = Json::obj(vec![
            ("set", Json::Str(name)),
            ("n", Json::Num(t.scored.len() as f64)),
            ("mean_iou", num(miou)),
            ("p10_iou", num(p10)),
            ("boundary_f", num(bf)),
            ("boundary_f_2px", num(bf_tight)),
            ("alpha_mae", num(mae)),
            ("flicker_levels", num(flicker.map(|f| f * 255.0))),
            ("model_runs", Json::Num(segmented as f64)),
            ("frames_skipped_unchanged", Json::Num(skipped as f64)),
            (
                "sequences",
                Json::Arr(
                    t.flicker
                        .iter()
                        .map(|(n, f, p, iou)| {
                            Json::obj(vec![
                                ("name", Json::Str(n.clone())),
                                ("mean_iou", iou.map_or(Json::Null, Json::Num)),
                                ("flicker_levels", Json::Num(f * 255.0)),
                                ("pairs", Json::Num(*p as f64)),
                            ])
                        })
                        .collect(),
                ),
            ),
        ]);
        std::fs::write(path, report.render()).map_err(|e| Error::image(format!("cannot write {path}: {e}")))?;
    }
    Ok(())
}

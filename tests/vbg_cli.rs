//! The `vbg` command as a user runs it: photos and videos in every mode, and `vbg eval` agreeing with the
//! reference scorer `../shared/eval/score_masks.py` on the masks it saves.
//! Built only with the `offline` feature (scripts/test runs it).
#![cfg(feature = "offline")]

use std::path::{Path, PathBuf};
use std::process::Command;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn eval_dir() -> PathBuf {
    std::env::var_os("VBG_EVAL_DIR").map(PathBuf::from).unwrap_or_else(|| repo().join("../shared/eval"))
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("vbg-cli-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Runs vbg; panics with its output if it fails.
fn vbg(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_vbg")).args(args).output().expect("vbg runs");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "vbg {args:?} failed:\n{text}");
    text
}

fn vbg_fails(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_vbg")).args(args).output().expect("vbg runs");
    assert!(!out.status.success(), "vbg {args:?} should have failed");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn rgba(path: &Path) -> image::RgbaImage {
    image::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display())).into_rgba8()
}

/// Python with numpy and Pillow: the test venv scripts/setup makes, else the system one.
fn python() -> String {
    let venv = PathBuf::from(std::env::var_os("HOME").unwrap_or_default())
        .join(".cache/obs-virtual-background/venv/bin/python");
    for candidate in [venv.to_string_lossy().into_owned(), "python3".into()] {
        let ok = Command::new(&candidate).args(["-c", "import numpy, PIL"]).status().is_ok_and(|s| s.success());
        if ok {
            return candidate;
        }
    }
    panic!("no Python with numpy and Pillow: run scripts/setup");
}

#[test]
fn photo_in_every_mode() {
    let dir = scratch("photo");
    let input = repo().join("data/sample/astronaut.png");
    let source = rgba(&input);
    let (w, h) = source.dimensions();
    let background = dir.join("bg.png");
    image::RgbaImage::from_fn(64, 48, |x, y| image::Rgba([(x * 4) as u8, (y * 5) as u8, 200, 255]))
        .save(&background)
        .unwrap();

    let face = (w / 2 - 30, h / 4); // on the astronaut's face in the sample
    let corner = (8, 8); // wall behind her
    let render = |mode: &str, extra: &[&str]| {
        let out = dir.join(format!("{mode}.png"));
        let mut args = vec!["render", input.to_str().unwrap(), out.to_str().unwrap(), "--mode", mode];
        args.extend_from_slice(extra);
        vbg(&args);
        let img = rgba(&out);
        assert_eq!(img.dimensions(), (w, h));
        img
    };
    let near =
        |a: &image::Rgba<u8>, b: &image::Rgba<u8>, tol: i32| (0..4).all(|c| (a[c] as i32 - b[c] as i32).abs() <= tol);

    let color = render("color", &["--color", "#ff00ff"]);
    assert_eq!(color.get_pixel(corner.0, corner.1), &image::Rgba([255, 0, 255, 255]));
    assert!(near(color.get_pixel(face.0, face.1), source.get_pixel(face.0, face.1), 2));
    let magenta = color.pixels().filter(|p| p.0 == [255, 0, 255, 255]).count() as f64 / (w * h) as f64;
    assert!((0.2..0.8).contains(&magenta), "{magenta:.2} of the photo replaced");

    let transparent = render("transparent", &[]);
    assert_eq!(transparent.get_pixel(corner.0, corner.1)[3], 0);
    assert_eq!(transparent.get_pixel(face.0, face.1)[3], 255);

    let image_mode = render("image", &["--background", background.to_str().unwrap(), "--fit", "stretch"]);
    let expected_corner = image::Rgba([0, 0, 200, 255]);
    assert!(near(image_mode.get_pixel(0, 0), &expected_corner, 8), "{:?}", image_mode.get_pixel(0, 0));

    let blur = render("blur", &["--blur", "100"]);
    assert!(near(blur.get_pixel(face.0, face.1), source.get_pixel(face.0, face.1), 2));
    let changed = blur.pixels().zip(source.pixels()).filter(|(a, b)| !near(a, b, 6)).count();
    assert!(changed > (w * h / 10) as usize, "blur changed only {changed} pixels");

    assert!(vbg_fails(&[
        "render",
        input.to_str().unwrap(),
        dir.join("t.jpg").to_str().unwrap(),
        "--mode",
        "transparent"
    ])
    .contains(".png"));
    std::fs::remove_dir_all(dir).unwrap();
}

fn ffprobe(path: &Path, entries: &str, stream: &str) -> String {
    let out = Command::new("ffprobe")
        .args(["-v", "error", "-select_streams", stream, "-count_frames", "-show_entries", entries, "-of", "csv=p=0"])
        .arg(path)
        .output()
        .expect("ffprobe runs");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

#[test]
fn video_keeps_every_frame_and_the_audio() {
    let dir = scratch("video");
    let clip = eval_dir().join("talking_head_clips/videos/videoretalking_1.mp4");
    assert!(clip.is_file(), "{} missing (set VBG_EVAL_DIR)", clip.display());
    let short = dir.join("in.mp4");
    let cut = Command::new("ffmpeg")
        .args(["-v", "error", "-y", "-i"])
        .arg(&clip)
        .args(["-t", "1.5", "-c:v", "libx264", "-c:a", "aac"])
        .arg(&short)
        .status()
        .unwrap();
    assert!(cut.success());
    let frames_in = ffprobe(&short, "stream=nb_read_frames", "v:0");

    let out = dir.join("out.mp4");
    let log = vbg(&["render", short.to_str().unwrap(), out.to_str().unwrap(), "--mode", "blur"]);
    assert!(log.contains("rendering on"), "names the adapter:\n{log}");
    assert_eq!(ffprobe(&out, "stream=nb_read_frames", "v:0"), frames_in);
    assert_eq!(ffprobe(&out, "stream=codec_name", "a"), "aac");

    let webm = dir.join("out.webm");
    vbg(&["render", short.to_str().unwrap(), webm.to_str().unwrap(), "--mode", "transparent", "--quiet"]);
    assert_eq!(ffprobe(&webm, "stream_tags=alpha_mode", "v:0"), "1", "VP9 with an alpha channel");
    assert!(vbg_fails(&[
        "render",
        short.to_str().unwrap(),
        dir.join("t.mp4").to_str().unwrap(),
        "--mode",
        "transparent"
    ])
    .contains(".webm"));
    std::fs::remove_dir_all(dir).unwrap();
}

/// Reads `key=value` from score_masks.py's one-line report.
fn field(line: &str, key: &str) -> f64 {
    let v = line
        .split_whitespace()
        .find_map(|w| w.strip_prefix(&format!("{key}=")))
        .unwrap_or_else(|| panic!("{key} in {line}"));
    v.parse().unwrap()
}

fn json_number(json: &str, key: &str) -> f64 {
    let at = json.find(&format!("\"{key}\":")).unwrap_or_else(|| panic!("{key} in {json}"));
    let rest = &json[at + key.len() + 3..];
    rest.trim_start().split([',', '\n']).next().unwrap().trim().parse().unwrap()
}

#[test]
fn eval_agrees_with_the_reference_scorer() {
    let set = eval_dir().join("composites_dev");
    assert!(set.is_dir(), "{} missing (set VBG_EVAL_DIR)", set.display());
    let dir = scratch("eval");
    let masks = dir.join("masks");
    let report = dir.join("report.json");
    vbg(&[
        "eval",
        set.to_str().unwrap(),
        "--quiet",
        "--save-masks",
        masks.to_str().unwrap(),
        "--json",
        report.to_str().unwrap(),
    ]);
    let json = std::fs::read_to_string(&report).unwrap();
    let out = Command::new(python()).arg(eval_dir().join("score_masks.py")).arg(&set).arg(&masks).output().unwrap();
    let line = String::from_utf8_lossy(&out.stdout).trim().to_string();
    assert!(out.status.success(), "score_masks.py failed: {line}{}", String::from_utf8_lossy(&out.stderr));
    for (ours, theirs) in [("mean_iou", "mIoU"), ("p10_iou", "p10_IoU"), ("alpha_mae", "MAD")] {
        let (a, b) = (json_number(&json, ours), field(&line, theirs));
        assert!((a - b).abs() < 1e-4, "{ours} {a} vs score_masks.py {theirs} {b}");
    }
    assert!(json_number(&json, "boundary_f") > 0.5);
    std::fs::remove_dir_all(dir).unwrap();
}

/// Edge refinement must put the outline closer to the true edge than plain bilinear upsampling (measured on
/// the whole set: +5.3 points of boundary F within 2 px), never lower the IoU, and stay below the ceiling a
/// perfect 1-texel refiner reaches.
#[test]
fn edge_refinement_sharpens_the_outline() {
    let set = eval_dir().join("composites_dev");
    assert!(set.is_dir(), "{} missing (set VBG_EVAL_DIR)", set.display());
    let dir = scratch("edges");
    let run = |name: &str, extra: &[&str]| {
        let report = dir.join(format!("{name}.json"));
        // The whole frame, where the model's grid is coarsest and the refiner's work shows most (following the
        // person makes the grid finer: +2.5 points there on these 40 pictures).
        let mut args =
            vec!["eval", set.to_str().unwrap(), "--quiet", "--limit", "40", "--temporal", "0", "--follow", "false"];
        args.extend_from_slice(extra);
        args.extend_from_slice(&["--json", report.to_str().unwrap()]);
        vbg(&args);
        let json = std::fs::read_to_string(&report).unwrap();
        (json_number(&json, "mean_iou"), json_number(&json, "boundary_f"), json_number(&json, "boundary_f_2px"))
    };
    let plain = run("plain", &["--edge-refine", "false"]);
    let refined = run("refined", &[]);
    let ceiling = run("ceiling", &["--edge-refine", "false", "--edge-ceiling", "1"]);
    assert!(refined.2 >= plain.2 + 0.03, "bF 2px: refined {:.4} vs plain {:.4}", refined.2, plain.2);
    assert!(refined.0 >= plain.0, "mean IoU: refined {:.4} vs plain {:.4}", refined.0, plain.0);
    assert!(refined.1 >= plain.1 - 0.002, "boundary F: refined {:.4} vs plain {:.4}", refined.1, plain.1);
    assert!(ceiling.1 > refined.1 && ceiling.2 > refined.2, "ceiling {ceiling:?} vs refined {refined:?}");
    std::fs::remove_dir_all(dir).unwrap();
}

/// Raw RGBA frames of a video, decoded by ffmpeg.
fn decode_frames(path: &Path) -> Vec<Vec<u8>> {
    let (w, h) = {
        let size = ffprobe(path, "stream=width,height", "v:0");
        let mut it = size.split(',').map(|v| v.trim().parse::<usize>().unwrap());
        (it.next().unwrap(), it.next().unwrap())
    };
    let out = Command::new("ffmpeg")
        .args(["-v", "error", "-i"])
        .arg(path)
        .args(["-f", "rawvideo", "-pix_fmt", "rgba", "-"])
        .output()
        .expect("ffmpeg runs");
    assert!(out.status.success());
    out.stdout.chunks_exact(w * h * 4).map(<[u8]>::to_vec).collect()
}

#[test]
fn a_video_background_loops_under_the_person_frame_by_frame() {
    let dir = scratch("video-background");
    // Ten flat frames, each its own colour, losslessly: frame k is (25k, 255 - 25k, 128).
    let background = dir.join("bg.mkv");
    let made = Command::new("ffmpeg")
        .args(["-v", "error", "-y", "-f", "lavfi", "-i"])
        .arg("color=c=black:s=64x48:r=30,format=rgb24,geq=r='25*N':g='255-25*N':b=128")
        .args(["-frames:v", "10", "-c:v", "ffv1"])
        .arg(&background)
        .status()
        .unwrap();
    assert!(made.success());
    // The sample photo as a 25-frame video (a still person, so only the background moves).
    let person = dir.join("person.mkv");
    let made = Command::new("ffmpeg")
        .args(["-v", "error", "-y", "-loop", "1", "-i"])
        .arg(repo().join("data/sample/astronaut.png"))
        .args(["-frames:v", "25", "-r", "30", "-c:v", "ffv1"])
        .arg(&person)
        .status()
        .unwrap();
    assert!(made.success());

    // vbg render IN OUT in Source mode over BACKGROUND.
    let render_over = |input: &Path, out: &Path, background: &Path| {
        let (i, o, b) = (input.to_str().unwrap(), out.to_str().unwrap(), background.to_str().unwrap());
        vbg(&["render", i, o, "--mode", "source", "--background", b, "--quiet"])
    };
    let out = dir.join("out.mkv");
    let log = render_over(&person, &out, &background);
    assert!(log.contains("25 frame(s)"), "{log}");
    let frames = decode_frames(&out);
    assert_eq!(frames.len(), 25);
    let w = ffprobe(&out, "stream=width", "v:0").parse::<usize>().unwrap();
    // The wall behind the astronaut, top left: frame i shows background frame i % 10 (the clip looped).
    for (i, frame) in frames.iter().enumerate() {
        let k = (i % 10) as i32;
        let expected = [25 * k, 255 - 25 * k, 128];
        let (x, y) = (8, 8);
        let px = &frame[(y * w + x) * 4..][..3];
        let off = (0..3).map(|c| (px[c] as i32 - expected[c]).abs()).max().unwrap();
        assert!(off <= 12, "frame {i}: {px:?}, expected background frame {k} {expected:?}");
    }
    // A still picture still works with Source mode's flag.
    let still = dir.join("bg.png");
    image::RgbaImage::from_pixel(16, 16, image::Rgba([10, 20, 200, 255])).save(&still).unwrap();
    let photo_out = dir.join("still.png");
    let input = repo().join("data/sample/astronaut.png");
    render_over(&input, &photo_out, &still);
    assert_eq!(rgba(&photo_out).get_pixel(8, 8), &image::Rgba([10, 20, 200, 255]));
    assert!(vbg_fails(&["render", input.to_str().unwrap(), photo_out.to_str().unwrap(), "--mode", "source"])
        .contains("--background"));
    std::fs::remove_dir_all(dir).unwrap();
}

/// `vbg --help` names every model `--model` takes, and `--model modnet` runs MODNet (which scripts/setup fetches
/// into the cache: without it the test says so and stops).
#[test]
fn help_names_every_model_and_modnet_runs() {
    let help = vbg(&["--help"]);
    let model_lines: Vec<&str> = help.lines().filter(|l| l.contains("--model")).collect();
    assert!(model_lines.len() >= 2, "{help}");
    for line in &model_lines {
        for name in ["general", "landscape", "modnet"] {
            assert!(line.contains(name), "`{line}` does not name {name}");
        }
    }
    assert!(help.contains("FILE.onnx"), "{help}");
    let cached = PathBuf::from(std::env::var_os("HOME").unwrap_or_default())
        .join(".cache/obs-virtual-background/models/modnet.onnx");
    let shipped = repo().join("models/modnet.onnx");
    if !cached.is_file() && !shipped.is_file() {
        eprintln!("skipped the MODNet run: {} not found (scripts/setup fetches it)", cached.display());
        return;
    }
    let set = eval_dir().join("composites_dev");
    assert!(set.is_dir(), "{} missing (set VBG_EVAL_DIR)", set.display());
    let dir = scratch("modnet");
    let report = dir.join("report.json");
    let out = vbg(&[
        "eval",
        set.to_str().unwrap(),
        "--model",
        "modnet",
        "--limit",
        "3",
        "--quiet",
        "--json",
        report.to_str().unwrap(),
    ]);
    let json = std::fs::read_to_string(&report).unwrap();
    assert_eq!(json_number(&json, "n"), 3.0, "{out}");
    // MODNet on these composites scores well above chance: a wrong layout or model would not.
    assert!(json_number(&json, "mean_iou") > 0.7, "{out}");
    std::fs::remove_dir_all(dir).unwrap();
}

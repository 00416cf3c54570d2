//! `vbg render`: photos and videos with a virtual background.

use crate::args::{usage, Args};
use obs_virtual_background::background_image::{self, DecodedImage};
use obs_virtual_background::crop::Crop;
use obs_virtual_background::error::Error;
use obs_virtual_background::offline::pipeline::Pipeline;
use obs_virtual_background::offline::video::{probe, Decoder, Encoder, LoopingDecoder};
use obs_virtual_background::preprocess::RgbaView;
use obs_virtual_background::settings::BackgroundMode;
use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};

const PHOTO_EXTENSIONS: &[&str] = &["png", "jpg", "jpeg", "bmp"];

fn is_photo(path: &Path) -> bool {
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("").to_ascii_lowercase();
    PHOTO_EXTENSIONS.contains(&ext.as_str())
}

pub fn run(raw: &[String]) -> Result<(), Error> {
    let args = Args::parse(raw, &["--crop"], &["--quiet"])?;
    let [input, output] = args.positional.as_slice() else {
        return Err(usage("vbg render IN OUT [settings]".into()));
    };
    let (input, output) = (Path::new(input), Path::new(output));
    let settings = args.settings()?;
    if settings.mode.shows_picture() && settings.image_path.is_empty() {
        return Err(usage(format!("--mode {} needs --background FILE (a picture or a video)", settings.mode.key())));
    }
    let crop = args.value("--crop").map(parse_crop).transpose()?;
    let mut pipeline = Pipeline::new(settings.clone())?;
    pipeline.look_at(crop);
    eprintln!("rendering on {}", pipeline.compositor.gpu().describe());
    let mut background =
        if settings.mode.shows_picture() { Some(Background::open(Path::new(&settings.image_path))?) } else { None };
    let started = Instant::now();
    let frames = if is_photo(input) {
        if let Some(b) = background.as_mut() {
            b.advance(&mut pipeline)?;
        }
        render_photo(&mut pipeline, input, output)?;
        1
    } else {
        render_video(&mut pipeline, background.as_mut(), input, output, !args.switch("--quiet"))?
    };
    let secs = started.elapsed().as_secs_f64();
    println!("{}: {frames} frame(s) in {secs:.1} s ({:.1} fps)", output.display(), frames as f64 / secs);
    Ok(())
}

/// `X,Y,W,H` in frame units: a rectangle of at least one part in a thousand, inside the frame.
fn parse_crop(text: &str) -> Result<Crop, Error> {
    let bad = || usage(format!("--crop '{text}': give X,Y,W,H, each 0..1 of the frame, the rectangle inside it"));
    let v: Vec<f32> = text.split(',').map(|p| p.trim().parse::<f32>()).collect::<Result<_, _>>().map_err(|_| bad())?;
    let [x, y, w, h] = v[..] else { return Err(bad()) };
    let inside = x >= 0.0 && y >= 0.0 && w >= 1e-3 && h >= 1e-3 && x + w <= 1.0 + 1e-6 && y + h <= 1.0 + 1e-6;
    if !inside {
        return Err(bad());
    }
    Ok(Crop { x, y, w, h })
}

/// What `--background` names in Image and Source mode: a still picture, or a video that loops under the
/// person frame by frame (the offline form of a Media source as the background).
enum Background {
    Still(Option<DecodedImage>),
    Video(LoopingDecoder, DecodedImage),
}

impl Background {
    fn open(path: &Path) -> Result<Background, Error> {
        if is_photo(path) {
            return Ok(Background::Still(Some(background_image::load(path)?)));
        }
        let video = LoopingDecoder::open(path)?;
        let frame = DecodedImage { width: video.info.width, height: video.info.height, rgba: Vec::new() };
        Ok(Background::Video(video, frame))
    }

    /// Puts the background of the next frame on the GPU (a still picture only the first time).
    fn advance(&mut self, pipeline: &mut Pipeline) -> Result<(), Error> {
        match self {
            Background::Still(picture) => {
                if let Some(p) = picture.take() {
                    pipeline.compositor.set_background(Some(&p));
                }
            }
            Background::Video(video, frame) => {
                video.next_frame(&mut frame.rgba)?;
                background_image::premultiply(&mut frame.rgba);
                pipeline.compositor.set_background(Some(frame));
            }
        }
        Ok(())
    }
}

fn render_photo(pipeline: &mut Pipeline, input: &Path, output: &Path) -> Result<(), Error> {
    let transparent = pipeline.settings.mode == BackgroundMode::Transparent;
    let ext = output.extension().and_then(|e| e.to_str()).unwrap_or("").to_ascii_lowercase();
    if !PHOTO_EXTENSIONS.contains(&ext.as_str()) {
        return Err(usage(format!("{}: write a photo as .png, .jpg or .bmp", output.display())));
    }
    if transparent && ext != "png" {
        return Err(usage(format!("{}: transparency needs a .png output", output.display())));
    }
    let picture = image::open(input).map_err(|e| Error::image(format!("cannot read {}: {e}", input.display())))?;
    let rgba = picture.into_rgba8();
    let (w, h) = rgba.dimensions();
    // As OBS shows a still picture: after the crop has settled on the person.
    let (out, _) = pipeline.render_still(RgbaView::new(w, h, rgba.as_raw()))?;
    let out = image::RgbaImage::from_raw(w, h, out).expect("compositor returns w*h pixels");
    let saved =
        if ext == "png" { out.save(output) } else { image::DynamicImage::ImageRgba8(out).into_rgb8().save(output) };
    saved.map_err(|e| Error::image(format!("cannot write {}: {e}", output.display())))
}

fn render_video(
    pipeline: &mut Pipeline,
    mut background: Option<&mut Background>,
    input: &Path,
    output: &Path,
    progress: bool,
) -> Result<u64, Error> {
    let info = probe(input)?;
    let alpha = pipeline.settings.mode == BackgroundMode::Transparent;
    let mut decoder = Decoder::open(input, &info)?;
    let mut encoder = Encoder::create(output, &info, input, alpha)?;
    pipeline.frame_rate = info.frame_rate();
    let mut frame = Vec::new();
    let mut done = 0u64;
    let started = Instant::now();
    let mut shown = Instant::now() - Duration::from_secs(1);
    while decoder.next_frame(&mut frame)? {
        if let Some(b) = background.as_deref_mut() {
            b.advance(pipeline)?;
        }
        let (out, _) = pipeline.render(RgbaView::new(info.width, info.height, &frame))?;
        encoder.write(&out)?;
        done += 1;
        if progress && shown.elapsed() >= Duration::from_millis(200) {
            shown = Instant::now();
            draw_progress(done, info.frames, started.elapsed());
        }
    }
    encoder.finish()?;
    if progress {
        draw_progress(done, Some(done), started.elapsed());
        eprintln!();
    }
    Ok(done)
}

fn draw_progress(done: u64, total: Option<u64>, elapsed: Duration) {
    let fps = done as f64 / elapsed.as_secs_f64().max(1e-3);
    let line = match total {
        Some(t) if t > 0 => {
            let filled = ((done as f64 / t as f64) * 30.0).round().min(30.0) as usize;
            format!(
                "[{}{}] {:3.0}% {done}/{t} frames {fps:.1} fps",
                "#".repeat(filled),
                " ".repeat(30 - filled),
                100.0 * done as f64 / t as f64
            )
        }
        _ => format!("{done} frames {fps:.1} fps"),
    };
    eprint!("\r{line}");
    let _ = std::io::stderr().flush();
}

#[cfg(test)]
mod tests {
    use super::parse_crop;

    #[test]
    fn crops_are_four_fractions_inside_the_frame() {
        let c = parse_crop("0.25, 0.1,0.5,0.9").unwrap();
        assert_eq!((c.x, c.y, c.w, c.h), (0.25, 0.1, 0.5, 0.9));
        for bad in ["", "0.1,0.2,0.3", "a,b,c,d", "0.6,0,0.5,1", "0,0,0,1", "-0.1,0,0.5,0.5", "0,0,1,1,1"] {
            assert!(parse_crop(bad).is_err(), "{bad}");
        }
    }
}

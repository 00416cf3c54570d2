//! Background pictures: decoding off the graphics thread, and how a picture is fitted to the frame.

use crate::error::Error;
use crate::preprocess::{resize_rgba, RgbaView};
use crate::settings::ImageFit;
use std::path::Path;

/// Longest side kept after decoding. Larger pictures are scaled down once, so an 8K photo costs neither
/// video memory nor upload time per frame; 4096 still covers a 4K canvas.
pub const MAX_SIDE: u32 = 4096;

/// A decoded picture, tightly packed RGBA with premultiplied alpha: the form an OBS source takes when it is
/// drawn into a cleared texture, so pictures and sources are composited by the same shader.
#[derive(Clone, Debug, PartialEq)]
pub struct DecodedImage {
    pub width: u32,
    pub height: u32,
    pub rgba: Vec<u8>,
}

/// Decodes a PNG, JPEG or BMP file, scaling it down to at most `MAX_SIDE` pixels on its longest side.
pub fn load(path: &Path) -> Result<DecodedImage, Error> {
    if path.as_os_str().is_empty() {
        return Err(Error::image("no background image chosen"));
    }
    let reader = image::ImageReader::open(path)
        .map_err(|e| Error::image(format!("cannot open background image {}: {e}", path.display())))?
        .with_guessed_format()
        .map_err(|e| Error::image(format!("cannot read background image {}: {e}", path.display())))?;
    let picture = reader
        .decode()
        .map_err(|e| Error::image(format!("cannot decode background image {}: {e}", path.display())))?
        .into_rgba8();
    let (width, height) = picture.dimensions();
    let mut rgba = picture.into_raw();
    premultiply(&mut rgba);
    Ok(shrink_to_fit(DecodedImage { width, height, rgba }, MAX_SIDE))
}

/// Colour times alpha, rounded (opaque pixels are unchanged).
pub fn premultiply(rgba: &mut [u8]) {
    for px in rgba.chunks_exact_mut(4) {
        let a = u32::from(px[3]);
        if a < 255 {
            for c in &mut px[..3] {
                *c = ((u32::from(*c) * a + 127) / 255) as u8;
            }
        }
    }
}

fn shrink_to_fit(img: DecodedImage, max_side: u32) -> DecodedImage {
    let longest = img.width.max(img.height);
    if longest <= max_side {
        return img;
    }
    let scale = f64::from(max_side) / f64::from(longest);
    let width = ((f64::from(img.width) * scale).round() as u32).max(1);
    let height = ((f64::from(img.height) * scale).round() as u32).max(1);
    let rgba = resize_rgba(RgbaView::new(img.width, img.height, &img.rgba), width, height);
    DecodedImage { width, height, rgba }
}

/// Maps output texture coordinates to background coordinates: `bg = uv * scale + offset`. Coordinates outside
/// 0..=1 (Contain's borders) are filled with the background colour by the shader.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct UvTransform {
    pub scale: [f32; 2],
    pub offset: [f32; 2],
}

impl UvTransform {
    pub const IDENTITY: UvTransform = UvTransform { scale: [1.0, 1.0], offset: [0.0, 0.0] };

    pub fn apply(&self, uv: [f32; 2]) -> [f32; 2] {
        [uv[0] * self.scale[0] + self.offset[0], uv[1] * self.scale[1] + self.offset[1]]
    }
}

/// How a `image_w` x `image_h` picture covers a `frame_w` x `frame_h` frame.
pub fn fit_transform(fit: ImageFit, image_w: u32, image_h: u32, frame_w: u32, frame_h: u32) -> UvTransform {
    if image_w == 0 || image_h == 0 || frame_w == 0 || frame_h == 0 {
        return UvTransform::IDENTITY;
    }
    let image_aspect = image_w as f32 / image_h as f32;
    let frame_aspect = frame_w as f32 / frame_h as f32;
    // Fraction of the picture's width and height that one frame spans.
    let (sx, sy) = match fit {
        ImageFit::Stretch => (1.0, 1.0),
        ImageFit::Cover if image_aspect > frame_aspect => (frame_aspect / image_aspect, 1.0),
        ImageFit::Cover => (1.0, image_aspect / frame_aspect),
        ImageFit::Contain if image_aspect > frame_aspect => (1.0, image_aspect / frame_aspect),
        ImageFit::Contain => (frame_aspect / image_aspect, 1.0),
    };
    UvTransform { scale: [sx, sy], offset: [(1.0 - sx) / 2.0, (1.0 - sy) / 2.0] }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: [f32; 2], b: [f32; 2]) -> bool {
        (a[0] - b[0]).abs() < 1e-5 && (a[1] - b[1]).abs() < 1e-5
    }

    #[test]
    fn cover_crops_the_wider_picture_centrally() {
        // 2:1 picture on a 1:1 frame: the frame shows the middle half of the picture's width.
        let t = fit_transform(ImageFit::Cover, 200, 100, 50, 50);
        assert!(close(t.apply([0.0, 0.0]), [0.25, 0.0]));
        assert!(close(t.apply([1.0, 1.0]), [0.75, 1.0]));
    }

    #[test]
    fn contain_letterboxes_the_wider_picture() {
        let t = fit_transform(ImageFit::Contain, 200, 100, 50, 50);
        assert!(close(t.apply([0.5, 0.0]), [0.5, -0.5]));
        assert!(close(t.apply([0.5, 1.0]), [0.5, 1.5]));
        assert!(close(t.apply([0.0, 0.5]), [0.0, 0.5]));
    }

    #[test]
    fn cover_and_contain_handle_taller_pictures() {
        let cover = fit_transform(ImageFit::Cover, 100, 400, 100, 100);
        assert!(close(cover.apply([0.0, 0.0]), [0.0, 0.375]));
        let contain = fit_transform(ImageFit::Contain, 100, 400, 100, 100);
        assert!(close(contain.apply([0.0, 0.0]), [-1.5, 0.0]));
    }

    #[test]
    fn stretch_and_same_aspect_are_identity() {
        assert_eq!(fit_transform(ImageFit::Stretch, 10, 1000, 1920, 1080), UvTransform::IDENTITY);
        assert_eq!(fit_transform(ImageFit::Cover, 1280, 720, 1920, 1080), UvTransform::IDENTITY);
        assert_eq!(fit_transform(ImageFit::Contain, 0, 0, 1920, 1080), UvTransform::IDENTITY);
    }

    #[test]
    fn large_pictures_are_shrunk_keeping_aspect() {
        let img = DecodedImage { width: 8000, height: 2000, rgba: vec![128; 8000 * 2000 * 4] };
        let small = shrink_to_fit(img, 4000);
        assert_eq!((small.width, small.height), (4000, 1000));
        assert_eq!(small.rgba.len(), 4000 * 1000 * 4);
    }

    #[test]
    fn alpha_is_premultiplied() {
        let mut px = vec![200, 100, 50, 255, 200, 100, 50, 128, 200, 100, 50, 0];
        premultiply(&mut px);
        assert_eq!(px, vec![200, 100, 50, 255, 100, 50, 25, 128, 0, 0, 0, 0]);
    }

    #[test]
    fn unreadable_files_are_errors() {
        assert!(load(Path::new("")).unwrap_err().message.contains("no background image"));
        assert!(load(Path::new("/nonexistent.png")).unwrap_err().message.contains("/nonexistent.png"));
        let bogus = std::env::temp_dir().join(format!("vbg-bogus-{}.png", std::process::id()));
        std::fs::write(&bogus, b"not an image at all").unwrap();
        assert!(load(&bogus).is_err());
        std::fs::remove_file(bogus).unwrap();
    }

    #[test]
    fn a_png_round_trips() {
        let path = std::env::temp_dir().join(format!("vbg-ok-{}.png", std::process::id()));
        let pixels: Vec<u8> = (0..3 * 2).flat_map(|i| [i as u8 * 40, 10, 20, 255]).collect();
        image::save_buffer(&path, &pixels, 3, 2, image::ExtendedColorType::Rgba8).unwrap();
        let img = load(&path).unwrap();
        std::fs::remove_file(path).unwrap();
        assert_eq!((img.width, img.height), (3, 2));
        assert_eq!(img.rgba, pixels);
    }
}

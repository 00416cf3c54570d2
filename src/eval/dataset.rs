//! Evaluation sets on disk, in the layout of the packed sets (`/work/shared/eval/<set>/`), and decoding their
//! pictures.
//!
//! A set is a folder with an `index.csv` (comma-separated, first line a header, no quoting). What the header
//! names decides the kind of set:
//!
//! * `id` — an image set: `images/<id>.jpg`, ground truth `masks/<id>.png` (8-bit, >= 128 = person),
//!   optionally `ignore/<id>.png` (>= 128 = pixel not scored) and `alpha/<id>.png` (8-bit alpha ground truth).
//! * `sequence` and `frame` — a video set with per-frame ground truth: the same files under `<sequence>/`
//!   (`<sequence>/images/<frame>.jpg`, `<sequence>/masks/<frame>.png`, ...). Pictures may also be `.png`.
//! * `file` — clips without ground truth: each row names an `.mp4`, found in the folder itself or in its
//!   `videos/` subfolder. A folder without `index.csv` is also read as clips: every `*.mp4` in it (or in
//!   `videos/`), sorted by name.
//!
//! Rows with `recommended_exclude=1` are skipped, as `score_masks.py` does.

use crate::error::Error;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// The contents of an evaluation set folder.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EvalSet {
    /// Independent pictures, in index order.
    Images(Vec<Sample>),
    /// Videos as frames with per-frame ground truth, sequences in order of first appearance in the index.
    Sequences(Vec<Sequence>),
    /// Video clips without ground truth, to be decoded elsewhere.
    Clips(Vec<PathBuf>),
}

/// One picture and its ground truth files. Only `image` is guaranteed to exist; the others are `Some` when
/// the file is present.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sample {
    /// `<id>` for image sets, `<sequence>/<frame>` for sequences: where `score_masks.py` looks for the
    /// prediction, relative to the prediction folder and without `.png` (see [`Sample::prediction_path`]).
    pub id: String,
    pub image: PathBuf,
    pub mask: Option<PathBuf>,
    pub ignore: Option<PathBuf>,
    pub alpha: Option<PathBuf>,
}

/// The frames of one video, in frame order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sequence {
    pub name: String,
    pub frames: Vec<Sample>,
}

impl Sample {
    /// `<pred_dir>/<id>.png`, the file `score_masks.py` reads as this sample's predicted mask.
    pub fn prediction_path(&self, pred_dir: &Path) -> PathBuf {
        pred_dir.join(format!("{}.png", self.id))
    }
}

impl EvalSet {
    /// Every scored picture: the images of an image set, or all frames of all sequences in order. Empty for
    /// clips.
    pub fn samples(&self) -> Vec<&Sample> {
        match self {
            EvalSet::Images(samples) => samples.iter().collect(),
            EvalSet::Sequences(sequences) => sequences.iter().flat_map(|s| s.frames.iter()).collect(),
            EvalSet::Clips(_) => Vec::new(),
        }
    }
}

/// Reads the evaluation set in `dir` (see the module documentation for the layouts). Fails if the index is
/// unreadable, has none of the known columns, or names a picture or clip that does not exist.
pub fn open(dir: &Path) -> Result<EvalSet, Error> {
    let index_path = dir.join("index.csv");
    if !index_path.is_file() {
        let clips = mp4_files(dir)?;
        if clips.is_empty() {
            return Err(Error::install(format!(
                "{} is not an evaluation set: it has no index.csv and no .mp4 clips",
                dir.display()
            )));
        }
        return Ok(EvalSet::Clips(clips));
    }
    let text = std::fs::read_to_string(&index_path)
        .map_err(|e| Error::install(format!("cannot read {}: {e}", index_path.display())))?;
    let table = Table::parse(&text).map_err(|e| Error::install(format!("{}: {e}", index_path.display())))?;
    let rows: Vec<&Vec<String>> =
        table.rows.iter().filter(|row| table.get(row, "recommended_exclude").map(str::trim) != Some("1")).collect();

    if table.has("id") {
        let samples = rows
            .iter()
            .map(|row| sample(dir, table.get(row, "id").unwrap_or_default(), None))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(EvalSet::Images(samples))
    } else if table.has("sequence") && table.has("frame") {
        let mut sequences: Vec<Sequence> = Vec::new();
        for row in rows {
            let name = table.get(row, "sequence").unwrap_or_default();
            let frame = sample(dir, table.get(row, "frame").unwrap_or_default(), Some(name))?;
            match sequences.iter_mut().find(|s| s.name == name) {
                Some(s) => s.frames.push(frame),
                None => sequences.push(Sequence { name: name.to_string(), frames: vec![frame] }),
            }
        }
        for s in &mut sequences {
            // Numbered frames in numeric order even if the index lists them otherwise or they are not padded.
            s.frames.sort_by_cached_key(|f| {
                let frame = f.id.rsplit('/').next().unwrap_or_default().to_string();
                (frame.parse::<u64>().ok(), frame)
            });
        }
        Ok(EvalSet::Sequences(sequences))
    } else if table.has("file") {
        let clips = rows
            .iter()
            .map(|row| {
                let file = table.get(row, "file").unwrap_or_default();
                [dir.join(file), dir.join("videos").join(file)].into_iter().find(|p| p.is_file()).ok_or_else(|| {
                    Error::install(format!("{} names clip {file}, which is not in the folder", index_path.display()))
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(EvalSet::Clips(clips))
    } else {
        Err(Error::install(format!(
            "{}: the header has none of the columns id, sequence+frame or file",
            index_path.display()
        )))
    }
}

/// The files of one picture; `sequence` is the subfolder of a video set.
fn sample(dir: &Path, key: &str, sequence: Option<&str>) -> Result<Sample, Error> {
    if key.is_empty() {
        return Err(Error::install(format!("{}: a row of index.csv has an empty id or frame", dir.display())));
    }
    let base = match sequence {
        Some(s) => dir.join(s),
        None => dir.to_path_buf(),
    };
    // JPEG as the shared sets have it, or PNG (lossless frames, e.g. scripts/motion_eval_set.py).
    let jpeg = base.join("images").join(format!("{key}.jpg"));
    let Some(image) = [jpeg.clone(), jpeg.with_extension("png")].into_iter().find(|p| p.is_file()) else {
        return Err(Error::install(format!("evaluation picture {} is missing", jpeg.display())));
    };
    let optional = |folder: &str| Some(base.join(folder).join(format!("{key}.png"))).filter(|p| p.is_file());
    Ok(Sample {
        id: match sequence {
            Some(s) => format!("{s}/{key}"),
            None => key.to_string(),
        },
        image,
        mask: optional("masks"),
        ignore: optional("ignore"),
        alpha: optional("alpha"),
    })
}

/// `*.mp4` in `dir` and in `dir/videos`, sorted.
fn mp4_files(dir: &Path) -> Result<Vec<PathBuf>, Error> {
    let mut clips = Vec::new();
    for folder in [dir.to_path_buf(), dir.join("videos")] {
        let Ok(entries) = std::fs::read_dir(&folder) else {
            continue;
        };
        for entry in entries {
            let path = entry.map_err(|e| Error::install(format!("cannot list {}: {e}", folder.display())))?.path();
            if path.is_file() && path.extension().is_some_and(|e| e.eq_ignore_ascii_case("mp4")) {
                clips.push(path);
            }
        }
    }
    clips.sort();
    Ok(clips)
}

/// A CSV file without quoting: a header line and rows of comma-separated fields.
struct Table {
    columns: HashMap<String, usize>,
    rows: Vec<Vec<String>>,
}

impl Table {
    fn parse(text: &str) -> Result<Table, String> {
        let mut lines = text.lines().map(|l| l.trim_end_matches('\r')).filter(|l| !l.trim().is_empty());
        let header = lines.next().ok_or("index.csv is empty")?;
        let columns = header
            .trim_start_matches('\u{feff}')
            .split(',')
            .enumerate()
            .map(|(i, name)| (name.trim().to_string(), i))
            .collect();
        let rows = lines.map(|l| l.split(',').map(|f| f.trim().to_string()).collect()).collect();
        Ok(Table { columns, rows })
    }

    fn has(&self, column: &str) -> bool {
        self.columns.contains_key(column)
    }

    /// The field of `row` in `column`; `None` if there is no such column or the row is short.
    fn get<'a>(&self, row: &'a [String], column: &str) -> Option<&'a str> {
        self.columns.get(column).and_then(|&i| row.get(i)).map(String::as_str)
    }
}

fn decode(path: &Path) -> Result<image::DynamicImage, Error> {
    image::ImageReader::open(path)
        .map_err(|e| Error::image(format!("cannot open {}: {e}", path.display())))?
        .with_guessed_format()
        .map_err(|e| Error::image(format!("cannot read {}: {e}", path.display())))?
        .decode()
        .map_err(|e| Error::image(format!("cannot decode {}: {e}", path.display())))
}

/// Decodes a PNG, JPEG or BMP file to tightly packed RGBA: `(width, height, pixels)`. Greyscale pictures come
/// out grey in all three colour channels; alpha is 255 where the file has none.
pub fn load_rgba(path: &Path) -> Result<(u32, u32, Vec<u8>), Error> {
    let rgba = decode(path)?.into_rgba8();
    let (width, height) = rgba.dimensions();
    Ok((width, height, rgba.into_raw()))
}

/// Decodes a mask, ignore map or alpha file to one 8-bit value per pixel: `(width, height, values)`.
///
/// Matches Pillow's `convert('L')`, as `score_masks.py` reads predictions: 8-bit grey is taken as is (alpha of
/// grey+alpha dropped), 16-bit grey is scaled to 8 bits, and colour becomes ITU-R 601 luma,
/// `(19595 R + 38470 G + 7471 B + 32768) >> 16`, ignoring alpha.
pub fn load_gray(path: &Path) -> Result<(u32, u32, Vec<u8>), Error> {
    use image::DynamicImage;
    let (width, height, values) = match decode(path)? {
        DynamicImage::ImageLuma8(g) => (g.width(), g.height(), g.into_raw()),
        img @ (DynamicImage::ImageLumaA8(_) | DynamicImage::ImageLuma16(_) | DynamicImage::ImageLumaA16(_)) => {
            let g = img.into_luma8();
            (g.width(), g.height(), g.into_raw())
        }
        img => {
            let rgb = img.into_rgb8();
            let luma = rgb
                .pixels()
                .map(|p| {
                    let [r, g, b] = p.0.map(u32::from);
                    ((19595 * r + 38470 * g + 7471 * b + 0x8000) >> 16) as u8
                })
                .collect();
            (rgb.width(), rgb.height(), luma)
        }
    };
    Ok((width, height, values))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fresh folder under the system temp directory, removed on drop.
    struct TempDir(PathBuf);
    impl TempDir {
        fn new(name: &str) -> TempDir {
            let dir = std::env::temp_dir().join(format!("vbg-dataset-{name}-{}", std::process::id()));
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

    fn touch(path: &Path) {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, b"").unwrap();
    }

    #[test]
    fn image_set_skips_excluded_rows_and_finds_optional_files() {
        let t = TempDir::new("images");
        let d = &t.0;
        std::fs::write(
            d.join("index.csv"),
            "id,width,flag,recommended_exclude\r\n001,4,,0\r\n002,4,statue,1\r\n003,4,,\r\n",
        )
        .unwrap();
        for id in ["001", "002", "003"] {
            touch(&d.join(format!("images/{id}.jpg")));
            touch(&d.join(format!("masks/{id}.png")));
        }
        touch(&d.join("ignore/003.png"));
        touch(&d.join("alpha/001.png"));
        let EvalSet::Images(samples) = open(d).unwrap() else { panic!("not an image set") };
        assert_eq!(samples.iter().map(|s| s.id.as_str()).collect::<Vec<_>>(), ["001", "003"]);
        assert_eq!(samples[0].image, d.join("images/001.jpg"));
        assert_eq!(samples[0].mask, Some(d.join("masks/001.png")));
        assert_eq!(samples[0].alpha, Some(d.join("alpha/001.png")));
        assert_eq!(samples[0].ignore, None);
        assert_eq!(samples[1].ignore, Some(d.join("ignore/003.png")));
        assert_eq!(samples[1].alpha, None);
        assert_eq!(samples[1].prediction_path(Path::new("/p")), Path::new("/p/003.png"));
    }

    #[test]
    fn missing_picture_is_an_error() {
        let t = TempDir::new("missing");
        std::fs::write(t.0.join("index.csv"), "id\n001\n").unwrap();
        let e = open(&t.0).unwrap_err();
        assert!(e.message.contains("001.jpg"), "{}", e.message);
    }

    #[test]
    fn sequences_group_rows_and_order_frames() {
        let t = TempDir::new("sequences");
        let d = &t.0;
        std::fs::write(d.join("index.csv"), "sequence,frame,width\nb,00001,8\nb,00000,8\na,7,8\na,10,8\n").unwrap();
        for (s, f) in [("b", "00000"), ("b", "00001"), ("a", "7"), ("a", "10")] {
            touch(&d.join(format!("{s}/images/{f}.jpg")));
            touch(&d.join(format!("{s}/masks/{f}.png")));
        }
        let set = open(d).unwrap();
        let EvalSet::Sequences(seqs) = &set else { panic!("not a sequence set") };
        assert_eq!(seqs.iter().map(|s| s.name.as_str()).collect::<Vec<_>>(), ["b", "a"]);
        assert_eq!(seqs[0].frames.iter().map(|f| f.id.as_str()).collect::<Vec<_>>(), ["b/00000", "b/00001"]);
        assert_eq!(seqs[1].frames.iter().map(|f| f.id.as_str()).collect::<Vec<_>>(), ["a/7", "a/10"]);
        assert_eq!(seqs[1].frames[1].mask, Some(d.join("a/masks/10.png")));
        assert_eq!(seqs[1].frames[1].prediction_path(Path::new("/p")), Path::new("/p/a/10.png"));
        assert_eq!(set.samples().len(), 4);
    }

    #[test]
    fn clips_from_index_or_folder() {
        let t = TempDir::new("clips");
        let d = &t.0;
        touch(&d.join("videos/b.mp4"));
        touch(&d.join("a.MP4"));
        touch(&d.join("notes.txt"));
        assert_eq!(open(d).unwrap(), EvalSet::Clips(vec![d.join("a.MP4"), d.join("videos/b.mp4")]));
        std::fs::write(d.join("index.csv"), "file,fps\nb.mp4,25/1\n").unwrap();
        assert_eq!(open(d).unwrap(), EvalSet::Clips(vec![d.join("videos/b.mp4")]));
        std::fs::write(d.join("index.csv"), "file,fps\nc.mp4,25/1\n").unwrap();
        assert!(open(d).is_err());
    }

    #[test]
    fn unknown_folders_are_errors() {
        let t = TempDir::new("unknown");
        assert!(open(&t.0).is_err());
        std::fs::write(t.0.join("index.csv"), "name,width\nx,1\n").unwrap();
        assert!(open(&t.0).is_err());
    }

    #[test]
    fn gray_loading_matches_pillow_luma() {
        let t = TempDir::new("gray");
        let path = t.0.join("rgb.png");
        // Pillow's convert('L'): (0,180,0) -> 106, (255,255,255) -> 255, (255,0,0) -> 76, (0,0,255) -> 29.
        let pixels = [0, 180, 0, 255, 255, 255, 255, 0, 0, 0, 0, 255];
        image::RgbImage::from_raw(4, 1, pixels.to_vec()).unwrap().save(&path).unwrap();
        assert_eq!(load_gray(&path).unwrap(), (4, 1, vec![106, 255, 76, 29]));
        let grey = t.0.join("grey.png");
        image::GrayImage::from_raw(2, 1, vec![7, 200]).unwrap().save(&grey).unwrap();
        assert_eq!(load_gray(&grey).unwrap(), (2, 1, vec![7, 200]));
        assert_eq!(load_rgba(&grey).unwrap(), (2, 1, vec![7, 7, 7, 255, 200, 200, 200, 255]));
    }
}

//! The filter's settings: keys, defaults, ranges and validation.
//!
//! Shared by the OBS filter and the offline tools so both mean the same thing by every name. A key, once
//! released, never changes meaning: new behaviour gets a new key.

/// Settings keys as stored in OBS scene collections.
pub mod keys {
    pub const MODE: &str = "mode";
    pub const BLUR_STRENGTH: &str = "blur_strength";
    pub const IMAGE_PATH: &str = "image_path";
    pub const IMAGE_FIT: &str = "image_fit";
    pub const COLOR: &str = "color";
    pub const MODEL: &str = "model";
    pub const MODEL_PATH: &str = "model_path";
    pub const THRESHOLD: &str = "threshold";
    pub const SOFTNESS: &str = "softness";
    pub const THREADS: &str = "threads";
    pub const EDGE_REFINE: &str = "edge_refine";
    pub const TEMPORAL_SMOOTHING: &str = "temporal_smoothing";
    pub const GROW: &str = "grow";
    pub const FEATHER: &str = "feather";
    pub const LIGHT_WRAP: &str = "light_wrap";
    pub const SYNC_VIDEO: &str = "sync_video";
    /// Cut the model's input around the person (added after the first release: older scenes get the default, on).
    pub const FOLLOW_PERSON: &str = "follow_person";
    /// Average the masks of the frame and of its mirror image (added after the first release: default off).
    pub const MIRROR_AVERAGE: &str = "mirror_average";
    /// Move the mask on with the person's measured motion (added after the first release: default on).
    pub const PREDICT_MOTION: &str = "predict_motion";
    pub const DEVICE: &str = "device";
    /// Source mode: the name of the OBS source or scene drawn behind the person (as OBS shows it).
    pub const BACKGROUND_SOURCE: &str = "background_source";
    /// Draw the mask instead of the composite, for tuning (added after the first release: default off).
    pub const MASK_VIEW: &str = "mask_view";
}

/// Declares a settings enum stored as a stable string, with its list of values in display order.
macro_rules! string_setting {
    ($(#[$meta:meta])* $name:ident { $($variant:ident => $key:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum $name { $($variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The value stored in settings.
            pub fn key(self) -> &'static str {
                match self { $($name::$variant => $key),+ }
            }

            pub fn from_key(key: &str) -> Option<Self> {
                match key { $($key => Some($name::$variant),)+ _ => None }
            }
        }
    };
}

string_setting!(
    /// What replaces the background.
    BackgroundMode {
        Blur => "blur",
        Image => "image",
        Source => "source",
        Color => "color",
        Transparent => "transparent",
    }
);

impl BackgroundMode {
    /// Modes that draw a picture behind the person (a file or an OBS source), fitted as `image_fit` says.
    pub fn shows_picture(self) -> bool {
        matches!(self, BackgroundMode::Image | BackgroundMode::Source)
    }

    /// Modes with a new background that can light the person's edge (light wrap) and a colour behind it.
    pub fn has_backdrop(self) -> bool {
        matches!(self, BackgroundMode::Image | BackgroundMode::Source | BackgroundMode::Color)
    }
}

string_setting!(
    /// How a background image of another aspect ratio fills the frame.
    ImageFit {
        Cover => "cover",
        Contain => "contain",
        Stretch => "stretch",
    }
);

string_setting!(
    /// Which segmentation model runs.
    ModelChoice {
        SelfieGeneral => "selfie_general",
        SelfieLandscape => "selfie_landscape",
        Modnet => "modnet",
        Custom => "custom",
    }
);

string_setting!(
    /// Where inference runs: the CPU, or an ONNX Runtime execution provider (when the loaded runtime has it).
    Device {
        Cpu => "cpu",
        Cuda => "cuda",
        TensorRt => "tensorrt",
        Rocm => "rocm",
        OpenVino => "openvino",
        DirectMl => "directml",
        CoreMl => "coreml",
    }
);

string_setting!(
    /// What the filter draws: the composite, or the person's opacity for judging the mask's edge.
    MaskView {
        Off => "off",
        Mask => "mask",
        Overlay => "overlay",
    }
);

impl Device {
    /// The name people know it by, for the status line and the logs.
    pub fn display_name(self) -> &'static str {
        match self {
            Device::Cpu => "CPU",
            Device::Cuda => "CUDA",
            Device::TensorRt => "TensorRT",
            Device::Rocm => "ROCm",
            Device::OpenVino => "OpenVINO",
            Device::DirectMl => "DirectML",
            Device::CoreMl => "CoreML",
        }
    }

    /// The execution provider's name in ONNX Runtime (`GetAvailableProviders`).
    pub fn provider_name(self) -> &'static str {
        match self {
            Device::Cpu => "CPUExecutionProvider",
            Device::Cuda => "CUDAExecutionProvider",
            Device::TensorRt => "TensorrtExecutionProvider",
            Device::Rocm => "ROCMExecutionProvider",
            Device::OpenVino => "OpenVINOExecutionProvider",
            Device::DirectMl => "DmlExecutionProvider",
            Device::CoreMl => "CoreMLExecutionProvider",
        }
    }
}

/// An inclusive numeric range with its default, as shown on a slider.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Range<T> {
    pub min: T,
    pub max: T,
    pub step: T,
    pub default: T,
}

impl<T: PartialOrd + Copy> Range<T> {
    pub fn clamp(&self, value: T) -> T {
        if value < self.min {
            self.min
        } else if value > self.max {
            self.max
        } else {
            value
        }
    }
}

pub const BLUR_STRENGTH: Range<i64> = Range { min: 1, max: 100, step: 1, default: 50 };
pub const THRESHOLD: Range<f64> = Range { min: 0.0, max: 1.0, step: 0.01, default: 0.5 };
pub const SOFTNESS: Range<f64> = Range { min: 0.0, max: 0.5, step: 0.01, default: 0.1 };
pub const THREADS: Range<i64> = Range { min: 1, max: 8, step: 1, default: 1 };
/// 0 = each mask as it comes; towards 1 = still pixels keep more of the previous mask.
pub const TEMPORAL_SMOOTHING: Range<f64> = Range { min: 0.0, max: 0.95, step: 0.05, default: 0.9 };
/// Pixels (at the output size) to grow (+) or shrink (-) the person.
pub const GROW: Range<i64> = Range { min: -20, max: 20, step: 1, default: 0 };
/// Width in pixels (at the output size) of the blur on the person's outline.
pub const FEATHER: Range<i64> = Range { min: 0, max: 12, step: 1, default: 0 };
/// How much background light spills onto the person's edge (Image and Color modes).
pub const LIGHT_WRAP: Range<f64> = Range { min: 0.0, max: 1.0, step: 0.05, default: 0.0 };
pub const DEFAULT_EDGE_REFINE: bool = true;
pub const DEFAULT_SYNC_VIDEO: bool = false;
pub const DEFAULT_FOLLOW_PERSON: bool = true;
pub const DEFAULT_MIRROR_AVERAGE: bool = false;
pub const DEFAULT_PREDICT_MOTION: bool = true;
pub const DEFAULT_MODE: BackgroundMode = BackgroundMode::Blur;
pub const DEFAULT_FIT: ImageFit = ImageFit::Cover;
pub const DEFAULT_MODEL: ModelChoice = ModelChoice::SelfieGeneral;
pub const DEFAULT_DEVICE: Device = Device::Cpu;
pub const DEFAULT_MASK_VIEW: MaskView = MaskView::Off;
/// Chroma-key green, so Color mode works with a downstream chroma key out of the box.
pub const DEFAULT_COLOR: Rgba = Rgba { r: 0, g: 255, b: 0, a: 255 };

/// An 8-bit sRGB colour.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rgba {
    pub r: u8,
    pub g: u8,
    pub b: u8,
    pub a: u8,
}

impl Rgba {
    /// OBS stores colours as 0xAABBGGRR.
    pub fn from_obs(value: i64) -> Rgba {
        let v = value as u32;
        Rgba { r: v as u8, g: (v >> 8) as u8, b: (v >> 16) as u8, a: (v >> 24) as u8 }
    }

    pub fn to_obs(self) -> i64 {
        (u32::from(self.a) << 24 | u32::from(self.b) << 16 | u32::from(self.g) << 8 | u32::from(self.r)) as i64
    }

    /// Parses `#rrggbb` or `#rrggbbaa` (the `#` is optional).
    pub fn parse_hex(text: &str) -> Option<Rgba> {
        let hex = text.strip_prefix('#').unwrap_or(text);
        let byte = |i: usize| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok();
        match hex.len() {
            6 => Some(Rgba { r: byte(0)?, g: byte(2)?, b: byte(4)?, a: 255 }),
            8 => Some(Rgba { r: byte(0)?, g: byte(2)?, b: byte(4)?, a: byte(6)? }),
            _ => None,
        }
    }

    /// Channels in 0..=1, for shader parameters.
    pub fn to_unit(self) -> [f32; 4] {
        [self.r, self.g, self.b, self.a].map(|c| f32::from(c) / 255.0)
    }
}

/// Where settings are read from: OBS's settings object in the plugin, command-line flags in tools.
pub trait SettingsSource {
    fn string(&self, key: &str) -> Option<String>;
    fn int(&self, key: &str) -> Option<i64>;
    fn float(&self, key: &str) -> Option<f64>;
    fn boolean(&self, key: &str) -> Option<bool>;
}

/// One validated, typed snapshot of every setting.
#[derive(Clone, Debug, PartialEq)]
pub struct Settings {
    pub mode: BackgroundMode,
    pub blur_strength: u32,
    pub image_path: String,
    /// Source mode: the background source's name.
    pub background_source: String,
    pub image_fit: ImageFit,
    pub color: Rgba,
    pub model: ModelChoice,
    pub model_path: String,
    pub threshold: f32,
    pub softness: f32,
    pub threads: u32,
    /// Upsample the mask guided by the full-resolution frame, so its edge follows the person's.
    pub edge_refine: bool,
    pub temporal_smoothing: f32,
    pub grow: i32,
    pub feather: u32,
    pub light_wrap: f32,
    /// Delay the video to show each frame with the mask computed from it.
    pub sync_video: bool,
    /// Let the model look at the person rather than the whole frame (region-of-interest crop).
    pub follow_person: bool,
    /// Two inferences per mask, of the frame and of its mirror image, averaged.
    pub mirror_average: bool,
    /// Move the mask, computed a few frames before the frame shown, on by the person's measured motion.
    pub predict_motion: bool,
    /// Where inference runs; falls back to the CPU when the device cannot run the model.
    pub device: Device,
    /// The mask drawn instead of the composite (Off: the composite).
    pub mask_view: MaskView,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            mode: DEFAULT_MODE,
            blur_strength: BLUR_STRENGTH.default as u32,
            image_path: String::new(),
            background_source: String::new(),
            image_fit: DEFAULT_FIT,
            color: DEFAULT_COLOR,
            model: DEFAULT_MODEL,
            model_path: String::new(),
            threshold: THRESHOLD.default as f32,
            softness: SOFTNESS.default as f32,
            threads: THREADS.default as u32,
            edge_refine: DEFAULT_EDGE_REFINE,
            temporal_smoothing: TEMPORAL_SMOOTHING.default as f32,
            grow: GROW.default as i32,
            feather: FEATHER.default as u32,
            light_wrap: LIGHT_WRAP.default as f32,
            sync_video: DEFAULT_SYNC_VIDEO,
            follow_person: DEFAULT_FOLLOW_PERSON,
            mirror_average: DEFAULT_MIRROR_AVERAGE,
            predict_motion: DEFAULT_PREDICT_MOTION,
            device: DEFAULT_DEVICE,
            mask_view: DEFAULT_MASK_VIEW,
        }
    }
}

impl Settings {
    /// Reads every setting, falling back to the default for missing or unknown values and clamping numbers
    /// into range, so a hand-edited or future scene collection can never produce an invalid state.
    pub fn read(source: &impl SettingsSource) -> Settings {
        let d = Settings::default();
        let choice = |key: &str| source.string(key).filter(|s| !s.is_empty());
        Settings {
            mode: choice(keys::MODE).and_then(|s| BackgroundMode::from_key(&s)).unwrap_or(d.mode),
            blur_strength: source.int(keys::BLUR_STRENGTH).map_or(d.blur_strength, |v| BLUR_STRENGTH.clamp(v) as u32),
            image_path: source.string(keys::IMAGE_PATH).unwrap_or_default().trim().to_string(),
            // Kept as typed: OBS source names may begin or end with spaces.
            background_source: source.string(keys::BACKGROUND_SOURCE).unwrap_or_default(),
            image_fit: choice(keys::IMAGE_FIT).and_then(|s| ImageFit::from_key(&s)).unwrap_or(d.image_fit),
            color: source.int(keys::COLOR).map_or(d.color, Rgba::from_obs),
            model: choice(keys::MODEL).and_then(|s| ModelChoice::from_key(&s)).unwrap_or(d.model),
            model_path: source.string(keys::MODEL_PATH).unwrap_or_default().trim().to_string(),
            threshold: source
                .float(keys::THRESHOLD)
                .filter(|v| v.is_finite())
                .map_or(d.threshold, |v| THRESHOLD.clamp(v) as f32),
            softness: source
                .float(keys::SOFTNESS)
                .filter(|v| v.is_finite())
                .map_or(d.softness, |v| SOFTNESS.clamp(v) as f32),
            threads: source.int(keys::THREADS).map_or(d.threads, |v| THREADS.clamp(v) as u32),
            edge_refine: source.boolean(keys::EDGE_REFINE).unwrap_or(d.edge_refine),
            temporal_smoothing: source
                .float(keys::TEMPORAL_SMOOTHING)
                .filter(|v| v.is_finite())
                .map_or(d.temporal_smoothing, |v| TEMPORAL_SMOOTHING.clamp(v) as f32),
            grow: source.int(keys::GROW).map_or(d.grow, |v| GROW.clamp(v) as i32),
            feather: source.int(keys::FEATHER).map_or(d.feather, |v| FEATHER.clamp(v) as u32),
            light_wrap: source
                .float(keys::LIGHT_WRAP)
                .filter(|v| v.is_finite())
                .map_or(d.light_wrap, |v| LIGHT_WRAP.clamp(v) as f32),
            sync_video: source.boolean(keys::SYNC_VIDEO).unwrap_or(d.sync_video),
            follow_person: source.boolean(keys::FOLLOW_PERSON).unwrap_or(d.follow_person),
            mirror_average: source.boolean(keys::MIRROR_AVERAGE).unwrap_or(d.mirror_average),
            predict_motion: source.boolean(keys::PREDICT_MOTION).unwrap_or(d.predict_motion),
            device: choice(keys::DEVICE).and_then(|s| Device::from_key(&s)).unwrap_or(d.device),
            mask_view: choice(keys::MASK_VIEW).and_then(|s| MaskView::from_key(&s)).unwrap_or(d.mask_view),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[derive(Default)]
    struct Map(HashMap<&'static str, String>);

    impl SettingsSource for Map {
        fn string(&self, key: &str) -> Option<String> {
            self.0.get(key).cloned()
        }
        fn int(&self, key: &str) -> Option<i64> {
            self.0.get(key)?.parse().ok()
        }
        fn float(&self, key: &str) -> Option<f64> {
            self.0.get(key)?.parse().ok()
        }
        fn boolean(&self, key: &str) -> Option<bool> {
            self.0.get(key)?.parse().ok()
        }
    }

    #[test]
    fn empty_source_gives_defaults() {
        assert_eq!(Settings::read(&Map::default()), Settings::default());
    }

    #[test]
    fn values_are_parsed_and_clamped() {
        let mut m = Map::default();
        m.0.insert(keys::MODE, "transparent".into());
        m.0.insert(keys::BLUR_STRENGTH, "500".into());
        m.0.insert(keys::THRESHOLD, "-3".into());
        m.0.insert(keys::SOFTNESS, "NaN".into());
        m.0.insert(keys::THREADS, "0".into());
        m.0.insert(keys::MODEL, "no-such-model".into());
        m.0.insert(keys::IMAGE_PATH, "  /tmp/a.png ".into());
        m.0.insert(keys::GROW, "-99".into());
        m.0.insert(keys::EDGE_REFINE, "false".into());
        m.0.insert(keys::FOLLOW_PERSON, "false".into());
        m.0.insert(keys::DEVICE, "quantum".into());
        m.0.insert(keys::MASK_VIEW, "x-ray".into());
        let s = Settings::read(&m);
        assert_eq!(s.mode, BackgroundMode::Transparent);
        assert_eq!(s.blur_strength, 100);
        assert_eq!(s.threshold, 0.0);
        assert_eq!(s.softness, SOFTNESS.default as f32);
        assert_eq!(s.threads, 1);
        assert_eq!(s.model, DEFAULT_MODEL);
        assert_eq!(s.image_path, "/tmp/a.png");
        assert_eq!(s.grow, -20);
        assert!(!s.edge_refine);
        assert!(!s.follow_person);
        assert_eq!(s.device, Device::Cpu);
        assert_eq!(s.mask_view, MaskView::Off, "an unknown view never hides the composite");
        m.0.insert(keys::MASK_VIEW, "overlay".into());
        assert_eq!(Settings::read(&m).mask_view, MaskView::Overlay);
        m.0.insert(keys::DEVICE, "cuda".into());
        assert_eq!(Settings::read(&m).device, Device::Cuda);
        m.0.insert(keys::MODE, "source".into());
        m.0.insert(keys::BACKGROUND_SOURCE, " Loop video ".into());
        let s = Settings::read(&m);
        assert_eq!((s.mode, s.background_source.as_str()), (BackgroundMode::Source, " Loop video "));
        assert!(s.mode.shows_picture() && s.mode.has_backdrop());
    }

    #[test]
    fn enum_keys_round_trip() {
        for m in BackgroundMode::ALL {
            assert_eq!(BackgroundMode::from_key(m.key()), Some(*m));
        }
        for f in ImageFit::ALL {
            assert_eq!(ImageFit::from_key(f.key()), Some(*f));
        }
        for c in ModelChoice::ALL {
            assert_eq!(ModelChoice::from_key(c.key()), Some(*c));
        }
        for d in Device::ALL {
            assert_eq!(Device::from_key(d.key()), Some(*d));
        }
        for v in MaskView::ALL {
            assert_eq!(MaskView::from_key(v.key()), Some(*v));
        }
    }

    #[test]
    fn colours_convert_between_obs_and_hex() {
        let c = Rgba::from_obs(0xFF00_80FF);
        assert_eq!(c, Rgba { r: 0xFF, g: 0x80, b: 0x00, a: 0xFF });
        assert_eq!(c.to_obs(), 0xFF00_80FF);
        assert_eq!(Rgba::parse_hex("#ff8000"), Some(c));
        assert_eq!(Rgba::parse_hex("ff800080").map(|c| c.a), Some(0x80));
        assert_eq!(Rgba::parse_hex("#ff80"), None);
        assert_eq!(Rgba::parse_hex("#gg8000"), None);
    }
}

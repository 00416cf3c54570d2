//! obs-virtual-background: an OBS Studio filter that segments the person in a video source with an ONNX
//! model and replaces the background with a blur, a picture, a colour or transparency.
//!
//! The core (everything but `obs`) knows nothing of OBS, so the tests and offline tools use it directly.

pub mod background_image;
pub mod background_source;
pub mod blur;
pub mod change;
pub mod change_gate;
pub mod crop;
pub mod crop_tracker;
pub mod cut_hold;
pub mod error;
pub mod eval;
pub mod filter_status;
pub mod guided_filter;
pub mod image_loader;
pub mod latest_slot;
pub mod mask;
pub mod mask_refiner;
pub mod model;
pub mod motion;
pub mod platform;
pub mod prediction;
pub mod preprocess;
pub mod refine;
pub mod runtime;
pub mod segmenter;
pub mod settings;
pub mod status;
pub mod temporal;
pub mod threads;
pub mod worker;

#[cfg(feature = "plugin")]
mod obs;

#[cfg(feature = "offline")]
pub mod offline;

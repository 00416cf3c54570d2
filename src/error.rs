//! Errors as a user would read them in the filter's status line and in OBS's log.

use std::fmt;

/// What went wrong, in words that say what to fix. The kind lets callers decide whether retrying can help.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Error {
    pub kind: ErrorKind,
    pub message: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    /// The ONNX Runtime library is missing or unusable.
    Runtime,
    /// The model file is missing, unreadable or of a shape we cannot use.
    Model,
    /// Running the model failed.
    Inference,
    /// The background image could not be loaded.
    Image,
    /// A file the plugin ships (effect, locale) is missing or broken.
    Install,
    /// The chosen inference device (execution provider) cannot run the model; the CPU can take over.
    Device,
}

impl Error {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Error {
        Error { kind, message: message.into() }
    }
    pub fn runtime(message: impl Into<String>) -> Error {
        Error::new(ErrorKind::Runtime, message)
    }
    pub fn model(message: impl Into<String>) -> Error {
        Error::new(ErrorKind::Model, message)
    }
    pub fn inference(message: impl Into<String>) -> Error {
        Error::new(ErrorKind::Inference, message)
    }
    pub fn image(message: impl Into<String>) -> Error {
        Error::new(ErrorKind::Image, message)
    }
    pub fn install(message: impl Into<String>) -> Error {
        Error::new(ErrorKind::Install, message)
    }
    pub fn device(message: impl Into<String>) -> Error {
        Error::new(ErrorKind::Device, message)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

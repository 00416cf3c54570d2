//! Loading the ONNX Runtime shared library and the process-wide ONNX Runtime environment.
//!
//! The library ships beside the plugin rather than system-wide, so the plugin always runs the version it was
//! built and tested against. Loading is retried until it succeeds, so putting the library in place fixes a
//! filter without restarting OBS.

use crate::error::Error;
use parking_lot::Mutex;
use std::path::{Path, PathBuf};

/// The library file name in the onnxruntime 1.31.1 release this plugin is built for.
pub const LIBRARY_FILE: &str = "libonnxruntime.so.1.31.1";

static ENVIRONMENT: Mutex<Option<ort::environment::Environment>> = Mutex::new(None);

/// Where to look for the library beside a plugin binary in `dir`: the folder itself (per-user install) or a
/// sub-folder named after the plugin (system-wide install, where the folder is shared with other plugins).
pub fn library_candidates(dir: &Path) -> Vec<PathBuf> {
    vec![dir.join(LIBRARY_FILE), dir.join("obs-virtual-background").join(LIBRARY_FILE)]
}

/// The environment, loading the library from `library` the first time. Only the first successful load counts:
/// a process cannot swap ONNX Runtime libraries.
pub fn environment(library: &Path) -> Result<ort::environment::Environment, Error> {
    let mut env = ENVIRONMENT.lock();
    if let Some(e) = env.as_ref() {
        return Ok(e.clone());
    }
    if !library.is_file() {
        return Err(Error::runtime(format!(
            "ONNX Runtime library not found at {} (run scripts/setup to install it)",
            library.display()
        )));
    }
    let builder = ort::init_from(library)
        .map_err(|e| Error::runtime(format!("cannot load ONNX Runtime from {}: {e}", library.display())))?;
    let created = builder
        .with_name("obs-virtual-background")
        .with_telemetry(false)
        .build()
        .map_err(|e| Error::runtime(format!("cannot start ONNX Runtime: {e}")))?;
    *env = Some(created.clone());
    Ok(created)
}

/// The library named by `ORT_DYLIB_PATH`, for tests and tools run from a build tree.
pub fn library_from_env() -> Option<PathBuf> {
    std::env::var_os("ORT_DYLIB_PATH").filter(|p| !p.is_empty()).map(PathBuf::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_library_is_a_clear_error() {
        // Only meaningful before any environment exists in this process; other tests may have made one.
        if ENVIRONMENT.lock().is_some() {
            return;
        }
        let e = environment(Path::new("/nonexistent/libonnxruntime.so")).unwrap_err();
        assert!(e.message.contains("not found"), "{e}");
    }

    #[test]
    fn candidates_cover_both_install_layouts() {
        let c = library_candidates(Path::new("/p"));
        assert_eq!(c[0], Path::new("/p/libonnxruntime.so.1.31.1"));
        assert_eq!(c[1], Path::new("/p/obs-virtual-background/libonnxruntime.so.1.31.1"));
    }
}

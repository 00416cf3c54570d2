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
    check_library(library)?;
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

/// Checks that `library` is an ONNX Runtime offering the API this plugin was built for, before `ort` commits to
/// it: `ort` keeps the first library it loads for the life of the process, and an older runtime accepted there
/// aborts the whole process (OBS) at session creation. Returns the library's version.
pub fn check_library(library: &Path) -> Result<String, Error> {
    let shown = library.display();
    // SAFETY: loading runs the library's initialisers; it is the library the plugin is about to use anyway.
    let lib = unsafe { libloading::Library::new(library) }
        .map_err(|e| Error::runtime(format!("cannot load ONNX Runtime from {shown}: {e}")))?;
    type GetApiBase = unsafe extern "C" fn() -> *const ort::sys::OrtApiBase;
    // SAFETY: the symbol, when present, has this signature in every ONNX Runtime release.
    let get_base = unsafe { lib.get::<GetApiBase>(b"OrtGetApiBase") }
        .map_err(|_| Error::runtime(format!("{shown} is not ONNX Runtime (it has no OrtGetApiBase)")))?;
    // SAFETY: OrtGetApiBase takes no arguments and returns a pointer to a static struct (checked for null).
    let base = unsafe { get_base() };
    if base.is_null() {
        return Err(Error::runtime(format!("{shown} is not a usable ONNX Runtime (OrtGetApiBase returned nothing)")));
    }
    // SAFETY: `base` points to the library's static OrtApiBase; the version string is static and NUL-terminated.
    let version = unsafe {
        let raw = ((*base).GetVersionString)();
        if raw.is_null() {
            String::new()
        } else {
            std::ffi::CStr::from_ptr(raw).to_string_lossy().into_owned()
        }
    };
    let wanted = ort::sys::ORT_API_VERSION;
    let minor = version.split('.').nth(1).and_then(|m| m.parse::<u32>().ok()).unwrap_or(0);
    // SAFETY: GetApi only looks the version up; it returns null for a version it does not offer.
    let api = if minor >= wanted { unsafe { ((*base).GetApi)(wanted) } } else { std::ptr::null() };
    if api.is_null() {
        let found = if version.is_empty() { "of unknown version".to_string() } else { format!("version {version}") };
        let why = if minor >= wanted { format!("does not offer API {wanted}") } else { "is too old".to_string() };
        return Err(Error::runtime(format!(
            "ONNX Runtime at {shown} ({found}) {why}: this plugin needs 1.{wanted} or newer (reinstall the plugin, \
             which ships {LIBRARY_FILE})"
        )));
    }
    // A usable library stays loaded: `ort` opens it again next, and unloading ONNX Runtime is not safe.
    std::mem::forget(lib);
    Ok(version)
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
    fn a_file_that_is_no_library_is_refused() {
        let path = std::env::temp_dir().join(format!("vbg-not-a-library-{}.so", std::process::id()));
        std::fs::write(&path, b"not an ELF file").unwrap();
        let e = check_library(&path).unwrap_err();
        assert!(e.message.contains("cannot load ONNX Runtime"), "{e}");
        std::fs::remove_file(path).unwrap();
    }

    #[test]
    fn the_shipped_library_passes_the_check() {
        let Some(library) = library_from_env() else { return };
        let version = check_library(&library).unwrap();
        assert!(version.starts_with("1."), "{version}");
    }

    #[test]
    fn candidates_cover_both_install_layouts() {
        let c = library_candidates(Path::new("/p"));
        assert_eq!(c[0], Path::new("/p/libonnxruntime.so.1.31.1"));
        assert_eq!(c[1], Path::new("/p/obs-virtual-background/libonnxruntime.so.1.31.1"));
    }
}

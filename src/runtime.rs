//! Loading the ONNX Runtime shared library and the process-wide ONNX Runtime environment.
//!
//! The library ships with the plugin rather than system-wide, so the plugin always runs the version it was
//! built and tested against. On Linux the plugin asks the dynamic linker for it by its bare file name
//! ([`LIBRARY_FILE`]): `dlopen` is called from inside the plugin (ort's load-dynamic, through libloading), so
//! glibc searches the plugin's own DT_RUNPATH, which `build.rs` sets to `$ORIGIN:$ORIGIN/obs-virtual-background`
//! (the per-user layout keeps the library beside the plugin, the system-wide layout in a sub-folder of the
//! shared plugin folder). On Windows it loads `onnxruntime.dll` from the plugin's own folder by its full path
//! (`platform::open_library`). Tests and tools pass an explicit path instead (`ORT_DYLIB_PATH`).
//!
//! Loading is retried until it succeeds, so putting the library in place fixes a filter without restarting OBS.

use crate::error::Error;
use crate::settings::Device;
use parking_lot::Mutex;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// The library file name in the onnxruntime 1.31.1 release this plugin is built for.
pub const LIBRARY_FILE: &str = crate::platform::ONNX_RUNTIME_FILE;

/// The sub-folder of a shared plugin folder that holds the plugin's private libraries (system-wide install).
pub const PRIVATE_LIB_DIR: &str = "obs-virtual-background";

static ENVIRONMENT: Mutex<Option<ort::environment::Environment>> = Mutex::new(None);
/// Where the loaded library is, and which devices it offers besides the CPU: set once, when it loads.
static LOADED: OnceLock<Loaded> = OnceLock::new();
/// The folders the plugin's RUNPATH stands for, for messages (set by the plugin when it knows its folder).
static SEARCH_DIRS: OnceLock<Vec<PathBuf>> = OnceLock::new();

struct Loaded {
    path: Option<PathBuf>,
    devices: Vec<Device>,
}

/// The name to load the library by inside the plugin. Linux: the bare name, which the dynamic linker resolves
/// through the plugin's RUNPATH (never a global LD_LIBRARY_PATH or an absolute path). Windows: the file in
/// the plugin's folder (`set_search_dirs`), by its full path.
pub fn plugin_library() -> PathBuf {
    match SEARCH_DIRS.get().and_then(|dirs| dirs.first()) {
        Some(dir) if !crate::platform::RUNTIME_BY_NAME => dir.join(LIBRARY_FILE),
        _ => PathBuf::from(LIBRARY_FILE),
    }
}

/// Records the folders the plugin's RUNPATH points at (`$ORIGIN` resolved), so a failed load names them.
pub fn set_search_dirs(plugin_dir: &Path) {
    let _ = SEARCH_DIRS.set(vec![plugin_dir.to_path_buf(), plugin_dir.join(PRIVATE_LIB_DIR)]);
}

fn search_dirs_text() -> String {
    match SEARCH_DIRS.get() {
        Some(dirs) => dirs.iter().map(|d| d.display().to_string()).collect::<Vec<_>>().join(" and "),
        None => "$ORIGIN and $ORIGIN/obs-virtual-background".into(),
    }
}

/// The file the library was loaded from, once loaded.
pub fn loaded_from() -> Option<PathBuf> {
    LOADED.get().and_then(|l| l.path.clone())
}

/// The devices the loaded runtime was built with, CPU first; None until the runtime has loaded. Never
/// touches ONNX Runtime itself, so the UI thread may call it at any time.
pub fn available_devices() -> Option<Vec<Device>> {
    LOADED.get().map(|l| l.devices.clone())
}

/// Whether the loaded runtime offers `device`; None until the runtime has loaded.
pub fn device_available(device: Device) -> Option<bool> {
    LOADED.get().map(|l| l.devices.contains(&device))
}

/// Asks ONNX Runtime which execution providers it was built with (loaded runtime only).
fn query_devices() -> Vec<Device> {
    use ort::ep::ExecutionProvider;
    let mut devices = vec![Device::Cpu];
    for device in Device::ALL.iter().copied().filter(|d| *d != Device::Cpu) {
        let available = match device {
            Device::Cpu => Ok(true),
            Device::Cuda => ort::ep::CUDA::is_available(),
            Device::TensorRt => ort::ep::TensorRT::is_available(),
            Device::Rocm => ort::ep::ROCm::is_available(),
            Device::OpenVino => ort::ep::OpenVINO::is_available(),
            Device::DirectMl => ort::ep::DirectML::is_available(),
            Device::CoreMl => ort::ep::CoreML::is_available(),
        };
        if available.unwrap_or(false) {
            devices.push(device);
        }
    }
    devices
}

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
    // A bare file name goes to the dynamic linker (the plugin's RUNPATH); a path must point at the file.
    let by_name = is_bare_name(library);
    if !by_name && !library.is_file() {
        // The plugin's own copy (Windows) comes with the plugin; a path given to tools comes from the set-up.
        let fix =
            if library_from_env().as_deref() == Some(library) { "run scripts/setup" } else { "reinstall the plugin" };
        return Err(Error::runtime(format!("ONNX Runtime library not found at {} ({fix})", library.display())));
    }
    let checked = check_library(library)?;
    let builder = ort::init_from(library).map_err(|e| load_error(library, &e))?;
    let created = builder
        .with_name("obs-virtual-background")
        .with_telemetry(false)
        .build()
        .map_err(|e| Error::runtime(format!("cannot start ONNX Runtime: {e}")))?;
    *env = Some(created.clone());
    let loaded = LOADED.get_or_init(|| Loaded { path: checked.file, devices: query_devices() });
    let names: Vec<&str> = loaded.devices.iter().map(|d| d.display_name()).collect();
    log::info!(
        "ONNX Runtime loaded from {}{}; devices: {}",
        loaded.path.as_deref().unwrap_or(library).display(),
        if by_name { " (found through the plugin's RUNPATH)" } else { "" },
        names.join(", ")
    );
    Ok(created)
}

/// Loads, from the loaded runtime's folder and by full path, the libraries `device`'s provider would otherwise
/// look up by name (`platform::provider_libraries`), once per process; each one's file is logged once.
pub fn load_provider_libraries(device: Device) -> Result<(), Error> {
    static DONE: Mutex<Vec<&'static str>> = Mutex::new(Vec::new());
    let mut done = DONE.lock();
    for &name in crate::platform::provider_libraries(device) {
        if done.contains(&name) {
            continue;
        }
        let folder = loaded_from().and_then(|p| p.parent().map(Path::to_path_buf));
        let Some(path) = folder.map(|f| f.join(name)) else {
            return Err(Error::device(format!("{name}: ONNX Runtime's folder is not known")));
        };
        if !path.is_file() {
            return Err(Error::device(format!(
                "{name} not found beside ONNX Runtime in {} (reinstall the plugin)",
                path.parent().unwrap_or(&path).display()
            )));
        }
        let lib = crate::platform::open_library(&path)
            .map_err(|e| Error::device(format!("cannot load {}: {e}", path.display())))?;
        // Kept for the life of the process: ONNX Runtime finds it by name whenever a session needs it.
        std::mem::forget(lib);
        log::info!("{name} loaded from {}", path.display());
        done.push(name);
    }
    Ok(())
}

/// Why `library` could not be loaded (missing or not a library); by bare name, the RUNPATH folders searched.
fn load_error(library: &Path, error: &dyn std::error::Error) -> Error {
    // libloading says only "dlopen failed"; the dynamic linker's reason is in the error's source.
    let mut e = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        e = format!("{e}: {cause}");
        source = cause.source();
    }
    if is_bare_name(library) {
        Error::runtime(format!(
            "cannot load ONNX Runtime {} through the plugin's RUNPATH ({}): {e} (reinstall the plugin)",
            library.display(),
            search_dirs_text()
        ))
    } else {
        Error::runtime(format!("cannot load ONNX Runtime from {}: {e}", library.display()))
    }
}

/// A bare file name goes to the dynamic linker (the plugin's RUNPATH); anything else is a path.
fn is_bare_name(library: &Path) -> bool {
    library.parent().is_none_or(|p| p.as_os_str().is_empty())
}

/// Checks that `library` is an ONNX Runtime offering the API this plugin was built for, before `ort` commits to
/// it: `ort` keeps the first library it loads for the life of the process, and an older runtime accepted there
/// aborts the whole process (OBS) at session creation.
pub fn check_library(library: &Path) -> Result<CheckedLibrary, Error> {
    let shown = library.display();
    // Loading runs the library's initialisers; it is the library the plugin is about to use anyway.
    let lib = crate::platform::open_library(library).map_err(|e| load_error(library, &e))?;
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
    let file = crate::platform::library_file_holding(*get_base as usize);
    // A usable library stays loaded: `ort` opens it again next, and unloading ONNX Runtime is not safe.
    std::mem::forget(lib);
    Ok(CheckedLibrary { version, file })
}

/// A library `check_library` accepted.
#[derive(Debug)]
pub struct CheckedLibrary {
    pub version: String,
    /// The file it was loaded from, as the loader says.
    pub file: Option<PathBuf>,
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
    fn a_library_missing_from_the_runpath_names_the_folders() {
        // The check that runs before `ort` sees the library: independent of the process-wide environment.
        set_search_dirs(Path::new("/opt/obs-plugins"));
        let e = check_library(Path::new("libonnxruntime-missing.so.0")).unwrap_err();
        assert!(e.message.contains("RUNPATH"), "{e}");
        assert!(e.message.contains("/opt/obs-plugins and /opt/obs-plugins/obs-virtual-background"), "{e}");
    }

    #[test]
    fn a_loaded_runtime_reports_its_file_and_the_cpu() {
        let Some(library) = library_from_env() else { return };
        environment(&library).expect("ONNX Runtime loads");
        let from = loaded_from().expect("the library is in the memory map");
        assert_eq!(from.file_name().unwrap(), LIBRARY_FILE, "{}", from.display());
        let devices = available_devices().unwrap();
        assert_eq!(devices.first(), Some(&Device::Cpu));
        assert_eq!(device_available(Device::Cpu), Some(true));
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
        let checked = check_library(&library).unwrap();
        assert!(checked.version.starts_with("1."), "{}", checked.version);
        // The file is the loader's, found by the address of one of its functions.
        let file = checked.file.expect("the loader knows the library's file");
        assert_eq!(file.canonicalize().unwrap(), library.canonicalize().unwrap());
    }

    #[test]
    fn candidates_cover_both_install_layouts() {
        let c = library_candidates(Path::new("/p"));
        assert_eq!(c[0], Path::new("/p/libonnxruntime.so.1.31.1"));
        assert_eq!(c[1], Path::new("/p/obs-virtual-background/libonnxruntime.so.1.31.1"));
    }
}

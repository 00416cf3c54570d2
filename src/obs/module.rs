//! The entry points OBS looks up in a plugin library, and where the plugin's files are.

use super::sys::{
    bfree, obs_find_module_file, obs_get_module_binary_path, obs_get_module_data_path, obs_module_t,
    LIBOBS_API_MAJOR_VER, LIBOBS_API_MINOR_VER, LIBOBS_API_PATCH_VER,
};
use super::{filter, guard::guard, locale, logger};
use std::ffi::{CStr, CString};
use std::os::raw::c_char;
use std::path::PathBuf;
use std::ptr::null_mut;
use std::sync::atomic::{AtomicBool, AtomicPtr, Ordering};

// The build must have bound the installed libobs headers, not obs-sys's bundled OBS 25 bindings.
const _: () = assert!(LIBOBS_API_MAJOR_VER >= 29, "obs-sys was not bound to the libobs 29 headers");

static MODULE: AtomicPtr<obs_module_t> = AtomicPtr::new(null_mut());
/// Set when OBS unloads the module: from then on nothing is queued to OBS's UI thread, nothing is sent to
/// obs-websocket and its requests are refused (both may be gone), though filters OBS failed to free may
/// still be destroyed later.
static UNLOADED: AtomicBool = AtomicBool::new(false);

/// Whether `obs_module_unload` has run.
pub fn unloaded() -> bool {
    UNLOADED.load(Ordering::Acquire)
}

pub fn current() -> *mut obs_module_t {
    MODULE.load(Ordering::Acquire)
}

/// Absolute path of a file in the plugin's data folder, if it exists.
pub fn data_file(relative: &str) -> Option<PathBuf> {
    let name = CString::new(relative).ok()?;
    // SAFETY: OBS returns a bmalloc'd string (or null) that we own and free.
    unsafe {
        let raw = obs_find_module_file(current(), name.as_ptr());
        if raw.is_null() {
            return None;
        }
        let path = PathBuf::from(CStr::from_ptr(raw).to_string_lossy().into_owned());
        bfree(raw.cast());
        Some(path)
    }
}

/// The plugin's data folder (where `data_file` looks), whether or not it exists.
pub fn data_dir() -> PathBuf {
    // SAFETY: OBS owns the returned string for the module's lifetime.
    let raw = unsafe { obs_get_module_data_path(current()) };
    if raw.is_null() {
        return PathBuf::new();
    }
    PathBuf::from(unsafe { CStr::from_ptr(raw) }.to_string_lossy().into_owned())
}

/// The plugin binary, as OBS found it (normalised: OBS joins its search folder and the file name with an
/// extra slash, "/usr//lib/...").
pub fn binary_path() -> Option<PathBuf> {
    // SAFETY: OBS owns the returned string for the module's lifetime.
    let raw = unsafe { obs_get_module_binary_path(current()) };
    if raw.is_null() {
        return None;
    }
    let path = PathBuf::from(unsafe { CStr::from_ptr(raw) }.to_string_lossy().into_owned());
    Some(path.components().collect())
}

/// The folder holding the plugin binary.
pub fn binary_dir() -> Option<PathBuf> {
    binary_path().and_then(|p| p.parent().map(|p| p.to_path_buf()))
}

#[no_mangle]
pub extern "C" fn obs_module_set_pointer(module: *mut obs_module_t) {
    MODULE.store(module, Ordering::Release);
}

#[no_mangle]
pub extern "C" fn obs_current_module() -> *mut obs_module_t {
    current()
}

#[no_mangle]
pub extern "C" fn obs_module_ver() -> u32 {
    (LIBOBS_API_MAJOR_VER << 24) | (LIBOBS_API_MINOR_VER << 16) | LIBOBS_API_PATCH_VER
}

#[no_mangle]
pub extern "C" fn obs_module_load() -> bool {
    guard("obs_module_load", false, || {
        logger::init();
        crate::platform::keep_loaded(binary_path().as_deref());
        if let Some(dir) = binary_dir() {
            crate::runtime::set_search_dirs(&dir);
        }
        filter::register();
        let from = binary_path().map_or_else(|| "?".into(), |p| p.display().to_string());
        log::info!("loaded version {} from {from}", env!("CARGO_PKG_VERSION"));
        true
    })
}

/// After every module has loaded (obs-websocket too, whichever loaded first).
#[no_mangle]
pub extern "C" fn obs_module_post_load() {
    guard("obs_module_post_load", (), super::remote::register);
}

#[no_mangle]
pub extern "C" fn obs_module_unload() {
    guard("obs_module_unload", (), || {
        UNLOADED.store(true, Ordering::Release);
        // Normally every filter was destroyed, and its threads joined, when OBS cleared the scenes. A filter
        // still alive here is freed by OBS only after every module has unloaded: its threads stop now.
        let leftover = filter::alive();
        let stopped = crate::threads::stop_all();
        let held = super::source_ref::held();
        if leftover > 0 || stopped > 0 || held > 0 {
            log::warn!(
                "at unload OBS had not destroyed {leftover} filter(s); {stopped} of their threads stopped here; \
                 {held} source reference(s) still held"
            );
        }
        log::info!("unloaded ({} plugin threads still running)", crate::threads::running())
    });
}

/// # Safety
/// Called by OBS with a valid locale name.
#[no_mangle]
pub unsafe extern "C" fn obs_module_set_locale(locale: *const c_char) {
    guard("obs_module_set_locale", (), || unsafe { locale::set(locale) });
}

#[no_mangle]
pub extern "C" fn obs_module_free_locale() {
    guard("obs_module_free_locale", (), locale::free);
}

#[no_mangle]
pub extern "C" fn obs_module_name() -> *const c_char {
    c"Virtual Background".as_ptr()
}

#[no_mangle]
pub extern "C" fn obs_module_description() -> *const c_char {
    c"Replaces the background behind a person with a blur, a picture, a colour or transparency.".as_ptr()
}

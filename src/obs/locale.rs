//! The plugin's translated strings, from `data/locale/<locale>.ini` (en-US as the fallback).

use super::module;
use obs_wrapper::obs_sys::{lookup_t, obs_module_load_locale, text_lookup_destroy, text_lookup_getstr};
use std::ffi::{CStr, CString};
use std::os::raw::c_char;
use std::ptr::null_mut;
use std::sync::atomic::{AtomicPtr, Ordering};

static LOOKUP: AtomicPtr<lookup_t> = AtomicPtr::new(null_mut());

/// Loads the strings for `locale`, replacing any loaded before.
///
/// # Safety
/// `locale` must be a valid C string; OBS calls this while loading modules, before any filter exists.
pub unsafe fn set(locale: *const c_char) {
    let lookup = obs_module_load_locale(module::current(), c"en-US".as_ptr(), locale);
    free_lookup(LOOKUP.swap(lookup, Ordering::AcqRel));
}

pub fn free() {
    free_lookup(LOOKUP.swap(null_mut(), Ordering::AcqRel));
}

fn free_lookup(lookup: *mut lookup_t) {
    if !lookup.is_null() {
        // SAFETY: the pointer came from obs_module_load_locale and was just removed from LOOKUP.
        unsafe { text_lookup_destroy(lookup) };
    }
}

/// The translation of `key`, or the key itself when it has none (so a missing string is visible, not blank).
pub fn text(key: &str) -> String {
    let lookup = LOOKUP.load(Ordering::Acquire);
    let Ok(ckey) = CString::new(key) else { return key.to_string() };
    let mut out: *const c_char = std::ptr::null();
    // SAFETY: lookup is live until obs_module_free_locale, which OBS calls after all filters are gone.
    if !lookup.is_null() && unsafe { text_lookup_getstr(lookup, ckey.as_ptr(), &mut out) } && !out.is_null() {
        unsafe { CStr::from_ptr(out) }.to_string_lossy().into_owned()
    } else {
        key.to_string()
    }
}

/// Like `text`, but returns OBS's own stored string (valid until the locale is freed), for callbacks that
/// must return a `const char *`.
pub fn text_ptr(key: &'static CStr) -> *const c_char {
    let lookup = LOOKUP.load(Ordering::Acquire);
    let mut out: *const c_char = std::ptr::null();
    // SAFETY: as in `text`.
    if !lookup.is_null() && unsafe { text_lookup_getstr(lookup, key.as_ptr(), &mut out) } && !out.is_null() {
        out
    } else {
        key.as_ptr()
    }
}

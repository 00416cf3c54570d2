//! The plugin's translated strings, from `data/locale/<locale>.ini` (en-US as the fallback).

use super::module;
use super::sys::{lookup_t, obs_module_load_locale, text_lookup_destroy, text_lookup_getstr};
use parking_lot::RwLock;
use std::ffi::{CStr, CString};
use std::os::raw::c_char;
use std::ptr::null_mut;

/// The loaded strings. Read under the lock, so that OBS freeing them at unload (`free`) never pulls them from
/// under a status built on another thread (obs-websocket's, for a filter OBS has not destroyed yet).
static LOOKUP: RwLock<Lookup> = RwLock::new(Lookup(null_mut()));

struct Lookup(*mut lookup_t);

// SAFETY: OBS's text lookup is read-only once loaded; writes (load, free) happen under the write lock.
unsafe impl Send for Lookup {}
unsafe impl Sync for Lookup {}

/// Loads the strings for `locale`, replacing any loaded before.
///
/// # Safety
/// `locale` must be a valid C string; OBS calls this while loading modules, before any filter exists.
pub unsafe fn set(locale: *const c_char) {
    let lookup = obs_module_load_locale(module::current(), c"en-US".as_ptr(), locale);
    free_lookup(std::mem::replace(&mut LOOKUP.write().0, lookup));
}

pub fn free() {
    free_lookup(std::mem::replace(&mut LOOKUP.write().0, null_mut()));
}

fn free_lookup(lookup: *mut lookup_t) {
    if !lookup.is_null() {
        // SAFETY: the pointer came from obs_module_load_locale and was just removed from LOOKUP.
        unsafe { text_lookup_destroy(lookup) };
    }
}

/// Runs `f` with OBS's stored translation of `key` (None when there is none), under the read lock that keeps
/// the strings alive.
fn with_translation<R>(key: &CStr, f: impl FnOnce(Option<*const c_char>) -> R) -> R {
    let guard = LOOKUP.read();
    let lookup = guard.0;
    let mut out: *const c_char = std::ptr::null();
    // SAFETY: the lookup is live while the read lock is held (until `f` returns).
    let found = !lookup.is_null() && unsafe { text_lookup_getstr(lookup, key.as_ptr(), &mut out) } && !out.is_null();
    f(found.then_some(out))
}

/// The translation of `key`, or the key itself when it has none (so a missing string is visible, not blank).
pub fn text(key: &str) -> String {
    let Ok(ckey) = CString::new(key) else { return key.to_string() };
    // SAFETY: a found string is a C string owned by the lookup, copied before the lock is released.
    with_translation(&ckey, |t| t.map(|out| unsafe { CStr::from_ptr(out) }.to_string_lossy().into_owned()))
        .unwrap_or_else(|| key.to_string())
}

/// Like `text`, but returns OBS's own stored string (valid until the locale is freed), for callbacks that
/// must return a `const char *` (OBS asks for names on its UI thread, never while it frees the locale).
pub fn text_ptr(key: &'static CStr) -> *const c_char {
    with_translation(key, |t| t.unwrap_or(key.as_ptr()))
}

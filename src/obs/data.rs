//! OBS's key-value objects (`obs_data_t`): reading settings, and building the objects obs-websocket turns
//! into JSON for remote tools.

use super::sys::*;
use crate::settings::SettingsSource;
use std::ffi::{CStr, CString};
use std::marker::PhantomData;

/// A C string of `s`; an interior NUL (never in our keys, possible in user text) becomes a space.
pub fn cstr(s: &str) -> CString {
    CString::new(s.replace('\0', " ")).unwrap_or_default()
}

/// A borrowed OBS data object: a filter's settings, or a request's or response's data. The lifetime ties
/// it to an `OwnedData` it was borrowed from; OBS's own objects are borrowed for a callback's duration.
#[derive(Clone, Copy)]
pub struct Data<'a>(*mut obs_data_t, PhantomData<&'a OwnedData>);

impl Data<'_> {
    /// # Safety
    /// `raw` must be a live `obs_data_t` for as long as this value is used.
    pub unsafe fn new<'a>(raw: *mut obs_data_t) -> Data<'a> {
        Data(raw, PhantomData)
    }

    fn has(self, key: &CStr) -> bool {
        unsafe { obs_data_has_user_value(self.0, key.as_ptr()) || obs_data_has_default_value(self.0, key.as_ptr()) }
    }

    /// Whether the key holds a value of its own (not only a default).
    pub fn has_user_value(self, key: &str) -> bool {
        let k = cstr(key);
        unsafe { obs_data_has_user_value(self.0, k.as_ptr()) }
    }

    pub fn erase(self, key: &str) {
        let k = cstr(key);
        unsafe { obs_data_erase(self.0, k.as_ptr()) };
    }

    pub fn set_default_string(self, key: &str, value: &str) {
        let (k, v) = (cstr(key), cstr(value));
        unsafe { obs_data_set_default_string(self.0, k.as_ptr(), v.as_ptr()) };
    }

    pub fn set_default_int(self, key: &str, value: i64) {
        let k = cstr(key);
        unsafe { obs_data_set_default_int(self.0, k.as_ptr(), value) };
    }

    pub fn set_default_bool(self, key: &str, value: bool) {
        let k = cstr(key);
        unsafe { obs_data_set_default_bool(self.0, k.as_ptr(), value) };
    }

    pub fn set_default_double(self, key: &str, value: f64) {
        let k = cstr(key);
        unsafe { obs_data_set_default_double(self.0, k.as_ptr(), value) };
    }

    pub fn set_string(self, key: &str, value: &str) {
        let (k, v) = (cstr(key), cstr(value));
        unsafe { obs_data_set_string(self.0, k.as_ptr(), v.as_ptr()) };
    }

    pub fn set_int(self, key: &str, value: i64) {
        let k = cstr(key);
        unsafe { obs_data_set_int(self.0, k.as_ptr(), value) };
    }

    pub fn set_double(self, key: &str, value: f64) {
        let k = cstr(key);
        unsafe { obs_data_set_double(self.0, k.as_ptr(), value) };
    }

    pub fn set_bool(self, key: &str, value: bool) {
        let k = cstr(key);
        unsafe { obs_data_set_bool(self.0, k.as_ptr(), value) };
    }

    /// Stores a copy of the reference to `value` (OBS counts it).
    pub fn set_object(self, key: &str, value: &OwnedData) {
        let k = cstr(key);
        unsafe { obs_data_set_obj(self.0, k.as_ptr(), value.0) };
    }

    pub fn set_array(self, key: &str, value: &DataArray) {
        let k = cstr(key);
        unsafe { obs_data_set_array(self.0, k.as_ptr(), value.0) };
    }

    /// The raw pointer, for OBS functions that take the object (it stays borrowed).
    pub fn raw(self) -> *mut obs_data_t {
        self.0
    }
}

impl SettingsSource for Data<'_> {
    fn string(&self, key: &str) -> Option<String> {
        let k = cstr(key);
        if !self.has(&k) {
            return None;
        }
        let raw = unsafe { obs_data_get_string(self.0, k.as_ptr()) };
        (!raw.is_null()).then(|| unsafe { CStr::from_ptr(raw) }.to_string_lossy().into_owned())
    }

    fn int(&self, key: &str) -> Option<i64> {
        let k = cstr(key);
        self.has(&k).then(|| unsafe { obs_data_get_int(self.0, k.as_ptr()) })
    }

    fn float(&self, key: &str) -> Option<f64> {
        let k = cstr(key);
        self.has(&k).then(|| unsafe { obs_data_get_double(self.0, k.as_ptr()) })
    }

    fn boolean(&self, key: &str) -> Option<bool> {
        let k = cstr(key);
        self.has(&k).then(|| unsafe { obs_data_get_bool(self.0, k.as_ptr()) })
    }
}

/// A data object of our own, released when dropped.
pub struct OwnedData(*mut obs_data_t);

impl OwnedData {
    pub fn new() -> OwnedData {
        OwnedData(unsafe { obs_data_create() })
    }

    /// Borrowed, to fill in.
    pub fn data(&self) -> Data<'_> {
        Data(self.0, PhantomData)
    }
}

impl Drop for OwnedData {
    fn drop(&mut self) {
        unsafe { obs_data_release(self.0) };
    }
}

/// An array of data objects of our own, released when dropped.
pub struct DataArray(*mut obs_data_array_t);

impl DataArray {
    pub fn new() -> DataArray {
        DataArray(unsafe { obs_data_array_create() })
    }

    pub fn push(&self, item: &OwnedData) {
        unsafe { obs_data_array_push_back(self.0, item.0) };
    }
}

impl Drop for DataArray {
    fn drop(&mut self) {
        unsafe { obs_data_array_release(self.0) };
    }
}

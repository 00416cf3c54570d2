//! Building the properties window (with tooltips, which obs-wrapper cannot set).

use super::data::cstr;
use super::sys::*;
use crate::settings::Range;

/// Properties under construction; handed to OBS with `into_raw`.
pub struct Properties(*mut obs_properties_t);

/// One property, to add a tooltip or a change handler to.
pub struct Property(*mut obs_property_t);

/// Called by OBS when a property's value changes in the window; returns whether to redraw the window.
pub type ModifiedCallback = unsafe extern "C" fn(*mut obs_properties_t, *mut obs_property_t, *mut obs_data_t) -> bool;

impl Properties {
    pub fn new() -> Properties {
        Properties(unsafe { obs_properties_create() })
    }

    pub fn into_raw(self) -> *mut obs_properties_t {
        self.0
    }

    /// A read-only line of text.
    pub fn info(&mut self, key: &str, text: &str) -> Property {
        let (k, t) = (cstr(key), cstr(text));
        Property(unsafe { obs_properties_add_text(self.0, k.as_ptr(), t.as_ptr(), obs_text_type_OBS_TEXT_INFO) })
    }

    /// A drop-down of (label, stored value) pairs.
    pub fn list<V: AsRef<str>>(&mut self, key: &str, label: &str, items: &[(String, V)]) -> Property {
        let (k, l) = (cstr(key), cstr(label));
        let p = unsafe {
            obs_properties_add_list(
                self.0,
                k.as_ptr(),
                l.as_ptr(),
                obs_combo_type_OBS_COMBO_TYPE_LIST,
                obs_combo_format_OBS_COMBO_FORMAT_STRING,
            )
        };
        for (name, value) in items {
            let (n, v) = (cstr(name), cstr(value.as_ref()));
            unsafe { obs_property_list_add_string(p, n.as_ptr(), v.as_ptr()) };
        }
        Property(p)
    }

    pub fn int_slider(&mut self, key: &str, label: &str, range: Range<i64>) -> Property {
        let (k, l) = (cstr(key), cstr(label));
        Property(unsafe {
            obs_properties_add_int_slider(
                self.0,
                k.as_ptr(),
                l.as_ptr(),
                range.min as i32,
                range.max as i32,
                range.step as i32,
            )
        })
    }

    pub fn float_slider(&mut self, key: &str, label: &str, range: Range<f64>) -> Property {
        let (k, l) = (cstr(key), cstr(label));
        Property(unsafe {
            obs_properties_add_float_slider(self.0, k.as_ptr(), l.as_ptr(), range.min, range.max, range.step)
        })
    }

    /// A file chooser; `filter` is a Qt filter string such as "Images (*.png *.jpg)".
    pub fn file(&mut self, key: &str, label: &str, filter: &str) -> Property {
        let (k, l, f) = (cstr(key), cstr(label), cstr(filter));
        Property(unsafe {
            obs_properties_add_path(
                self.0,
                k.as_ptr(),
                l.as_ptr(),
                obs_path_type_OBS_PATH_FILE,
                f.as_ptr(),
                std::ptr::null(),
            )
        })
    }

    pub fn checkbox(&mut self, key: &str, label: &str) -> Property {
        let (k, l) = (cstr(key), cstr(label));
        Property(unsafe { obs_properties_add_bool(self.0, k.as_ptr(), l.as_ptr()) })
    }

    pub fn color(&mut self, key: &str, label: &str) -> Property {
        let (k, l) = (cstr(key), cstr(label));
        Property(unsafe { obs_properties_add_color(self.0, k.as_ptr(), l.as_ptr()) })
    }
}

impl Property {
    pub fn tooltip(self, text: &str) -> Property {
        let t = cstr(text);
        unsafe { obs_property_set_long_description(self.0, t.as_ptr()) };
        self
    }

    pub fn on_modified(self, callback: ModifiedCallback) -> Property {
        unsafe { obs_property_set_modified_callback(self.0, Some(callback)) };
        self
    }
}

/// Shows or hides the property `key` in a properties window being updated by a modified callback.
///
/// # Safety
/// `props` must be the properties pointer OBS passed to the callback.
pub unsafe fn set_visible(props: *mut obs_properties_t, key: &str, visible: bool) {
    let k = cstr(key);
    let p = obs_properties_get(props, k.as_ptr());
    if !p.is_null() {
        obs_property_set_visible(p, visible);
    }
}

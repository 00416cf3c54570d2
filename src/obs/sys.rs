//! libobs's C API: bindgen's bindings of OBS 29's headers (obs-sys), through obs-wrapper, which re-exports
//! them. On Windows they come from obs-sys itself: obs-wrapper 0.4.1 spells one `size_t` as `c_ulong` (an
//! output callback it declares), which is 32 bits on Windows, so it does not build against bindings with
//! Windows' type sizes (scripts/build-windows; the plugin uses none of obs-wrapper's own code).

#[cfg(windows)]
pub use obs_sys::*;
#[cfg(not(windows))]
pub use obs_wrapper::obs_sys::*;

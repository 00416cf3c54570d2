//! Routes the `log` crate into OBS's log, every line prefixed with the plugin's name.

use super::sys::{blog, LOG_ERROR, LOG_INFO, LOG_WARNING};
use std::ffi::CString;

struct ObsLogger;

static LOGGER: ObsLogger = ObsLogger;

impl log::Log for ObsLogger {
    fn enabled(&self, metadata: &log::Metadata<'_>) -> bool {
        metadata.level() <= log::Level::Info
    }

    fn log(&self, record: &log::Record<'_>) {
        if !self.enabled(record.metadata()) {
            return;
        }
        let level = match record.level() {
            log::Level::Error => LOG_ERROR,
            log::Level::Warn => LOG_WARNING,
            _ => LOG_INFO,
        };
        let line = format!("[obs-virtual-background] {}", record.args()).replace('\0', " ");
        if let Ok(line) = CString::new(line) {
            // SAFETY: both strings are NUL-terminated; "%s" makes OBS treat the line as data, not a format.
            unsafe { blog(level as i32, c"%s".as_ptr(), line.as_ptr()) };
        }
    }

    fn flush(&self) {}
}

pub fn init() {
    if log::set_logger(&LOGGER).is_ok() {
        log::set_max_level(log::LevelFilter::Info);
    }
}

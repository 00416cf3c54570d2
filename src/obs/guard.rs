//! No panic may unwind into OBS (that aborts the whole program): every callback body runs inside `guard`.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicU32, Ordering};

/// Panics logged so far; later ones are counted but not logged, so a bug hit every frame cannot flood the log.
static LOGGED: AtomicU32 = AtomicU32::new(0);
const MAX_LOGGED: u32 = 5;

/// Runs `body`; if it panics, logs the panic (the first few times) and returns `fallback`.
pub fn guard<R>(callback: &str, fallback: R, body: impl FnOnce() -> R) -> R {
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(r) => r,
        Err(payload) => {
            if LOGGED.fetch_add(1, Ordering::Relaxed) < MAX_LOGGED {
                let message = payload
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| payload.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "unknown panic".into());
                log::error!("internal error in {callback}: {message}");
            }
            fallback
        }
    }
}

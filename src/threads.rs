//! The plugin's own threads (inference and picture loading), counted while they run, so that unloading can
//! say whether every one of them was joined.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread::JoinHandle;

static RUNNING: AtomicUsize = AtomicUsize::new(0);

/// Decrements the count when the thread's body ends, even by a panic.
struct Running;

impl Drop for Running {
    fn drop(&mut self) {
        RUNNING.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Starts a named thread that is counted until its body returns.
pub fn spawn(name: &str, body: impl FnOnce() + Send + 'static) -> std::io::Result<JoinHandle<()>> {
    RUNNING.fetch_add(1, Ordering::AcqRel);
    let spawned = std::thread::Builder::new().name(name.into()).spawn(move || {
        let _running = Running;
        body()
    });
    if spawned.is_err() {
        RUNNING.fetch_sub(1, Ordering::AcqRel);
    }
    spawned
}

/// How many of the plugin's threads have not finished.
pub fn running() -> usize {
    RUNNING.load(Ordering::Acquire)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_joined_thread_is_no_longer_counted() {
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        let before = running();
        let t = spawn("test", move || {
            let _ = rx.recv();
        })
        .unwrap();
        assert!(running() > before);
        drop(tx);
        t.join().unwrap();
    }
}

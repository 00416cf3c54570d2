//! The plugin's own threads (inference and picture loading). Each is counted while it runs, so that unloading
//! can say whether every one was joined, and registered with the way to stop it, so that unloading can stop
//! and join the threads of filters OBS has not destroyed yet (OBS frees leftover sources only after it has
//! unloaded every module: no thread of ours may run by then).

use parking_lot::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Weak};
use std::thread::JoinHandle;

static RUNNING: AtomicUsize = AtomicUsize::new(0);

/// Every thread started and not yet joined by its owner.
static REGISTRY: Mutex<Vec<Weak<Entry>>> = Mutex::new(Vec::new());

/// Decrements the count when the thread's body ends, even by a panic.
struct Running;

impl Drop for Running {
    fn drop(&mut self) {
        RUNNING.fetch_sub(1, Ordering::AcqRel);
    }
}

struct Entry {
    name: String,
    /// Asks the body to return (closes the slot it waits on). Must not block.
    ask_to_stop: Box<dyn Fn() + Send + Sync>,
    handle: Mutex<Option<JoinHandle<()>>>,
}

impl Entry {
    /// Asks the thread to stop and waits for it; false if its body panicked. Whoever takes the handle
    /// first joins: the owner's `stop` and `stop_all` may race.
    fn stop(&self) -> bool {
        (self.ask_to_stop)();
        // The lock is held through the join, so a second caller returns only once the thread has ended (the
        // thread's body never takes it).
        let mut handle = self.handle.lock();
        !matches!(handle.take().map(JoinHandle::join), Some(Err(_)))
    }
}

/// A thread of the plugin, stopped and joined when dropped (or by `stop_all`, whichever comes first).
pub struct PluginThread(Arc<Entry>);

impl PluginThread {
    /// Asks the thread to stop and waits until it has; false if its body panicked.
    pub fn stop(&self) -> bool {
        self.0.stop()
    }
}

impl Drop for PluginThread {
    fn drop(&mut self) {
        self.0.stop();
        REGISTRY.lock().retain(|e| e.strong_count() > 0 && !std::ptr::eq(e.as_ptr(), Arc::as_ptr(&self.0)));
    }
}

/// Starts a named thread that is counted until its body returns. `ask_to_stop` must make `body` return soon
/// and must not block.
pub fn spawn(
    name: &str,
    ask_to_stop: impl Fn() + Send + Sync + 'static,
    body: impl FnOnce() + Send + 'static,
) -> std::io::Result<PluginThread> {
    RUNNING.fetch_add(1, Ordering::AcqRel);
    let spawned = std::thread::Builder::new().name(name.into()).spawn(move || {
        let _running = Running;
        body()
    });
    let handle = spawned.inspect_err(|_| {
        RUNNING.fetch_sub(1, Ordering::AcqRel);
    })?;
    let entry =
        Arc::new(Entry { name: name.into(), ask_to_stop: Box::new(ask_to_stop), handle: Mutex::new(Some(handle)) });
    REGISTRY.lock().push(Arc::downgrade(&entry));
    Ok(PluginThread(entry))
}

/// Stops and joins every thread still registered (the module is unloading); returns how many there were.
pub fn stop_all() -> usize {
    // Taken out first: a thread's owner may drop it meanwhile, which takes the registry's lock.
    let entries: Vec<Arc<Entry>> = REGISTRY.lock().drain(..).filter_map(|e| e.upgrade()).collect();
    let live = entries.iter().filter(|e| e.handle.lock().is_some()).count();
    // Every thread is asked first, so that one busy for a while (loading a model) does not delay the others.
    for e in &entries {
        (e.ask_to_stop)();
    }
    for e in entries.iter().filter(|e| !e.stop()) {
        log::error!("the {} thread ended with a panic", e.name);
    }
    live
}

/// Nice value of the inference thread: when the machine is busy, OBS's own threads (rendering, encoding,
/// and on a machine without a GPU the software renderer's) get about three times its share, so a busy
/// machine delays a mask (which the prediction covers) rather than a frame. With spare CPU the thread runs
/// as fast as before. Measured (docs/motion.md): at 0, segmenting every frame cost OBS's graphics thread
/// 1.14x (Transparent) and 1.94x (Blur) Color Correction's on the two-core test machine; at 10 the worker
/// starved under load (lag 4, parkour 0.52 IoU); 5 gives 0.93x / 1.07x with lag 2.
const INFERENCE_NICE: i32 = 5;

/// Lowers the calling thread's priority to `INFERENCE_NICE`.
pub fn yield_to_obs() {
    crate::platform::lower_thread_priority(INFERENCE_NICE);
}

/// How many of the plugin's threads have not finished.
pub fn running() -> usize {
    RUNNING.load(Ordering::Acquire)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(target_os = "linux")]
    #[test]
    fn yielding_lowers_only_the_calling_threads_priority() {
        let own = || unsafe { libc::getpriority(libc::PRIO_PROCESS, libc::syscall(libc::SYS_gettid) as libc::id_t) };
        let before = own();
        let lowered = std::thread::spawn(move || {
            yield_to_obs();
            own()
        })
        .join()
        .unwrap();
        assert_eq!(lowered, (before + INFERENCE_NICE).min(19));
        assert_eq!(own(), before, "other threads keep theirs");
    }

    /// A thread waiting until told to stop, and the way to tell it.
    fn waiting_thread() -> PluginThread {
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        let tx = Mutex::new(Some(tx));
        spawn(
            "test",
            move || drop(tx.lock().take()),
            move || {
                let _ = rx.recv();
            },
        )
        .unwrap()
    }

    #[test]
    fn a_dropped_thread_is_stopped_and_joined() {
        let before = running();
        let t = waiting_thread();
        assert!(running() > before);
        drop(t);
        // Other tests run threads of their own at the same time: only this one is known to be gone.
        assert!(REGISTRY.lock().iter().all(|e| e.strong_count() > 0));
    }

    #[test]
    fn a_panicking_body_is_reported_not_propagated() {
        let t = spawn("test-panic", || {}, || panic!("on purpose")).unwrap();
        assert!(!t.stop());
    }
}

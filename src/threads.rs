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

/// Nice value of the inference thread: when the machine is busy, OBS's own threads (rendering, encoding,
/// and on a machine without a GPU the software renderer's) get about three times its share, so a busy
/// machine delays a mask (which the prediction covers) rather than a frame. With spare CPU the thread runs
/// as fast as before. Measured (docs/motion.md): at 0, segmenting every frame cost OBS's graphics thread
/// 1.14x (Transparent) and 1.94x (Blur) Color Correction's on the two-core test machine; at 10 the worker
/// starved under load (lag 4, parkour 0.52 IoU); 5 gives 0.93x / 1.07x with lag 2.
const INFERENCE_NICE: i32 = 5;

/// Lowers the calling thread's priority to `INFERENCE_NICE` (Linux: the nice value is per thread). Elsewhere
/// nothing. Failure changes nothing but the priority, so it is ignored.
pub fn yield_to_obs() {
    #[cfg(target_os = "linux")]
    // SAFETY: plain system calls on the calling thread's own id; no memory is passed.
    unsafe {
        let tid = libc::syscall(libc::SYS_gettid) as libc::id_t;
        libc::setpriority(libc::PRIO_PROCESS, tid, INFERENCE_NICE);
    }
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

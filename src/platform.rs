//! What differs between operating systems, in one place: the rest of the plugin calls these and never
//! tests `cfg(target_os)` itself.

use std::path::Path;

/// Keeps the plugin library mapped until the process ends, even if its host closes it: a filter OBS failed
/// to free is destroyed after the module was unloaded, and its callbacks must still find their code. (OBS
/// 29-32 never close a module's library, see docs/reliability.md; this holds whatever a later OBS does.)
pub fn keep_loaded(library: Option<&Path>) {
    #[cfg(target_os = "linux")]
    if let Some(path) = library.and_then(|p| std::ffi::CString::new(p.as_os_str().as_encoded_bytes()).ok()) {
        // SAFETY: RTLD_NOLOAD only adds a reference to a library already loaded (this one); RTLD_NODELETE
        // makes the loader keep it mapped. The handle is deliberately never closed.
        let handle = unsafe { libc::dlopen(path.as_ptr(), libc::RTLD_NOW | libc::RTLD_NOLOAD | libc::RTLD_NODELETE) };
        if handle.is_null() {
            log::warn!("could not pin {} in memory (it stays loaded while OBS keeps it)", path.to_string_lossy());
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = library;
}

/// Lowers the calling thread's scheduling priority by `nice` steps (Linux: the nice value is per thread).
/// Failure changes nothing but the priority, so it is ignored.
pub fn lower_thread_priority(nice: i32) {
    #[cfg(target_os = "linux")]
    // SAFETY: plain system calls on the calling thread's own id; no memory is passed.
    unsafe {
        let tid = libc::syscall(libc::SYS_gettid) as libc::id_t;
        libc::setpriority(libc::PRIO_PROCESS, tid, nice);
    }
    #[cfg(not(target_os = "linux"))]
    let _ = nice;
}

/// Hands memory the process has freed back to the system. glibc keeps freed memory in its arenas, and a
/// model switch or a new background picture frees tens of megabytes at once (a session, a decoder's scratch):
/// without this, the resident size stays at its peak (docs/reliability.md, "Memory over long runs").
/// Call it off the graphics thread, after such a release: it walks every arena.
pub fn return_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only releases free memory of glibc's own arenas; nothing is passed.
    unsafe {
        libc::malloc_trim(0);
    }
}

//! What differs between operating systems, in one place: the rest of the plugin calls these and never
//! tests `cfg(target_os)` itself. Linux (glibc) and 64-bit Windows are built and tested.

use std::path::{Path, PathBuf};

/// The ONNX Runtime library file of the 1.31.1 release the plugin ships.
#[cfg(not(windows))]
pub const ONNX_RUNTIME_FILE: &str = "libonnxruntime.so.1.31.1";
#[cfg(windows)]
pub const ONNX_RUNTIME_FILE: &str = "onnxruntime.dll";

/// Whether the plugin asks the system loader for ONNX Runtime by its bare file name. Linux: yes, through
/// the plugin's RUNPATH (`build.rs`). Windows: no, it loads the file beside the plugin by its full path
/// (`open_library`), because a bare name would take any `onnxruntime.dll` already loaded or on the search path.
pub const RUNTIME_BY_NAME: bool = cfg!(not(windows));

/// Libraries an execution provider loads by bare name, which must come from ONNX Runtime's own folder. Windows:
/// ONNX Runtime delay-loads `DirectML.dll` by name, and the system's search would take OBS's folder or System32
/// (an older DirectML than the runtime needs) before ONNX Runtime's; loaded first by full path, the plugin's
/// copy is the one the delay load finds already in the process.
pub fn provider_libraries(device: crate::settings::Device) -> &'static [&'static str] {
    match device {
        crate::settings::Device::DirectMl if cfg!(windows) => &["DirectML.dll"],
        _ => &[],
    }
}

/// Opens a shared library. On Windows the folder of a DLL named by a full path comes first when its own
/// dependencies are looked up (ONNX Runtime's provider and DirectML DLLs come from its folder, never from
/// OBS's folder, PATH or System32).
pub fn open_library(path: &Path) -> Result<libloading::Library, libloading::Error> {
    #[cfg(windows)]
    {
        use libloading::os::windows::{Library, LOAD_WITH_ALTERED_SEARCH_PATH};
        // SAFETY: loading runs the library's initialisers; callers load only libraries they are about to use.
        unsafe { Library::load_with_flags(path, LOAD_WITH_ALTERED_SEARCH_PATH) }.map(Into::into)
    }
    #[cfg(not(windows))]
    // SAFETY: as above.
    unsafe {
        libloading::Library::new(path)
    }
}

/// The file of the loaded library that holds `address` (a function of it). Asked by address, not by name:
/// another plugin may have loaded a library of the same name from elsewhere.
pub fn library_file_holding(address: usize) -> Option<PathBuf> {
    #[cfg(windows)]
    {
        let mut buf = vec![0u16; 32768];
        let mut module: win::Handle = std::ptr::null_mut();
        // SAFETY: FROM_ADDRESS takes the address as the name; UNCHANGED_REFCOUNT adds no reference; the
        // buffer's length is passed.
        let n = unsafe {
            let flags = win::GET_MODULE_HANDLE_EX_FLAG_FROM_ADDRESS | win::GET_MODULE_HANDLE_EX_FLAG_UNCHANGED_REFCOUNT;
            if win::GetModuleHandleExW(flags, address as *const u16, &mut module) == 0 {
                return None;
            }
            win::GetModuleFileNameW(module, buf.as_mut_ptr(), buf.len() as u32) as usize
        };
        (n > 0 && n < buf.len()).then(|| PathBuf::from(String::from_utf16_lossy(&buf[..n])))
    }
    #[cfg(not(windows))]
    {
        let mut info: libc::Dl_info = unsafe { std::mem::zeroed() };
        // SAFETY: dladdr only reads the loader's tables; the file name it returns lives as long as the library.
        if unsafe { libc::dladdr(address as *const libc::c_void, &mut info) } == 0 || info.dli_fname.is_null() {
            return None;
        }
        let name = unsafe { std::ffi::CStr::from_ptr(info.dli_fname) };
        let path = PathBuf::from(<std::ffi::OsStr as std::os::unix::ffi::OsStrExt>::from_bytes(name.to_bytes()));
        // The loader's name is the path it tried (a RUNPATH entry joined with the name, "/usr//lib/..."):
        // the file's own path is what a user or a test compares.
        Some(std::fs::canonicalize(&path).unwrap_or(path))
    }
}

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
    #[cfg(windows)]
    {
        let _ = library;
        let mut module = std::ptr::null_mut();
        // SAFETY: the address is this function's, inside this DLL; PIN keeps the DLL loaded until the process
        // ends, whatever FreeLibrary calls follow.
        let pinned = unsafe {
            win::GetModuleHandleExW(
                win::GET_MODULE_HANDLE_EX_FLAG_FROM_ADDRESS | win::GET_MODULE_HANDLE_EX_FLAG_PIN,
                keep_loaded as *const () as *const u16,
                &mut module,
            )
        };
        if pinned == 0 {
            log::warn!("could not pin the plugin in memory (it stays loaded while OBS keeps it)");
        }
    }
    #[cfg(not(any(target_os = "linux", windows)))]
    let _ = library;
}

/// Lowers the calling thread's scheduling priority (Linux: by `nice` steps, per thread; Windows: below
/// normal, or lowest from 10 steps on). Failure changes nothing but the priority, so it is ignored.
pub fn lower_thread_priority(nice: i32) {
    #[cfg(target_os = "linux")]
    // SAFETY: plain system calls on the calling thread's own id; no memory is passed.
    unsafe {
        let tid = libc::syscall(libc::SYS_gettid) as libc::id_t;
        libc::setpriority(libc::PRIO_PROCESS, tid, nice);
    }
    #[cfg(windows)]
    // SAFETY: the pseudo-handle of the calling thread needs no closing.
    unsafe {
        let priority = if nice >= 10 { win::THREAD_PRIORITY_LOWEST } else { win::THREAD_PRIORITY_BELOW_NORMAL };
        win::SetThreadPriority(win::GetCurrentThread(), priority);
    }
    #[cfg(not(any(target_os = "linux", windows)))]
    let _ = nice;
}

/// Hands memory the process has freed back to the system. glibc keeps freed memory in its arenas, and a
/// model switch or a new background picture frees tens of megabytes at once (a session, a decoder's scratch):
/// without this, the resident size stays at its peak (docs/reliability.md, "Memory over long runs").
/// Call it off the graphics thread, after such a release: it walks every arena (Windows: the process heap).
pub fn return_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only releases free memory of glibc's own arenas; nothing is passed.
    unsafe {
        libc::malloc_trim(0);
    }
    #[cfg(windows)]
    // SAFETY: compacts the process heap (Rust's allocator on Windows); nothing is passed.
    unsafe {
        win::HeapCompact(win::GetProcessHeap(), 0);
    }
}

/// The few kernel32 functions used above (no bindings crate for six declarations).
#[cfg(windows)]
mod win {
    use std::ffi::c_void;
    pub type Handle = *mut c_void;
    pub const GET_MODULE_HANDLE_EX_FLAG_PIN: u32 = 0x1;
    pub const GET_MODULE_HANDLE_EX_FLAG_UNCHANGED_REFCOUNT: u32 = 0x2;
    pub const GET_MODULE_HANDLE_EX_FLAG_FROM_ADDRESS: u32 = 0x4;
    pub const THREAD_PRIORITY_BELOW_NORMAL: i32 = -1;
    pub const THREAD_PRIORITY_LOWEST: i32 = -2;
    #[link(name = "kernel32")]
    extern "system" {
        pub fn GetModuleHandleExW(flags: u32, name: *const u16, module: *mut Handle) -> i32;
        pub fn GetModuleFileNameW(module: Handle, file: *mut u16, size: u32) -> u32;
        pub fn GetCurrentThread() -> Handle;
        pub fn SetThreadPriority(thread: Handle, priority: i32) -> i32;
        pub fn GetProcessHeap() -> Handle;
        pub fn HeapCompact(heap: Handle, flags: u32) -> usize;
    }
}

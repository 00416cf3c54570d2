//! Safe calls on the filter's own `obs_source_t`.

use super::graphics::Effect;
use super::guard::guard;
use super::source_ref::SourceRef;
use super::sys::*;
use std::ffi::{c_void, CStr, CString};

/// The filter's source. OBS keeps it alive for as long as the filter's data exists (create to destroy), and
/// its functions may be called from any thread.
#[derive(Clone, Copy)]
pub struct FilterSource(*mut obs_source_t);

// SAFETY: libobs source functions are thread-safe; the pointer outlives every user (threads are joined in
// destroy, before OBS frees the source).
unsafe impl Send for FilterSource {}
unsafe impl Sync for FilterSource {}

impl FilterSource {
    /// # Safety
    /// `raw` must be the filter's source pointer handed to `create`.
    pub unsafe fn new(raw: *mut obs_source_t) -> FilterSource {
        FilterSource(raw)
    }

    pub fn name(self) -> String {
        let raw = unsafe { obs_source_get_name(self.0) };
        if raw.is_null() {
            return String::new();
        }
        unsafe { CStr::from_ptr(raw) }.to_string_lossy().into_owned()
    }

    /// Base size of the source this filter processes (0 x 0 while it has no video).
    pub fn target_size(self) -> (u32, u32) {
        let target = unsafe { obs_filter_get_target(self.0) };
        if target.is_null() {
            return (0, 0);
        }
        unsafe { (obs_source_get_base_width(target), obs_source_get_base_height(target)) }
    }

    /// The source the filter is on (a new reference), or None while it is on none.
    pub fn parent(self) -> Option<SourceRef> {
        // SAFETY: OBS keeps the parent alive while the filter is attached; the reference taken keeps it so.
        unsafe { SourceRef::borrowed(obs_filter_get_parent(self.0)) }
    }

    /// Whether the filter is switched on (the eye in the filters window).
    pub fn enabled(self) -> bool {
        unsafe { obs_source_enabled(self.0) }
    }

    /// Draws the filter's input unchanged, as if the filter were not there.
    pub fn skip(self) {
        unsafe { obs_source_skip_video_filter(self.0) };
    }

    /// Has OBS render the filter's input (the source and the filters before this one) into the filter's own
    /// texture, the one capture every filter pays for. False if there is nothing to draw.
    pub fn capture_input(self) -> bool {
        unsafe {
            obs_source_process_filter_begin(
                self.0,
                gs_color_format_GS_RGBA,
                // Never drawn straight from the source: several passes read the captured texture.
                obs_allow_direct_render_OBS_NO_DIRECT_RENDERING,
            )
        }
    }

    /// After `capture_input`: one `width` x `height` pass of `technique` into the current render target, with
    /// the captured input as the effect's `image`. The filter does not declare `OBS_SOURCE_SRGB`, so OBS hands
    /// over the stored (sRGB-encoded) values and writes the result unconverted. May be called several times
    /// per capture.
    pub fn draw_input(self, effect: &Effect, technique: &CStr, width: u32, height: u32) {
        unsafe { obs_source_process_filter_tech_end(self.0, effect.raw(), width, height, technique.as_ptr()) };
    }

    /// Asks an open properties window to rebuild, so the status line shows a new state.
    pub fn refresh_properties(self) {
        unsafe { obs_source_update_properties(self.0) };
    }

    /// A weak reference to this source, for work queued from other threads. Take it while the source is
    /// surely alive (in `create`): OBS 29 destroys a source on its destruction thread after dropping its own
    /// weak reference, so asking for a new one from a thread that may run during `destroy` could touch
    /// freed memory.
    pub fn weak(self) -> Option<WeakSource> {
        let weak = unsafe { obs_source_get_weak_source(self.0) };
        (!weak.is_null()).then_some(WeakSource(weak))
    }

    /// Sets a string in the filter's settings (where obs-websocket's GetSourceFilter and scripts can read it),
    /// unless it already has that value; returns whether it changed. Call on the UI thread, where OBS itself
    /// edits settings.
    pub fn set_setting_string(self, key: &str, value: &str) -> bool {
        let (Ok(k), Ok(v)) = (CString::new(key), CString::new(value.replace('\0', " "))) else { return false };
        unsafe {
            let data = obs_source_get_settings(self.0);
            if data.is_null() {
                return false;
            }
            let current = obs_data_get_string(data, k.as_ptr());
            let changed = current.is_null() || CStr::from_ptr(current) != v.as_c_str();
            if changed {
                obs_data_set_string(data, k.as_ptr(), v.as_ptr());
            }
            obs_data_release(data);
            changed
        }
    }
}

/// A counted weak reference to the filter's source: it never keeps the filter alive, and never dangles.
pub struct WeakSource(*mut obs_weak_source_t);

// SAFETY: libobs weak references are atomically counted and may be used and released from any thread.
unsafe impl Send for WeakSource {}
unsafe impl Sync for WeakSource {}

impl Clone for WeakSource {
    fn clone(&self) -> WeakSource {
        // SAFETY: `self` holds a reference, so the weak object is alive while another is added.
        unsafe { obs_weak_source_addref(self.0) };
        WeakSource(self.0)
    }
}

impl Drop for WeakSource {
    fn drop(&mut self) {
        unsafe { obs_weak_source_release(self.0) };
    }
}

impl WeakSource {
    /// Runs `task` later on OBS's UI thread with the filter's data (null while it is being created), if the
    /// filter still exists then. Callable from any thread, also while the filter is being destroyed; never
    /// waits. Does nothing once the module is unloaded.
    pub fn on_ui_thread(&self, task: UiTask) {
        // After unload OBS may be without a UI thread (it frees leftover filters from its shutdown).
        if super::module::unloaded() {
            return;
        }
        let param = Box::into_raw(Box::new(QueuedTask { weak: self.clone(), task }));
        unsafe { obs_queue_task(obs_task_type_OBS_TASK_UI, Some(run_queued_task), param.cast(), false) };
    }
}

/// Work for the UI thread: the filter's source (held for the call) and its data pointer.
pub type UiTask = fn(FilterSource, *mut c_void);

struct QueuedTask {
    weak: WeakSource,
    task: UiTask,
}

unsafe extern "C" fn run_queued_task(param: *mut c_void) {
    guard("ui task", (), || unsafe {
        let queued = Box::from_raw(param as *mut QueuedTask);
        // Null once the filter is being destroyed (its strong count has run out).
        let source = obs_weak_source_get_source(queued.weak.0);
        if source.is_null() {
            return;
        }
        // Released even if the task panics (the guard catches it), or the filter would never be destroyed.
        let _release = ReleaseOnDrop(source);
        (queued.task)(FilterSource(source), obs_obj_get_data(source.cast()));
    })
}

/// Drops one strong reference to a source when it goes out of scope.
struct ReleaseOnDrop(*mut obs_source_t);

impl Drop for ReleaseOnDrop {
    fn drop(&mut self) {
        unsafe { obs_source_release(self.0) };
    }
}

/// Timestamp of the video frame being rendered: equal across every view drawn within one frame.
pub fn video_frame_time() -> u64 {
    unsafe { obs_get_video_frame_time() }
}

/// The number of the video frame being rendered on OBS's video clock (its timestamp over the frame interval),
/// None before OBS's video is set up. Frames OBS skipped while it lagged are counted, so the difference of
/// two numbers is the time between them, as the source's pictures advance.
pub fn video_frame_number() -> Option<u64> {
    // SAFETY: obs_get_video returns OBS's video output or null; the interval is read from a live output.
    let interval = unsafe {
        let video = obs_get_video();
        if video.is_null() {
            return None;
        }
        video_output_get_frame_time(video)
    };
    (interval > 0).then(|| (video_frame_time() + interval / 2) / interval)
}

//! Counted references to other OBS sources (Source mode's background), and the questions the filter asks of
//! them. Every function here may be called from any thread, except `draw`, which needs the graphics context.

use super::sys::*;
use crate::background_source::Counted;
use std::ffi::{c_void, CStr, CString};
use std::sync::atomic::{AtomicUsize, Ordering};

/// How many `SourceRef`s exist: logged at unload, where any left would keep a source (and what it holds)
/// alive past OBS's clearing of the scenes.
static HELD: AtomicUsize = AtomicUsize::new(0);

/// How many references to other sources the plugin holds right now.
pub fn held() -> usize {
    HELD.load(Ordering::Acquire)
}

/// One strong reference to a source, released when dropped. Equality is identity.
pub struct SourceRef(*mut obs_source_t);

// SAFETY: libobs sources are reference counted atomically and their functions used here are thread-safe.
unsafe impl Send for SourceRef {}
unsafe impl Sync for SourceRef {}

impl SourceRef {
    /// Takes ownership of one strong reference OBS handed out.
    fn adopt(raw: *mut obs_source_t) -> SourceRef {
        HELD.fetch_add(1, Ordering::AcqRel);
        SourceRef(raw)
    }

    /// The public source (input or scene) of that name, if one exists.
    pub fn by_name(name: &str) -> Option<SourceRef> {
        let name = CString::new(name).ok()?;
        let raw = unsafe { obs_get_source_by_name(name.as_ptr()) };
        (!raw.is_null()).then(|| SourceRef::adopt(raw))
    }

    /// A new reference to `raw`, unless it is already being destroyed.
    ///
    /// # Safety
    /// `raw` must point to a source that is alive for the duration of the call (e.g. a signal's argument).
    pub unsafe fn borrowed(raw: *mut obs_source_t) -> Option<SourceRef> {
        if raw.is_null() {
            return None;
        }
        let strong = obs_source_get_ref(raw);
        (!strong.is_null()).then(|| SourceRef::adopt(strong))
    }

    /// Whether this is `raw` (which need not be alive any more: only the address is compared).
    pub fn is(&self, raw: *mut obs_source_t) -> bool {
        self.0 == raw
    }

    pub fn name(&self) -> String {
        let raw = unsafe { obs_source_get_name(self.0) };
        if raw.is_null() {
            return String::new();
        }
        unsafe { CStr::from_ptr(raw) }.to_string_lossy().into_owned()
    }

    /// The size it is drawn at (after its own filters).
    pub fn size(&self) -> (u32, u32) {
        unsafe { (obs_source_get_width(self.0), obs_source_get_height(self.0)) }
    }

    pub fn has_video(&self) -> bool {
        unsafe { obs_source_get_output_flags(self.0) & OBS_SOURCE_VIDEO != 0 }
    }

    /// Removed by the user (it may live on while references remain).
    pub fn removed(&self) -> bool {
        unsafe { obs_source_removed(self.0) }
    }

    pub fn showing(&self) -> bool {
        unsafe { obs_source_showing(self.0) }
    }

    pub fn active(&self) -> bool {
        unsafe { obs_source_active(self.0) }
    }

    /// Whether `other` is drawn as part of this source: it is a scene or group holding `other`, directly or
    /// through nested scenes and groups (all items, visible or not, since any may be shown later).
    pub fn contains(&self, other: &SourceRef) -> bool {
        struct Search {
            wanted: *mut obs_source_t,
            found: bool,
        }
        unsafe extern "C" fn visit(_: *mut obs_source_t, child: *mut obs_source_t, param: *mut c_void) {
            let search = &mut *(param as *mut Search);
            search.found |= child == search.wanted;
        }
        let mut search = Search { wanted: other.0, found: false };
        unsafe { obs_source_enum_full_tree(self.0, Some(visit), (&mut search as *mut Search).cast()) };
        search.found
    }

    /// OBS's id of the source's type (e.g. "image_source", or our filter's).
    pub fn kind(&self) -> String {
        let raw = unsafe { obs_source_get_id(self.0) };
        if raw.is_null() {
            return String::new();
        }
        unsafe { CStr::from_ptr(raw) }.to_string_lossy().into_owned()
    }

    /// The type data its type was registered with (which copy of a plugin registered it).
    pub fn type_mark(&self) -> *mut c_void {
        unsafe { obs_source_get_type_data(self.0) }
    }

    /// The private data its type's `create` returned (null while it is being created).
    pub fn type_data(&self) -> *mut c_void {
        unsafe { obs_obj_get_data(self.0.cast()) }
    }

    /// The filter of that name on this source.
    pub fn filter_by_name(&self, name: &str) -> Option<SourceRef> {
        let name = CString::new(name).ok()?;
        // OBS returns a new reference.
        let raw = unsafe { obs_source_get_filter_by_name(self.0, name.as_ptr()) };
        (!raw.is_null()).then(|| SourceRef::adopt(raw))
    }

    /// The source's filters, first applied first.
    pub fn filters(&self) -> Vec<SourceRef> {
        unsafe extern "C" fn collect(_: *mut obs_source_t, filter: *mut obs_source_t, param: *mut c_void) {
            let found = &mut *(param as *mut Vec<SourceRef>);
            found.extend(SourceRef::borrowed(filter));
        }
        let mut found: Vec<SourceRef> = Vec::new();
        unsafe { obs_source_enum_filters(self.0, Some(collect), (&mut found as *mut Vec<SourceRef>).cast()) };
        found
    }

    /// Draws the source (with its filters) into the current render target, in its own coordinates
    /// (0..width, 0..height). Call inside the graphics context.
    pub fn draw(&self) {
        unsafe { obs_source_video_render(self.0) };
    }
}

impl Clone for SourceRef {
    fn clone(&self) -> SourceRef {
        // SAFETY: `self` holds a reference, so the source is alive while another is taken.
        SourceRef::adopt(unsafe { obs_source_get_ref(self.0) })
    }
}

impl PartialEq for SourceRef {
    fn eq(&self, other: &SourceRef) -> bool {
        self.0 == other.0
    }
}

impl Drop for SourceRef {
    fn drop(&mut self) {
        unsafe { obs_source_release(self.0) };
        HELD.fetch_sub(1, Ordering::AcqRel);
    }
}

impl Counted for SourceRef {
    fn inc_showing(&self) {
        unsafe { obs_source_inc_showing(self.0) }
    }
    fn dec_showing(&self) {
        unsafe { obs_source_dec_showing(self.0) }
    }
    fn inc_active(&self) {
        unsafe { obs_source_inc_active(self.0) }
    }
    fn dec_active(&self) {
        unsafe { obs_source_dec_active(self.0) }
    }
}

/// The names of OBS's inputs and of its scenes (groups included where OBS lists them), each list in OBS's
/// order, keeping those `wanted` accepts. Only names are taken: no source is held.
fn names_of_inputs_and_scenes(wanted: fn(*mut obs_source_t) -> bool) -> (Vec<String>, Vec<String>) {
    struct Collect {
        wanted: fn(*mut obs_source_t) -> bool,
        names: Vec<String>,
    }
    unsafe extern "C" fn collect(param: *mut c_void, source: *mut obs_source_t) -> bool {
        let c = &mut *(param as *mut Collect);
        let raw = obs_source_get_name(source);
        if (c.wanted)(source) && !raw.is_null() {
            c.names.push(CStr::from_ptr(raw).to_string_lossy().into_owned());
        }
        true
    }
    let mut inputs = Collect { wanted, names: Vec::new() };
    let mut scenes = Collect { wanted, names: Vec::new() };
    unsafe {
        obs_enum_sources(Some(collect), (&mut inputs as *mut Collect).cast());
        obs_enum_scenes(Some(collect), (&mut scenes as *mut Collect).cast());
    }
    (inputs.names, scenes.names)
}

/// The names of the sources and scenes a background can be taken from, as OBS lists them: inputs with
/// video, then scenes (groups included where OBS lists them).
pub fn video_source_names() -> Vec<String> {
    // SAFETY: OBS hands the callback a live source.
    let (mut inputs, mut scenes) =
        names_of_inputs_and_scenes(|s| unsafe { obs_source_get_output_flags(s) } & OBS_SOURCE_VIDEO != 0);
    inputs.sort_by_key(|n| n.to_lowercase());
    scenes.retain(|s| !inputs.contains(s));
    inputs.append(&mut scenes);
    inputs
}

/// The names of every input and every scene (groups included where OBS lists them), without holding any of
/// them: a caller takes one at a time by name, so that nothing it looks at is kept alive past OBS's own
/// clearing of the scenes (a request in flight at exit).
pub fn all_source_names() -> Vec<String> {
    let (mut names, scenes) = names_of_inputs_and_scenes(|_| true);
    // A group may be listed as an input and as a scene.
    for scene in scenes {
        if !names.contains(&scene) {
            names.push(scene);
        }
    }
    names
}

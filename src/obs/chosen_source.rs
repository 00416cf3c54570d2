//! Source mode on the OBS side: the background source the filter has chosen. It is found by name (the
//! `background_source` setting, as OBS's own scene items find their sources when a scene collection loads),
//! kept alive by a reference as a scene item keeps its source (so a source in no scene survives a reload),
//! followed across renames, let go when the user removes it, checked on every video tick (refused if drawing
//! it would draw this filter), held showing or active while the filter is, and handed to the graphics thread
//! to draw.
//!
//! Threads and locks: `choose` runs where OBS applies settings, the signal handlers where a source is created,
//! renamed or removed, `tick` on the video thread, `drawable` on any thread that renders. Counts change only
//! under the hold's lock, which only `tick` and `release` take: a source's show callback may enter the
//! graphics context, so nothing that renders may wait for that lock. No lock is held while looking a
//! source up by name (OBS's source list lock).

use super::signals::{GlobalSignal, SourceSignal};
use super::source::{FilterSource, UiTask, WeakSource};
use super::source_ref::SourceRef;
use crate::background_source::{Hold, HoldLevel, Refusal};
use parking_lot::Mutex;
use std::ffi::c_void;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What the settings ask for.
#[derive(Default)]
struct Choice {
    /// Source mode is on.
    on: bool,
    /// The source's name as last set or followed.
    name: String,
    /// The source of that name, once found (until the user removes it).
    found: Option<SourceRef>,
}

/// What the UI thread is asked to do when something changed.
#[derive(Clone, Copy)]
pub struct Notify {
    /// The status line may have changed.
    pub status: UiTask,
    /// The chosen source was renamed: store its new name in the settings.
    pub renamed: UiTask,
    /// Sources came or went: an open properties window should list them again.
    pub sources_changed: UiTask,
}

struct Shared {
    filter: FilterSource,
    weak_filter: Option<WeakSource>,
    notify: Notify,
    choice: Mutex<Choice>,
    /// Touched only by `tick` and by the release paths.
    hold: Mutex<Hold<SourceRef>>,
    /// The source to draw this frame, if any.
    drawable: Mutex<Option<SourceRef>>,
    /// The refusal reported (status line, log), and since when a source has had no picture.
    refusal: Mutex<Reported>,
}

#[derive(Default)]
struct Reported {
    refusal: Option<Refusal>,
    no_picture_since: Option<Instant>,
}

impl Reported {
    /// Takes this tick's refusal; returns the one to report if it differs from the last. A source without a
    /// picture counts only once that has lasted `NO_PICTURE_GRACE`.
    fn update(&mut self, refusal: Option<Refusal>) -> Option<Option<Refusal>> {
        let refusal = match refusal {
            Some(Refusal::NoPicture(_)) => {
                let since = *self.no_picture_since.get_or_insert_with(Instant::now);
                if since.elapsed() >= NO_PICTURE_GRACE {
                    refusal
                } else {
                    // Within the grace nothing is wrong yet, unless it was already reported.
                    self.refusal.clone().filter(Refusal::still_held)
                }
            }
            other => {
                self.no_picture_since = None;
                other
            }
        };
        if self.refusal == refusal {
            return None;
        }
        self.refusal = refusal.clone();
        Some(refusal)
    }
}

/// How long a source may have no picture before it is reported: a Media source has none for a moment each
/// time it starts (and it starts whenever the filter activates it).
const NO_PICTURE_GRACE: Duration = Duration::from_secs(1);

impl Shared {
    fn queue(&self, task: UiTask) {
        if let Some(w) = &self.weak_filter {
            w.on_ui_thread(task);
        }
    }
}

pub struct ChosenSource {
    /// Declared first so it is dropped first: no handler runs once the rest goes.
    signals: Vec<GlobalSignal>,
    shared: Arc<Shared>,
}

impl ChosenSource {
    pub fn new(filter: FilterSource, weak_filter: Option<WeakSource>, notify: Notify) -> ChosenSource {
        let shared = Arc::new(Shared {
            filter,
            weak_filter,
            notify,
            choice: Mutex::new(Choice::default()),
            hold: Mutex::new(Hold::default()),
            drawable: Mutex::new(None),
            refusal: Mutex::new(Reported::default()),
        });
        let context = Arc::as_ptr(&shared).cast::<c_void>();
        let signals = vec![
            GlobalSignal::connect(c"source_create", on_create, context),
            GlobalSignal::connect(c"source_rename", on_rename, context),
            GlobalSignal::connect(c"source_remove", on_remove, context),
        ];
        ChosenSource { signals, shared }
    }

    /// Applies the settings: Source mode on or off, and the source's name. Looks the name up again when it
    /// changed or nothing of that name was found yet.
    pub fn choose(&self, on: bool, name: &str) {
        {
            let c = self.shared.choice.lock();
            let still_found = c.found.as_ref().is_some_and(|s| !s.removed());
            if c.on == on && c.name == name && (still_found || !on) {
                return;
            }
        }
        let found = if on && !name.is_empty() { SourceRef::by_name(name).filter(|s| !s.removed()) } else { None };
        let old = std::mem::replace(&mut *self.shared.choice.lock(), Choice { on, name: name.to_string(), found });
        drop(old);
        if !on {
            self.release();
        }
    }

    /// The chosen source's name, as last set or followed through a rename.
    pub fn name(&self) -> String {
        self.shared.choice.lock().name.clone()
    }

    /// Why the chosen source is not drawn, in Source mode.
    pub fn refusal(&self) -> Option<Refusal> {
        self.shared.refusal.lock().refusal.clone()
    }

    /// The source to draw behind the person this frame (a new reference), if one is chosen and drawable.
    pub fn drawable(&self) -> Option<SourceRef> {
        self.shared.drawable.lock().clone()
    }

    /// On the video thread, once per frame: decides what is held and drawn, and whether it is refused.
    pub fn tick(&self) {
        let s = &self.shared;
        let (wanted, refusal) = evaluate(s);
        let draw = wanted.as_ref().filter(|_| refusal.is_none()).map(|(source, _)| source.clone());
        s.hold.lock().set(wanted);
        let old = std::mem::replace(&mut *s.drawable.lock(), draw);
        drop(old);
        let changed = s.refusal.lock().update(refusal);
        if let Some(refusal) = changed {
            if let Some(r) = &refusal {
                log::warn!(
                    "[{}] background source not shown, using the background colour: {}",
                    s.filter.name(),
                    r.describe()
                );
            } else {
                log::info!("[{}] background source shown: {}", s.filter.name(), s.choice.lock().name);
            }
            s.queue(s.notify.status);
        }
    }

    /// Gives back every count held and the reference used for drawing (Source mode turned off, the filter
    /// removed from its source or destroyed). The chosen source itself stays referenced while chosen.
    pub fn release(&self) {
        let old = self.shared.drawable.lock().take();
        drop(old);
        // Taken out first, so the counts are given back without the lock held.
        let hold = std::mem::take(&mut *self.shared.hold.lock());
        drop(hold);
    }
}

impl Drop for ChosenSource {
    fn drop(&mut self) {
        self.signals.clear();
        self.release();
        let old = self.shared.choice.lock().found.take();
        drop(old);
    }
}

/// What to hold (and at which level) and why it is not drawn, from the choice and the filter's state.
fn evaluate(s: &Shared) -> (Option<(SourceRef, HoldLevel)>, Option<Refusal>) {
    let (source, removed) = {
        let mut c = s.choice.lock();
        if !c.on {
            return (None, None);
        }
        // Removed by the user: let it go (source_remove normally did already), outside the lock.
        let removed = c.found.take_if(|f| f.removed());
        (c.found.clone(), removed)
    };
    drop(removed);
    if !s.filter.enabled() {
        return (None, None);
    }
    let Some(parent) = s.filter.parent() else { return (None, None) };
    let Some(source) = source else {
        let name = s.choice.lock().name.clone();
        let refusal = if name.is_empty() { Refusal::NoneChosen } else { Refusal::NotFound(name) };
        return (None, Some(refusal));
    };
    // Names are looked up only for a refusal: nothing is allocated on a normal tick.
    if source == parent {
        return (None, Some(Refusal::IsFilteredSource(source.name())));
    }
    if source.contains(&parent) {
        return (None, Some(Refusal::ContainsFilteredSource(source.name())));
    }
    if !source.has_video() {
        return (None, Some(Refusal::NoVideo(source.name())));
    }
    let level = HoldLevel::mirroring(parent.showing(), parent.active());
    let (w, h) = source.size();
    let refusal = (w == 0 || h == 0).then(|| Refusal::NoPicture(source.name()));
    (Some((source, level)), refusal)
}

/// # Safety
/// `context` is the `Shared` the connection was made with; it outlives the connection.
unsafe fn shared<'a>(context: *const c_void) -> &'a Shared {
    &*(context as *const Shared)
}

fn on_create(signal: &SourceSignal<'_>, context: *const c_void) {
    let s = unsafe { shared(context) };
    // SAFETY: the signal's source is alive while its signal is handled.
    if let Some(source) = unsafe { SourceRef::borrowed(signal.source) } {
        adopt_if_named(s, &source, &source.name());
    }
    s.queue(s.notify.sources_changed);
}

fn on_rename(signal: &SourceSignal<'_>, context: *const c_void) {
    let s = unsafe { shared(context) };
    let Some(new_name) = signal.string(c"new_name") else { return };
    let followed = {
        let mut c = s.choice.lock();
        let ours = c.found.as_ref().is_some_and(|f| f.is(signal.source));
        if ours {
            c.name = new_name.clone();
        }
        ours
    };
    if followed {
        s.queue(s.notify.renamed);
    } else if let Some(source) = unsafe { SourceRef::borrowed(signal.source) } {
        adopt_if_named(s, &source, &new_name);
    }
    s.queue(s.notify.sources_changed);
}

fn on_remove(signal: &SourceSignal<'_>, context: *const c_void) {
    let s = unsafe { shared(context) };
    let removed = {
        let mut c = s.choice.lock();
        if c.found.as_ref().is_some_and(|f| f.is(signal.source)) {
            c.found.take()
        } else {
            None
        }
    };
    // Let go outside the lock: it may be the last reference.
    drop(removed);
    s.queue(s.notify.sources_changed);
}

/// A source now carries the chosen name (created, or renamed to it) while none of that name was found.
fn adopt_if_named(s: &Shared, source: &SourceRef, name: &str) {
    let mut c = s.choice.lock();
    if c.on && c.found.is_none() && c.name == name && !source.removed() {
        c.found = Some(source.clone());
    }
}

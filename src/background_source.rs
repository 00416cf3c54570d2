//! Source mode's rules, apart from OBS so they are tested without it: which chosen sources are refused and
//! why, and how the filter keeps its background source playing. It holds the source the way a scene holds
//! its items (showing while the filter is shown, active while the filter is on the program output) and gives
//! back exactly what it took when the choice, the mode or the filter's visibility changes.

/// Why the chosen background source is not drawn (the background colour is shown instead).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Refusal {
    NoneChosen,
    /// No source of that name exists (never did, was removed, or was renamed before it was chosen).
    NotFound(String),
    /// The source this filter is on: it would have to draw itself.
    IsFilteredSource(String),
    /// A scene or group that contains (perhaps through nested scenes) the source this filter is on.
    ContainsFilteredSource(String),
    /// An audio-only source.
    NoVideo(String),
    /// A video source whose picture is 0x0 for now (a Media source before its first frame, or without a file).
    NoPicture(String),
}

impl Refusal {
    /// The locale key of the status text, and its argument.
    pub fn locale(&self) -> (&'static str, &str) {
        match self {
            Refusal::NoneChosen => ("Source.NoneChosen", ""),
            Refusal::NotFound(n) => ("Source.NotFound", n),
            Refusal::IsFilteredSource(n) => ("Source.IsFiltered", n),
            Refusal::ContainsFilteredSource(n) => ("Source.ContainsFiltered", n),
            Refusal::NoVideo(n) => ("Source.NoVideo", n),
            Refusal::NoPicture(n) => ("Source.NoPicture", n),
        }
    }

    /// For the log (English, whatever the interface language).
    pub fn describe(&self) -> String {
        match self {
            Refusal::NoneChosen => "no background source chosen".into(),
            Refusal::NotFound(n) => format!("no source named \"{n}\""),
            Refusal::IsFilteredSource(n) => format!("\"{n}\" is the source this filter is on"),
            Refusal::ContainsFilteredSource(n) => format!("\"{n}\" contains the source this filter is on"),
            Refusal::NoVideo(n) => format!("\"{n}\" has no video"),
            Refusal::NoPicture(n) => format!("\"{n}\" has no picture (0x0)"),
        }
    }

    /// Whether the source is still held (kept playing) although it is not drawn: a Media source without a
    /// frame yet is 0x0 until it plays, so it must be held to ever get one. Refused sources are never held
    /// (holding a scene that contains this filter's source would keep that source, and so this filter, active).
    pub fn still_held(&self) -> bool {
        matches!(self, Refusal::NoPicture(_))
    }
}

/// How strongly the background source is held.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HoldLevel {
    /// Not counted: the source is only kept alive (a reference) so it can be drawn.
    Kept,
    /// Counted as showing (the filter is in a preview, a projector, a screenshot's scene).
    Showing,
    /// Counted as active (the filter is on the program output): a Media source plays.
    Active,
}

impl HoldLevel {
    /// The level that mirrors the filtered source's own state.
    pub fn mirroring(showing: bool, active: bool) -> HoldLevel {
        if active {
            HoldLevel::Active
        } else if showing {
            HoldLevel::Showing
        } else {
            HoldLevel::Kept
        }
    }
}

/// A reference to a source whose showing and active counts can be raised and lowered (OBS's
/// `obs_source_inc_showing` and friends). Equality is identity.
pub trait Counted: Clone + PartialEq {
    fn inc_showing(&self);
    fn dec_showing(&self);
    fn inc_active(&self);
    fn dec_active(&self);
}

fn take<S: Counted>(source: &S, level: HoldLevel) {
    match level {
        HoldLevel::Kept => {}
        HoldLevel::Showing => source.inc_showing(),
        HoldLevel::Active => source.inc_active(),
    }
}

fn give_back<S: Counted>(source: &S, level: HoldLevel) {
    match level {
        HoldLevel::Kept => {}
        HoldLevel::Showing => source.dec_showing(),
        HoldLevel::Active => source.dec_active(),
    }
}

/// The source held and at which level; gives everything back when dropped.
pub struct Hold<S: Counted> {
    held: Option<(S, HoldLevel)>,
}

impl<S: Counted> Default for Hold<S> {
    fn default() -> Self {
        Hold { held: None }
    }
}

impl<S: Counted> Hold<S> {
    /// Holds `wanted` (or nothing) from now on. The new count is taken before the old one is given back, so
    /// a source that stays chosen never drops to zero in between (a Media source would restart).
    pub fn set(&mut self, wanted: Option<(S, HoldLevel)>) {
        if self.held == wanted {
            return;
        }
        if let Some((source, level)) = &wanted {
            take(source, *level);
        }
        if let Some((source, level)) = std::mem::replace(&mut self.held, wanted) {
            give_back(&source, level);
        }
    }

    pub fn source(&self) -> Option<&S> {
        self.held.as_ref().map(|(s, _)| s)
    }

    pub fn release(&mut self) {
        self.set(None);
    }
}

impl<S: Counted> Drop for Hold<S> {
    fn drop(&mut self) {
        self.release();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;
    use std::rc::Rc;

    /// A fake source: its counts, and the lowest the showing count fell to while it was held.
    #[derive(Default)]
    struct Counts {
        showing: Cell<i32>,
        active: Cell<i32>,
        hidden_events: Cell<u32>,
    }

    #[derive(Clone)]
    struct Fake(Rc<Counts>);

    impl PartialEq for Fake {
        fn eq(&self, other: &Self) -> bool {
            Rc::ptr_eq(&self.0, &other.0)
        }
    }

    impl Counted for Fake {
        fn inc_showing(&self) {
            self.0.showing.set(self.0.showing.get() + 1);
        }
        fn dec_showing(&self) {
            self.0.showing.set(self.0.showing.get() - 1);
            if self.0.showing.get() == 0 {
                self.0.hidden_events.set(self.0.hidden_events.get() + 1);
            }
        }
        // As in OBS, active implies showing.
        fn inc_active(&self) {
            self.0.active.set(self.0.active.get() + 1);
            self.inc_showing();
        }
        fn dec_active(&self) {
            self.0.active.set(self.0.active.get() - 1);
            self.dec_showing();
        }
    }

    fn counts(f: &Fake) -> (i32, i32) {
        (f.0.showing.get(), f.0.active.get())
    }

    #[test]
    fn only_a_source_without_video_yet_is_held_while_refused() {
        assert!(Refusal::NoPicture("clip".into()).still_held());
        assert!(!Refusal::NoVideo("mic".into()).still_held());
        assert!(!Refusal::ContainsFilteredSource("Scene".into()).still_held());
        assert!(!Refusal::IsFilteredSource("Cam".into()).still_held());
        assert_eq!(Refusal::NotFound("Gone".into()).describe(), "no source named \"Gone\"");
        assert_eq!(Refusal::NoVideo("x".into()).locale(), ("Source.NoVideo", "x"));
    }

    #[test]
    fn levels_mirror_the_filtered_source() {
        assert_eq!(HoldLevel::mirroring(false, false), HoldLevel::Kept);
        assert_eq!(HoldLevel::mirroring(true, false), HoldLevel::Showing);
        assert_eq!(HoldLevel::mirroring(true, true), HoldLevel::Active);
    }

    #[test]
    fn every_change_is_balanced_and_a_kept_source_never_blinks() {
        let a = Fake(Rc::default());
        let b = Fake(Rc::default());
        let mut hold = Hold::default();
        hold.set(Some((a.clone(), HoldLevel::Kept)));
        assert_eq!(counts(&a), (0, 0));
        hold.set(Some((a.clone(), HoldLevel::Showing)));
        assert_eq!(counts(&a), (1, 0));
        hold.set(Some((a.clone(), HoldLevel::Active)));
        assert_eq!(counts(&a), (1, 1));
        hold.set(Some((a.clone(), HoldLevel::Active)));
        assert_eq!(counts(&a), (1, 1), "setting the same hold again changes nothing");
        hold.set(Some((a.clone(), HoldLevel::Showing)));
        assert_eq!(counts(&a), (1, 0));
        assert_eq!(a.0.hidden_events.get(), 0, "showing the whole time: never hidden in between");
        hold.set(Some((b.clone(), HoldLevel::Active)));
        assert_eq!((counts(&a), counts(&b)), ((0, 0), (1, 1)));
        assert!(hold.source() == Some(&b));
        for _ in 0..50 {
            hold.set(Some((a.clone(), HoldLevel::Active)));
            hold.set(None);
        }
        assert_eq!((counts(&a), counts(&b)), ((0, 0), (0, 0)));
        hold.set(Some((b.clone(), HoldLevel::Showing)));
        drop(hold);
        assert_eq!(counts(&b), (0, 0), "dropping the hold gives everything back");
    }
}

//! A one-place mailbox between a producer that must never wait and a consumer thread: a new value replaces
//! one not yet taken, so nothing queues up and the consumer always works on the newest input.

use parking_lot::{Condvar, Mutex};
use std::time::Duration;

pub struct LatestSlot<T> {
    state: Mutex<State<T>>,
    ready: Condvar,
}

struct State<T> {
    value: Option<T>,
    woken: bool,
    closed: bool,
}

/// What a waiting consumer gets.
#[derive(Debug, PartialEq, Eq)]
pub enum Taken<T> {
    Value(T),
    /// `wake` was called: something else (settings) changed.
    Woken,
    /// Timed out with nothing new.
    Empty,
    /// `close` was called: the consumer should stop.
    Closed,
}

impl<T> Default for LatestSlot<T> {
    fn default() -> Self {
        LatestSlot { state: Mutex::new(State { value: None, woken: false, closed: false }), ready: Condvar::new() }
    }
}

impl<T> LatestSlot<T> {
    /// Stores `value`, returning the unprocessed value it replaced (so its buffer can be reused).
    pub fn put(&self, value: T) -> Option<T> {
        let old = self.state.lock().value.replace(value);
        self.ready.notify_one();
        old
    }

    /// Wakes the consumer without a value.
    pub fn wake(&self) {
        self.state.lock().woken = true;
        self.ready.notify_one();
    }

    /// Tells the consumer to stop; later puts are dropped.
    pub fn close(&self) {
        let mut s = self.state.lock();
        s.closed = true;
        s.value = None;
        drop(s);
        self.ready.notify_all();
    }

    /// Waits up to `timeout` for a value, a wake-up or closing. Closing wins over a pending value.
    pub fn wait(&self, timeout: Duration) -> Taken<T> {
        let mut s = self.state.lock();
        if !(s.closed || s.woken || s.value.is_some()) {
            self.ready.wait_for(&mut s, timeout);
        }
        if s.closed {
            Taken::Closed
        } else if std::mem::take(&mut s.woken) {
            Taken::Woken
        } else if let Some(v) = s.value.take() {
            Taken::Value(v)
        } else {
            Taken::Empty
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::time::Instant;

    const LONG: Duration = Duration::from_secs(5);

    #[test]
    fn newer_value_replaces_unprocessed_one() {
        let slot = LatestSlot::default();
        assert_eq!(slot.put(1), None);
        assert_eq!(slot.put(2), Some(1));
        assert_eq!(slot.wait(LONG), Taken::Value(2));
        assert_eq!(slot.wait(Duration::from_millis(1)), Taken::Empty);
    }

    #[test]
    fn wake_is_reported_before_the_value_and_once() {
        let slot = LatestSlot::default();
        slot.put(7);
        slot.wake();
        assert_eq!(slot.wait(LONG), Taken::Woken);
        assert_eq!(slot.wait(LONG), Taken::Value(7));
    }

    #[test]
    fn close_wakes_a_blocked_consumer_and_drops_later_values() {
        let slot = Arc::new(LatestSlot::<u32>::default());
        let consumer = {
            let slot = slot.clone();
            std::thread::spawn(move || {
                let start = Instant::now();
                (slot.wait(LONG), start.elapsed())
            })
        };
        std::thread::sleep(Duration::from_millis(50));
        slot.close();
        let (taken, waited) = consumer.join().unwrap();
        assert_eq!(taken, Taken::Closed);
        assert!(waited < LONG, "consumer was not woken by close");
        slot.put(3);
        assert_eq!(slot.wait(LONG), Taken::Closed);
    }

    #[test]
    fn a_blocked_consumer_receives_a_value() {
        let slot = Arc::new(LatestSlot::<u32>::default());
        let consumer = {
            let slot = slot.clone();
            std::thread::spawn(move || slot.wait(LONG))
        };
        std::thread::sleep(Duration::from_millis(20));
        slot.put(42);
        assert_eq!(consumer.join().unwrap(), Taken::Value(42));
    }
}

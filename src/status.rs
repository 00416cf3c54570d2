//! What the worker reports about itself: model state and throughput, for the status line and the logs.

use crate::error::Error;
use crate::settings::Device;
use std::collections::VecDeque;
use std::time::{Duration, Instant};

#[derive(Clone, Debug, PartialEq)]
pub enum ModelState {
    /// No model requested yet.
    Idle,
    /// Loading the model named here.
    Loading(String),
    /// The model named here is running.
    Ready(String),
    /// Nothing runs; the filter passes video through until the settings change.
    Failed(Error),
}

#[derive(Clone, Debug, PartialEq)]
pub struct WorkerStatus {
    pub state: ModelState,
    /// Smoothed milliseconds per mask (pre-processing, inference and post-processing).
    pub ms_per_mask: f32,
    /// Masks run per second: over the last second, or over up to ten when fewer came (`RateMeter`).
    pub masks_per_second: f32,
    /// The picture has not changed for a while: only the once-a-second keep-alive mask runs (`ChangeGate`).
    pub idle: bool,
    /// Where the running model runs.
    pub device: Device,
    /// Set when the chosen device could not run the model and the CPU took over.
    pub fallback: Option<Fallback>,
}

/// The chosen device failed (at session creation or on the first run), so the model runs on the CPU.
#[derive(Clone, Debug, PartialEq)]
pub struct Fallback {
    pub wanted: Device,
    pub reason: String,
}

impl Fallback {
    /// One line for the log and the tests: "CUDA unavailable (reason); running on CPU".
    pub fn describe(&self) -> String {
        format!("{} unavailable ({}); running on CPU", self.wanted.display_name(), self.reason)
    }
}

impl Default for WorkerStatus {
    fn default() -> Self {
        WorkerStatus {
            state: ModelState::Idle,
            ms_per_mask: 0.0,
            masks_per_second: 0.0,
            idle: false,
            device: Device::Cpu,
            fallback: None,
        }
    }
}

/// Measures masks per second and smooths the time per mask. The rate is counted over the last second while
/// masks come often; when fewer than a few came in it (a still picture segmented once a second), over up to
/// ten seconds since the masks slowed down, so rates below one a second read as such rather than as 0 or 1.
#[derive(Debug)]
pub struct RateMeter {
    started: Instant,
    /// When each of the recent masks was made, oldest first (at most LONG_WINDOW back).
    times: VecDeque<Instant>,
    /// Since when fewer than BUSY masks came per second.
    slow_since: Option<Instant>,
    pub masks_per_second: f32,
    pub ms_per_mask: f32,
}

impl RateMeter {
    const WINDOW: Duration = Duration::from_secs(1);
    const LONG_WINDOW: Duration = Duration::from_secs(10);
    /// Masks in the last second that make a rate worth reading off one second.
    const BUSY: usize = 3;

    pub fn new(now: Instant) -> RateMeter {
        RateMeter { started: now, times: VecDeque::new(), slow_since: None, masks_per_second: 0.0, ms_per_mask: 0.0 }
    }

    pub fn record(&mut self, took: Duration, now: Instant) {
        let ms = took.as_secs_f32() * 1000.0;
        self.ms_per_mask = if self.ms_per_mask == 0.0 { ms } else { 0.9 * self.ms_per_mask + 0.1 * ms };
        self.times.push_back(now);
        self.roll(now);
    }

    /// Recounts the rate at `now`, so it falls when masks stop.
    pub fn roll(&mut self, now: Instant) {
        while self.times.front().is_some_and(|t| now.duration_since(*t) > Self::LONG_WINDOW) {
            self.times.pop_front();
        }
        let since = |from: Instant| self.times.iter().filter(|t| **t > from).count();
        let second_ago = now.checked_sub(Self::WINDOW).unwrap_or(self.started).max(self.started);
        let last_second = since(second_ago);
        if last_second >= Self::BUSY || now.duration_since(self.started) < Self::WINDOW {
            self.slow_since = None;
            let span = now.duration_since(second_ago).as_secs_f32().max(1e-3);
            self.masks_per_second = if span >= 0.5 { last_second as f32 / span } else { self.masks_per_second };
            return;
        }
        // Count from the last mask of the busy spell, not before it: the masks of that spell would read as a
        // slow rate for seconds (1.3 a second on a still picture segmented once a second).
        // The rate is one over the mean interval between masks since then (or over the time since the newest,
        // once that is longer), so a steady rate reads steady instead of sawing between masks.
        let newest = self.times.back().copied();
        let mut from = *self.slow_since.get_or_insert(newest.filter(|t| *t > second_ago).unwrap_or(second_ago));
        if now.duration_since(from) > Self::LONG_WINDOW {
            // Anchor on a mask, not mid-interval.
            from = self.times.front().copied().unwrap_or_else(|| now.checked_sub(Self::LONG_WINDOW).unwrap_or(from));
        }
        let count = since(from);
        match newest {
            Some(newest) if count > 0 => {
                let mean = newest.duration_since(from).as_secs_f32() / count as f32;
                self.masks_per_second = 1.0 / mean.max(now.duration_since(newest).as_secs_f32()).max(1e-3);
            }
            // No mask since the spell ended: keep the last reading for a second rather than dip to 0.
            _ if now.duration_since(from) < Self::WINDOW => {}
            _ => self.masks_per_second = 0.0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_is_counted_per_second_and_falls_to_zero() {
        let t0 = Instant::now();
        let mut m = RateMeter::new(t0);
        for i in 1..=30 {
            m.record(Duration::from_millis(4), t0 + Duration::from_millis(i * 1000 / 30));
        }
        assert!((m.masks_per_second - 30.0).abs() < 1.0, "{}", m.masks_per_second);
        assert!((m.ms_per_mask - 4.0).abs() < 0.01);
        m.roll(t0 + Duration::from_millis(2500));
        assert!(m.masks_per_second < 0.7, "{}", m.masks_per_second);
        m.roll(t0 + Duration::from_millis(12_000));
        assert_eq!(m.masks_per_second, 0.0);
    }

    #[test]
    fn a_busy_rate_slowing_to_one_mask_a_second_reads_as_one() {
        let t0 = Instant::now();
        let ms = |n: u64| t0 + Duration::from_millis(n);
        let mut m = RateMeter::new(t0);
        for i in 1..=90 {
            m.record(Duration::from_millis(4), ms(i * 1000 / 30));
        }
        // Then one mask a second, with frames rolling the meter in between.
        let mut readings = Vec::new();
        for s in 4..=20 {
            m.record(Duration::from_millis(4), ms(s * 1000));
            for f in 1..30 {
                m.roll(ms(s * 1000 + f * 33));
                if s >= 6 {
                    readings.push(m.masks_per_second);
                }
            }
        }
        // The busy spell's last masks do not linger in the slow rate (they read as 1.3 for seconds once).
        for r in &readings {
            assert!((0.7..=1.05).contains(r), "{r} in {readings:?}");
        }
        let mean = readings.iter().sum::<f32>() / readings.len() as f32;
        assert!((mean - 1.0).abs() < 0.1, "{mean}");
        // When the masks stop, the reading falls, and reaches 0 once none is left in the long window.
        m.roll(ms(24_000));
        assert!(m.masks_per_second < 0.3, "{}", m.masks_per_second);
        m.roll(ms(31_000));
        assert_eq!(m.masks_per_second, 0.0);
    }

    #[test]
    fn a_steady_slow_rate_reads_as_itself_between_masks() {
        let t0 = Instant::now();
        let mut m = RateMeter::new(t0);
        for i in 1..=40u64 {
            m.record(Duration::from_millis(400), t0 + Duration::from_millis(i * 500));
            m.roll(t0 + Duration::from_millis(i * 500 + 450));
            if i > 4 {
                assert!((m.masks_per_second - 2.0).abs() < 0.05, "{i}: {}", m.masks_per_second);
            }
        }
    }
}

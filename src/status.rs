//! What the worker reports about itself: model state and throughput, for the status line and the logs.

use crate::error::Error;
use crate::settings::Device;
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
    /// Masks published during the last full second.
    pub masks_per_second: f32,
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
            device: Device::Cpu,
            fallback: None,
        }
    }
}

/// Measures masks per second over one-second windows and smooths the time per mask.
#[derive(Debug)]
pub struct RateMeter {
    window_start: Instant,
    count: u32,
    pub masks_per_second: f32,
    pub ms_per_mask: f32,
}

impl RateMeter {
    const WINDOW: Duration = Duration::from_secs(1);

    pub fn new(now: Instant) -> RateMeter {
        RateMeter { window_start: now, count: 0, masks_per_second: 0.0, ms_per_mask: 0.0 }
    }

    pub fn record(&mut self, took: Duration, now: Instant) {
        let ms = took.as_secs_f32() * 1000.0;
        self.ms_per_mask = if self.ms_per_mask == 0.0 { ms } else { 0.9 * self.ms_per_mask + 0.1 * ms };
        self.count += 1;
        self.roll(now);
    }

    /// Closes the window once a second has passed, so the rate falls to 0 when masks stop.
    pub fn roll(&mut self, now: Instant) {
        let elapsed = now.duration_since(self.window_start);
        if elapsed >= Self::WINDOW {
            self.masks_per_second = self.count as f32 / elapsed.as_secs_f32();
            self.count = 0;
            self.window_start = now;
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
        assert_eq!(m.masks_per_second, 0.0);
    }
}

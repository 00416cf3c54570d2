//! The frame budget, seen from OBS: GPU time per pass, measured with libobs's timer queries and written to
//! the log every few seconds. Off unless OBS was started with `VBG_GPU_TIMING=1`; when off nothing here runs.

use super::graphics::GpuTimer;
use std::time::{Duration, Instant};

pub const ENV: &str = "VBG_GPU_TIMING";
const REPORT_EVERY: Duration = Duration::from_secs(10);

struct PassTimer {
    name: &'static str,
    size: (u32, u32),
    timer: GpuTimer,
    samples_ms: Vec<f64>,
}

pub struct PassTimes {
    filter: String,
    passes: Vec<PassTimer>,
    current: Option<usize>,
    since: Instant,
}

impl PassTimes {
    /// Some when the environment asks for timing.
    pub fn from_env(filter: &str) -> Option<PassTimes> {
        let on = std::env::var(ENV).is_ok_and(|v| !v.is_empty() && v != "0");
        on.then(|| PassTimes { filter: filter.to_string(), passes: Vec::new(), current: None, since: Instant::now() })
    }

    /// Starts timing pass `name` at `size` (one pass at a time).
    pub fn begin(&mut self, name: &'static str, size: (u32, u32)) {
        let index = match self.passes.iter().position(|p| p.name == name) {
            Some(i) => i,
            None => {
                let Some(timer) = GpuTimer::new() else { return };
                self.passes.push(PassTimer { name, size, timer, samples_ms: Vec::new() });
                self.passes.len() - 1
            }
        };
        let pass = &mut self.passes[index];
        pass.size = size;
        pass.timer.begin();
        self.current = Some(index);
    }

    pub fn end(&mut self) {
        if let Some(i) = self.current.take() {
            self.passes[i].timer.end();
        }
    }

    /// Collects finished measurements and logs a summary every few seconds. Call once per frame.
    pub fn collect(&mut self) {
        for p in &mut self.passes {
            // Nanoseconds on OpenGL (the only backend this was measured on).
            if let Some(ns) = p.timer.take() {
                p.samples_ms.push(ns as f64 / 1e6);
            }
        }
        if self.since.elapsed() < REPORT_EVERY {
            return;
        }
        self.since = Instant::now();
        let mut total = 0.0;
        let mut parts = Vec::new();
        for p in &mut self.passes {
            if p.samples_ms.is_empty() {
                continue;
            }
            p.samples_ms.sort_by(f64::total_cmp);
            let median = p.samples_ms[p.samples_ms.len() / 2];
            total += median;
            parts.push(format!("{} {}x{} {:.2} ms (n={})", p.name, p.size.0, p.size.1, median, p.samples_ms.len()));
            p.samples_ms.clear();
        }
        if !parts.is_empty() {
            log::info!("[{}] GPU time per pass (median): {}; sum {:.2} ms", self.filter, parts.join(", "), total);
        }
    }
}

/// Runs `pass`, timed as `name` at `size` when timing is on.
pub fn timed<R>(timing: &mut Option<PassTimes>, name: &'static str, size: (u32, u32), pass: impl FnOnce() -> R) -> R {
    if let Some(t) = timing.as_mut() {
        t.begin(name, size);
    }
    let result = pass();
    if let Some(t) = timing.as_mut() {
        t.end();
    }
    result
}

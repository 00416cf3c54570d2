//! When to start the copy of a frame for the worker. On a GPU starting a copy only queues it, so it starts
//! as soon as the frame is shrunk and is read a frame later. An OpenGL that copies on the CPU (OBS's OpenGL
//! renderer on Mesa's llvmpipe, as on a machine without a GPU) first waits until it has drawn everything the
//! copy reads: started at once, that wait is the shrink's whole drawing time, on the graphics thread, every
//! frame (about 2 ms at 720p on the build machine, docs/performance.md). There the copy starts at the next
//! frame instead, when the drawing is long done, and, being finished on return, is read at once: the worker
//! gets the frame at the same time, and the graphics thread does not wait. Which renderer it is is measured,
//! not guessed, and only where no fence can say when a copy is done (OpenGL): with one (D3D11) copies always
//! start at once (analysis.rs decides that when it makes the fence).

use std::time::Duration;

/// Copies started at once before deciding: the first ones also pay for shader compiles and allocations.
const WARMUP: usize = 8;
/// Copies timed after the warm-up.
const SAMPLES: usize = 16;
/// A start that takes longer than this waited for drawing: queueing a copy takes microseconds.
const WAITED: Duration = Duration::from_micros(200);

#[derive(Debug, PartialEq)]
pub enum CopyStart {
    /// Started at once while the renderer is timed: how long the starts took.
    Measuring(Vec<Duration>),
    /// Started at once, read a frame later (a GPU).
    AtOnce,
    /// Started at the next frame and read then (a renderer that copies on the CPU); how long a start at
    /// once waited (the median).
    NextFrame(Duration),
}

impl Default for CopyStart {
    fn default() -> CopyStart {
        CopyStart::Measuring(Vec::with_capacity(WARMUP + SAMPLES))
    }
}

impl CopyStart {
    pub fn at_once(&self) -> bool {
        !matches!(self, CopyStart::NextFrame(_))
    }

    /// Counts how long a copy started at once took to start; decides once enough were timed (nothing once
    /// decided).
    pub fn started(&mut self, took: Duration) {
        let CopyStart::Measuring(times) = self else { return };
        times.push(took);
        if times.len() < WARMUP + SAMPLES {
            return;
        }
        let mut timed = times.split_off(WARMUP);
        timed.sort();
        let median = timed[SAMPLES / 2];
        *self = if median > WAITED { CopyStart::NextFrame(median) } else { CopyStart::AtOnce };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feed(start: &mut CopyStart, micros: &[u64]) {
        for &us in micros {
            start.started(Duration::from_micros(us));
        }
    }

    #[test]
    fn quick_starts_stay_at_once() {
        let mut start = CopyStart::default();
        // Slow first starts (warm-up) and a few slow ones later do not decide.
        let mut times = vec![5000; WARMUP];
        times.extend([20, 30, 3000, 25, 40, 2000, 30, 20, 35, 25, 30, 20, 1500, 30, 25, 20]);
        feed(&mut start, &times);
        assert_eq!(start, CopyStart::AtOnce);
        assert!(start.at_once());
        feed(&mut start, &[9000; 40]);
        assert_eq!(start, CopyStart::AtOnce, "decided once");
    }

    #[test]
    fn starts_that_wait_move_to_the_next_frame() {
        let mut start = CopyStart::default();
        feed(&mut start, &[2000; WARMUP + SAMPLES - 1]);
        assert!(matches!(start, CopyStart::Measuring(_)), "still measuring");
        assert!(start.at_once(), "at once while measuring");
        feed(&mut start, &[1900]);
        assert_eq!(start, CopyStart::NextFrame(Duration::from_micros(2000)));
        assert!(!start.at_once());
    }

    #[test]
    fn a_median_at_the_limit_stays_at_once() {
        let mut start = CopyStart::default();
        feed(&mut start, &[WAITED.as_micros() as u64; WARMUP + SAMPLES]);
        assert_eq!(start, CopyStart::AtOnce);
    }
}

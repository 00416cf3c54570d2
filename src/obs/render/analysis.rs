//! Feeding the worker, once per video frame: the input (or the crop of it around the person) shrunk to the
//! model's size and its copy to the CPU started; the copy started on the previous frame is read and handed
//! over. One frame between the copy and its read: the distance libobs itself keeps for its video output, and
//! the shortest that does not stall the GPU. On D3D11 a copy the GPU has not finished by then is read a frame
//! later rather than waited for (copy_fence.rs); OpenGL offers no such question. Except on an OpenGL that
//! copies on the CPU (Mesa's llvmpipe): there the copy starts at the next frame, is finished when the start
//! returns, and is read at once (copy_start.rs).

use super::super::copy_fence::CopyFence;
use super::super::graphics::{Blending, Format, StageSurface, TexRender, View};
use super::super::pass_times::{timed, PassTimes};
use super::copy_start::CopyStart;
use super::input::Input;
use super::shaders::Shaders;
use crate::crop_tracker::Cut;
use crate::worker::{Frame, Worker};
use std::time::{Duration, Instant};

/// Copies to the CPU: the one started this frame, the one read now, and on D3D11 one the GPU had not finished
/// a frame after it was started, read a frame later instead of waited for.
const STAGE_RING: usize = 3;
/// Video frames a copy may be older than the frame being drawn and still be handed to the worker: OBS skips
/// a frame or two under load, but a longer gap means the source was not drawn in between.
const MAX_STAGED_AGE: u64 = 3;

pub struct Analysis {
    /// The newest input at the model's size.
    shrunk: TexRender,
    copies: [CopySlot; STAGE_RING],
    /// The newest shrunk frame whose copy is not started yet: its slot, video frame and cut.
    to_copy: Option<(usize, u64, Cut)>,
    start: CopyStart,
    reads: ReadStats,
}

/// One copy to the CPU: its surface, the mark after it where the renderer can be asked (D3D11), and, until it
/// is read or given up, the video frame it holds and the part of it that was cut out.
#[derive(Default)]
struct CopySlot {
    surface: Option<StageSurface>,
    fence: Option<CopyFence>,
    pending: Option<(u64, Cut)>,
}

impl CopySlot {
    /// Whether reading it now cannot wait for the GPU (always, where the renderer cannot be asked: there a
    /// copy is read a frame after it was started, or, where starting it copies on the CPU, at once).
    fn finished(&self) -> bool {
        self.fence.as_ref().is_none_or(CopyFence::passed)
    }

    fn pending_seq(&self) -> Option<u64> {
        self.pending.as_ref().map(|(seq, _)| *seq)
    }
}

/// How the copies were read, for the log line when the filter goes (D3D11 only: where skipping is possible).
#[derive(Default)]
pub struct ReadStats {
    pub read: u64,
    /// Copies given up unread because the GPU had not finished them while they were the newest.
    pub not_ready: u64,
    pub total: Duration,
    pub longest: Duration,
}

impl Analysis {
    pub fn new() -> Analysis {
        Analysis {
            shrunk: TexRender::new(Format::Rgba8Unorm),
            copies: Default::default(),
            to_copy: None,
            start: CopyStart::default(),
            reads: ReadStats::default(),
        }
    }

    /// Hands the newest finished copy to the worker, shrinks video frame `seq` (`input`, of `frame_size`
    /// pixels) and starts its copy (at the next frame where starting it now would wait: copy_start.rs).
    /// Every frame is analysed: a frame the worker has not taken yet is replaced by the newer one, so the
    /// mask is always of the newest frame the worker could take. With `whole_frame` the crop is set aside (a
    /// new scene: where the person was says nothing of where they are).
    #[allow(clippy::too_many_arguments)]
    pub fn run(
        &mut self,
        input: Input,
        worker: &Worker,
        seq: u64,
        frame_size: (u32, u32),
        whole_frame: bool,
        shaders: &Shaders,
        timing: &mut Option<PassTimes>,
    ) {
        // Where copies start a frame late (only without a fence), the previous frame's is finished when this
        // returns, and is read next.
        self.start_copy(worker, seq);
        let Some((width, height)) = worker.input_size() else { return };
        self.read_newest_finished(worker, seq, frame_size);
        let slot = self.free_slot(worker);

        // The part of the frame the model should see ("Follow the person"): the input is drawn at the
        // model's size and the view selects the crop of it.
        let cut = match worker.take_cut() {
            cut if whole_frame => {
                worker.cut_unused(cut);
                Cut::FULL
            }
            cut => cut,
        };
        let c = cut.crop;
        let (w, h) = (width as f32, height as f32);
        let view = View { left: c.x * w, right: c.right() * w, top: c.y * h, bottom: c.bottom() * h };
        let drawn = timed(timing, "Downscale", (width, height), || {
            self.shrunk.render_view(width, height, view, Blending::Replace, || {
                shaders.params.footprint.set_vec2([c.w / w, c.h / h]);
                input.draw(&shaders.effect, c"Downscale", width, height);
            })
        });
        if !drawn {
            worker.cut_unused(cut);
            return;
        }
        let copy = &mut self.copies[slot];
        if copy.surface.as_ref().map(|s| (s.width, s.height)) != Some((width, height)) {
            copy.surface = StageSurface::new(width, height, Format::Rgba8Unorm);
            if copy.fence.is_none() {
                copy.fence = CopyFence::new();
                // Where the renderer can be asked, a copy is never read before it says done: started a frame
                // late, it would only be read a frame later.
                if copy.fence.is_some() {
                    self.start = CopyStart::AtOnce;
                }
            }
        }
        if copy.surface.is_none() {
            worker.cut_unused(cut);
            return;
        }
        self.to_copy = Some((slot, seq, cut));
        if self.start.at_once() {
            self.start_copy(worker, seq);
        }
    }

    /// Starts the copy of the shrunk frame not copied yet, unless it is too old to be worth reading.
    fn start_copy(&mut self, worker: &Worker, seq: u64) {
        let Some((slot, staged, cut)) = self.to_copy.take() else { return };
        let copy = &mut self.copies[slot];
        let Some(surface) = copy.surface.as_mut().filter(|_| seq.saturating_sub(staged) <= MAX_STAGED_AGE) else {
            worker.cut_unused(cut);
            return;
        };
        let started = Instant::now();
        surface.stage(self.shrunk.texture());
        if let Some(fence) = &copy.fence {
            fence.mark();
        }
        self.start.started(started.elapsed());
        debug_assert!(copy.pending.is_none(), "a slot's copy was replaced unread");
        copy.pending = Some((staged, cut));
    }

    /// How long starting a copy at once waited for the renderer, where copies are therefore started a frame
    /// late.
    pub fn copies_started_late(&self) -> Option<Duration> {
        match self.start {
            CopyStart::NextFrame(waited) => Some(waited),
            _ => None,
        }
    }

    /// How the copies were read, where the renderer can say whether a copy is finished (D3D11).
    pub fn fenced_reads(&self) -> Option<&ReadStats> {
        self.copies.iter().any(|c| c.fence.is_some()).then_some(&self.reads)
    }

    /// Reads the newest copy the GPU has finished and hands it to the worker; older copies are given up (the
    /// worker wants the newest frame), as are copies made before a pause (their picture is gone).
    fn read_newest_finished(&mut self, worker: &Worker, seq: u64, frame_size: (u32, u32)) {
        for copy in &mut self.copies {
            if copy.pending_seq().is_some_and(|staged| seq.saturating_sub(staged) > MAX_STAGED_AGE) {
                if let Some((_, cut)) = copy.pending.take() {
                    worker.cut_unused(cut);
                }
            }
        }
        let newest = (0..STAGE_RING)
            .filter(|&i| self.copies[i].pending.is_some() && self.copies[i].finished())
            .max_by_key(|&i| self.copies[i].pending_seq());
        let Some(newest) = newest else { return };
        let newest_seq = self.copies[newest].pending_seq();
        for (i, copy) in self.copies.iter_mut().enumerate() {
            if i != newest && copy.pending_seq() < newest_seq {
                if let Some((_, cut)) = copy.pending.take() {
                    self.reads.not_ready += 1;
                    worker.cut_unused(cut);
                }
            }
        }
        let copy = &mut self.copies[newest];
        let (Some((staged, cut)), Some(surface)) = (copy.pending.take(), copy.surface.as_mut()) else { return };
        let started = Instant::now();
        let mut rgba = worker.take_buffer();
        let read = surface.read_rows(|row| rgba.extend_from_slice(row));
        self.reads.count(started.elapsed());
        if read {
            let (width, height) = (surface.width, surface.height);
            worker.submit(Frame { seq: staged, width, height, rgba, cut, frame_size });
        } else {
            worker.cut_unused(cut);
        }
    }

    /// A slot for this frame's copy: a free one, or else the one with the oldest copy, given up unread.
    fn free_slot(&mut self, worker: &Worker) -> usize {
        if let Some(free) = self.copies.iter().position(|c| c.pending.is_none()) {
            return free;
        }
        let oldest = (0..STAGE_RING).min_by_key(|&i| self.copies[i].pending_seq()).unwrap_or(0);
        if let Some((_, cut)) = self.copies[oldest].pending.take() {
            self.reads.not_ready += 1;
            worker.cut_unused(cut);
        }
        oldest
    }
}

impl ReadStats {
    fn count(&mut self, took: Duration) {
        self.read += 1;
        self.total += took;
        self.longest = self.longest.max(took);
    }

    /// The log line's numbers: reads, skips, mean and longest read.
    pub fn summary(&self) -> String {
        let mean = self.total.as_secs_f64() * 1000.0 / self.read.max(1) as f64;
        format!(
            "{} copies read (mean {mean:.3} ms, longest {:.3} ms), {} skipped as not yet copied",
            self.read,
            self.longest.as_secs_f64() * 1000.0,
            self.not_ready
        )
    }
}

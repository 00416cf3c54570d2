//! Feeding the worker, once per video frame: the input (or the crop of it around the person) shrunk to the
//! model's size and its copy to the CPU started; the copy started on the previous frame is read and handed
//! over. One frame between the copy and its read: the distance libobs itself keeps for its video output (on
//! OpenGL there is no fence to ask whether a copy is done), and the shortest that does not stall the GPU.

use super::super::graphics::{Blending, Format, StageSurface, TexRender, View};
use super::super::pass_times::{timed, PassTimes};
use super::input::Input;
use super::shaders::Shaders;
use crate::crop_tracker::Cut;
use crate::worker::{Frame, Worker};

/// Copies in flight between the GPU and the CPU: the one started this frame and the one read now.
const STAGE_RING: usize = 2;
/// Video frames a copy may be older than the frame being drawn and still be handed to the worker: OBS skips
/// a frame or two under load, but a longer gap means the source was not drawn in between.
const MAX_STAGED_AGE: u64 = 3;

pub struct Analysis {
    /// The newest input at the model's size.
    shrunk: TexRender,
    stages: [Option<StageSurface>; STAGE_RING],
    /// Per surface, the video frame it holds and the part of it that was cut out.
    staged: [Option<(u64, Cut)>; STAGE_RING],
    /// Frames analysed so far: picks the surface. Not the video frame's number, which skips when OBS lags
    /// (every other one under heavy load would always land on the same surface, and none would be read).
    runs: u64,
}

impl Analysis {
    pub fn new() -> Analysis {
        Analysis {
            shrunk: TexRender::new(Format::Rgba8),
            stages: Default::default(),
            staged: [None; STAGE_RING],
            runs: 0,
        }
    }

    /// Hands the previous frame's copy to the worker and starts the copy of video frame `seq` (`input`, of
    /// `frame_size` pixels). Every frame is analysed: a frame the worker has not taken yet is replaced by the
    /// newer one, so the mask is always of the newest frame the worker could take.
    pub fn run(
        &mut self,
        input: Input,
        worker: &Worker,
        seq: u64,
        frame_size: (u32, u32),
        shaders: &Shaders,
        timing: &mut Option<PassTimes>,
    ) {
        let Some((width, height)) = worker.input_size() else { return };
        let slot = (self.runs % STAGE_RING as u64) as usize;
        self.runs += 1;
        let previous = (slot + STAGE_RING - 1) % STAGE_RING;
        let staged = self.staged[previous].take();
        // A copy made before a pause (the source was not drawn for a while) shows a picture that is gone.
        let (fresh, stale) = match staged {
            Some((staged_seq, cut)) if seq.saturating_sub(staged_seq) > MAX_STAGED_AGE => (None, Some(cut)),
            other => (other, None),
        };
        if let Some(cut) = stale {
            worker.cut_unused(cut);
        }
        if let (Some((seq, cut)), Some(surface)) = (fresh, self.stages[previous].as_mut()) {
            let mut rgba = worker.take_buffer();
            if surface.read_rows(|row| rgba.extend_from_slice(row)) {
                let (width, height) = (surface.width, surface.height);
                worker.submit(Frame { seq, width, height, rgba, cut, frame_size });
            } else {
                worker.cut_unused(cut);
            }
        }
        if let Some((_, cut)) = self.staged[slot].take() {
            // Never read (a frame was skipped): its look is due again.
            worker.cut_unused(cut);
        }

        // The part of the frame the model should see ("Follow the person"): the input is drawn at the
        // model's size and the view selects the crop of it.
        let cut = worker.take_cut();
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
        if self.stages[slot].as_ref().map(|s| (s.width, s.height)) != Some((width, height)) {
            self.stages[slot] = StageSurface::new(width, height);
        }
        match self.stages[slot].as_mut() {
            Some(surface) => {
                surface.stage(self.shrunk.texture());
                self.staged[slot] = Some((seq, cut));
            }
            None => worker.cut_unused(cut),
        }
    }
}

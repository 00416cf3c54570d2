//! `vbg`: the Virtual Background filter outside OBS. Renders photos and videos, evaluates masks against
//! ground truth, and benchmarks the pipeline, with the plugin's own core and settings.

mod args;
mod bench;
mod eval;
mod json;
mod render;
mod worker_cpu;

use obs_virtual_background::error::Error;

const HELP: &str = "\
vbg: put a virtual background behind a person, outside OBS

usage:
  vbg render IN OUT [settings] [--crop X,Y,W,H]
                                     a photo (.png .jpg .bmp) or a video (.mp4 .mkv .mov .webm; audio kept);
                                     --crop: the model looks only at that part of each frame (0..1 of the
                                     frame's width and height) instead of following the person, as the
                                     filter's status reports it (maskCrop)
  vbg eval SET_DIR [settings] [--json FILE] [--save-masks DIR] [--limit N] [--live-lag FRAMES]
           [--mask-every N] [--every-frame]
                                     mask quality on a set in the layout of shared/eval; on video,
                                     --live-lag shows each frame with the mask of the frame FRAMES
                                     before it, moved on by the prediction, as OBS does live;
                                     --mask-every N makes a mask of one frame in N, as OBS's worker
                                     does under load (with --live-lag);
                                     --every-frame segments every frame (no skipping of frames
                                     whose picture did not change)
  vbg bench [--model general|landscape|modnet|all] [--threads 1,2] [--runs N] [--json FILE]
                                     time per step, masks per second, compositing time
  vbg bench --worker-cpu still,CLIP.mp4,... [settings] [--seconds N] [--json FILE]
                                     the worker thread's CPU time per second of video, fed in real
                                     time; `still` is the sample picture with webcam-like noise

settings (names, defaults and ranges are the OBS filter's):
  --mode blur|image|source|color|transparent (blur) --blur 1..100           (50)
  --background FILE  a picture, or a video that loops under the person (image and source modes)
  --fit cover|contain|stretch (cover)              --color #rrggbb          (#00ff00)
  --model general|landscape|modnet|FILE.onnx       --threads 1..8           (1)
                     (general; modnet: fetched by scripts/setup)
  --threshold 0..1  (0.5)                          --softness 0..0.5        (0.1)
  --edge-refine true|false (true)  --follow true|false (true)  --mirror-average true|false (false)
  --predict true|false (true)
  --temporal 0..0.95 (0.9)  --grow -20..20 (0)  --feather 0..12 (0)  --light-wrap 0..1 (0)

Transparent output: .png for photos, .webm (VP9) or .mov (ProRes 4444) for videos.
The GPU used is the first high-performance wgpu adapter (WGPU_BACKEND=vulkan|gl to choose a backend).";

fn main() {
    let raw: Vec<String> = std::env::args().skip(1).collect();
    let result = match raw.first().map(String::as_str) {
        Some("render") => render::run(&raw[1..]),
        Some("eval") => eval::run(&raw[1..]),
        Some("bench") => bench::run(&raw[1..]),
        Some("-h" | "--help" | "help") | None => {
            println!("{HELP}");
            Ok(())
        }
        Some(other) => Err(args::usage(format!("unknown command '{other}' (try vbg --help)"))),
    };
    if let Err(e) = result {
        report(&e);
        std::process::exit(1);
    }
}

fn report(e: &Error) {
    eprintln!("vbg: {e}");
}

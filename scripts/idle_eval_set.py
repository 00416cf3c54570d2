#!/usr/bin/env python3
"""The talking-head clips (../shared/eval/talking_head_clips, no ground truth) as a `vbg eval` sequence set
whose masks are the filter's own, segmented on every frame and each shown with its own frame (sync). Run
against it, the live pipeline with and without skipping unchanged frames shows what the skipping costs:

    python scripts/idle_eval_set.py OUT_DIR [--frames 150]
    vbg eval OUT_DIR --mode transparent --live-lag 2                  # skips frames whose picture did not change
    vbg eval OUT_DIR --mode transparent --live-lag 2 --every-frame    # segments every frame, as before

Both trail the reference by the same live timing; a skipped frame that hid a change would show as a lower
IoU in the first. Each clip becomes OUT_DIR/NAME/images/NNNNN.png (its frames as decoded) and
OUT_DIR/NAME/masks/NNNNN.png (the reference masks), listed in OUT_DIR/index.csv. Needs the venv of
scripts/setup (numpy, Pillow), ffmpeg and the offline vbg build (target/offline/release/vbg).
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
EVAL_DIR = Path(os.environ.get("VBG_EVAL_DIR") or REPO.parent / "shared" / "eval")
CLIPS = EVAL_DIR / "talking_head_clips" / "videos"
VBG = REPO / "target" / "offline" / "release" / "vbg"


def decode(video: Path, limit: int) -> list[np.ndarray]:
    probe = json.loads(subprocess.run(
        ["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries", "stream=width,height", "-of", "json",
         str(video)], check=True, capture_output=True).stdout)["streams"][0]
    w, h = probe["width"], probe["height"]
    raw = subprocess.run(["ffmpeg", "-v", "error", "-i", str(video), "-frames:v", str(limit), "-fps_mode",
                          "passthrough", "-f", "rawvideo", "-pix_fmt", "rgb24", "-"],
                         check=True, capture_output=True).stdout
    return list(np.frombuffer(raw, np.uint8).reshape(-1, h, w, 3))


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("out", type=Path)
    p.add_argument("--frames", type=int, default=150, help="frames per clip (150)")
    args = p.parse_args(argv)
    rows = ["sequence,frame,width,height"]
    for video in sorted(CLIPS.glob("*.mp4")):
        name = video.stem
        frames = decode(video, args.frames)
        (args.out / name / "images").mkdir(parents=True, exist_ok=True)
        for i, rgb in enumerate(frames):
            Image.fromarray(rgb).save(args.out / name / "images" / f"{i:05d}.png", compress_level=1)
            rows.append(f"{name},{i:05d},{rgb.shape[1]},{rgb.shape[0]}")
        print(f"{name}: {len(frames)} frames")
    (args.out / "index.csv").write_text("\n".join(rows) + "\n")
    # The reference: every frame segmented and shown with its own mask.
    reference = args.out / "_reference"
    shutil.rmtree(reference, ignore_errors=True)
    subprocess.run([str(VBG), "eval", str(args.out), "--mode", "transparent", "--live-lag", "0", "--every-frame",
                    "--save-masks", str(reference), "--quiet"], check=True, stdout=subprocess.DEVNULL)
    for saved in reference.rglob("*.png"):
        relative = saved.relative_to(reference)
        sequence, frame = relative.parts[0], relative.stem
        target = args.out / sequence / "masks" / f"{frame}.png"
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(saved, target)
    shutil.rmtree(reference)
    missing = [r for r in rows[1:] if not (args.out / r.split(",")[0] / "masks" / f"{r.split(',')[1]}.png").exists()]
    if missing:
        raise SystemExit(f"no reference mask for {len(missing)} frames, e.g. {missing[0]}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

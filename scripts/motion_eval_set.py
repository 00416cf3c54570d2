#!/usr/bin/env python3
"""The motion clips (scripts/motion_clips.py) as a `vbg eval` sequence set, so the live pipeline's timing can be
tried offline in seconds before a run in OBS:

    python scripts/motion_eval_set.py OUT_DIR [--clips sway6,sway16,cut]
    vbg eval OUT_DIR --mode transparent --live-lag 2          # as OBS shows it live (prediction on)
    vbg eval OUT_DIR --mode transparent --live-lag 0          # sync mode: every frame with its own mask

Each clip becomes OUT_DIR/NAME/images/NNNNN.png (the frames decoded from the very H.264 file OBS plays) and
OUT_DIR/NAME/masks/NNNNN.png (its exact ground truth), listed in OUT_DIR/index.csv. Run it with the test venv's
python (numpy, Pillow).
"""
from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))
import motion_clips as mc  # noqa: E402


def decode(video: Path) -> list[np.ndarray]:
    raw = subprocess.run(["ffmpeg", "-v", "error", "-i", str(video), "-f", "rawvideo", "-pix_fmt", "rgb24", "-"],
                         check=True, capture_output=True).stdout
    frames = np.frombuffer(raw, np.uint8).reshape(-1, mc.H, mc.W, 3)
    return list(frames)


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("out", type=Path)
    p.add_argument("--clips", default="sway6,sway16,cut")
    args = p.parse_args(argv)
    rows = ["sequence,frame,width,height"]
    for name in mc.clip_names(args.clips):
        clip = mc.clip(name)
        frames = decode(clip.video)
        if len(frames) != clip.frames:
            raise SystemExit(f"{name}: {len(frames)} frames decoded, {clip.frames} in the ground truth")
        for folder in ("images", "masks"):
            (args.out / name / folder).mkdir(parents=True, exist_ok=True)
        for i, rgb in enumerate(frames):
            Image.fromarray(rgb).save(args.out / name / "images" / f"{i:05d}.png", compress_level=1)
            Image.fromarray(clip.gt(i).astype(np.uint8) * 255).save(args.out / name / "masks" / f"{i:05d}.png")
            rows.append(f"{name},{i:05d},{mc.W},{mc.H}")
        print(f"{name}: {len(frames)} frames")
    (args.out / "index.csv").write_text("\n".join(rows) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

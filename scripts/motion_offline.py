#!/usr/bin/env python3
"""The motion clips scored offline, per kind of motion, with the spread of the lag a viewer would see:

    python scripts/motion_offline.py SET_DIR [--clips broad] [--vbg target/offline/release/vbg]
                                             [--json FILE] [--lag 2]
    python scripts/motion_offline.py --obs BENCH_MOTION_JSON      # the same table from OBS's screenshots

SET_DIR is made by scripts/motion_eval_set.py (the frames decoded from the very H.264 file OBS plays, and
their exact truth) if it does not exist yet. `vbg eval --save-masks` then shows every frame with the mask of
the frame `--lag` before it, with the prediction ("predict") and without ("no prediction"), and with its own
mask ("sync", lag 0). Each shown mask is scored against the truth of the frame it is shown with (IoU of
alpha >= 128), and against the truths of the frames up to 4 before and after: the offset whose truth fits it
best is its "seen lag" (> 0: the mask trails the person; < 0: it was moved too far). Reported per clip group
(motion x tuned / held-out people, scripts/motion_clips.py): mean IoU on moving frames, the seen lag's
median and its spread (the share of moving frames whose mask fits its own frame best, and the 10th and 90th
percentiles).

With --obs it reads the JSON of scripts/bench-motion instead (every scored screenshot: the frame shown, its
IoU, its seen lag) and prints the same table per group, one column per setting measured there.

Run with the test venv's python (numpy, Pillow); needs the offline tool (cargo build --release --target-dir
target/offline --no-default-features --features offline --bin vbg) and ORT_DYLIB_PATH set as for it.
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))
import motion_clips as mc  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
OFFSETS = range(-4, 5)
SETTINGS = {  # name: (live lag, extra vbg settings)
    "predict": (None, []),
    "no prediction": (None, ["--predict", "false"]),
    "sync": (0, []),
}


def iou(a: np.ndarray, b: np.ndarray) -> float:
    union = np.logical_or(a, b).sum()
    return float(np.logical_and(a, b).sum() / union) if union else 1.0


def score_clip(name: str, masks_dir: Path, set_dir: Path) -> list[dict]:
    """Per frame: category, IoU against its own truth, seen lag."""
    clip = mc.clip(name)
    truths = [np.array(Image.open(set_dir / name / "masks" / f"{i:05d}.png")) >= 128 for i in range(clip.frames)]
    out = []
    for i in range(clip.frames):
        shown = np.array(Image.open(masks_dir / name / f"{i:05d}.png")) >= 128
        fits = {k: iou(shown, truths[(i - k) % clip.frames]) for k in OFFSETS}
        best = max(fits.values())
        # Ties (a still stretch) go to the offset nearest 0.
        seen = min((k for k, v in fits.items() if v >= best - 1e-9), key=abs)
        out.append({"frame": i, "category": clip.category(i), "iou": fits[0], "seen_lag": seen,
                    "speed": float(clip.speed[i])})
    return out


def summary(frames: list[dict]) -> dict:
    moving = [f for f in frames if f["category"] == "moving"]
    lags = sorted(f["seen_lag"] for f in moving)
    pick = lambda q: lags[min(len(lags) - 1, int(q * len(lags)))] if lags else None  # noqa: E731
    return {
        "moving_iou": statistics.fmean(f["iou"] for f in moving) if moving else None,
        "still_iou": statistics.fmean([f["iou"] for f in frames if f["category"] == "still"] or [float("nan")]),
        "n_moving": len(moving),
        "seen_lag_median": statistics.median(lags) if lags else None,
        "seen_lag_p10": pick(0.1),
        "seen_lag_p90": pick(0.9),
        "own_frame_share": sum(1 for v in lags if v == 0) / len(lags) if lags else None,
    }


def groups_of(names: list[str]) -> dict[str, list[str]]:
    """Clips by motion and by whether their person is tuned on or held out."""
    table = {g: {s: summary([f for n in clips for f in results[s][n]]) for s in SETTINGS}
             for g, clips in groups_of(names).items()}
    print_table(table)
    if a.json:
        a.json.write_text(json.dumps({"lag": a.lag, "table": table, "frames": results}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

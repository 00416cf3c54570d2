#!/usr/bin/env python3
"""The motion clips scored offline, per kind of motion, with the spread of the lag a viewer would see:

    python scripts/motion_offline.py SET_DIR [--clips broad] [--vbg target/offline/release/vbg]
                                             [--json FILE] [--lag 2] [--mask-every 1]
    python scripts/motion_offline.py --obs BENCH_MOTION_JSON      # the same table from OBS's screenshots

SET_DIR is made by scripts/motion_eval_set.py (the frames decoded from the very H.264 file OBS plays, and
their exact truth) if it does not exist yet. `vbg eval --save-masks` then shows every frame with the mask of
the frame `--lag` before it, with the prediction ("predict") and without ("no prediction"), and with its own
mask ("sync", lag 0). With --mask-every N, the first two make a mask of only one frame in N, as OBS's
worker does when it keeps up with fewer masks a second than frames (N = fps / masks per second). Each shown mask is scored against the truth of the frame it is shown with (IoU of
alpha >= 128), and against the truths of the frames up to 4 before and after: the offset whose truth fits it
best is its "seen lag" (> 0: the mask trails the person; < 0: it was moved too far). Reported per clip group
(motion x tuned / held-out people, scripts/motion_clips.py): mean IoU on moving frames, the seen lag's
median and its spread (its 10th and 90th percentiles, and the shares of moving frames whose mask fits its own
frame best and fits within one frame of it).

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
        "within_one_share": sum(1 for v in lags if abs(v) <= 1) / len(lags) if lags else None,
    }


def groups_of(names: list[str]) -> dict[str, list[str]]:
    """Clips by motion and by whether their person is tuned on or held out (other clips stand alone)."""
    held_out = set(mc.GROUPS["broad-held-out"])
    groups: dict[str, list[str]] = {}
    for name in names:
        if name in mc.GROUPS["broad"]:
            motion = name.split("-")[0]
            group = f"{motion} ({'held out' if name in held_out else 'tuned'})"
        else:
            group = name
        groups.setdefault(group, []).append(name)
    return groups


def print_table(table: dict[str, dict[str, dict]]) -> None:
    settings = list(next(iter(table.values())))
    num = lambda v, f=".3f": "–" if v is None else format(v, f)  # noqa: E731
    heads = " | ".join(f"{s}: moving IoU, seen lag median [p10, p90], own frame / within 1" for s in settings)
    print(f"| clips | n moving | {heads} |")
    print("|---|---|" + "---|" * len(settings))
    for g, row in table.items():
        cells = [f"{num(r['moving_iou'])}, {num(r['seen_lag_median'], 'g')} [{num(r['seen_lag_p10'], 'g')}, "
                 f"{num(r['seen_lag_p90'], 'g')}], {num(r['own_frame_share'], '.0%')} / "
                 f"{num(r['within_one_share'], '.0%')}" for r in row.values()]
        print(f"| {g} | {' / '.join(str(r['n_moving']) for r in row.values())} | {' | '.join(cells)} |")


def tabulate(frames: dict[str, dict[str, list[dict]]]) -> dict[str, dict[str, dict]]:
    """{setting: {clip: per-frame scores}} -> {group: {setting: summary}}, and a row for all clips."""
    names = list(next(iter(frames.values())))
    groups = {**groups_of(names), "all": names}
    return {g: {s: summary([f for n in clips for f in frames[s][n]]) for s in frames} for g, clips in groups.items()}


def from_obs(path: Path) -> int:
    """The table from bench-motion's screenshots."""
    results = json.loads(path.read_text())["results"]
    frames: dict[str, dict[str, list[dict]]] = {}
    for name, per_setting in results.items():
        clip = mc.clip(name)
        for setting, r in per_setting.items():
            frames.setdefault(setting, {})[name] = [
                {"frame": i, "category": clip.category(i), "iou": v, "seen_lag": lag} for i, v, lag in r["shots"]]
    print_table(tabulate(frames))
    return 0


def main(argv: list[str]) -> int:
    if argv[:1] == ["--obs"] and len(argv) == 2:
        return from_obs(Path(argv[1]))
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("set_dir", type=Path)
    p.add_argument("--clips", default="broad")
    p.add_argument("--vbg", type=Path, default=REPO / "target/offline/release/vbg")
    p.add_argument("--lag", type=int, default=2, help="frames between a frame and its mask, live (default 2)")
    p.add_argument("--mask-every", type=int, default=1,
                   help="a mask of one frame in N with the prediction on or off, as OBS's worker makes "
                        "under load (default 1; sync mode always has every frame)")
    p.add_argument("--json", type=Path)
    p.add_argument("--rerun", default=",".join(SETTINGS),
                   help="settings to run vbg for; the others reuse the masks an earlier run left beside SET_DIR")
    a = p.parse_args(argv)
    names = mc.clip_names(a.clips)
    if not (a.set_dir / "index.csv").exists():
        subprocess.run([sys.executable, str(REPO / "scripts/motion_eval_set.py"), str(a.set_dir),
                        "--clips", ",".join(names)], check=True)
    results: dict[str, dict[str, list[dict]]] = {}
    for setting, (lag, extra) in SETTINGS.items():
        live = a.lag if lag is None else lag
        every = a.mask_every if lag is None else 1
        # Each timing keeps its own masks, so a partial --rerun never mixes two.
        timing = f"-lag{live}" + (f"-every{every}" if every > 1 else "")
        masks = a.set_dir.parent / f"{a.set_dir.name}-masks-{setting.replace(' ', '-')}{timing}"
        if setting not in a.rerun.split(",") and all((masks / n).is_dir() for n in names):
            results[setting] = {name: score_clip(name, masks, a.set_dir) for name in names}
            continue
        subprocess.run([str(a.vbg), "eval", str(a.set_dir), "--mode", "transparent", "--live-lag", str(live),
                        "--mask-every", str(every), "--save-masks", str(masks), "--quiet", *extra], check=True, stdout=subprocess.DEVNULL)
        results[setting] = {name: score_clip(name, masks, a.set_dir) for name in names}
    table = tabulate(results)
    print_table(table)
    if a.json:
        a.json.write_text(json.dumps({"lag": a.lag, "mask_every": a.mask_every, "table": table, "frames": results}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

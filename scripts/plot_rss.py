#!/usr/bin/env python3
"""Draws the resident memory of OBS over a long run (tests/e2e/test_long_run.py's long-run.json files) as a
PNG, one line per run, with Pillow only (the test venv has no plotting library).

    plot_rss.py OUT.png LABEL=path/long-run.json [LABEL=path/long-run.json ...]

A path ending in "#baseline" draws that run's baseline OBS (without the plugin) instead.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

from PIL import Image, ImageDraw

W, H, M = 900, 420, 60
COLOURS = [(31, 119, 180), (214, 39, 40), (44, 160, 44), (148, 103, 189)]


def main() -> int:
    if len(sys.argv) < 3:
        print(__doc__)
        return 2
    out = Path(sys.argv[1])
    runs = []
    for arg in sys.argv[2:]:
        label, path = arg.split("=", 1)
        path, _, part = path.partition("#")
        samples = json.loads(Path(path).read_text())["baseline_samples" if part == "baseline" else "samples"]
        runs.append((label, [(s["t"] / 60, s["rss_mb"]) for s in samples]))
    t_max = max(p[-1][0] for _, p in runs)
    lo = min(v for _, p in runs for _, v in p)
    hi = max(v for _, p in runs for _, v in p)
    lo, hi = 10 * (lo // 10), 10 * (hi // 10 + 1)
    img = Image.new("RGB", (W, H), "white")
    d = ImageDraw.Draw(img)
    x = lambda t: M + (W - 2 * M) * t / t_max  # noqa: E731
    y = lambda v: H - M - (H - 2 * M) * (v - lo) / (hi - lo)  # noqa: E731
    d.rectangle([M, M, W - M, H - M], outline=(0, 0, 0))
    step = 10 if hi - lo > 40 else 5
    for v in range(int(lo), int(hi) + 1, step):
        d.line([M, y(v), W - M, y(v)], fill=(225, 225, 225))
        d.text((8, y(v) - 6), f"{v} MB", fill=(0, 0, 0))
    t_step = 10 if t_max > 30 else 5
    for t in range(0, int(t_max) + 1, t_step):
        d.line([x(t), M, x(t), H - M], fill=(235, 235, 235))
        d.text((x(t) - 8, H - M + 6), f"{t} min", fill=(0, 0, 0))
    for i, (label, points) in enumerate(runs):
        colour = COLOURS[i % len(COLOURS)]
        d.line([(x(t), y(v)) for t, v in points], fill=colour, width=2)
        d.text((M + 10, M + 8 + 16 * i), label, fill=colour)
    d.text((M, 20), "OBS resident memory (RSS) over the run", fill=(0, 0, 0))
    out.parent.mkdir(parents=True, exist_ok=True)
    img.save(out)
    print(f"written {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

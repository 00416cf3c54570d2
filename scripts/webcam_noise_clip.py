#!/usr/bin/env python3
"""A still picture as a webcam films it: the picture at a given size with per-frame sensor noise and a slow
exposure drift, encoded like a camera's stream (H.264). For scripts/bench-obs's `still-noise` input: a
person who does not move, but whose frames are never bit-identical (what a filter that skips unchanged
frames meets in practice).

Every frame is the picture (scaled to cover the size, centre-cropped sideways and with more of the top
kept, as scripts/bench-obs crops its talking-head clip) plus:
- Gaussian sensor noise of `sigma` levels (of 255), independent per pixel, channel and frame (a fixed seed:
  the same arguments make the same clip);
- an exposure drift: every channel offset by a slow triangle ramp, up `drift_per_second` levels per second
  for the first half of the clip, then down again (the loop is seamless: it ends where it started);
then rounded and clipped to 0..255 and piped as raw RGB into ffmpeg: libx264 at CRF `crf` (23, x264's
default) and preset `preset` (veryfast), yuv420p, `fps` frames per second, one keyframe a second (as
scripts/motion_clips.py does).

What survives the encoder (1280x720, the defaults, measured on data/sample/astronaut.png): little of the
noise. x264 codes almost every block of a still picture's P-frames as skipped, so between keyframes the
decoded frames are nearly identical (median 0.1 % of the pixels change; most P-frames are bit-identical
to the frame before) and the noise and the drift arrive at each keyframe: 70-75 % of the pixels change,
by 1.4 levels on average, and the mean luma steps by up to ~0.9 levels, once a second (about 480 kb/s). With x264's default keyframe interval (250) 1.7 % of the pixels
changed per frame and the step at a keyframe was a whole level; -tune grain keeps 4 %; CRF 15 keeps about
a fifth of the noise (21 % of the pixels change per frame, 5 Mb/s). This is the noise a filter sees
behind an H.264 camera stream at CRF 23; a camera sending MJPEG or raw frames delivers much more.

    ~/.cache/obs-virtual-background/venv/bin/python scripts/webcam_noise_clip.py PICTURE OUT.mp4
        [--size 1280x720] [--seconds 20] [--fps 30] [--sigma 2] [--drift 1] [--crf 23] [--preset veryfast]

As a module: write_clip(picture, size, out, seconds=20, fps=30, sigma=2.0, drift_per_second=1.0).
Needs numpy, Pillow (the venv of scripts/setup) and ffmpeg.
"""
from __future__ import annotations

import argparse
import math
import os
import subprocess
import sys
import time
from pathlib import Path

try:
    import numpy as np
    from PIL import Image
except ImportError:  # run as a command outside the venv: re-run under the venv's python
    if __name__ != "__main__":
        raise
    _py = (Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "obs-virtual-background" / "venv"
           / "bin" / "python")
    if not _py.exists() or Path(sys.executable).resolve() == _py.resolve():
        raise
    os.execv(str(_py), [str(_py), str(Path(__file__).resolve()), *sys.argv[1:]])

# Share of the spare height cut from the top when the picture is cropped to the frame's aspect (the rest
# from the bottom): keeps the head in frame, as scripts/bench-obs's canvas_clip does.
TOP_SHARE = 0.15


def fit_picture(picture: Path | str | Image.Image | np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """The picture (a file, PIL image or HxWx3 array) scaled to cover `size` (w, h) and cropped to it:
    sideways around the centre, vertically keeping more of the top. HxWx3 uint8 RGB."""
    if isinstance(picture, np.ndarray):
        im = Image.fromarray(picture[..., :3])
    elif isinstance(picture, Image.Image):
        im = picture
    else:
        im = Image.open(picture)
    im = im.convert("RGB")
    w, h = size
    scale = max(w / im.width, h / im.height)
    sw, sh = max(w, math.ceil(im.width * scale)), max(h, math.ceil(im.height * scale))
    if (sw, sh) != im.size:
        im = im.resize((sw, sh), Image.BICUBIC)
    x, y = (sw - w) // 2, round((sh - h) * TOP_SHARE)
    return np.array(im.crop((x, y, x + w, y + h)))


def drift(n: int, frames: int, fps: float, per_second: float) -> float:
    """Exposure offset (levels) of frame n: a triangle ramp, up `per_second` levels per second for the first
    half of the clip, then down again to 0 at its end."""
    t, half = n / fps, frames / fps / 2
    return per_second * (t if t <= half else 2 * half - t)


def write_clip(picture: Path | str | Image.Image | np.ndarray, size: tuple[int, int], out: Path | str,
               seconds: float = 20, fps: int = 30, sigma: float = 2.0, drift_per_second: float = 1.0,
               crf: int = 23, preset: str = "veryfast", seed: int = 26) -> Path:
    """Write the clip to `out` (made aside and renamed, so an interrupted run leaves no half file) and
    return its path."""
    out = Path(out)
    w, h = size
    base = fit_picture(picture, size).astype(np.float32)
    frames = round(seconds * fps)
    rng = np.random.default_rng(seed)
    tmp = out.with_name(f".{out.stem}.partial{out.suffix}")
    cmd = ["ffmpeg", "-v", "error", "-y", "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{w}x{h}", "-r", str(fps),
           "-i", "-", "-an", "-c:v", "libx264", "-preset", preset, "-crf", str(crf), "-pix_fmt", "yuv420p",
           "-g", str(fps), "-r", str(fps), "-movflags", "+faststart", str(tmp)]
    noise = np.empty(base.shape, np.float32)
    frame = np.empty(base.shape, np.float32)
    try:
        with subprocess.Popen(cmd, stdin=subprocess.PIPE) as enc:
            try:
                for n in range(frames):
                    rng.standard_normal(out=noise, dtype=np.float32)
                    np.multiply(noise, sigma, out=frame)
                    frame += base
                    frame += drift(n, frames, fps, drift_per_second) + 0.5
                    np.clip(frame, 0, 255, out=frame)
                    enc.stdin.write(frame.astype(np.uint8).tobytes())
            finally:
                enc.stdin.close()
        if enc.returncode != 0:
            raise RuntimeError(f"ffmpeg failed ({enc.returncode}) encoding {out}")
        tmp.rename(out)
    finally:
        tmp.unlink(missing_ok=True)
    return out


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("picture", type=Path)
    p.add_argument("out", type=Path)
    p.add_argument("--size", default="1280x720", help="frame size WxH (1280x720)")
    p.add_argument("--seconds", type=float, default=20.0)
    p.add_argument("--fps", type=int, default=30)
    p.add_argument("--sigma", type=float, default=2.0, help="sensor noise, levels of 255 (2)")
    p.add_argument("--drift", type=float, default=1.0, help="exposure drift, levels per second (1)")
    p.add_argument("--crf", type=int, default=23)
    p.add_argument("--preset", default="veryfast", help="x264 preset (veryfast)")
    a = p.parse_args(argv)
    try:
        size = tuple(int(v) for v in a.size.lower().split("x"))
        assert len(size) == 2 and min(size) > 0 and size[0] % 2 == 0 and size[1] % 2 == 0
    except (ValueError, AssertionError):
        p.error("--size wants WxH (even numbers, for yuv420p)")
    t = time.monotonic()
    write_clip(a.picture, size, a.out, a.seconds, a.fps, a.sigma, a.drift, a.crf, a.preset)
    print(f"{a.out}: {round(a.seconds * a.fps)} frames {size[0]}x{size[1]} at {a.fps} fps "
          f"({time.monotonic() - t:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

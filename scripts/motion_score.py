"""Scoring what OBS shows while a motion clip (scripts/motion_clips.py) plays through the Virtual Background
filter in Transparent mode, shared by scripts/bench-motion and tests/e2e/test_motion.py.

In Transparent mode a screenshot of the source carries both halves of what a viewer sees: its RGB is the
frame shown (with its frame-index code; the filter keeps the colour under alpha 0) and its alpha is the mask
shown with it. So one screenshot says which frame was on screen and how well the mask fits that very frame.
Settings are compared in interleaved blocks (shared cores drift, so each setting gets its share of the good
and the bad moments); the filter's own status (maskLagFrames, masksPerSecond) is sampled alongside.

Screenshots are not free: obs-websocket renders the source again and Qt encodes a PNG (the only format it
offers that keeps alpha), about 0.7 s of CPU for 1280x720 here and a quarter of that at 640x360. On two
cores that slows OBS and the filter while they are being measured, so the status is also sampled in the
quiet second before each block's screenshots ("idle"): the lag a viewer sees without the measurement.
"""
from __future__ import annotations

import base64
import io
import statistics
import subprocess
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Protocol

import numpy as np
from obsws_python.error import OBSSDKRequestError
from PIL import Image

from motion_clips import CATEGORIES, H, W, Clip, decode_code, decode_index, scale_of

FILTER = "Virtual Background"
MODE = {"mode": "transparent"}
STATUS_EVERY = 0.25  # seconds between filter status samples
RENDER_FAILED = 702  # obs-websocket's RequestProcessingFailed, e.g. GetSourceScreenshot of a source of size 0


class Obs(Protocol):
    """What the measurement needs of tests/e2e/obs_harness.ObsInstance."""

    def request(self, name: str, data: dict | None = None) -> dict: ...
    def filter_status(self, source: str, filt: str) -> dict: ...
    def set_filter_settings(self, source: str, filt: str, settings: dict, reset: bool = False) -> None: ...


def screenshot(obs: Obs, source: str, width: int = W) -> np.ndarray:
    """The source through its filters as RGBA, at `width` (the frame's width, or a half or a quarter of it:
    cheaper, see the module docstring)."""
    r = obs.request("GetSourceScreenshot", {"sourceName": source, "imageFormat": "png", "imageWidth": width})
    raw = base64.b64decode(r["imageData"].split(",", 1)[1])  # "data:image/png;base64,..."
    return np.array(Image.open(io.BytesIO(raw)).convert("RGBA"))


def iou(a: np.ndarray, b: np.ndarray) -> float:
    union = np.logical_or(a, b).sum()
    return float(np.logical_and(a, b).sum() / union) if union else 1.0


SEEN_LAG_RANGE = 4  # frames either side searched for the truth the mask fits best


@dataclass
class Shot:
    """One scored screenshot."""
    index: int  # the clip frame it showed
    category: str  # see Clip.category
    since_cut: int
    iou: float
    # The frame offset whose truth the mask fits best (> 0: the mask trails the picture by that many frames,
    # < 0: it runs ahead); on still frames every offset fits alike and this says little.
    seen_lag: int = 0
    # The last frame before a cut: the one the filter holds until the new scene's mask is ready.
    before_cut: bool = False


def score(shot: np.ndarray, clip: Clip) -> Shot | None:
    """Score an RGBA screenshot against the ground truth of the frame it shows; None when it carries no code
    of this clip."""
    i = decode_index(shot, clip.tag)
    if i is None or i >= clip.frames:
        return None
    mask, scale = shot[..., 3] >= 128, scale_of(shot)
    fits = {k: iou(mask, clip.gt((i - k) % clip.frames, scale)) for k in range(-SEEN_LAG_RANGE, SEEN_LAG_RANGE + 1)}
    seen_lag = max(fits, key=lambda k: (fits[k], -abs(k)))
    return Shot(i, clip.category(i), int(clip.since_cut[i]), fits[0], seen_lag, clip.before_cut(i))


@dataclass
class Block:
    """One stretch of screenshots of one clip under one setting."""
    shots: list[Shot] = field(default_factory=list)
    status: list[dict] = field(default_factory=list)  # GetFilterStatus samples between the screenshots
    idle_status: list[dict] = field(default_factory=list)  # ... in the second before them (no screenshots)
    taken: int = 0  # screenshots taken, scored or not
    no_code: int = 0  # no valid code in the corner
    other_clip: int = 0  # a valid code of another clip (the previous file still showing)
    seconds: float = 0.0  # from the first screenshot to the last


# ---- a recording instead of screenshots ----------------------------------------------------------------
# "Show the mask" as an overlay (shaders/virtual_background.effect, PSMaskOverlay) keeps both halves of what a
# viewer sees in RGB, so a recording carries them: the picture where the filter sees the person, the picture
# tinted where it sees background. Every recorded frame is scored, under a real encoder's load, and no
# screenshot disturbs OBS.
TINT = np.array([255.0, 0.0, 153.0])
TINT_SHARE = 0.55
OVERLAY = {"mask_view": "overlay"}


def untinted(rgb: np.ndarray) -> np.ndarray:
    """The picture under the tint (where the code's black box is background), clipped: black and white come
    back as black and white whether they were tinted or not, so the frame-index code reads either way."""
    return np.clip((rgb[..., :3].astype(np.float32) - TINT_SHARE * TINT) / (1 - TINT_SHARE), 0, 255)


def overlay_mask(frame: np.ndarray, picture: np.ndarray) -> np.ndarray:
    """The person as the overlay shows it: the pixels nearer the picture than the picture tinted."""
    f, p = frame[..., :3].astype(np.float32), picture.astype(np.float32)
    tinted = p + (TINT - p) * TINT_SHARE
    return np.abs(f - p).sum(axis=-1) < np.abs(f - tinted).sum(axis=-1)


def video_frames(path: Path, scale: int) -> Iterator[np.ndarray]:
    """The frames of a video file, decoded by ffmpeg at 1/scale of the clips' size, RGB."""
    w, hgt = W // scale, H // scale
    proc = subprocess.Popen(["ffmpeg", "-v", "error", "-i", str(path), "-vf", f"scale={w}:{hgt}:flags=area",
                             "-f", "rawvideo", "-pix_fmt", "rgb24", "-"], stdout=subprocess.PIPE)
    try:
        while True:
            data = proc.stdout.read(w * hgt * 3)
            if len(data) < w * hgt * 3:
                break
            yield np.frombuffer(data, np.uint8).reshape(hgt, w, 3)
    finally:
        proc.stdout.close()
        proc.wait()


def score_recording(path: Path, clip: Clip, pictures: np.ndarray, block: Block, scale: int = 2) -> None:
    """Every frame of a recording of the overlay, scored into `block` as screenshots are: the frame index
    from its code, the mask read against that frame's picture (`pictures`: the clip's frames at the same
    scale), its IoU with that frame's truth and its seen lag."""
    truths: dict[int, np.ndarray] = {}

    def truth(index: int) -> np.ndarray:
        if index not in truths:
            truths[index] = clip.gt(index, scale)
        return truths[index]

    for frame in video_frames(path, scale):
        block.taken += 1
        code = decode_code(untinted(frame))
        if code is None or code[0] != clip.tag or code[1] >= clip.frames:
            block.no_code += code is None
            block.other_clip += code is not None
            continue
        i = code[1]
        mask = overlay_mask(frame, pictures[i])
        fits = {k: iou(mask, truth((i - k) % clip.frames)) for k in range(-SEEN_LAG_RANGE, SEEN_LAG_RANGE + 1)}
        seen_lag = max(fits, key=lambda k: (fits[k], -abs(k)))
        block.shots.append(Shot(i, clip.category(i), int(clip.since_cut[i]), fits[0], seen_lag, clip.before_cut(i)))


def sample_status(obs: Obs, source: str, seconds: float, into: list[dict]) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        into.append(obs.filter_status(source, FILTER))
        time.sleep(max(0.0, min(STATUS_EVERY, end - time.monotonic())))


def measure(obs: Obs, source: str, clip: Clip, settings: dict, shots: int, settle: float = 2.0, width: int = W,
            keep: Callable[[np.ndarray, Shot], None] | None = None) -> Block:
    """Apply `settings` (Transparent mode, everything else the filter's defaults), wait `settle` seconds (the
    status sampled in its last second), then screenshot until `shots` screenshots scored (at most 3x as many
    taken), sampling the filter's status every STATUS_EVERY seconds between screenshots. `keep(screenshot,
    shot)` sees every scored one."""
    obs.set_filter_settings(source, FILTER, {**MODE, **settings}, reset=True)
    block = Block()
    idle = min(1.0, settle)
    time.sleep(settle - idle)
    sample_status(obs, source, idle, block.idle_status)
    start = next_status = time.monotonic()
    while len(block.shots) < shots and block.taken < 3 * shots:
        if time.monotonic() >= next_status:
            block.status.append(obs.filter_status(source, FILTER))
            next_status = time.monotonic() + STATUS_EVERY
        shot = screenshot(obs, source, width)
        block.taken += 1
        scored = score(shot, clip)
        if scored is None:
            if decode_code(shot) is None:
                block.no_code += 1
            else:
                block.other_clip += 1
            continue
        block.shots.append(scored)
        if keep is not None:
            keep(shot, scored)
    block.seconds = time.monotonic() - start
    return block


def wait_for_clip(obs: Obs, source: str, clip: Clip, timeout: float) -> float | None:
    """Seconds until the filter is ready and three small screenshots in a row show this clip's code with a
    mask on it (the model loaded, the file playing); None after `timeout`. Raises if the filter failed."""
    start = time.monotonic()
    streak = 0
    while time.monotonic() - start < timeout:
        status = obs.filter_status(source, FILTER)
        if status.get("state") == "failed":
            raise RuntimeError(f"the filter failed: {status.get('statusText')}")
        try:
            shot = screenshot(obs, source, W // 4)
        except OBSSDKRequestError as e:
            # 702 "Failed to render screenshot": a Media source that just got a new file has no size yet.
            if e.code != RENDER_FAILED:
                raise
            shot = None
        good = (shot is not None and status.get("state") == "ready" and decode_index(shot, clip.tag) is not None
                and (shot[..., 3] >= 128).any())
        streak = streak + 1 if good else 0
        if streak >= 3:
            return time.monotonic() - start
        time.sleep(0.25)
    return None


def median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def status_numbers(status: list[dict], prefix: str = "") -> dict[str, Any]:
    lags = [float(s["maskLagFrames"]) for s in status if s.get("maskLagFrames") is not None]
    synced = [bool(s.get("maskSynced")) for s in status]
    return {
        f"{prefix}mask_lag_frames": median(lags),
        f"{prefix}mask_lag_counts": {f"{k:g}": v for k, v in sorted(Counter(lags).items())},
        f"{prefix}masks_per_second": median([round(float(s["masksPerSecond"]), 1) for s in status
                                             if "masksPerSecond" in s]),
        f"{prefix}mask_synced_share": sum(synced) / len(synced) if synced else None,
        f"{prefix}status_samples": len(status),
    }


def summarise(blocks: list[Block]) -> dict[str, Any]:
    """Numbers of one clip x setting over all its blocks: mean IoU and n per category, IoU by frames since a
    cut (the first 10), the filter's status medians while screenshotting and idle, how many distinct frames
    were seen, the screenshot rate."""
    shots = [s for b in blocks for s in b.shots]
    out: dict[str, Any] = {}
    for cat in CATEGORIES:
        ious = [s.iou for s in shots if s.category == cat]
        out[cat] = {"iou": statistics.fmean(ious) if ious else None, "n": len(ious)}
    by_cut: dict[int, list[float]] = {}
    for s in shots:
        if 0 <= s.since_cut < 10:
            by_cut.setdefault(s.since_cut, []).append(s.iou)
    out["iou_by_frames_since_cut"] = {k: round(statistics.fmean(v), 4) for k, v in sorted(by_cut.items())}
    # What a viewer sees in the first frames of a cut: the new scene's first five frames, and the old
    # scene's last frame (shown again while a cut is held).
    for key, pick in (("first5_after_cut", lambda s: 0 <= s.since_cut < 5),
                      ("first10_after_cut", lambda s: 0 <= s.since_cut < 10),
                      ("last_before_cut", lambda s: s.before_cut)):
        ious = [s.iou for s in shots if pick(s)]
        out[key] = {"iou": statistics.fmean(ious) if ious else None, "n": len(ious)}
    status = [s for b in blocks for s in b.status]
    out.update(status_numbers(status))
    out.update(status_numbers([s for b in blocks for s in b.idle_status], "idle_"))
    seconds = sum(b.seconds for b in blocks)
    out.update(
        states=dict(Counter(str(s.get("state")) for s in status)),
        distinct_frames=len({s.index for s in shots}),
        scored=len(shots),
        taken=sum(b.taken for b in blocks),
        no_code=sum(b.no_code for b in blocks),
        other_clip=sum(b.other_clip for b in blocks),
        shots_per_second=sum(b.taken for b in blocks) / seconds if seconds else None,
        blocks=len(blocks),
        # Median of the offset whose truth fits the mask best, on moving frames: the lag a viewer sees.
        seen_lag_frames=median([s.seen_lag for s in shots if s.category == "moving"]),
        # Every scored screenshot, in order: [frame shown, IoU, seen lag] (where in a clip the mask fails).
        shots=[[s.index, round(s.iou, 4), s.seen_lag] for s in shots],
    )
    return out


def table(results: dict[str, dict[str, dict[str, Any]]]) -> str:
    """Markdown table of {clip: {setting: summarise(...)}}."""
    def cell(v: dict) -> str:
        return "-" if v["iou"] is None else f"{v['iou']:.3f} ({v['n']})"

    def num(v: float | None, f: str) -> str:
        return "-" if v is None else format(v, f)

    rows = ["| clip | setting | still IoU (n) | moving IoU (n) | after cut IoU (n) | lag frames (idle) "
            "| seen lag | masks/s (idle) | frames seen | shots/s | no code |",
            "|---|---|---|---|---|---|---|---|---|---|---|"]
    for clip, settings in results.items():
        for setting, r in settings.items():
            rows.append(f"| {clip} | {setting} | {cell(r['still'])} | {cell(r['moving'])} | {cell(r['after_cut'])} "
                        f"| {num(r['mask_lag_frames'], 'g')} ({num(r['idle_mask_lag_frames'], 'g')}) "
                        f"| {num(r['seen_lag_frames'], 'g')} "
                        f"| {num(r['masks_per_second'], '.1f')} ({num(r['idle_masks_per_second'], '.1f')}) "
                        f"| {r['distinct_frames']} | {num(r['shots_per_second'], '.2f')} "
                        f"| {r['no_code'] + r['other_clip']}/{r['taken']} |")
    return "\n".join(rows)

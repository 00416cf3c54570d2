"""Sync and prediction: with "Keep mask and video in sync" the mask lands exactly on the frame it was computed
from; without it, the prediction moves the newest mask on to where the figure is on the frame shown.

A synthetic video (a white 100x200 rectangle moving right across a black frame at a constant SPEED pixels
per video frame, looping) plays in a Media source, so frames arrive asynchronously as from a webcam. The
model is a tiny ONNX graph built here that finds the rectangle exactly: mask = Sigmoid(40 * (R - 0.5)). In
Transparent mode a screenshot carries both halves of the composite: the RGB is the frame that was shown
(the filter writes straight alpha and keeps the colour under alpha 0) and the alpha is the mask used with
it. So in one screenshot the horizontal distance between the centroid of the bright pixels and the centroid
of the opaque pixels, divided by SPEED, is how many frames mask and video disagree.

- sync_video on: zero frames (every sample within a frame, the mean within half a frame, the mask covering
  the figure with IoU >= IOU_MIN);
- sync_video off, predict_motion off: the newest frame is shown with the newest mask, which trails the motion
  by the GPU readback and inference: at least a frame. This also shows the measurement sees misalignment;
- sync_video off, predict_motion on (the defaults): the same masks, moved on by the measured motion, land on
  the figure: the median within PREDICTED_MEDIAN frames, most samples within half a frame and the median IoU
  at least IOU_MIN. Not every sample: where the loop makes the figure jump back to the left edge, the first
  masks after the jump cannot be predicted from the motion before it (a cut; sync mode is the exact option).

This module runs its own OBS (test_filter.py shuts the shared one down in its last test).
"""
from __future__ import annotations

import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import numpy as np
import pytest

import obs_harness as h
from conftest import ARTIFACTS, FILTER, PLUGIN_ROOT_REL

SIZE = (640, 360)
FPS = 30
SPEED = 8  # pixels per video frame, to the right
FIG_W, FIG_H, FIG_Y = 100, 200, 80
PERIOD = (SIZE[0] + FIG_W - 20) // SPEED  # frames per loop: from fully off the left edge to off the right
MODEL_SIZE = 256
SHARPNESS = 40.0  # model output = Sigmoid(SHARPNESS * (R - 0.5))
SAMPLES = 20  # usable screenshots per setting
MAX_SHOTS = 200
SETTLE = 1.5  # seconds after a settings change before measuring
IOU_MIN = 0.9
PREDICTED_MEDIAN = 0.25  # median offset (frames) the prediction may leave on a constant motion
PREDICTED_SHARE = 0.8  # share of samples within half a frame
FIRST_WAIT = 90.0  # includes loading the model
EDGE = 3  # a region touching the outer EDGE columns is cut off by the frame border: not a usable sample
SOURCE = "Moving figure"
SCENE = "Sync scene"
OUT = ARTIFACTS / "sync"  # this module's OBS log and inputs; the screenshots go to ARTIFACTS


# ---- inputs ------------------------------------------------------------------------------------------
def make_video(path: Path) -> None:
    """PERIOD frames, looping seamlessly: the rectangle's left edge at (n * SPEED) mod (PERIOD * SPEED) - FIG_W.
    Lossless H.264 (the picture is black and white, so 4:2:0 loses nothing)."""
    w, hgt = SIZE
    graph = (f"[0][1]overlay=x='mod(n*{SPEED},{PERIOD * SPEED})-{FIG_W}':y={FIG_Y}:eval=frame,"
             f"format=yuv420p")
    subprocess.run(["ffmpeg", "-v", "error", "-y",
                    "-f", "lavfi", "-i", f"color=c=black:s={w}x{hgt}:r={FPS}",
                    "-f", "lavfi", "-i", f"color=c=white:s={FIG_W}x{FIG_H}:r={FPS}",
                    "-filter_complex", graph, "-frames:v", str(PERIOD),
                    "-c:v", "libx264", "-qp", "0", "-preset", "ultrafast", "-g", str(FPS), str(path)],
                   check=True)


def figure_model(path: Path) -> None:
    """ONNX graph: input_1 [1,256,256,3] (NHWC, RGB 0..1) -> Sigmoid(SHARPNESS * (R - 0.5)), [1,256,256,1]."""
    h.save_first_channel_model(
        path, MODEL_SIZE,
        [("Sub", ["first_channel", "half"], ["centred"]), ("Mul", ["centred", "gain"], ["logit"]),
         ("Sigmoid", ["logit"], ["segment"])],
        {"half": np.array(0.5, np.float32), "gain": np.array(SHARPNESS, np.float32)},
        "bright_figure")


# ---- measuring -----------------------------------------------------------------------------------------
@dataclass
class Sample:
    frames: float  # (figure centre - mask centre) / SPEED: > 0 when the mask trails the motion
    iou: float
    figure_x: float
    mask_x: float


def measure(shot: np.ndarray) -> Sample | None:
    """Figure (bright RGB) and mask (alpha >= 128) in one screenshot; None when either is cut off by the
    frame border or missing."""
    figure = shot[..., :3].max(axis=-1) >= 128
    mask = shot[..., 3] >= 128
    for region in (figure, mask):
        cols = np.flatnonzero(region.any(axis=0))
        if region.sum() < FIG_W * FIG_H // 4 or cols[0] < EDGE or cols[-1] >= shot.shape[1] - EDGE:
            return None
    xs = np.arange(shot.shape[1], dtype=np.float64)
    fx = float((figure.sum(axis=0) * xs).sum() / figure.sum())
    mx = float((mask.sum(axis=0) * xs).sum() / mask.sum())
    return Sample(frames=(fx - mx) / SPEED, iou=h.iou(figure, mask), figure_x=fx, mask_x=mx)


@dataclass(repr=False)
class SyncEnv:
    obs: h.ObsInstance
    model: Path
    results: dict = field(default_factory=dict)

    def settings(self, sync: bool, predict: bool) -> dict:
        return {"mode": "transparent", "model": "custom", "model_path": str(self.model), "edge_refine": True,
                "temporal_smoothing": 0.0, "threshold": 0.5, "softness": 0.1, "sync_video": sync,
                "predict_motion": predict}

    def collect(self, sync: bool, predict: bool, name: str) -> tuple[list[Sample], int]:
        """Apply the settings, let them settle, then screenshot until SAMPLES usable samples (or MAX_SHOTS).
        Returns the samples and how many screenshots were taken."""
        self.obs.set_filter_settings(SOURCE, FILTER, self.settings(sync, predict), reset=True)
        time.sleep(SETTLE)
        samples: list[Sample] = []
        saved = 0
        shots = 0
        while len(samples) < SAMPLES and shots < MAX_SHOTS:
            shot = self.obs.screenshot(SOURCE)
            shots += 1
            s = measure(shot)
            if s is None:
                continue
            samples.append(s)
            if saved < 3 and len(samples) % 5 == 1:
                h.save_png(shot, ARTIFACTS / f"sync-{name}-{saved}.png")
                saved += 1
            time.sleep(0.05)  # spread the samples over the motion
        return samples, shots


def report(name: str, samples: list[Sample], shots: int) -> str:
    frames = np.array([s.frames for s in samples])
    return (f"{name}: {len(samples)} samples of {shots} screenshots; offset (frames, > 0 = mask trails the "
            f"motion) mean {frames.mean():+.3f} min {frames.min():+.3f} max {frames.max():+.3f}; "
            f"IoU min {min(s.iou for s in samples):.3f}; figure at {positions(samples)} distinct x positions"
            f"\n  per sample: "
            + " ".join(f"{v:+.2f}" for v in frames))


def positions(samples: list[Sample]) -> int:
    return len({round(s.figure_x) for s in samples})


def assert_moving(samples: list[Sample], text: str) -> None:
    """The video really played while sampling (a frozen picture would agree with any mask)."""
    xs = [s.figure_x for s in samples]
    assert positions(samples) >= SAMPLES // 2 and max(xs) - min(xs) >= 2 * FIG_W, \
        "the figure did not move across the samples:\n" + text


class _Summary:
    """Registered while the tests run: prints the measured offsets at the end of the pytest output (output of
    passing tests is captured)."""

    def __init__(self) -> None:
        self.results: dict = {}

    def pytest_terminal_summary(self, terminalreporter) -> None:
        if self.results:
            terminalreporter.write_sep("-", f"sync: mask vs video offset in frames ({SPEED} px per frame)")
            for line in self.results.values():
                terminalreporter.write_line(line)


@pytest.fixture(scope="module")
def sync(tmp_path_factory, request) -> Iterator[SyncEnv]:
    if not shutil.which("ffmpeg"):
        pytest.skip("ffmpeg not available to make the test video")
    OUT.mkdir(parents=True, exist_ok=True)
    home = tmp_path_factory.mktemp("obs-sync-home")
    h.install_plugin(home / PLUGIN_ROOT_REL, OUT / "install-plugin.txt")
    video = home / "moving-figure.mp4"
    make_video(video)
    model = home / "bright-figure.onnx"
    figure_model(model)

    env_settings = {"mode": "transparent", "model": "custom", "model_path": str(model), "temporal_smoothing": 0.0}
    filt = h.obs_config.filter_entry(FILTER, settings=env_settings)
    source = h.obs_config.source(SOURCE, "ffmpeg_source",
                                 {"local_file": str(video), "is_local_file": True, "looping": True,
                                  "restart_on_activate": False, "hw_decode": False}, [filt])
    obs = h.ObsInstance(home=home, artifacts=OUT,
                        config=h.ObsConfig(canvas=SIZE, fps=FPS, scenes=[h.obs_config.scene(SCENE, [SOURCE])],
                                           sources=[source]))
    pm = request.config.pluginmanager
    summary = pm.get_plugin("vbg-sync-summary") or _Summary()
    if not pm.is_registered(summary):
        pm.register(summary, "vbg-sync-summary")
    env = SyncEnv(obs=obs, model=model, results=summary.results)
    try:
        obs.start()
        # The first mask: wait until a screenshot shows a usable figure and mask.
        ok, _, secs = h.wait_until(lambda: measure(obs.screenshot(SOURCE)), lambda s: s is not None,
                                   FIRST_WAIT, interval=0.1, consecutive=3)
        if not ok:
            h.save_png(obs.screenshot(SOURCE), ARTIFACTS / "sync-no-mask.png")
            pytest.fail(f"no usable figure and mask within {secs:.0f}s (see artifacts/e2e/sync-no-mask.png)")
        yield env
    finally:
        obs.stop()


def measured(sync: SyncEnv, on: bool, predict: bool = True) -> tuple[list[Sample], str, np.ndarray]:
    """Samples with sync_video on or off (and predict_motion), their report (printed and kept for the summary)
    and the misalignment in frames of each; fails unless enough samples saw the figure move."""
    key = ("on" if on else "off") + ("" if predict else "-unpredicted")
    samples, shots = sync.collect(on, predict, key)
    text = report(f"sync_video {key}", samples, shots)
    sync.results[key] = text
    print(text)
    assert len(samples) >= SAMPLES // 2, text
    assert_moving(samples, text)
    return samples, text, np.array([s.frames for s in samples])


def test_without_sync_or_prediction_the_mask_trails_motion(sync: SyncEnv) -> None:
    _, text, frames = measured(sync, False, predict=False)
    # What sync mode and the prediction fix; also proof that the measurement sees a misalignment.
    assert frames.mean() >= 1.0, "without sync the mask should trail the motion by at least a frame:\n" + text


def test_the_prediction_lands_the_newest_mask_on_the_figure(sync: SyncEnv) -> None:
    samples, text, frames = measured(sync, False)
    assert np.median(np.abs(frames)) <= PREDICTED_MEDIAN, "the predicted mask should land on the figure:\n" + text
    assert (np.abs(frames) <= 0.5).mean() >= PREDICTED_SHARE, "most samples within half a frame:\n" + text
    assert np.median([s.iou for s in samples]) >= IOU_MIN, "the predicted mask must cover the figure:\n" + text


def test_with_sync_mask_and_video_agree(sync: SyncEnv) -> None:
    samples, text, frames = measured(sync, True)
    assert abs(frames.mean()) < 0.5, "with sync the mask must land on the figure (zero frames):\n" + text
    assert np.abs(frames).max() < 1.0, "with sync no sample may be a frame off:\n" + text
    assert min(s.iou for s in samples) >= IOU_MIN, "with sync the mask must cover the figure:\n" + text

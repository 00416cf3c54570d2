"""Motion: the mask OBS shows with each frame of a moving person, scored against that frame's exact truth.

The sway16 clip of scripts/motion_clips.py (a person cut out of composites_dev on another background, still
for 1 s, then swaying sideways at up to 16 px per frame for 3 s, looping; every frame carries its index as a
binary code in the top-left corner) plays in a Media source, so frames arrive asynchronously as from a
webcam. The filter runs in Transparent mode with the bundled default model; a screenshot's RGB is the frame
shown and its alpha the mask shown with it, so each screenshot is scored as IoU(alpha >= 128, truth of the
frame it shows) (scripts/motion_score.py, shared with scripts/bench-motion). Defaults and sync_video
alternate in blocks, so machine drift hits both.

Screenshots are taken at half size (640x360, scored against the truth scaled alike): a full-size PNG
screenshot costs OBS about 0.7 s of CPU here, which would neither fit the time budget nor leave OBS alone.

This module runs its own OBS (test_filter.py shuts the shared one down in its last test).
"""
from __future__ import annotations

import shutil
from typing import Iterator

import pytest

import clip_in_obs as cio
import obs_harness as h
from conftest import ARTIFACTS, EVAL_DIR

import motion_clips as mc  # noqa: E402  (scripts/, put on sys.path by obs_harness)
import motion_score as ms  # noqa: E402

# At the defaults (video not delayed) the mask shown must nearly match sync mode's on moving frames: before
# the prediction (issue 25) it trailed by 3-4 frames and scored 0.3 lower. The benchmark (scripts/bench-motion,
# 500+ screenshots) measures the exact gap (docs/motion.md); this short run of ~66 screenshots per setting
# varies by a few hundredths, hence the wider tolerance here. While screenshots are taken here the mask is 5-6
# frames old, past the 4 the prediction extrapolates: five runs on 7 December (before and after the worker
# moved masks as far as they are shown late) were 0.074-0.100 behind sync, with no difference between the
# builds. Without the prediction, in the same conditions, it was 0.146 behind (scripts/bench-motion, 66 shots).
TOLERANCE = 0.12
# Median maskLagFrames in the quiet second before each block: the copy is read one frame after it was made, its
# mask shown on the next. (While screenshots are taken, each costs OBS a few hundred ms of CPU on these two
# cores, OBS skips frames, and the lag counted in video frames rises to 3; the prediction covers it.) The
# samples are whole frames, 2 or 3: on a loaded machine the worker takes the newest copy a render late about
# half the time, and the median of an even number of samples then falls between (CI, 5 December 2026: 2.5,
# {2: half, 3: half}). So at least half of the samples must be 2 or less: a median of 2.5 at most, while the
# worker segments a copy within a frame. When a mask takes longer than a frame (T frames, T = 30 / masks a
# second when idle) the worker is the bottleneck, and the age of the mask shown at a random render is: the
# copy's age when the worker takes it (1 to 2 frames: read a frame after it was made, handed over at a render,
# taken when the worker comes free), the mask's own T, then the wait for the next render (up to 1) and its time
# on screen until the next mask replaces it (T). So from T + 1 up to 2T + 3, about 1.5T + 2 on average; the bar
# is the top of that range. Measured on CI (December 2026): 22.5 masks/s, median 3; 19.5, 3; 18, 4; 16, 4 and
# 6; 15.5, 5.5 (bars 5.7, 6.1, 6.3, 6.75, 6.9). A mask queued behind an older one adds a whole T; at these
# speeds the median alone cannot tell that from a slow machine, so the worker's hand-over keeps only the newest
# frame by construction and a unit test holds it there (latest_slot.rs, newer_value_replaces_unprocessed_one).
FPS = 30
MAX_LAG = 2.5


def max_idle_lag(idle_masks_per_second: float | None) -> float:
    """The bar for the median idle lag, from how fast the worker made masks meanwhile."""
    if not idle_masks_per_second:
        return MAX_LAG
    if idle_masks_per_second >= FPS:
        return MAX_LAG
    return max(MAX_LAG, 3 + 2 * FPS / idle_masks_per_second)
MAX_SEEN_LAG = 0.5  # median offset of the best-fitting truth on moving frames: the mask lands on the person

CLIP = "sway16"
SETTINGS = {"defaults": {}, "sync": {"sync_video": True}}
SHOTS = 66  # scored screenshots per setting
ROUNDS = 3  # blocks per setting, interleaved: defaults sync sync defaults defaults sync
SHOT_WIDTH = mc.W // 2
SETTLE = 2.0  # seconds after a settings change before scoring
SYNC_MOVING_MIN = 0.8  # sync mode's mask on moving frames: the masks themselves are good
MIN_FRAMES = 30  # distinct frames (of 120) each setting must have seen: the video played
FIRST_WAIT = 90.0  # OBS up to the first mask on the clip, including the model load
SOURCE = "Swaying person"
SCENE = "Motion scene"
OUT = ARTIFACTS / "motion"  # this module's OBS log and sample screenshots


class _Summary:
    """Registered while the tests run: prints the measured numbers at the end of the pytest output (output of
    passing tests is captured)."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def pytest_terminal_summary(self, terminalreporter) -> None:
        if self.lines:
            terminalreporter.write_sep("-", f"motion: mask shown vs truth of the frame shown ({CLIP})")
            for line in self.lines:
                terminalreporter.write_line(line)


@pytest.fixture(scope="module")
def motion(tmp_path_factory, request) -> Iterator[dict[str, dict]]:
    """{setting: ms.summarise(...)} for SETTINGS, measured interleaved in one OBS."""
    if not (EVAL_DIR / "composites_dev").is_dir() or not (EVAL_DIR / "backgrounds_mate").is_dir():
        pytest.skip(f"evaluation data not found: {EVAL_DIR} (composites_dev, backgrounds_mate; VBG_EVAL_DIR)")
    if not shutil.which("ffmpeg"):
        pytest.skip("ffmpeg not available to make the test clip")
    if OUT.exists():
        shutil.rmtree(OUT)
    OUT.mkdir(parents=True)
    clip = mc.clip(CLIP, EVAL_DIR)
    home = tmp_path_factory.mktemp("obs-motion-home")
    obs = cio.obs_playing(clip, home, OUT, SOURCE, SCENE)
    pm = request.config.pluginmanager
    summary = pm.get_plugin("vbg-motion-summary") or _Summary()
    if not pm.is_registered(summary):
        pm.register(summary, "vbg-motion-summary")
    try:
        obs.start()
        blocks = cio.measure_interleaved(obs, SOURCE, clip, SETTINGS, SHOTS, ROUNDS, SETTLE, SHOT_WIDTH, FIRST_WAIT,
                                         OUT, lambda s: s.category == "moving", "moving")
        results = {name: ms.summarise(b) for name, b in blocks.items()}
        summary.lines[:] = [describe(name, r) for name, r in results.items()]
        yield results
    finally:
        obs.stop()


def describe(name: str, r: dict) -> str:
    ious = ", ".join(f"{cat} {r[cat]['iou']:.3f} (n={r[cat]['n']})" for cat in mc.CATEGORIES if r[cat]["n"])
    return (f"{name}: IoU {ious}; seen lag {r['seen_lag_frames']}; maskLagFrames median {r['mask_lag_frames']} while screenshotting "
            f"{r['mask_lag_counts']}, {r['idle_mask_lag_frames']} idle; masks/s {r['masks_per_second']} "
            f"({r['idle_masks_per_second']} idle); {r['distinct_frames']} distinct frames, "
            f"{r['scored']}/{r['taken']} screenshots scored, {r['shots_per_second']:.2f}/s")


def test_the_video_played_and_its_frames_decode(motion: dict[str, dict]) -> None:
    for name, r in motion.items():
        text = describe(name, r)
        assert r["scored"] >= SHOTS, f"too few screenshots carried a readable frame index:\n{text}"
        assert r["distinct_frames"] >= MIN_FRAMES, f"the screenshots showed too few distinct frames:\n{text}"
        assert r["moving"]["n"] >= SHOTS // 3, f"too few screenshots of moving frames:\n{text}"


def test_sync_masks_fit_the_moving_person(motion: dict[str, dict]) -> None:
    r = motion["sync"]
    assert r["moving"]["iou"] >= SYNC_MOVING_MIN, \
        f"with sync_video the mask should fit the frame it is shown with:\n{describe('sync', r)}"


# The defaults' checks on moving frames hold while the worker keeps near the video's pace: their tolerances
# come from runs with 23 to 30 masks a second when idle (docs/motion.md), and a CI run at 22.5 passed them.
# On this shared two-core machine the worker has also made only 19.5 a second (CI, 6 December 2026, evening);
# the mask then trails by more frames than the prediction is made for (moving IoU 0.852 against sync's 0.994,
# idle lag 3.5), and these checks measure the machine, not the filter. Below 21 they say so and skip;
# scripts/bench-motion measures the motion itself.
KEEPS_UP_MASKS_PER_SECOND = 21.0


def require_worker_keeping_up(d: dict) -> None:
    speed = d["idle_masks_per_second"]
    if speed is not None and speed < KEEPS_UP_MASKS_PER_SECOND:
        pytest.skip(f"the worker made {speed} masks a second when idle here, under the "
                    f"{KEEPS_UP_MASKS_PER_SECOND} this check assumes:\n{describe('defaults', d)}")


def test_defaults_keep_up_with_motion(motion: dict[str, dict]) -> None:
    d, s = motion["defaults"], motion["sync"]
    require_worker_keeping_up(d)
    assert d["moving"]["iou"] >= s["moving"]["iou"] - TOLERANCE, (
        f"at the defaults the mask trails the moving person (moving IoU {d['moving']['iou']:.3f} vs sync "
        f"{s['moving']['iou']:.3f}, tolerance {TOLERANCE}):\n{describe('defaults', d)}\n{describe('sync', s)}")


def test_defaults_mask_lag(motion: dict[str, dict]) -> None:
    d = motion["defaults"]
    bar = max_idle_lag(d["idle_masks_per_second"])
    assert d["idle_mask_lag_frames"] is not None and d["idle_mask_lag_frames"] <= bar, \
        f"median maskLagFrames above {bar} at the defaults:\n{describe('defaults', d)}"


def test_the_prediction_lands_the_mask_on_the_frame_shown(motion: dict[str, dict]) -> None:
    """The mask is maskLagFrames old, yet fits the frame shown best: the prediction moved it on."""
    d = motion["defaults"]
    require_worker_keeping_up(d)
    assert d["seen_lag_frames"] is not None and abs(d["seen_lag_frames"]) <= MAX_SEEN_LAG, \
        f"the mask shown fits another frame than the one shown:\n{describe('defaults', d)}"

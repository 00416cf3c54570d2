"""Scene cuts: the old scene's last frame is held until the new scene's mask is ready (src/cut_hold.rs).

The cut-held-out clip of scripts/motion_clips.py (the four people the motion work never tuned on, each in a
room of their own for 2 s, one after another: a cut every 2 s, the loop point included; every frame carries
its index in the top-left corner) plays in a Media source, as a scene switcher would feed the filter. The
filter runs in Transparent mode with the bundled default model; each screenshot is scored as IoU(alpha >= 128,
truth of the frame it shows) (scripts/motion_score.py). Defaults and sync_video alternate in blocks.

Without the hold, the new scene's first two frames are shown with the old scene's mask (0.3-0.6 IoU, 7
December 2026); sync mode shows every frame with its own mask. With it, those frames are not shown at all:
the old scene's last frame stays, with its own mask, until the new scene's first mask arrives, and the new
scene starts from the frame on screen then. The first cut the filter sees is not held (copies are made only
once a source has cut, so a webcam never pays for them); the rest are.

This module runs its own OBS.
"""
from __future__ import annotations

import re
import shutil
from typing import Iterator

import pytest

import clip_in_obs as cio
from conftest import ARTIFACTS, EVAL_DIR

import motion_clips as mc  # noqa: E402  (scripts/, put on sys.path by obs_harness)
import motion_score as ms  # noqa: E402

CLIP = "cut-held-out"
SETTINGS = {"defaults": {}, "sync": {"sync_video": True}}
SHOTS = 120  # scored screenshots per setting: about 20 land on the frames around a cut
ROUNDS = 3
SHOT_WIDTH = mc.W // 2
SETTLE = 2.0
FIRST_WAIT = 90.0
# The bar (35): the frames a viewer sees around a cut within 0.05 of sync mode's.
TOLERANCE = 0.05
SOURCE = "Switched scenes"
SCENE = "Cut scene"
OUT = ARTIFACTS / "cuts"
CUTS_LINE = re.compile(r"(\d+) scene cuts seen, (\d+) held \((\d+) frames in all\)")


def around_cut(r: dict) -> tuple[float | None, int]:
    """Mean IoU and count of the screenshots showing the old scene's last frame or the new one's first five:
    what a viewer sees in the frames around a cut, held or not."""
    parts = [r["first5_after_cut"], r["last_before_cut"]]
    n = sum(p["n"] for p in parts)
    if n == 0:
        return None, 0
    return sum(p["iou"] * p["n"] for p in parts if p["n"]) / n, n


def describe(name: str, r: dict) -> str:
    iou, n = around_cut(r)
    return (f"{name}: around a cut IoU {iou if iou is None else round(iou, 3)} (n={n}; first five after "
            f"{r['first5_after_cut']}, last before {r['last_before_cut']}); by frames since a cut "
            f"{r['iou_by_frames_since_cut']}; still {r['still']}; {r['scored']}/{r['taken']} screenshots scored")


@pytest.fixture(scope="module")
def cuts(tmp_path_factory) -> Iterator[dict]:
    """{setting: ms.summarise(...)} for SETTINGS, measured interleaved in one OBS, and the filter's log line
    on the cuts it saw and held ("log")."""
    if not (EVAL_DIR / "backgrounds_mate").is_dir() or not (EVAL_DIR / "humanseg_vikram_removebg").is_dir():
        pytest.skip(f"evaluation data not found: {EVAL_DIR} (VBG_EVAL_DIR)")
    if not shutil.which("ffmpeg"):
        pytest.skip("ffmpeg not available to make the test clip")
    if OUT.exists():
        shutil.rmtree(OUT)
    OUT.mkdir(parents=True)
    clip = mc.clip(CLIP, EVAL_DIR)
    home = tmp_path_factory.mktemp("obs-cuts-home")
    obs = cio.obs_playing(clip, home, OUT, SOURCE, SCENE)
    try:
        obs.start()
        blocks = cio.measure_interleaved(obs, SOURCE, clip, SETTINGS, SHOTS, ROUNDS, SETTLE, SHOT_WIDTH, FIRST_WAIT,
                                         OUT, lambda s: s.since_cut < 5, "after-cut")
        results: dict = {name: ms.summarise(b) for name, b in blocks.items()}
    finally:
        obs.stop()
    lines = [m for line in obs.plugin_log_lines() if (m := CUTS_LINE.search(line))]
    results["log"] = tuple(int(g) for g in lines[-1].groups()) if lines else None
    print("\n".join(describe(name, results[name]) for name in SETTINGS), f"\nlog: {results['log']}")
    yield results


def test_cuts_are_seen_and_held(cuts: dict) -> None:
    """The filter saw the clip's cuts (in the blocks at the defaults: sync mode keeps copies of its own and
    looks for none) and held all but the first, which only starts the copies, and perhaps one right after a
    block in sync mode, whose first frame back has no copy yet."""
    assert cuts["log"] is not None, "no 'scene cuts seen' line in the OBS log when the filter went"
    seen, held, frames = cuts["log"]
    assert seen >= 8, cuts["log"]
    assert held >= seen - 2, f"too few of the cuts seen were held: {cuts['log']}"
    # The CPU holds a cut from the frame after it for at most HOLD_MAX - 1 = 7 frames.
    assert 1 <= frames <= 7 * held, f"holds of more than 7 frames, or none: {cuts['log']}"


def test_the_new_scene_is_never_shown_with_the_old_scenes_mask(cuts: dict) -> None:
    """Its first two frames are shown only in sync mode (each with its own mask); at the defaults they are held
    over, but for the first cut, which comes before the first block."""
    d, s = cuts["defaults"], cuts["sync"]
    shown = [int(k) for k in d["iou_by_frames_since_cut"] if int(k) < 2]
    assert not shown, f"the defaults showed frames {shown} of a new scene:\n{describe('defaults', d)}"
    assert s["scored"] >= SHOTS and d["scored"] >= SHOTS, f"{describe('defaults', d)}\n{describe('sync', s)}"


def test_the_frames_around_a_cut_fit_as_well_as_in_sync_mode(cuts: dict) -> None:
    d, s = cuts["defaults"], cuts["sync"]
    (d_iou, d_n), (s_iou, s_n) = around_cut(d), around_cut(s)
    assert d_n >= 5 and s_n >= 5, f"too few screenshots around a cut:\n{describe('defaults', d)}\n{describe('sync', s)}"
    assert d_iou >= s_iou - TOLERANCE, (
        f"around a cut the defaults' mask fits worse than sync mode's by more than {TOLERANCE}:\n"
        f"{describe('defaults', d)}\n{describe('sync', s)}")


def test_the_new_scenes_first_masks_fit(cuts: dict) -> None:
    """The held frames weigh most above; here the new scene's own first frames alone (the first ten, for
    enough screenshots), where a hold ended too early or a mask cut to the old crop would show."""
    d, s = cuts["defaults"]["first10_after_cut"], cuts["sync"]["first10_after_cut"]
    assert d["n"] >= 5 and s["n"] >= 5, (d, s)
    assert d["iou"] >= s["iou"] - TOLERANCE, f"defaults {d}, sync {s}"

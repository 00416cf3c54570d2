"""The frame budget seen from OBS: with VBG_GPU_TIMING=1 the filter logs its GPU time per pass, and the passes
it runs are only the ones each mode needs (issue 10): the capture OBS makes for every filter, the small
downscale for the model, the composite; the blur's three small passes in Blur mode; the opacity passes only
when Grow or Feather is set; with the mask shown, one pass in place of the composite. No pass at the mask's size on the GPU (the guided filter runs on the worker), no
full-size stabilisation pass, no copy of the frame outside sync mode, and none for the motion prediction
(the worker moves the mask; the composite only places it). The downscale runs on every video frame (issue
25: every frame is analysed, so the mask is at most two frames old), as often as the composite. Without
the variable nothing is timed.

This module runs its own OBS (the variable must be in OBS's environment from the start).
"""
from __future__ import annotations

import re
import time
from typing import Iterator

import pytest

import faults as f
import obs_harness as h
from conftest import FILTER, PERSON_IMAGE

SOURCE = "Person"
LINE = re.compile(r"GPU time per pass \(median\): (?P<passes>.*); sum (?P<sum>[\d.]+) ms")
PASS = re.compile(r"(?P<name>\w+) (?P<w>\d+)x(?P<h>\d+) (?P<ms>[\d.]+) ms \(n=(?P<n>\d+)\)")
REPORT_WAIT = 40.0  # the filter reports every 10 s


@pytest.fixture(scope="module")
def obs(tmp_path_factory) -> Iterator[h.ObsInstance]:
    if not PERSON_IMAGE.exists():
        pytest.skip(f"evaluation data not found: {PERSON_IMAGE}")
    out, home, _ = f.fresh_home(tmp_path_factory, "frame-budget")
    person = f.person_png(home)
    sources = [h.obs_config.source(SOURCE, "image_source", {"file": str(person)},
                                   [h.obs_config.filter_entry(FILTER, settings={"mode": "transparent"})])]
    scenes = [h.obs_config.scene("Budget scene", [SOURCE])]
    instance = h.ObsInstance(home=home, artifacts=out, env={"VBG_GPU_TIMING": "1"},
                             config=h.ObsConfig(canvas=(640, 480), scenes=scenes, sources=sources))
    try:
        instance.start()
        yield instance
    finally:
        instance.stop()


def next_report(obs: h.ObsInstance, counts: bool = False) -> dict:
    """The passes of the next timing line the filter logs: {name: (width, height, median ms)}, or with
    `counts` {name: number of timings}."""
    before = len(obs.plugin_log_lines())
    deadline = time.monotonic() + REPORT_WAIT
    while time.monotonic() < deadline:
        for line in obs.plugin_log_lines()[before:]:
            m = LINE.search(line)
            if m:
                if counts:
                    return {p["name"]: int(p["n"]) for p in PASS.finditer(m["passes"])}
                return {p["name"]: (int(p["w"]), int(p["h"]), float(p["ms"]))
                        for p in PASS.finditer(m["passes"])}
        time.sleep(0.5)
    pytest.fail(f"no 'GPU time per pass' line within {REPORT_WAIT:.0f} s")


def settle(obs: h.ObsInstance, settings: dict) -> dict[str, tuple[int, int, float]]:
    """Applies `settings`, lets one report go by (it may straddle the change), returns the next one."""
    obs.set_filter_settings(SOURCE, FILTER, settings, reset=True)
    next_report(obs)
    return next_report(obs)


def settle_counts(obs: h.ObsInstance, settings: dict) -> dict[str, int]:
    """As `settle`, but how many times each pass was timed in the report."""
    obs.set_filter_settings(SOURCE, FILTER, settings, reset=True)
    next_report(obs)
    return next_report(obs, counts=True)


# Scene cuts (src/cut_hold.rs): each frame's 8x8 thumbnail and the one-pixel verdict against the previous
# frame's. The full-size copy held at a cut (CutCopy) runs only once the source has cut (test_cuts.py), never
# on this still picture. Not in sync mode, which keeps copies of its own.
CUT_PASSES = {"CutThumbnail", "CutVerdict"}


def test_transparent_runs_capture_downscale_and_composite_only(obs: h.ObsInstance) -> None:
    passes = settle(obs, {"mode": "transparent"})
    hgt, w = obs.screenshot(SOURCE).shape[:2]
    assert set(passes) == {"Capture", "Downscale", "Composite"} | CUT_PASSES, passes
    assert passes["Capture"][:2] == (w, hgt) and passes["Composite"][:2] == (w, hgt), passes
    assert passes["Downscale"][:2] == (256, 256), passes  # the general model's input, nothing larger
    assert passes["CutThumbnail"][:2] == (8, 8) and passes["CutVerdict"][:2] == (1, 1), passes
    assert all(ms >= 0.0 for _, _, ms in passes.values())


def test_every_frame_is_analysed(obs: h.ObsInstance) -> None:
    """One downscale per video frame, as many as composites (one view: OBS's own render of the canvas). Before
    issue 25 the frame after each hand-over was skipped: half as many."""
    counts = settle_counts(obs, {"mode": "transparent"})
    assert counts["Downscale"] >= 0.9 * counts["Composite"], counts


def test_blur_adds_three_small_passes(obs: h.ObsInstance) -> None:
    passes = settle(obs, {"mode": "blur"})
    assert set(passes) == {"Capture", "Downscale", "BlurDownsample", "Blur", "Composite"} | CUT_PASSES, passes
    cw, ch = passes["Composite"][:2]
    bw, bh = passes["Blur"][:2]
    assert bw * 4 <= cw and bh * 4 <= ch, f"blur at {bw}x{bh} for a {cw}x{ch} frame: not at low resolution"


def test_grow_and_feather_add_their_passes_only_when_set(obs: h.ObsInstance) -> None:
    passes = settle(obs, {"mode": "color", "grow": 4, "feather": 4})
    assert {"RefineMask", "Grow", "Feather"} <= set(passes), passes
    cw, ch = passes["Composite"][:2]
    # Half the output size, unless that would be coarser than the 256x256 mask (src/refine.rs).
    half = (-(-cw // 2), -(-ch // 2))
    expected = half if half[0] >= 256 and half[1] >= 256 else (cw, ch)
    assert passes["RefineMask"][:2] == expected, passes
    passes = settle(obs, {"mode": "color"})
    assert not {"RefineMask", "Grow", "Feather"} & set(passes), passes


def test_sync_mode_keeps_frames_and_only_then(obs: h.ObsInstance) -> None:
    """Sync mode keeps a copy of every frame and shows each with its own mask: no cut passes there; off, the
    cut check's two small passes instead (no copy: this still picture never cuts)."""
    passes = settle(obs, {"mode": "transparent", "sync_video": True})
    assert "KeepFrame" in passes and not CUT_PASSES & set(passes), passes
    passes = settle(obs, {"mode": "transparent"})
    assert "KeepFrame" not in passes and CUT_PASSES <= set(passes), passes


def test_the_mask_view_replaces_the_composite_and_costs_nothing_when_off(obs: h.ObsInstance) -> None:
    """"Show the mask" draws one pass instead of the composite, and in Blur mode makes no blur (nothing of
    the background is shown); off, the passes are those above (test_transparent_runs_..., test_blur_...)."""
    for view in ["mask", "overlay"]:
        passes = settle(obs, {"mode": "blur", "mask_view": view})
        assert set(passes) == {"Capture", "Downscale", "MaskView"} | CUT_PASSES, (view, passes)
    passes = settle(obs, {"mode": "blur", "mask_view": "off"})
    assert set(passes) == {"Capture", "Downscale", "BlurDownsample", "Blur", "Composite"} | CUT_PASSES, passes

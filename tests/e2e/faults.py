"""Shared parts of the reliability suite (test_faults*.py, test_scale.py, test_long_run.py): pictures and
ONNX models made for the cases, the checks every fault case makes, and the table of results.

Every fault case checks the same clauses (issue 5):
- OBS keeps answering over obs-websocket;
- the output is passthrough (equal to a screenshot with the filter disabled) or the correct composite;
- exactly one plugin log line names the fault, after many frames (none per frame);
- the status line explains, and GetFilterStatus (the plugin's obs-websocket vendor request) reports the
  fault with its reason;
- correcting the setting brings the mask back.
"""
from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

import obs_harness as h
from conftest import PERSON_IMAGE, PLUGIN_ROOT_REL

FILTER = "Virtual Background"
ARTIFACTS = h.REPO / "artifacts" / "faults"  # not under artifacts/e2e, which conftest.py clears
PASSTHROUGH_TOL = 2
WAIT = 45.0  # a model load plus a few frames, on a loaded 2-core machine
HOLD = 2.0  # seconds of rendering after a fault before checking again (~60 frames at 30 fps)
MIN_FRAMES = 20  # frames OBS must render during HOLD (it is not frozen)
NOT_WORKING = "Not working, video passes through unchanged"
# The plugin's lines that report a fault (worker, picture loader, a caught panic).
FAULT_LINE = re.compile(r"passing video through unchanged|background image not shown|background source not shown|"
                        r"internal error")
IOU_MIN = 0.85
COLOUR_TOL = 2
MODEL_SIZE = 64

RESULTS: list[dict] = []


def fresh_home(tmp_path_factory, name: str) -> tuple[Path, Path, Path]:
    """A test module's own OBS home with the plugin installed: (its artefacts folder, home, plugin root)."""
    out = ARTIFACTS / name
    out.mkdir(parents=True, exist_ok=True)
    home = tmp_path_factory.mktemp(f"obs-{name}-home")
    plugin_root = home / PLUGIN_ROOT_REL
    h.install_plugin(plugin_root, out / "install-plugin.txt")
    return out, home, plugin_root


def person_png(home: Path) -> Path:
    """The evaluation person photo saved as PNG in `home` (OBS decodes JPEG with FFmpeg, unlike the tests)."""
    person = home / "person.png"
    Image.open(PERSON_IMAGE).convert("RGB").save(person)
    return person


def record(case: str, checked: str, result: str, file: str = "results.json") -> None:
    """Adds a row to the results (printed at the end of the pytest run, and saved under `file`)."""
    RESULTS.append({"case": case, "checked": checked, "result": result})
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    RESULTS[-1]["file"] = file
    rows = [r for r in RESULTS if r["file"] == file]
    (ARTIFACTS / file).write_text(json.dumps(rows, indent=2) + "\n")


# ---- inputs ------------------------------------------------------------------------------------------
def halves_picture(path: Path, size: tuple[int, int]) -> None:
    """Left half white, right half black: with the identity model, left = person, right = background."""
    w, hgt = size
    a = np.zeros((hgt, w, 3), np.uint8)
    a[:, : (w + 1) // 2] = 255
    Image.fromarray(a).save(path)


def solid_picture(path: Path, size: tuple[int, int], rgb: tuple[int, int, int]) -> None:
    Image.new("RGB", size, rgb).save(path)


def identity_model(path: Path, size: int = MODEL_SIZE) -> None:
    """mask = the red channel: a white pixel is person, a black one background."""
    h.save_first_channel_model(path, size, [("Identity", ["first_channel"], ["segment"])], {}, "identity")


def slow_model(path: Path, matmuls: int, size: int = MODEL_SIZE) -> None:
    """The identity model plus a chain of `matmuls` 1024x1024 matrix products that depends on the input (so
    ONNX Runtime cannot fold it away) and adds 0 to the mask: inference takes long, the mask stays exact."""
    n = 1024
    reps = n // size
    nodes = [("Reshape", ["first_channel", "square"], ["m0"]), ("Tile", ["m0", "repeats"], ["x0"])]
    for i in range(matmuls):
        nodes.append(("MatMul", [f"x{i}", "a"], [f"x{i + 1}"]))
    nodes += [("ReduceMean", [f"x{matmuls}"], ["mean"]), ("Mul", ["mean", "zero"], ["nothing"]),
              ("Add", ["first_channel", "nothing"], ["segment"])]
    h.save_first_channel_model(path, size, nodes, {
        "square": np.array([size, size], np.int64), "repeats": np.array([reps, reps], np.int64),
        "a": np.eye(n, dtype=np.float32), "zero": np.array(0.0, np.float32)}, "slow")


# ---- checks --------------------------------------------------------------------------------------------
@dataclass
class Fault:
    """What one fault case measured."""
    passthrough_s: float
    frames: int
    status: str
    line: str


def without_log_file_doubles(obs: h.ObsInstance, lines: list[str]) -> list[str]:
    """`lines` with an exact repeat (same timestamp, same text) dropped when OBS's own stdout carries that line
    once: OBS 29's log file writer sometimes writes a line twice when two threads log in the same instant
    (seen in CI on 5 December 2026: our fault line and OBS's own "Switched to scene" both doubled in the file,
    each once on stdout; again with the image loader's and the worker's lines at one instant). A real second
    line from the plugin is on stdout twice and is kept."""
    stdout = (obs.artifacts / "obs-stdout.txt").read_text(errors="replace")
    kept: list[str] = []
    for line in lines:
        text = line.split(": ", 1)[-1]
        if line in kept and stdout.count(text) == 1:
            continue
        kept.append(line)
    return kept


def expect_fault(obs: h.ObsInstance, source: str, reference: np.ndarray, settings: dict,
                 words: list[str], reset: bool = True, since: int | None = None) -> Fault:
    """Apply `settings`; the output must become passthrough and stay so while OBS renders many frames;
    OBS answers; the status names the fault (all of `words`); exactly one plugin log line reports it, counted
    from now or from line `since` of the plugin's lines (a fault present since start-up)."""
    before = len(obs.plugin_log_lines()) if since is None else since
    obs.set_filter_settings(source, FILTER, settings, reset=reset)
    ok, diff, secs = h.wait_until(lambda: h.max_diff(obs.screenshot(source), reference),
                                  lambda d: d <= PASSTHROUGH_TOL, WAIT, consecutive=3)
    assert ok, f"not passthrough after {secs:.0f}s (max diff {diff})"
    frames0 = obs.rendered_frames()
    time.sleep(HOLD)
    frames = obs.rendered_frames() - frames0
    assert frames >= MIN_FRAMES, f"OBS rendered only {frames} frames in {HOLD}s"
    assert h.max_diff(obs.screenshot(source), reference) <= PASSTHROUGH_TOL, "passthrough did not last"
    assert obs.answers(), "OBS stopped answering"
    ok, full, _ = h.wait_until(lambda: obs.filter_status(source, FILTER),
                               lambda st: str(st.get("statusText", "")).startswith(NOT_WORKING)
                               and all(w in st.get("statusText", "") for w in words), 10, consecutive=1)
    status = str(full.get("statusText", ""))
    assert ok, f"status does not explain the fault ({words}): {full!r}"
    # The same reason as data, for remote tools (GetFilterStatus).
    fault = full.get("fault") or {}
    assert full.get("state") == "failed" and all(w in fault.get("reason", "") for w in words), \
        f"GetFilterStatus does not report the fault ({words}) as data: {full!r}"
    new = without_log_file_doubles(obs, obs.plugin_log_lines()[before:])
    faults = [line for line in new if FAULT_LINE.search(line)]
    assert len(faults) == 1, f"expected exactly one fault line, got {len(faults)}:\n" + "\n".join(new)
    assert all(w in faults[0] for w in words), f"the log line does not name the fault ({words}): {faults[0]}"
    assert len(new) - (0 if since is None else len([l for l in new if not FAULT_LINE.search(l)])) <= 3, \
        f"{len(new)} plugin lines for one fault:\n" + "\n".join(new[:20])
    return Fault(passthrough_s=secs, frames=frames, status=status, line=short_reason(faults[0]))


def short_reason(line: str) -> str:
    """A log line's reason without the prefixes and with file names for paths, for the results table."""
    reason = re.split(r"unchanged: |not shown: |background colour: ", line, maxsplit=1)[-1]
    return re.sub(r"(?<![\w.])/(?:[^\s/:]+/)+", "", reason)


def colour_iou(shot: np.ndarray, colour: tuple[int, int, int], gt: np.ndarray) -> float:
    return h.iou(~h.is_colour(shot, colour, COLOUR_TOL), gt)


def expect_colour_mask(obs: h.ObsInstance, source: str, gt: np.ndarray, colour: tuple[int, int, int],
                       settings: dict | None = None, wait: float = WAIT) -> float:
    """Color mode (or any settings whose background is `colour`): the person is found again (IoU against the
    ground truth). Returns the seconds it took."""
    if settings is not None:
        obs.set_filter_settings(source, FILTER, settings, reset=True)
    ok, score, secs = h.wait_until(lambda: colour_iou(obs.screenshot(source), colour, gt),
                                   lambda v: v >= IOU_MIN, wait)
    assert ok, f"mask not back after {secs:.0f}s (IoU {score:.3f})"
    ok, full, _ = h.wait_until(lambda: obs.filter_status(source, FILTER),
                               # Source mode's refusals show the colour on purpose: a fault, but no passthrough.
                               lambda st: st.get("state") == "ready"
                               and st.get("fault", {}).get("kind") in (None, "background")
                               and not str(st.get("statusText", NOT_WORKING)).startswith(NOT_WORKING), 10,
                               consecutive=1)
    assert ok, f"status does not say the filter works: {full!r}"
    return secs


def halves_ok(shot: np.ndarray, colour: tuple[int, int, int], tol: int = 8) -> bool:
    """The identity model's correct composite of `halves_picture`: the left (white, person) half kept, the
    right (black, background) half replaced by `colour`. Pixels near the middle and the borders are left
    out (the mask is 64x64 and upsampled)."""
    hgt, w = shot.shape[:2]
    if w < 16 or hgt < 4:
        return True
    x0, x1 = int(w * 0.1), int(w * 0.4)
    x2, x3 = int(w * 0.6), int(w * 0.9)
    y0, y1 = int(hgt * 0.1), max(int(hgt * 0.9), int(hgt * 0.1) + 1)
    left = shot[y0:y1, x0:x1, :3].astype(np.int16)
    right = shot[y0:y1, x2:x3, :3].astype(np.int16)
    return bool(np.abs(left - 255).max() <= tol and np.abs(right - np.array(colour)).max() <= tol)

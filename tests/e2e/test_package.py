"""End-to-end test of the system-wide install (the .deb): OBS finds the plugin in Debian's plugin folder,
with no per-user copy, and the plugin finds its private ONNX Runtime through its RUNPATH.

Runs only with VBG_SYSTEM_INSTALL=1, after the package has been installed (scripts/test-package does:
build, dpkg -i, this test, dpkg --purge). Its OBS has its own temporary HOME and never installs the
per-user plugin.
"""
from __future__ import annotations

import os
import re

import pytest
from PIL import Image

import obs_harness as h
from conftest import ARTIFACTS, FILTER, PERSON_IMAGE, PERSON_MASK

pytestmark = pytest.mark.skipif(os.environ.get("VBG_SYSTEM_INSTALL") != "1",
                                reason="tests the system-wide install: run by scripts/test-package")

IOU_MIN = 0.85
COLOUR_TOL = 2
SOURCE = "Person"
RUNTIME = h.SYSTEM_PLUGIN_DIR / h.PLUGIN / "libonnxruntime.so.1.31.1"


@pytest.fixture(scope="module")
def obs(tmp_path_factory):
    if not (PERSON_IMAGE.exists() and PERSON_MASK.exists()):
        pytest.skip(f"evaluation data not found: {PERSON_IMAGE}")
    assert h.host_path(h.SYSTEM_PLUGIN).is_file(), f"{h.SYSTEM_PLUGIN} is not installed"
    home = tmp_path_factory.mktemp("obs-home-system")
    person = home / "person.png"
    Image.open(PERSON_IMAGE).convert("RGB").save(person)
    artifacts = ARTIFACTS.parent / "package"
    instance = h.ObsInstance(home=home, artifacts=artifacts, config=h.ObsConfig(
        canvas=Image.open(PERSON_IMAGE).size,
        scenes=[h.obs_config.scene("Person scene", [SOURCE])],
        sources=[h.obs_config.source(SOURCE, "image_source", {"file": str(person)},
                                     [h.obs_config.filter_entry(FILTER)])]))
    try:
        instance.start()
        yield instance
    finally:
        instance.stop()


def test_no_per_user_copy(obs: h.ObsInstance) -> None:
    assert not (obs.config_dir / "plugins").exists(), "a per-user plugin folder exists in the test HOME"


def test_filter_loads_from_the_system_plugin_folder(obs: h.ObsInstance) -> None:
    lines = [l for l in obs.plugin_log_lines() if "loaded version" in l]
    assert lines, "the plugin did not load:\n" + obs.stdout_tail()
    assert f"from {h.SYSTEM_PLUGIN}" in lines[0], lines[0]


def test_color_mode_from_the_system_install(obs: h.ObsInstance) -> None:
    obs.set_filter_enabled(SOURCE, FILTER, False)
    reference = obs.wait_for_picture(SOURCE)
    obs.set_filter_enabled(SOURCE, FILTER, True)
    gt = h.load_mask(PERSON_MASK, (reference.shape[1], reference.shape[0]))
    colour = h.pick_absent_colour(reference, COLOUR_TOL + 8)
    obs.set_filter_settings(SOURCE, FILTER, {"mode": "color", "color": h.colour_to_obs(colour)}, reset=True)

    def measure():
        shot = obs.screenshot(SOURCE)
        return h.iou(~h.is_colour(shot, colour, COLOUR_TOL), gt), shot

    ok, (score, shot), secs = h.wait_until(measure, lambda v: v[0] >= IOU_MIN, 90.0)
    h.save_png(shot, obs.artifacts / "system-color.png")
    assert ok, f"Color mode from the system install: IoU {score:.3f} < {IOU_MIN} after {secs:.0f}s"
    # The model came from the system data folder.
    models = [l for l in obs.plugin_log_lines() if re.search(r"\] loaded /", l)]
    assert models and str(h.SYSTEM_DATA_DIR / "models") in models[-1], models


def test_runtime_found_through_the_runpath(obs: h.ObsInstance) -> None:
    lines = [l for l in obs.plugin_log_lines() if "ONNX Runtime loaded from" in l]
    assert lines, "ONNX Runtime did not load"
    assert f"ONNX Runtime loaded from {RUNTIME} (found through the plugin's RUNPATH)" in lines[0], lines[0]


def test_status_over_obs_websocket_from_the_system_install(obs: h.ObsInstance) -> None:
    """In the system folder the plugin loads before obs-websocket (by name); the per-user tests have the
    other order. The vendor is registered once every module has loaded, so both work."""
    first = h.loads_before_obs_websocket(obs.log_text())
    print(f"the plugin loaded {'before' if first else 'after'} obs-websocket")
    assert first is not None, "the plugin or obs-websocket did not load"
    status = obs.filter_status(SOURCE, FILTER)
    assert status["sourceName"] == SOURCE and status["state"] in ("loading", "ready"), status
    assert [f["sourceName"] for f in obs.vendor_request("ListFilters")["filters"]] == [SOURCE]


def test_unavailable_device_falls_back_to_cpu(obs: h.ObsInstance) -> None:
    before = len(obs.plugin_log_lines())
    obs.set_filter_settings(SOURCE, FILTER, {"mode": "transparent", "device": "cuda"}, reset=True)
    ok, lines, _ = h.wait_until(lambda: obs.plugin_log_lines()[before:],
                                lambda new: any("running on CPU" in l for l in new), 30.0, consecutive=1)
    assert ok, "no fallback line:\n" + "\n".join(lines)
    ok, share, _ = h.wait_until(lambda: float((obs.screenshot(SOURCE)[..., 3] < 128).mean()),
                                lambda v: 0.1 < v < 0.9, 30.0)
    assert ok, f"the CPU fallback gives no mask ({share:.1%} of the picture transparent)"


def test_shutdown_is_clean(obs: h.ObsInstance) -> None:
    _, code = obs.stop(timeout=10)
    assert code == 0, f"OBS exit code {code}"
    assert f"{h.LOG_PREFIX} unloaded" in obs.log_text()
    assert not list((obs.config_dir / "crashes").glob("*")), "OBS wrote crash reports"

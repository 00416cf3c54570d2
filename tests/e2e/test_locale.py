"""The filter in the user's language (issue 36): a real OBS started in Polish (a language with several plural
forms) shows the filter's status line in Polish, read back through obs-websocket as every e2e test reads it.

- The status line at work is the Polish template, filled in; the mask view's warning is Polish, with the
  Polish names of the setting and its choice.
- A fault's reason, built in English by the code (or ONNX Runtime), stands inside the Polish sentence, and
  GetFilterStatus's `fault.reason` stays English for scripts.
- A key the Polish file lacks falls back to en-US's text (OBS loads en-US first, then the language over it):
  the test removes "Status.Synced" from the installed pl-PL.ini, and sync mode's part of the line is English.

This module runs its own OBS.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Iterator

import pytest
from PIL import Image

import obs_harness as h
from conftest import ARTIFACTS, FILTER, PERSON_IMAGE, PLUGIN_ROOT_REL, SYSTEM_INSTALL

REPO = h.REPO

LANGUAGE = "pl-PL"
REMOVED = "Status.Synced"  # taken out of the installed Polish file: en-US's must show
SOURCE = "Osoba"
OUT = ARTIFACTS / "locale"
FIRST_WAIT = 90.0
WAIT = 30.0


def read_locale(path: Path) -> dict[str, str]:
    entries = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if "=" in line:
            key, value = line.split("=", 1)
            entries[key] = value.strip().removeprefix('"').removesuffix('"')
    return entries


def template(text: str) -> re.Pattern:
    """A locale value as a pattern: its placeholders match anything."""
    parts = re.split(r"%\d+", text)
    return re.compile(".*".join(re.escape(p) for p in parts), re.S)


@pytest.fixture(scope="module")
def polish(tmp_path_factory) -> Iterator[h.ObsInstance]:
    if not PERSON_IMAGE.exists():
        pytest.skip(f"evaluation data not found: {PERSON_IMAGE}")
    if SYSTEM_INSTALL:
        pytest.skip("installs its own per-user copy (to take a key out of its Polish file): not beside the .deb")
    OUT.mkdir(parents=True, exist_ok=True)
    home = tmp_path_factory.mktemp("obs-locale-home")
    plugin_root = home / PLUGIN_ROOT_REL
    h.install_plugin(plugin_root, OUT / "install-plugin.txt")
    installed = plugin_root / "data" / "locale" / f"{LANGUAGE}.ini"
    lines = installed.read_text(encoding="utf-8").splitlines(keepends=True)
    installed.write_text("".join(line for line in lines if not line.startswith(f"{REMOVED}=")), encoding="utf-8")
    person = home / "person.png"
    Image.open(PERSON_IMAGE).convert("RGB").save(person)  # OBS decodes JPEG with FFmpeg, PNG as the tests do
    sources = [h.obs_config.source(SOURCE, "image_source", {"file": str(person)},
                                   [h.obs_config.filter_entry(FILTER, settings={"mode": "transparent"})])]
    obs = h.ObsInstance(home=home, artifacts=OUT,
                        config=h.ObsConfig(canvas=(640, 360), sources=sources, language=LANGUAGE,
                                           scenes=[h.obs_config.scene("Scena", [SOURCE])]))
    try:
        obs.start()
        yield obs
    finally:
        obs.stop()


POLISH = read_locale(REPO / "data" / "locale" / f"{LANGUAGE}.ini")
ENGLISH = read_locale(REPO / "data" / "locale" / "en-US.ini")


def status_when(obs: h.ObsInstance, settings: dict, good, timeout: float = WAIT) -> dict:
    obs.set_filter_settings(SOURCE, FILTER, settings, reset=True)
    ok, status, secs = h.wait_until(lambda: obs.filter_status(SOURCE, FILTER), good, timeout, consecutive=1)
    assert ok, f"after {secs:.0f}s with {settings}: {status}"
    return status


def test_the_status_line_is_polish(polish: h.ObsInstance) -> None:
    ready, idle = template(POLISH["Status.Ready"]), template(POLISH["Status.Idle"])
    status = status_when(polish, {"mode": "transparent"}, lambda st: st.get("state") == "ready"
                         and st.get("maskLagFrames") is not None, FIRST_WAIT)
    text = status["statusText"]
    assert ready.fullmatch(text) or idle.fullmatch(text), f"not the Polish template: {text!r}"
    assert template(POLISH["Status.Behind"]).search(text), text
    for english in ["ms per mask", "masks per second", "behind the video"]:
        assert english not in text, f"English left in the Polish line: {text!r}"


def test_the_mask_view_warning_is_polish(polish: h.ObsInstance) -> None:
    status = status_when(polish, {"mask_view": "mask"}, lambda st: st.get("maskView") == "mask")
    expected = POLISH["Status.MaskView"].replace("%1", POLISH["MaskView"]).replace("%2", POLISH["MaskView.off"])
    assert status["statusText"].startswith(expected), status["statusText"]


def test_a_fault_reads_in_polish_with_its_english_reason(polish: h.ObsInstance) -> None:
    missing = "/nonexistent/model.onnx"
    status = status_when(polish, {"model": "custom", "model_path": missing},
                         lambda st: st.get("state") == "failed" and st.get("fault"))
    reason = status["fault"]["reason"]
    assert missing in reason and re.search(r"[A-Za-z]{3}", reason), f"fault.reason is English: {reason!r}"
    assert status["statusText"] == POLISH["Status.Error"].replace("%1", reason), status["statusText"]
    status_when(polish, {}, lambda st: st.get("state") == "ready", FIRST_WAIT)


def test_a_key_missing_from_the_language_falls_back_to_en_us(polish: h.ObsInstance) -> None:
    status = status_when(polish, {"sync_video": True}, lambda st: st.get("maskSynced") is True, FIRST_WAIT)
    text = status["statusText"]
    assert template(ENGLISH[REMOVED]).search(text), f"en-US's {REMOVED} missing from {text!r}"
    ready, idle = template(POLISH["Status.Ready"]), template(POLISH["Status.Idle"])
    assert ready.fullmatch(text) or idle.fullmatch(text), f"the rest is no longer Polish: {text!r}"

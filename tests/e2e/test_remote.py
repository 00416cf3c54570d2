"""The filter's status over obs-websocket: the plugin's vendor "obs-virtual-background".

- GetFilterStatus and ListFilters answer for every filter (model, device, speed, lag, mode, fault), and
  errors for names that are not our filter;
- nothing but OBS writes the filter's settings: no `status_text` key, and a saved filter that carries one
  (from an earlier release) loads and drops it;
- FilterStatusChanged reaches a client subscribed to vendor events when a bad model is set (fault with its
  reason) and when it is fixed (model ready, no fault);
- stress: 200 settings changes over one connection while a second polls GetFilterStatus every 10 ms: no
  crash, no error line, and the correct composite after;
- without obs-websocket (its module hidden from this OBS) the plugin loads, works and logs one info line.

This module runs its own OBS.
"""
from __future__ import annotations

import queue
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np
import pytest
from PIL import Image

import obs_harness as h
from conftest import ARTIFACTS, FILTER, PERSON_IMAGE, PERSON_MASK, PLUGIN_ROOT_REL
from faults import NOT_WORKING, colour_iou

OUT = ARTIFACTS / "remote"
PERSON = "Person"
SAMPLE = "Sample"
PLAIN = "Plain"  # a source without our filter
COLOUR = (255, 0, 255)
WAIT = 90.0
IOU_MIN = 0.85
STRESS_CHANGES = 200
POLL_INTERVAL = 0.010
CHANGE_INTERVAL = 0.020
NO_WEBSOCKET_LINE = "obs-websocket not found"


@dataclass(repr=False)
class RemoteEnv:
    obs: h.ObsInstance
    home: Path
    gt: np.ndarray


def person_files(home: Path) -> tuple[Path, Path]:
    if not (PERSON_IMAGE.exists() and PERSON_MASK.exists()):
        pytest.skip(f"the person photo is missing ({PERSON_IMAGE})")
    photo = home / "person.png"
    Image.open(PERSON_IMAGE).convert("RGB").save(photo)
    return photo, h.REPO / "data" / "sample" / "astronaut.png"


def config(photo: Path, sample: Path) -> h.ObsConfig:
    # The Person filter was saved by an earlier release, which kept its status line in the settings.
    old = h.obs_config.filter_entry(FILTER, settings={"mode": "color", "color": h.colour_to_obs(COLOUR),
                                                      "status_text": "Starting (saved by an old release)"})
    sources = [h.obs_config.source(PERSON, "image_source", {"file": str(photo)}, [old]),
               h.obs_config.source(SAMPLE, "image_source", {"file": str(sample)},
                                   [h.obs_config.filter_entry(FILTER, settings={"mode": "blur"})]),
               h.obs_config.source(PLAIN, "image_source", {"file": str(sample)})]
    return h.ObsConfig(canvas=Image.open(photo).size, sources=sources,
                       scenes=[h.obs_config.scene("Remote scene", [PERSON]),
                               h.obs_config.scene("Other scene", [SAMPLE, PLAIN])])


@pytest.fixture(scope="module")
def remote(tmp_path_factory) -> Iterator[RemoteEnv]:
    OUT.mkdir(parents=True, exist_ok=True)
    home = tmp_path_factory.mktemp("obs-remote-home")
    h.install_plugin(home / PLUGIN_ROOT_REL, OUT / "install-plugin.txt")
    photo, sample = person_files(home)
    obs = h.ObsInstance(home=home, artifacts=OUT, config=config(photo, sample))
    try:
        obs.start()
        yield RemoteEnv(obs=obs, home=home, gt=h.load_mask(PERSON_MASK, Image.open(photo).size))
    finally:
        obs.stop()


def ready(obs: h.ObsInstance, source: str) -> dict:
    ok, status, secs = h.wait_until(lambda: obs.filter_status(source, FILTER),
                                    lambda s: s.get("state") == "ready" and s.get("maskLagFrames") is not None
                                    and s.get("masksPerSecond", 0) > 0,  # counted over whole seconds
                                    WAIT, interval=0.2, consecutive=2)
    assert ok, f"{source}: not ready with a mask after {secs:.0f}s: {status}"
    return status


def plugin_errors(obs: h.ObsInstance) -> list[str]:
    return [l for l in obs.plugin_log_lines() if "error" in l.lower() or "panic" in l.lower()
            or "passing video through" in l]


# First, before the module's OBS starts: two OBS instances loading models would share the two cores.
def test_without_obs_websocket_the_plugin_works_and_says_so(tmp_path_factory) -> None:
    if not h.OBS_WEBSOCKET.exists():
        pytest.skip(f"{h.OBS_WEBSOCKET} not installed: nothing to hide")
    if not h.can_hide_files():
        pytest.skip("cannot hide obs-websocket from OBS here (needs root and a private mount namespace)")
    home = tmp_path_factory.mktemp("obs-no-websocket-home")
    out = OUT / "no-websocket"
    out.mkdir(parents=True, exist_ok=True)
    h.install_plugin(home / PLUGIN_ROOT_REL, out / "install-plugin.txt")
    photo, sample = person_files(home)
    obs = h.ObsInstance(home=home, artifacts=out, config=config(photo, sample), hide=[h.OBS_WEBSOCKET],
                        connect=False)
    try:
        obs.start()
        ok, lines, secs = h.wait_until(obs.plugin_log_lines,
                                       lambda ls: sum("model ready" in l for l in ls) >= 2, WAIT, consecutive=1)
        assert ok, f"the filters did not load their models without obs-websocket in {secs:.0f}s:\n" + "\n".join(lines)
        time.sleep(2.0)
    finally:
        _, code = obs.stop(timeout=20)
    lines = [l for l in (out / "obs-log.txt").read_text(errors="replace").splitlines() if h.LOG_PREFIX in l]
    said = [l for l in lines if NO_WEBSOCKET_LINE in l]
    print("\n".join(said))
    assert len(said) == 1, f"expected one line saying obs-websocket is missing:\n" + "\n".join(lines)
    assert not [l for l in lines if "error" in l.lower() or "panic" in l.lower()], "\n".join(lines)
    assert code == 0, f"OBS did not exit cleanly without obs-websocket ({code})"


def test_filter_status_and_the_list_of_filters(remote: RemoteEnv) -> None:
    obs = remote.obs
    status = ready(obs, PERSON)
    # Per user, the plugin loads after obs-websocket; the package test covers the other order.
    print(f"the plugin loaded {'before' if h.loads_before_obs_websocket(obs.log_text()) else 'after'} obs-websocket")
    print("GetFilterStatus:", status)
    assert status["sourceName"] == PERSON and status["filterName"] == FILTER
    assert status["mode"] == "color" and status["device"] == "cpu" and status["model"]
    assert status["msPerMask"] > 0 and status["masksPerSecond"] > 0 and status["maskLagFrames"] >= 0
    assert "fault" not in status and status["statusText"].startswith(status["model"]), status
    assert status["maskSynced"] is False  # sync mode is off by default
    assert status["enabled"] is True
    obs.set_filter_enabled(PERSON, FILTER, False)
    assert obs.filter_status(PERSON, FILTER)["enabled"] is False
    obs.set_filter_enabled(PERSON, FILTER, True)

    listed = obs.vendor_request("ListFilters")["filters"]
    print("ListFilters:", [(f["sourceName"], f["filterName"], f["state"]) for f in listed])
    assert sorted((f["sourceName"], f["filterName"], f["mode"]) for f in listed) == \
        [(PERSON, FILTER, "color"), (SAMPLE, FILTER, "blur")]

    for source, filt, error in ((PERSON, "No such filter", "no filter named"), ("No such source", FILTER, "no source"),
                                (PLAIN, FILTER, "no filter named")):
        answer = obs.vendor_request("GetFilterStatus", {"sourceName": source, "filterName": filt})
        assert error in answer.get("error", ""), f"{source}/{filt}: {answer}"
    # A filter of another kind is not ours.
    obs.request("CreateSourceFilter", {"sourceName": PLAIN, "filterName": "CC", "filterKind": "color_filter_v2"})
    answer = obs.vendor_request("GetFilterStatus", {"sourceName": PLAIN, "filterName": "CC"})
    assert "not a Virtual Background filter" in answer.get("error", ""), answer
    obs.request("RemoveSourceFilter", {"sourceName": PLAIN, "filterName": "CC"})


def test_nothing_but_obs_writes_the_settings(remote: RemoteEnv) -> None:
    obs = remote.obs
    ready(obs, PERSON)
    # The key saved by an old release was dropped on load, and state changes write none.
    for source in (PERSON, SAMPLE):
        settings = obs.filter_settings(source, FILTER)
        assert "status_text" not in settings, f"{source}: {settings}"
    obs.set_filter_settings(PERSON, FILTER, {"mode": "transparent"})
    time.sleep(1.0)
    assert set(obs.filter_settings(PERSON, FILTER)) <= {"mode", "color"}, obs.filter_settings(PERSON, FILTER)
    obs.set_filter_settings(PERSON, FILTER, {"mode": "color", "color": h.colour_to_obs(COLOUR)}, reset=True)


def test_status_changes_are_announced(remote: RemoteEnv) -> None:
    import obsws_python
    from obsws_python.subs import Subs

    obs = remote.obs
    ready(obs, PERSON)
    events: queue.Queue = queue.Queue()
    listener = obsws_python.EventClient(host="127.0.0.1", port=obs.port, subs=Subs.VENDORS, timeout=10)

    def on_vendor_event(data) -> None:
        if data.vendor_name == h.VENDOR and data.event_type == "FilterStatusChanged":
            events.put(data.event_data)

    listener.callback.register(on_vendor_event)
    try:
        time.sleep(0.5)  # subscribed before the change

        def expect(predicate, what: str) -> dict:
            deadline = time.monotonic() + WAIT
            seen = []
            while time.monotonic() < deadline:
                try:
                    e = events.get(timeout=0.5)
                except queue.Empty:
                    continue
                seen.append(e)
                if e.get("sourceName") == PERSON and predicate(e):
                    return e
            raise AssertionError(f"no FilterStatusChanged {what} within {WAIT:.0f}s; saw {seen}")

        broken = remote.home / "broken.onnx"
        broken.write_bytes(b"not an ONNX model")
        obs.set_filter_settings(PERSON, FILTER, {"model": "custom", "model_path": str(broken)})
        failed = expect(lambda e: e.get("state") == "failed" and "broken.onnx" in e.get("fault", {}).get("reason", ""),
                        "with the bad model's fault")
        print("fault announced:", failed)
        assert failed["fault"]["kind"] == "model" and failed["statusText"].startswith(NOT_WORKING), failed
        obs.set_filter_settings(PERSON, FILTER, {"model": "selfie_general", "model_path": ""})
        fixed = expect(lambda e: e.get("state") == "ready" and "fault" not in e, "with the model ready again")
        print("recovery announced:", fixed)
        assert fixed["filterName"] == FILTER and fixed["model"], fixed
    finally:
        listener.disconnect()
        obs.set_filter_settings(PERSON, FILTER, {"mode": "color", "color": h.colour_to_obs(COLOUR)}, reset=True)


def test_settings_changed_200_times_while_polled_every_10_ms(remote: RemoteEnv) -> None:
    import obsws_python

    obs = remote.obs
    ready(obs, PERSON)
    errors_before = len(plugin_errors(obs))
    poller = obsws_python.ReqClient(host="127.0.0.1", port=obs.port, timeout=10)
    stop = threading.Event()
    polls, failures = [], []

    def poll() -> None:
        while not stop.is_set():
            try:
                r = poller.send("CallVendorRequest", {"vendorName": h.VENDOR, "requestType": "GetFilterStatus",
                                                      "requestData": {"sourceName": PERSON, "filterName": FILTER}},
                                raw=True)
                polls.append(r["responseData"]["state"])
            except Exception as e:  # noqa: BLE001  (any failure is a result)
                failures.append(repr(e))
            time.sleep(POLL_INTERVAL)

    thread = threading.Thread(target=poll, daemon=True)
    started = time.monotonic()
    thread.start()
    modes = ["color", "blur", "transparent", "image", "source", "color"]
    try:
        for i in range(STRESS_CHANGES):
            settings = {"mode": modes[i % len(modes)], "color": h.colour_to_obs(COLOUR),
                        "threshold": 0.3 + 0.4 * (i % 7) / 6, "blur_strength": 1 + (i * 13) % 100,
                        "follow_person": i % 3 != 0, "temporal_smoothing": (i % 10) / 10.5}
            obs.set_filter_settings(PERSON, FILTER, settings)
            time.sleep(CHANGE_INTERVAL)  # a user dragging sliders, not a flood: polls land between changes
    finally:
        took = time.monotonic() - started
        stop.set()
        thread.join(10)
        poller.disconnect()
    print(f"{STRESS_CHANGES} settings changes in {took:.1f}s; {len(polls)} GetFilterStatus answers "
          f"({len(polls) / took:.0f}/s), {len(failures)} failed; states seen {sorted(set(polls))}")
    assert not failures, failures[:5]
    assert len(polls) >= STRESS_CHANGES, f"only {len(polls)} polls in {took:.1f}s"
    assert obs.answers(), "OBS stopped answering"
    # Back to Color mode: the composite is right.
    obs.set_filter_settings(PERSON, FILTER, {"mode": "color", "color": h.colour_to_obs(COLOUR)}, reset=True)
    ok, score, secs = h.wait_until(lambda: colour_iou(obs.screenshot(PERSON), COLOUR, remote.gt),
                                   lambda v: v >= IOU_MIN, WAIT)
    assert ok, f"the composite is wrong after the stress (IoU {score:.3f} after {secs:.0f}s)"
    assert len(plugin_errors(obs)) == errors_before, "\n".join(plugin_errors(obs))

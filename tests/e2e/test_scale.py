"""Reliability, part 3: many filters, churn, settings storms and shutting OBS down mid-inference.

Its own OBS: eight image sources ("Pattern 1".."Pattern 8", a left-white, right-black picture) in one scene,
each with the filter running the identity model (mask = red channel) in Color mode, so every correct
composite is known exactly. The last test stops OBS with SIGINT while a deliberately slow model (a chain
of 1024x1024 matrix products, about a second per mask) is inside inference.
"""
from __future__ import annotations

import random
import signal
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import pytest

import faults as f
import obs_harness as h
import shutdown
from faults import FILTER

GREEN = (0, 255, 0)
SIZE = (320, 240)
N = 8
SOURCES = [f"Pattern {i + 1}" for i in range(N)]
SCENE = "Scale scene"
SLOW_MATMULS = 60


@dataclass(repr=False)
class Env:
    obs: h.ObsInstance
    home: Path
    identity: Path
    slow: Path
    threads0: int  # plugin threads with the eight filters running

    def settings(self) -> dict:
        return {"mode": "color", "color": h.colour_to_obs(GREEN), "model": "custom",
                "model_path": str(self.identity), "temporal_smoothing": 0.0}


def all_correct(obs: h.ObsInstance, sources: list[str]) -> bool:
    return all(f.halves_ok(obs.screenshot(s), GREEN) for s in sources)


@pytest.fixture(scope="module")
def env(tmp_path_factory) -> Iterator[Env]:
    out, home, _ = f.fresh_home(tmp_path_factory, "scale")
    identity = home / "identity.onnx"
    f.identity_model(identity)
    slow = home / "slow.onnx"
    f.slow_model(slow, SLOW_MATMULS)
    picture = home / "halves.png"
    f.halves_picture(picture, SIZE)
    settings = {"mode": "color", "color": h.colour_to_obs(GREEN), "model": "custom",
                "model_path": str(identity), "temporal_smoothing": 0.0}
    sources = [h.obs_config.source(name, "image_source", {"file": str(picture)},
                                   [h.obs_config.filter_entry(FILTER, settings=settings)]) for name in SOURCES]
    obs = h.ObsInstance(home=home, artifacts=out,
                        config=h.ObsConfig(canvas=(640, 480), scenes=[h.obs_config.scene(SCENE, SOURCES)],
                                           sources=sources))
    try:
        obs.start()
        ok, _, secs = h.wait_until(lambda: all_correct(obs, SOURCES), bool, 90)
        assert ok, "the eight filters did not all show the correct composite"
        yield Env(obs=obs, home=home, identity=identity, slow=slow, threads0=obs.plugin_threads())
    finally:
        obs.stop()


def fault_lines(obs: h.ObsInstance, since: int) -> list[str]:
    return [line for line in obs.plugin_log_lines()[since:] if f.FAULT_LINE.search(line)]


def test_eight_instances_at_once(env: Env) -> None:
    obs = env.obs
    names = [n for n in obs.thread_names() if n.startswith("vbg-")]
    # One picture thread and one inference thread per filter (ONNX Runtime's own helper threads, started from
    # an inference thread, inherit its name, hence "at least").
    assert names.count("vbg-image") == N and names.count("vbg-inference") >= N, sorted(names)
    frames0, t0 = obs.rendered_frames(), time.monotonic()
    time.sleep(3 * f.HOLD)
    fps = (obs.rendered_frames() - frames0) / (time.monotonic() - t0)
    assert all_correct(obs, SOURCES)
    assert obs.answers()
    assert fps >= 10, f"{fps:.1f} fps with {N} filters"
    statuses = [obs.status_text(s, FILTER) for s in SOURCES]
    assert all(st and not st.startswith(f.NOT_WORKING) for st in statuses), statuses
    f.record(f"Scale: {N} filter instances at once", "all correct, OBS renders and answers, 2 threads each",
             f"pass: all {N} composites correct, {fps:.0f} fps (640x480 canvas), {N} picture and "
             f"{names.count('vbg-inference')} inference threads")


def test_add_and_remove_the_filter_100_times(env: Env) -> None:
    obs = env.obs
    before = len(obs.plugin_log_lines())
    rss0 = obs.rss_mb()
    t0 = time.monotonic()
    for i in range(100):
        obs.request("CreateSourceFilter", {"sourceName": SOURCES[0], "filterName": "Churn",
                                           "filterKind": h.obs_config.FILTER_ID,
                                           "filterSettings": env.settings() if i % 2 else {}})
        time.sleep(0.02 if i % 10 else 0.5)  # now and then long enough for a model to load and run
        obs.request("RemoveSourceFilter", {"sourceName": SOURCES[0], "filterName": "Churn"})
    took = time.monotonic() - t0
    assert obs.answers()
    ok, n, _ = h.wait_until(obs.plugin_threads, lambda n: n == env.threads0, 20, consecutive=1)
    assert ok, f"{n - env.threads0} plugin threads left after removing the filter 100 times"
    assert all_correct(obs, SOURCES), "the other filters were disturbed"
    assert not fault_lines(obs, before)
    rss = obs.rss_mb() - rss0
    f.record("Scale: add and remove the filter 100 times", "threads joined, OBS answers, others unaffected",
             f"pass: 100 cycles in {took:.0f} s, plugin threads back to {env.threads0}, RSS {rss:+.0f} MB, "
             f"no fault lines")


def test_200_settings_changes_while_rendering(env: Env) -> None:
    obs = env.obs
    rng = random.Random(11)
    before = len(obs.plugin_log_lines())
    choices = {
        "mode": ["blur", "color", "transparent", "image"],
        "model": ["selfie_general", "selfie_landscape", "custom"],
        "threads": [1, 2],
        "sync_video": [False, True],
        "edge_refine": [False, True],
    }
    picture = env.home / "background.png"
    f.solid_picture(picture, (200, 100), (10, 20, 200))
    t0 = time.monotonic()
    for i in range(200):
        s = {k: rng.choice(v) for k, v in choices.items() if rng.random() < 0.5}
        s.update(threshold=round(rng.uniform(0.1, 0.9), 2), blur_strength=rng.randint(1, 100),
                 softness=round(rng.uniform(0, 0.5), 2), grow=rng.randint(-20, 20), feather=rng.randint(0, 12),
                 light_wrap=round(rng.uniform(0, 1), 2), temporal_smoothing=round(rng.uniform(0, 0.95), 2),
                 image_path=str(picture), model_path=str(env.identity), color=h.colour_to_obs(GREEN))
        obs.set_filter_settings(SOURCES[1], FILTER, s, reset=rng.random() < 0.2)
        time.sleep(0.05)  # a change every frame or two, while OBS renders
    took = time.monotonic() - t0
    assert obs.answers()
    obs.set_filter_settings(SOURCES[1], FILTER, env.settings(), reset=True)
    ok, _, secs = h.wait_until(lambda: all_correct(obs, SOURCES), bool, f.WAIT)
    assert ok, "not correct after the settings storm"
    assert not fault_lines(obs, before), "\n".join(fault_lines(obs, before))
    assert obs.plugin_threads() == env.threads0
    f.record("Scale: 200 settings changes while rendering", "OBS answers, correct after, no fault lines",
             f"pass: 200 changes (mode, model, threads, sync, all sliders) in {took:.1f} s; correct "
             f"{secs:.1f} s after the last one")


def inference_running(pid: int) -> bool:
    """A vbg-inference thread is on the CPU (state R): inside ONNX Runtime's Run with the slow model."""
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            if (task / "comm").read_text().strip() == "vbg-inference":
                state = (task / "stat").read_text().rsplit(")", 1)[1].split()[0]
                if state == "R":
                    return True
        except OSError:
            continue
    return False


def test_sigint_while_inference_is_in_flight(env: Env) -> None:
    """Must stay last: shuts OBS down."""
    obs = env.obs
    obs.set_filter_settings(SOURCES[-1], FILTER, {**env.settings(), "model_path": str(env.slow)}, reset=True)
    ok, status, _ = h.wait_until(lambda: obs.status_text(SOURCES[-1], FILTER), lambda s: s.startswith("slow.onnx"),
                                 f.WAIT, consecutive=1)
    assert ok, f"slow model not running: {status!r}"
    # The other filters stop inferring, so a running inference thread is the slow model's.
    for src in SOURCES[:-1]:
        obs.set_filter_enabled(src, FILTER, False)
    time.sleep(2)
    samples = []
    for _ in range(100):
        samples.append(inference_running(obs.pid))
        time.sleep(0.02)
    busy = sum(samples) / len(samples)
    # The picture is still, so after each mask the worker waits for the once-a-second keep-alive: a mask of T
    # seconds keeps the thread busy T / (T + 1) of the time. A quarter means T >= 0.33 s, ten times the 30 ms
    # between seeing it run (below) and the signal, so SIGINT lands mid-inference. (The bar was 0.8, T >= 4 s,
    # until a faster machine ran 40 products in about half a second, 7 December 2026: 31-38 % busy; with the
    # 60 now, 72 %. More would risk the 10 s exit on a slow machine: inference in flight finishes first.)
    assert busy >= 0.25, f"the slow model's thread ran only {busy:.0%} of the time: inference is not slow enough"
    ok, _, _ = h.wait_until(lambda: inference_running(obs.pid), bool, 10, interval=0.01, consecutive=3)
    assert ok, "never saw the inference thread running"
    obs.client.disconnect()
    obs.client = None
    t0 = time.monotonic()
    obs.obs.send_signal(signal.SIGINT)
    stacks = obs.artifacts / "hang-stacks.txt"
    seconds, code = obs.wait_exit(10, on_hang=lambda o: shutdown.stacks_now(o, stacks))
    obs.stop()  # collects the log
    if code is None and shutdown.judge_exit(obs, code, t0, stacks=stacks).verdict == "hang-obs":
        pytest.xfail("OBS 29.0 ran its shutdown inside its own SIGINT handler and waited on a lock the interrupted "
                     "thread held (tests/e2e/shutdown.py, fixed in OBS 29.1)")
    assert code is not None, ("OBS did not exit within 10 s of SIGINT; its threads then:\n"
                              + "\n".join(shutdown.stack_digest(stacks)))
    assert code == 0, f"exit code {code}"
    log = obs.log_text()
    assert f"{h.LOG_PREFIX} unloaded (0 plugin threads still running)" in log, "threads not all joined"
    # Every filter was destroyed (its threads joined) before the unload, not stopped by it.
    assert "at unload OBS had not destroyed" not in log
    assert not list((obs.config_dir / "crashes").glob("*")), "OBS wrote a crash report"
    f.record("Scale: SIGINT while inference is in flight", "exit within 10 s, code 0, every plugin thread joined",
             f"pass: exited in {seconds:.1f} s with code 0, SIGINT sent while the slow model's thread was "
             f"inside inference (busy {busy:.0%} of the time); unload logged 0 plugin threads running")

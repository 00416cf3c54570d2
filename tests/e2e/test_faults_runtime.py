"""Reliability, part 2: the ONNX Runtime library beside the plugin is missing, or is not the version the plugin
needs. Its own OBS: the plugin is installed without the library, then stand-ins are put in its place.

ONNX Runtime older than the API the plugin uses aborted the whole process at session creation in an
earlier experiment (PLATFORM.md), so the plugin checks the library before using it. The stand-ins are
tiny shared libraries built here with cc: one reporting version 1.10.0 (the real old libraries answer
GetApi(31) with null the same way), one claiming 1.31.1 but offering no API 31, one without
OrtGetApiBase at all, and a file of random bytes. OBS's environment has no ORT_DYLIB_PATH (the harness
removes it), so nothing but the file beside the plugin can be loaded.
"""
from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np
import pytest

import faults as f
import obs_harness as h
from conftest import PERSON_IMAGE, PERSON_MASK
from faults import FILTER

LIBRARY = "libonnxruntime.so.1.31.1"
STUB_C = r"""
#include <stddef.h>
typedef struct {
    const void *(*GetApi)(unsigned version);
    const char *(*GetVersionString)(void);
} OrtApiBase;
static const void *get_api(unsigned version) { (void)version; return NULL; }
static const char *version_string(void) { return STUB_VERSION; }
static const OrtApiBase base = { get_api, version_string };
#ifndef NO_BASE
const OrtApiBase *OrtGetApiBase(void) { return &base; }
#else
const OrtApiBase *SomethingElse(void) { return &base; }
#endif
"""


@dataclass(repr=False)
class Env:
    obs: h.ObsInstance
    home: Path
    library: Path  # where the plugin looks for ONNX Runtime
    real: Path  # the real library, kept aside
    reference: np.ndarray
    gt: np.ndarray
    colour: tuple[int, int, int]

    def settings(self, **extra) -> dict:
        return {"mode": "color", "color": h.colour_to_obs(self.colour), **extra}

    def put(self, src: Path) -> None:
        """Replace the library file by rename, as an installer would."""
        tmp = self.library.with_name(".incoming")
        shutil.copy(src, tmp)
        os.replace(tmp, self.library)


def build_stub(out: Path, version: str, no_base: bool = False) -> Path:
    src = out.with_suffix(".c")
    src.write_text(STUB_C)
    cmd = ["cc", "-shared", "-fPIC", "-O1", f'-DSTUB_VERSION="{version}"', "-o", str(out), str(src)]
    if no_base:
        cmd.insert(1, "-DNO_BASE")
    subprocess.run(cmd, check=True)
    return out


@pytest.fixture(scope="module")
def env(tmp_path_factory) -> Iterator[Env]:
    if not (PERSON_IMAGE.exists() and PERSON_MASK.exists()):
        pytest.skip(f"evaluation data not found: {PERSON_IMAGE}")
    if not shutil.which("cc"):
        pytest.skip("no C compiler to build the stand-in libraries")
    out, home, plugin_root = f.fresh_home(tmp_path_factory, "runtime")
    library = plugin_root / "bin" / "64bit" / LIBRARY
    real = home / "real-onnxruntime.so"
    shutil.move(library, real)
    person = f.person_png(home)
    sources = [h.obs_config.source("Person", "image_source", {"file": str(person)},
                                   [h.obs_config.filter_entry(FILTER, settings={"mode": "color"})])]
    obs = h.ObsInstance(home=home, artifacts=out,
                        config=h.ObsConfig(canvas=(640, 480), scenes=[h.obs_config.scene("Scene", ["Person"])],
                                           sources=sources),
                        env={"ORT_DYLIB_PATH": None, "LD_LIBRARY_PATH": None})
    try:
        obs.start()
        obs.set_filter_enabled("Person", FILTER, False)
        reference = obs.wait_for_picture("Person")
        obs.set_filter_enabled("Person", FILTER, True)
        gt = h.load_mask(PERSON_MASK, (reference.shape[1], reference.shape[0]))
        yield Env(obs=obs, home=home, library=library, real=real, reference=reference, gt=gt,
                  colour=h.pick_absent_colour(reference, f.COLOUR_TOL + 8))
    finally:
        obs.stop()


def test_library_missing(env: Env) -> None:
    """Missing from the start: the filter loaded with OBS already failed once; retries stay quiet."""
    words = ["cannot load ONNX Runtime", LIBRARY, "No such file"]
    fault = f.expect_fault(env.obs, "Person", env.reference, env.settings(), words, since=0)
    # Every further settings change retries, and stays quiet in the log.
    for t in (0.4, 0.45, 0.5):
        env.obs.set_filter_settings("Person", FILTER, {"threshold": t})
    fault = f.expect_fault(env.obs, "Person", env.reference, env.settings(), words, since=0)
    f.record("ONNX Runtime library missing", "passthrough, OBS answers, 1 log line (also after retries), status",
             f"pass: passthrough, {fault.frames} frames in {f.HOLD:.0f} s, 1 line (\"{fault.line[:100]}\")")


@pytest.mark.parametrize("case,version,no_base,words", [
    ("old version (reports 1.10.0)", "1.10.0", False, ["version 1.10.0", "too old"]),
    ("claims 1.31.1, no API 31", "1.31.1", False, ["does not offer API"]),
    ("no OrtGetApiBase", "1.31.1", True, ["no OrtGetApiBase"]),
    ("random bytes", None, False, ["cannot load ONNX Runtime"]),
])
def test_library_incompatible(env: Env, case: str, version: str | None, no_base: bool, words: list[str]) -> None:
    stub = env.home / f"stub-{len(case)}.so"
    if version is None:
        stub.write_bytes(np.random.default_rng(3).integers(0, 256, 50_000, dtype=np.uint8).tobytes())
    else:
        build_stub(stub, version, no_base)
    env.put(stub)
    fault = f.expect_fault(env.obs, "Person", env.reference, env.settings(), words)
    f.record(f"ONNX Runtime library: {case}", "refused before use: passthrough, OBS answers, 1 log line, status",
             f"pass: passthrough in {fault.passthrough_s:.1f} s, 1 line (\"{fault.line[:110]}\")")


def test_real_library_put_back_recovers(env: Env) -> None:
    env.put(env.real)
    secs = f.expect_colour_mask(env.obs, "Person", env.gt, env.colour, env.settings())
    seconds, code = env.obs.stop(timeout=10)
    assert code == 0, f"OBS exit code {code} after SIGINT"
    assert f"{h.LOG_PREFIX} unloaded (0 plugin threads still running)" in env.obs.log_text()
    # Every filter was destroyed (its threads joined) before the unload, not stopped by it.
    assert "at unload OBS had not destroyed" not in env.obs.log_text()
    f.record("ONNX Runtime library: the right one put back", "a settings change recovers without restarting OBS",
             f"pass: mask back {secs:.1f} s after the settings change; clean exit in {seconds:.1f} s")

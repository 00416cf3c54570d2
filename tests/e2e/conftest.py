"""Fixtures for the end-to-end tests: one headless OBS with the plugin installed into a temporary HOME.

The plugin must already be built (`scripts/test` runs `scripts/setup`, which builds it). The scene
collection holds:
- scene "Person scene": image source "Person" (a photo with a ground-truth mask from ../shared/eval) with
  the filter "Virtual Background";
- scene "Sample scene": image source "Sample" (the bundled data/sample/astronaut.png) with the same filter;
- scene "Video scene": media source "Person video" (the same photo as a looping H.264 video) with the
  filter: frames arrive asynchronously, as from a webcam;
- an unfiltered image source "Alpha probe" (a half-transparent picture) to check the screenshot path.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import numpy as np
import pytest
from PIL import Image

import obs_harness as h

# scripts/test-obs-versions keeps each release's artefacts apart.
ARTIFACTS = Path(os.environ.get("VBG_E2E_ARTIFACTS") or h.REPO / "artifacts" / "e2e")
EVAL_DIR = Path(os.environ.get("VBG_EVAL_DIR") or h.REPO.parent / "shared" / "eval").resolve()
# A head-and-shoulders photo (852x480, webcam-like framing, textured foliage behind the person) with a
# mask; evaluation data, read from ../shared, never copied into the repo.
PERSON_IMAGE = EVAL_DIR / "humanseg_vikram_removebg" / "images" / "076.jpg"
PERSON_MASK = EVAL_DIR / "humanseg_vikram_removebg" / "masks" / "076.png"
PLUGIN_ROOT_REL = Path(".config/obs-studio/plugins") / h.PLUGIN
FILTER = "Virtual Background"
# With VBG_SYSTEM_INSTALL=1 the plugin under test is the system-wide install (the .deb, put there by
# scripts/test-package or scripts/test-obs-versions): the fixture installs no per-user copy.
SYSTEM_INSTALL = os.environ.get("VBG_SYSTEM_INSTALL") == "1"


@dataclass
class Subject:
    """An image source with our filter on it, and what the tests compare against."""
    source: str
    scene: str
    file: Path
    reference: np.ndarray | None = field(default=None, repr=False)  # screenshot, filter disabled
    gt: np.ndarray | None = field(default=None, repr=False)  # person mask (True = person), same size


@dataclass(repr=False)
class E2E:
    obs: h.ObsInstance
    person: Subject | None
    sample: Subject
    alpha_probe: tuple[str, Path]
    background: Path  # picture for Image mode
    artifacts: Path
    timings: dict = field(default_factory=dict)
    video: Subject | None = None  # the person photo as a looping video in a Media source
    plugin_installed: bool = True

    def require_plugin(self) -> None:
        """Fail fast, with the reason from the OBS log, when the filter is not available."""
        if not self.plugin_installed:
            pytest.fail("plugin not installed (VBG_E2E_NO_PLUGIN is set)")
        log = self.obs.log_text()
        # The module writes its own prefixed lines once loaded; a failed dlopen only names the file.
        if f"Source ID '{h.obs_config.FILTER_ID}' not found" in log or h.LOG_PREFIX not in log:
            lines = [l for l in log.splitlines() if "virtual" in l.lower() or "onnx" in l.lower()]
            pytest.fail("the virtual_background_filter is not available in OBS; log lines:\n"
                        + "\n".join(lines[-30:]))

    def require_person(self) -> Subject:
        if self.person is None:
            pytest.skip(f"evaluation data not found: {PERSON_IMAGE}")
        return self.person

    def save(self, name: str, shot: np.ndarray) -> None:
        h.save_png(shot, self.artifacts / f"{name}.png")


def _alpha_probe(path: Path) -> None:
    """Left half transparent, top-right half-transparent, bottom-right opaque."""
    a = np.zeros((64, 96, 4), np.uint8)
    a[...] = (200, 50, 20, 255)
    a[:, :48, 3] = 0
    a[:32, 48:, 3] = 128
    Image.fromarray(a).save(path)


@pytest.fixture(scope="session")
def e2e(tmp_path_factory) -> Iterator[E2E]:
    if ARTIFACTS.exists():
        shutil.rmtree(ARTIFACTS)
    ARTIFACTS.mkdir(parents=True)
    home = tmp_path_factory.mktemp("obs-home")
    plugin_root = home / PLUGIN_ROOT_REL

    installed = not os.environ.get("VBG_E2E_NO_PLUGIN")  # for working on the harness alone
    if installed and SYSTEM_INSTALL:
        if not h.host_path(h.SYSTEM_PLUGIN).is_file():
            pytest.fail(f"VBG_SYSTEM_INSTALL=1 but {h.SYSTEM_PLUGIN} is not installed")
        # OBS opens this path; the harness reads the same file through host_path().
        sample_file = h.SYSTEM_DATA_DIR / "sample" / "astronaut.png"
    elif installed:
        h.install_plugin(plugin_root, ARTIFACTS / "install-plugin.txt")
        sample_file = plugin_root / "data" / "sample" / "astronaut.png"  # as installed, like the demo
    else:
        sample_file = h.REPO / "data" / "sample" / "astronaut.png"
    if installed and not SYSTEM_INSTALL and h.host_path(h.SYSTEM_PLUGIN).exists() and not h.hides_system_copy():
        # OBS would load both copies and the first one registered wins: the test could silently exercise the
        # system-wide install instead of the build under test (hidden when a mount namespace is possible).
        pytest.fail(f"{h.SYSTEM_PLUGIN} exists (a system-wide install, e.g. the .deb or scripts/setup --system): "
                    "remove it (dpkg -r obs-virtual-background) before testing the per-user build")

    background = home / "background.png"
    Image.fromarray(h.pattern_image((400, 300))).save(background)
    probe = home / "alpha-probe.png"
    _alpha_probe(probe)

    have_person = PERSON_IMAGE.exists() and PERSON_MASK.exists()
    person_png = home / "person.png"
    sources, scenes = [], []
    if have_person:
        # As PNG: OBS decodes JPEG with FFmpeg, which differs from Pillow's decoder by a few levels
        # (up to 13 seen); with a PNG both sides see the very same pixels.
        Image.open(PERSON_IMAGE).convert("RGB").save(person_png)
        sources.append(h.obs_config.source("Person", "image_source", {"file": str(person_png)},
                                           [h.obs_config.filter_entry(FILTER)]))
        scenes.append(h.obs_config.scene("Person scene", ["Person"]))
        canvas = Image.open(PERSON_IMAGE).size
    else:
        canvas = Image.open(h.host_path(sample_file)).size
    if have_person and shutil.which("ffmpeg"):
        # The same photo as a looping H.264 video in a Media source: frames then arrive
        # asynchronously, the way a webcam delivers them, instead of as a texture.
        video = home / "person.mp4"
        subprocess.run(["ffmpeg", "-v", "error", "-y", "-loop", "1", "-i", str(person_png), "-t", "2",
                        "-r", "30", "-c:v", "libx264", "-pix_fmt", "yuv420p", "-crf", "12", str(video)],
                       check=True)
        sources.append(h.obs_config.source(
            "Person video", "ffmpeg_source",
            {"local_file": str(video), "is_local_file": True, "looping": True,
             "restart_on_activate": False, "hw_decode": False},
            [h.obs_config.filter_entry(FILTER)]))
        scenes.append(h.obs_config.scene("Video scene", ["Person video"]))
    sources.append(h.obs_config.source("Sample", "image_source", {"file": str(sample_file)},
                                       [h.obs_config.filter_entry(FILTER)]))
    sources.append(h.obs_config.source("Alpha probe", "image_source", {"file": str(probe)}))
    scenes.append(h.obs_config.scene("Sample scene", ["Sample", "Alpha probe"]))

    obs = h.ObsInstance(home=home, artifacts=ARTIFACTS,
                        config=h.ObsConfig(canvas=canvas, scenes=scenes, sources=sources), core_dumps=True)
    env = E2E(obs=obs, person=None, sample=Subject("Sample", "Sample scene", sample_file),
              alpha_probe=("Alpha probe", probe), background=background, artifacts=ARTIFACTS,
              plugin_installed=installed)
    try:
        obs.start()
        env.timings["obs_startup_s"] = round(obs.startup_seconds, 2)
        subjects = [env.sample]
        if have_person:
            env.person = Subject("Person", "Person scene", person_png)
            subjects.insert(0, env.person)
        # Reference: each picture with the filter disabled (what passthrough must look like).
        for s in subjects:
            if installed:
                obs.set_filter_enabled(s.source, FILTER, False)
            s.reference = obs.wait_for_picture(s.source)
            if installed:
                obs.set_filter_enabled(s.source, FILTER, True)
        if env.person is not None:
            ref = env.person.reference
            env.person.gt = h.load_mask(PERSON_MASK, (ref.shape[1], ref.shape[0]))
            if any(src["name"] == "Person video" for src in sources):
                env.video = Subject("Person video", "Video scene", person_png, gt=env.person.gt)
        yield env
    finally:
        obs.stop()
        (ARTIFACTS / "timings.json").write_text(json.dumps(env.timings, indent=2) + "\n")
        _TIMINGS.update(env.timings)


_TIMINGS: dict = {}


def pytest_terminal_summary(terminalreporter) -> None:
    import faults
    if faults.RESULTS:
        terminalreporter.write_sep("-", "reliability results")
        for r in faults.RESULTS:
            terminalreporter.write_line(f"{r['case']}: {r['result']}")
    if _TIMINGS:
        terminalreporter.write_sep("-", "e2e timings (seconds)")
        for k, v in _TIMINGS.items():
            terminalreporter.write_line(f"{k}: {v}")

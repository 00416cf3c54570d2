"""Source mode (an OBS source as the background) in a real headless OBS, read through obs-websocket.

This module runs its own OBS with this scene collection:
- "Person scene" (the program scene): the person photo "Person", with the filter in Source mode whose
  background is "Orphan", a Media source that is in no scene at all. The collection is loaded from disk,
  so the choice is found by name at load time, and the Media source (which restarts when activated, OBS's
  default) plays only because the filter holds it active;
- "Backgrounds" (never shown): "Loop", the same clip in another Media source, for the tests that switch
  backgrounds and count OBS's active/showing references;
- "Nest": a scene holding "Person scene", which holds the filtered source (refused: it would draw itself);
- "Sample" (also in "Person scene"): the bundled sample photo over a moving gradient, for the README.

The clip is lossless RGB (FFV1), square (the frame is wide: Cover crops it, Contain borders it) and smooth,
with every frame different (blue rises 6 levels a frame), so a screenshot's background can be matched to
the clip frame it shows, decoded here with ffmpeg and fitted the way the filter fits it.
"""
from __future__ import annotations

import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np
import pytest
from PIL import Image

import obs_harness as h
from conftest import ARTIFACTS, FILTER, PERSON_IMAGE, PERSON_MASK, PLUGIN_ROOT_REL

CLIP_SIZE = 240
CLIP_FRAMES = 30
COLOUR = (40, 200, 90)  # the background colour: Contain's borders and the fallback
MATCH_TOL = 4.0  # mean absolute difference (0..255) of the background region from the clip frame it shows
PERSON_TOL = 4  # levels, on the person's sure region
WAIT = 60.0
OUT = ARTIFACTS / "source-background"


def make_clip(path: Path) -> np.ndarray:
    """Writes the clip and returns its frames (N x S x S x 3)."""
    n = CLIP_SIZE
    y, x = np.mgrid[0:n, 0:n].astype(np.float32) / n
    frames = []
    for k in range(CLIP_FRAMES):
        r = 60 + 150 * (0.5 + 0.5 * np.sin(2 * np.pi * (x + k / CLIP_FRAMES)))
        g = 40 + 170 * y
        b = np.full_like(x, 30 + 6 * k)
        frames.append(np.dstack([r, g, b]).round().astype(np.uint8))
    clip = np.stack(frames)
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{n}x{n}",
                    "-r", "30", "-i", "-", "-c:v", "ffv1", "-pix_fmt", "bgr0", str(path)],
                   input=clip.tobytes(), check=True)
    return clip


def fit_transform(fit: str, iw: int, ih: int, fw: int, fh: int) -> tuple[tuple[float, float], tuple[float, float]]:
    """The filter's fit (src/background_image.rs): picture uv = frame uv * scale + offset."""
    ia, fa = iw / ih, fw / fh
    if fit == "stretch":
        sx, sy = 1.0, 1.0
    elif fit == "cover":
        sx, sy = (fa / ia, 1.0) if ia > fa else (1.0, ia / fa)
    else:
        sx, sy = (1.0, ia / fa) if ia > fa else (fa / ia, 1.0)
    return (sx, sy), ((1 - sx) / 2, (1 - sy) / 2)


def fitted(frame: np.ndarray, fit: str, size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """`frame` drawn at `size` as the filter draws its background (bilinear at pixel centres), and where the
    picture covers the frame clearly (False on Contain's borders and the pixel rows they share)."""
    w, hgt = size
    fh, fw = frame.shape[:2]
    (sx, sy), (ox, oy) = fit_transform(fit, fw, fh, w, hgt)
    u = ((np.arange(w) + 0.5) / w) * sx + ox
    v = ((np.arange(hgt) + 0.5) / hgt) * sy + oy
    px, py = np.clip(u * fw - 0.5, 0, fw - 1), np.clip(v * fh - 0.5, 0, fh - 1)
    x0, y0 = np.floor(px).astype(int), np.floor(py).astype(int)
    x1, y1 = np.minimum(x0 + 1, fw - 1), np.minimum(y0 + 1, fh - 1)
    ax, ay = (px - x0)[None, :, None], (py - y0)[:, None, None]
    f = frame.astype(np.float32)
    top = f[y0][:, x0] * (1 - ax) + f[y0][:, x1] * ax
    bottom = f[y1][:, x0] * (1 - ax) + f[y1][:, x1] * ax
    picture = top * (1 - ay) + bottom * ay
    margin_u, margin_v = 2.0 * sx / w, 2.0 * sy / hgt
    inside = ((u > margin_u) & (u < 1 - margin_u))[None, :] & ((v > margin_v) & (v < 1 - margin_v))[:, None]
    return picture, inside


@dataclass(repr=False)
class Env:
    obs: h.ObsInstance
    clip: np.ndarray
    reference: np.ndarray  # the person photo, filter disabled
    gt: np.ndarray
    background: np.ndarray  # sure background: far from the person
    person: np.ndarray  # sure person: well inside the outline

    def source_settings(self, background: str, fit: str = "cover") -> dict:
        return {"mode": "source", "background_source": background, "image_fit": fit,
                "color": h.colour_to_obs(COLOUR)}

    def match(self, shot: np.ndarray, fit: str) -> tuple[int, float, float]:
        """(clip frame the background shows, its mean difference there, the person's 97th-percentile
        difference from the photo)."""
        size = (shot.shape[1], shot.shape[0])
        errors = []
        for frame in self.clip:
            picture, inside = fitted(frame, fit, size)
            region = self.background & inside
            errors.append(float(np.abs(shot[..., :3][region].astype(np.float32) - picture[region]).mean()))
        best = int(np.argmin(errors))
        person = np.abs(shot[..., :3].astype(np.int16) - self.reference[..., :3])[self.person].max(axis=1)
        return best, errors[best], float(np.percentile(person, 97))

    def status(self) -> str:
        return self.obs.status_text("Person", FILTER)

    def wait_status(self, words: list[str], timeout: float = 15.0) -> str:
        ok, status, _ = h.wait_until(self.status, lambda s: all(w in s for w in words), timeout, consecutive=1)
        assert ok, f"status does not say {words}: {status!r}"
        return status

    def active(self, source: str) -> tuple[bool, bool]:
        r = self.obs.request("GetSourceActive", {"sourceName": source})
        return bool(r["videoActive"]), bool(r["videoShowing"])


def dilate(mask: np.ndarray, radius: int) -> np.ndarray:
    return ~h.erode(~mask, radius)


@pytest.fixture(scope="module")
def env(tmp_path_factory) -> Iterator[Env]:
    if not (PERSON_IMAGE.exists() and PERSON_MASK.exists()):
        pytest.skip(f"evaluation data not found: {PERSON_IMAGE}")
    if not shutil.which("ffmpeg"):
        pytest.fail("ffmpeg is needed (scripts/setup installs it)")
    OUT.mkdir(parents=True, exist_ok=True)
    home = tmp_path_factory.mktemp("obs-source-home")
    h.install_plugin(home / PLUGIN_ROOT_REL, OUT / "install-plugin.txt")
    person = home / "person.png"
    Image.open(PERSON_IMAGE).convert("RGB").save(person)
    size = Image.open(person).size
    clip_file = home / "clip.mkv"
    clip = make_clip(clip_file)
    media = {"local_file": str(clip_file), "is_local_file": True, "looping": True, "hw_decode": False}

    settings = {"mode": "source", "background_source": "Orphan", "image_fit": "cover",
                "color": h.colour_to_obs(COLOUR)}
    # The README's picture: the bundled sample photo over a moving gradient (never the evaluation photo).
    showcase = home / "gradients.mp4"
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i",
                    "gradients=s=640x360:c0=0x203a6b:c1=0xe07a3a:c2=0x2aa198:n=3:speed=0.02:r=30", "-t", "4",
                    "-c:v", "libx264", "-pix_fmt", "yuv420p", str(showcase)], check=True)
    sample_settings = {"mode": "source", "background_source": "Showcase", "image_fit": "cover"}
    sources = [
        h.obs_config.source("Sample", "image_source", {"file": str(h.REPO / "data/sample/astronaut.png")},
                            [h.obs_config.filter_entry(FILTER, settings=sample_settings)]),
        h.obs_config.source("Showcase", "ffmpeg_source", {**media, "local_file": str(showcase)}),
        h.obs_config.source("Person", "image_source", {"file": str(person)},
                            [h.obs_config.filter_entry(FILTER, settings=settings)]),
        # OBS's default for a new Media source: restart (start) when activated.
        h.obs_config.source("Orphan", "ffmpeg_source", {**media, "restart_on_activate": True}),
        h.obs_config.source("Loop", "ffmpeg_source", {**media, "restart_on_activate": True}),
    ]
    scenes = [h.obs_config.scene("Person scene", ["Person", "Sample"]), h.obs_config.scene("Backgrounds", ["Loop"]),
              h.obs_config.scene("Nest", ["Person scene"])]
    obs = h.ObsInstance(home=home, artifacts=OUT, config=h.ObsConfig(canvas=size, scenes=scenes, sources=sources))
    try:
        obs.start()
        obs.set_program_scene("Person scene")
        obs.set_filter_enabled("Person", FILTER, False)
        reference = obs.wait_for_picture("Person")
        obs.set_filter_enabled("Person", FILTER, True)
        gt = h.load_mask(PERSON_MASK, size)
        # Away from the outline by more than the mask's errors and the guided filter's reach.
        yield Env(obs=obs, clip=clip, reference=reference, gt=gt, background=~dilate(gt, 24),
                  person=h.erode(gt, 12))
    finally:
        obs.stop()


def settle_on_clip(env: Env, fit: str, timeout: float = WAIT) -> tuple[np.ndarray, int, float, float]:
    """Waits until the background shows a clip frame; returns (screenshot, frame, error, person diff)."""
    found = {}

    def measure():
        shot = env.obs.screenshot("Person")
        found["shot"] = shot
        return env.match(shot, fit)

    ok, (frame, err, person), secs = h.wait_until(measure, lambda m: m[1] <= MATCH_TOL and m[2] <= PERSON_TOL,
                                                  timeout, interval=0.2, consecutive=1)
    assert ok, (f"{fit}: after {secs:.0f}s the background is {err:.1f} levels from the nearest clip frame "
                f"(limit {MATCH_TOL}), the person {person:.0f} from the photo; status {env.status()!r}")
    return found["shot"], frame, err, person


def test_a_media_source_in_no_scene_plays_behind_the_person(env: Env) -> None:
    settle_on_clip(env, "cover")
    active, showing = env.active("Orphan")
    assert active and showing, f"the background is held active/showing: {active}/{showing}"
    seen, errors = [], []
    for _ in range(12):
        frame, err, person = env.match(env.obs.screenshot("Person"), "cover")
        assert person <= PERSON_TOL, f"the person differs from the photo by {person:.0f} levels"
        seen.append(frame)
        errors.append(err)
        time.sleep(0.15)
    print(f"clip frames shown: {seen}; errors {[round(e, 2) for e in errors]}")
    assert max(errors) <= MATCH_TOL, f"a screenshot's background is {max(errors):.1f} levels from every clip frame"
    assert len(set(seen)) >= 4, f"the background does not play: clip frames {seen}"


def test_readme_picture(env: Env) -> None:
    """The bundled sample over a moving gradient, saved as artifacts/e2e/source.png (docs/images/source.png)."""
    ok, status, _ = h.wait_until(lambda: env.obs.status_text("Sample", FILTER),
                                 lambda st: "ms per mask" in st and "Background color shown" not in st, WAIT,
                                 consecutive=1)
    assert ok, f"Sample's background is not shown: {status!r}"
    time.sleep(1.0)  # a few masks after the first, as a viewer sees it
    shot = env.obs.screenshot("Sample")
    assert shot[..., 3].min() == 255 and shot[:40, :40, :3].std() > 0.5, "the corner shows no gradient"
    h.save_png(shot, ARTIFACTS / "source.png")


@pytest.mark.parametrize("fit", ["cover", "contain", "stretch"])
def test_every_fit_mode(env: Env, fit: str) -> None:
    env.obs.set_filter_settings("Person", FILTER, env.source_settings("Orphan", fit))
    shot, frame, err, _ = settle_on_clip(env, fit)
    h.save_png(shot, OUT / f"fit-{fit}.png")
    if fit == "contain":
        # The square clip on a wide frame: borders left and right in the background colour.
        _, inside = fitted(env.clip[0], fit, (shot.shape[1], shot.shape[0]))
        border = ~dilate(inside, 3) & env.background
        assert border.mean() > 0.05, "Contain leaves no border on a square clip in a wide frame"
        off = np.abs(shot[..., :3][border].astype(np.int16) - np.array(COLOUR)).max(axis=1)
        assert np.percentile(off, 99) <= 2, f"Contain's borders are not the background colour ({off.max()})"
    print(f"{fit}: clip frame {frame}, mean difference {err:.2f}")


def test_the_filters_own_source_and_scenes_holding_it_are_refused(env: Env) -> None:
    for name, words in [("Person", ["“Person” is the source this filter is on"]),
                        ("Person scene", ["“Person scene” contains the source this filter is on"]),
                        ("Nest", ["“Nest” contains the source this filter is on"])]:
        env.obs.set_filter_settings("Person", FILTER, env.source_settings(name))
        env.wait_status(["Background color shown", *words])
        shot = env.obs.screenshot("Person")
        colour = h.is_colour(shot, COLOUR, 2)
        assert colour[env.background].mean() > 0.97, f"{name}: the background is not the colour"
        assert env.obs.answers()
        assert env.active("Nest") == (False, False), "a refused scene is not held"
    # "Orphan" is gone now: a source in no scene lives only while a filter holds it, as a scene item does.
    env.obs.set_filter_settings("Person", FILTER, env.source_settings("Loop"))
    settle_on_clip(env, "cover")


def test_a_removed_source_falls_back_and_a_new_one_of_that_name_is_taken(env: Env) -> None:
    media = env.obs.request("GetInputSettings", {"inputName": "Loop"})["inputSettings"]

    def create(name: str) -> None:
        env.obs.request("CreateInput", {"sceneName": "Backgrounds", "inputName": name,
                                        "inputKind": "ffmpeg_source", "inputSettings": media})

    create("Temp")
    env.obs.set_filter_settings("Person", FILTER, env.source_settings("Temp"))
    settle_on_clip(env, "cover")
    before = len(env.obs.plugin_log_lines())
    env.obs.request("RemoveInput", {"inputName": "Temp"})
    env.wait_status(["Background color shown", "no source named “Temp”"])
    ok, share, _ = h.wait_until(lambda: h.is_colour(env.obs.screenshot("Person"), COLOUR, 2)[env.background].mean(),
                                lambda v: v > 0.97, 10)
    assert ok, f"after removal only {share:.0%} of the background is the colour"
    assert env.obs.answers()
    lines = [l for l in env.obs.plugin_log_lines()[before:] if "background source not shown" in l]
    assert len(lines) == 1 and "Temp" in lines[0], f"one log line names the fault: {lines}"
    # (OBS 29 keeps a removed Media source alive for a while, so its name cannot be reused at once.) A source
    # created under a chosen name that did not exist yet is picked up without touching the filter.
    env.obs.set_filter_settings("Person", FILTER, env.source_settings("Later"))
    env.wait_status(["no source named “Later”"])
    create("Later")
    settle_on_clip(env, "cover")
    assert "Background color shown" not in env.status()
    env.obs.request("RemoveInput", {"inputName": "Later"})


def test_a_renamed_source_is_followed(env: Env) -> None:
    env.obs.set_filter_settings("Person", FILTER, env.source_settings("Loop"))
    settle_on_clip(env, "cover")
    env.obs.request("SetInputName", {"inputName": "Loop", "newInputName": "Loop renamed"})
    try:
        ok, name, _ = h.wait_until(lambda: env.obs.filter_settings("Person", FILTER).get("background_source"),
                                   lambda n: n == "Loop renamed", 10, consecutive=1)
        assert ok, f"the setting still names {name!r}"
        settle_on_clip(env, "cover", timeout=10)
        assert "Background color shown" not in env.status()
    finally:
        env.obs.request("SetInputName", {"inputName": "Loop renamed", "newInputName": "Loop"})
    # Renaming back is followed too (through the UI thread, so it may take a moment).
    ok, name, _ = h.wait_until(lambda: env.obs.filter_settings("Person", FILTER).get("background_source"),
                               lambda n: n == "Loop", 10, consecutive=1)
    assert name == "Loop"


def test_adding_and_removing_the_filter_50_times_gives_everything_back(env: Env) -> None:
    obs = env.obs
    obs.set_filter_settings("Person", FILTER, {"mode": "color"})
    ok, state, _ = h.wait_until(lambda: env.active("Loop"), lambda s: s == (False, False), 10, consecutive=1)
    assert ok, f"Loop is still held after the mode changed (active, showing) = {state}"
    threads = obs.plugin_threads()
    settings = {**env.source_settings("Loop"), "mode": "source"}
    for i in range(50):
        obs.request("CreateSourceFilter", {"sourceName": "Person", "filterName": "VB loop",
                                           "filterKind": h.obs_config.FILTER_ID, "filterSettings": settings})
        if i % 10 == 0:
            ok, state, _ = h.wait_until(lambda: env.active("Loop"), lambda s: s == (True, True), 10, consecutive=1)
            assert ok, f"cycle {i}: the background is not held while the filter shows it: {state}"
        obs.request("RemoveSourceFilter", {"sourceName": "Person", "filterName": "VB loop"})
    ok, state, _ = h.wait_until(lambda: env.active("Loop"), lambda s: s == (False, False), 10, consecutive=2)
    assert ok, f"after 50 filters came and went, Loop is still held (active, showing) = {state}"
    ok, count, _ = h.wait_until(obs.plugin_threads, lambda n: n <= threads, 20)
    assert ok, f"{count} plugin threads left, {threads} before"
    assert obs.answers()
    # No reference is left either: with its only scene item gone, OBS destroys the source.
    items = obs.request("GetSceneItemList", {"sceneName": "Backgrounds"})["sceneItems"]
    item = next(i["sceneItemId"] for i in items if i["sourceName"] == "Loop")
    obs.request("RemoveSceneItem", {"sceneName": "Backgrounds", "sceneItemId": item})
    names = lambda: [i["inputName"] for i in obs.request("GetInputList")["inputs"]]  # noqa: E731
    ok, listed, _ = h.wait_until(names, lambda n: "Loop" not in n, 15)
    assert ok, f"Loop still exists after its last scene item went (a reference was left): {listed}"

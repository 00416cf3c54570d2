"""Screenshots of a Source-mode filter never draw its background source (issue 32's OBS 32 freeze).

obs-websocket renders a screenshot on its own thread, inside the graphics context. From OBS 30 on, OBS's
graphics thread sizes a Media source's textures while it holds that source's frame lock, and waits for the
graphics context to do it; a screenshot that drew the Media source would wait on that lock while holding
the context: OBS freezes. So the filter draws other sources only on OBS's graphics thread, and a screenshot
shows the background the graphics thread drew last, or the colour when OBS does not show the filter.

This module's OBS shows an empty program scene. "Person" (a photo, in a scene OBS does not show) has the
filter in Source mode, whose background is the scene "Backgrounds" (not shown either). While the test takes
screenshots of "Person" as fast as OBS answers, it adds a new Media source to "Backgrounds" every half
second and removes the one before: each new source's first frame makes OBS size its textures, the moment of
the freeze (it was seen when Media sources started). As nothing else draws these sources, each screenshot is
the only render of them: before the fix it drew them itself, on obs-websocket's thread (scripts/test-obs-versions
runs this in every release). The test checks that every screenshot came back, that OBS's graphics thread kept
drawing, and that the background is the colour, never the clip. The freeze itself is a race this test did not
hit in 40 starts on OBS 32 with the old code (it counted 135 screenshots that drew the sources off the graphics
thread); the `scene-cycle` shutdown cycles hit it in 2 of 24 before the fix (docs/reliability.md).
"""
from __future__ import annotations

import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import obs_harness as h
from conftest import ARTIFACTS, FILTER, PERSON_IMAGE, PERSON_MASK, PLUGIN_ROOT_REL, SYSTEM_INSTALL

CLIP_COLOUR = (200, 60, 160)  # every clip frame is this flat colour
COLOUR = (40, 200, 90)  # the filter's background colour: what these screenshots must show
SECONDS = 20.0
NEW_SOURCE_EVERY = 0.5  # seconds
REQUEST_TIMEOUT = 10  # seconds: an answer later than this is a freeze
OUT = ARTIFACTS / "screenshot-backdrop"


def make_clip(path: Path, size: tuple[int, int]) -> None:
    """A one-second clip of the flat colour at `size`."""
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i",
                    f"color=c=0x{bytes(CLIP_COLOUR).hex()}:s={size[0]}x{size[1]}:r=30", "-t", "1",
                    "-c:v", "mjpeg", "-q:v", "2", str(path)], check=True)


def test_screenshots_of_a_source_mode_filter_never_freeze_obs(tmp_path_factory: pytest.TempPathFactory) -> None:
    import obsws_python

    OUT.mkdir(parents=True, exist_ok=True)
    home = tmp_path_factory.mktemp("obs-screenshot-home")
    if not SYSTEM_INSTALL:  # else the .deb's system-wide copy is the plugin under test (OBS would load both)
        h.install_plugin(home / PLUGIN_ROOT_REL, OUT / "install-plugin.txt")
    person = home / "person.png"
    Image.open(PERSON_IMAGE).convert("RGB").save(person)
    size = Image.open(person).size
    clip = home / "clip.mkv"
    make_clip(clip, size)
    media = {"local_file": str(clip), "is_local_file": True, "looping": True, "hw_decode": False,
             "restart_on_activate": False}  # plays from the start, shown or not
    settings = {"mode": "source", "background_source": "Backgrounds", "image_fit": "stretch",
                "color": h.colour_to_obs(COLOUR), "temporal_smoothing": 0.0}
    sources = [h.obs_config.source("Person", "image_source", {"file": str(person)},
                                   [h.obs_config.filter_entry(FILTER, settings=settings)])]
    scenes = [h.obs_config.scene("Empty", []), h.obs_config.scene("Person scene", ["Person"]),
              h.obs_config.scene("Backgrounds", [])]
    obs = h.ObsInstance(home=home, artifacts=OUT, config=h.ObsConfig(canvas=size, scenes=scenes, sources=sources))
    try:
        obs.start()
        obs.set_program_scene("Empty")
        gt = h.load_mask(PERSON_MASK, size)
        background = h.erode(~gt, 24)  # well away from the outline
        ok, status, _ = h.wait_until(lambda: obs.status_text("Person", FILTER), lambda st: "ms per mask" in st,
                                     60.0, consecutive=1)
        assert ok, f"the filter never ran: {status!r}"
        client = obsws_python.ReqClient(host="127.0.0.1", port=obs.port, timeout=REQUEST_TIMEOUT)
        def drawn_frames() -> int:  # frames OBS's graphics thread drew (not counting the ones it skipped)
            stats = obs.request("GetStats")
            return int(stats["renderTotalFrames"]) - int(stats["renderSkippedFrames"])

        drawn_before = drawn_frames()
        shots, off, clip_seen = 0, [], 0
        t0 = time.monotonic()
        added, next_source = 0, t0
        while time.monotonic() - t0 < SECONDS:
            if time.monotonic() >= next_source:
                client.send("CreateInput", {"sceneName": "Backgrounds", "inputName": f"Clip {added + 1}",
                                            "inputKind": "ffmpeg_source", "inputSettings": media}, raw=True)
                if added:
                    client.send("RemoveInput", {"inputName": f"Clip {added}"}, raw=True)
                added += 1
                next_source += NEW_SOURCE_EVERY
            try:
                reply = client.send("GetSourceScreenshot", {"sourceName": "Person", "imageFormat": "png",
                                                            "imageWidth": 160}, raw=True)
            except Exception as e:
                pytest.fail(f"screenshot {shots + 1} got no answer in {REQUEST_TIMEOUT} s ({e!r}): OBS froze")
            shots += 1
            if shots % 10 == 0:
                shot = h.decode_image(reply["imageData"])
                region = np.array(Image.fromarray(background).resize((shot.shape[1], shot.shape[0]))) > 0
                pixels = shot[..., :3][region].astype(np.int16)
                off.append(float(np.abs(pixels - COLOUR).mean()))
                clip_seen += int(np.abs(pixels - CLIP_COLOUR).mean() < 12)
        h.save_png(shot, OUT / "screenshot.png")
        drawn = drawn_frames() - drawn_before
        elapsed = time.monotonic() - t0
        print(f"{shots} screenshots in {elapsed:.1f} s, {added} Media sources started; OBS drew {drawn} frames; "
              f"background off the colour by {min(off):.1f}-{max(off):.1f} levels")
        assert drawn >= 10 * elapsed, f"OBS drew only {drawn} frames in {elapsed:.0f} s of screenshots"
        assert shots >= 20, f"only {shots} screenshots in {elapsed:.0f} s"
        assert clip_seen == 0, f"{clip_seen} screenshots drew the background source off OBS's graphics thread"
        # Colour composited under the photo's mask; a few levels for the mask's soft edge near the region.
        assert max(off) <= 3, (f"a screenshot's background is not the colour (off by {max(off):.1f} levels); "
                               f"status {obs.status_text('Person', FILTER)!r}")
    finally:
        obs.stop()

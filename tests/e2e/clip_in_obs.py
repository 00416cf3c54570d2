"""A motion clip (scripts/motion_clips.py) playing in a real OBS, screenshots scored against its truth in
interleaved blocks of settings: what test_motion.py and test_cuts.py share."""
from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np
import pytest

import obs_harness as h
from conftest import PLUGIN_ROOT_REL

import motion_clips as mc  # noqa: E402  (scripts/, put on sys.path by obs_harness)
import motion_score as ms  # noqa: E402


def obs_playing(clip: mc.Clip, home: Path, out: Path, source: str, scene: str) -> h.ObsInstance:
    """An OBS (not started) with the plugin installed in `home` and `clip` looping in a Media source, as
    frames arrive from a webcam, with the filter on it in Transparent mode."""
    h.install_plugin(home / PLUGIN_ROOT_REL, out / "install-plugin.txt")
    filt = h.obs_config.filter_entry(ms.FILTER, settings=ms.MODE)
    media = h.obs_config.source(source, "ffmpeg_source",
                                {"local_file": str(clip.video), "is_local_file": True, "looping": True,
                                 "restart_on_activate": False, "hw_decode": False}, [filt])
    return h.ObsInstance(home=home, artifacts=out,
                         config=h.ObsConfig(canvas=(mc.W, mc.H), fps=30, scenes=[h.obs_config.scene(scene, [source])],
                                            sources=[media]))


def measure_interleaved(obs: h.ObsInstance, source: str, clip: mc.Clip, settings: dict[str, dict], shots: int,
                        rounds: int, settle: float, width: int, first_wait: float, out: Path,
                        worth_saving: Callable[[ms.Shot], bool], label: str) -> dict[str, list[ms.Block]]:
    """Waits for the first mask on the playing clip, then scores `shots` screenshots per setting in `rounds`
    blocks each, the order reversed every other round (A B B A ...), so machine drift hits every setting
    alike. The first screenshot per setting that is `worth_saving` goes to `out` as {setting}-{label}-f{frame}."""
    if ms.wait_for_clip(obs, source, clip, first_wait) is None:
        h.save_png(ms.screenshot(obs, source), out / "no-mask.png")
        pytest.fail(f"no mask on the playing clip within {first_wait:.0f}s (see {out}/no-mask.png); "
                    f"status: {obs.filter_status(source, ms.FILTER).get('statusText')}")
    blocks: dict[str, list[ms.Block]] = {name: [] for name in settings}
    saved: set[str] = set()
    for r in range(rounds):
        for name in (settings if r % 2 == 0 else reversed(settings)):
            def keep(shot: np.ndarray, s: ms.Shot, name: str = name) -> None:
                if worth_saving(s) and name not in saved:
                    saved.add(name)
                    h.save_png(shot, out / f"{name}-{label}-f{s.index:03d}.png")

            want = shots // rounds + (r < shots % rounds)
            blocks[name].append(ms.measure(obs, source, clip, settings[name], want, settle=settle, width=width,
                                           keep=keep))
    return blocks

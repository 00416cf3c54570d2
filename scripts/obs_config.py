#!/usr/bin/env python3
"""Write OBS Studio 29 configuration files: scene collections, profiles, global.ini.

Used by `scripts/setup` (the demo scene collection) and by the end-to-end test harness
(`tests/e2e/obs_harness.py`, which imports this module). Standard library only, so that it runs
with the system Python before any virtual environment exists.

The JSON layout follows what OBS 29.0.2 itself saves (`~/.config/obs-studio/basic/scenes/*.json`);
fields OBS does not need are left out, OBS fills them in with defaults and rewrites the file on exit.
"""
from __future__ import annotations

import argparse
import configparser
import json
import os
import sys
from pathlib import Path

# OBS 29.0.2 as an integer (MAKE_SEMANTIC_VERSION(29, 0, 2)); OBS writes it as `prev_ver` and as
# `LastVersion` in global.ini. Setting LastVersion keeps OBS from showing "what's new" dialogs.
OBS_VERSION = (29 << 24) | (0 << 16) | 2

FILTER_ID = "virtual_background_filter"
FILTER_NAME = "Virtual Background"
DEMO_COLLECTION = "Virtual Background Demo"

# Scene item alignment and bounds (libobs obs-defs.h / obs-scene.h).
ALIGN_TOP_LEFT = 5  # OBS_ALIGN_LEFT | OBS_ALIGN_TOP
ALIGN_CENTER = 0
BOUNDS_NONE = 0
BOUNDS_SCALE_INNER = 2  # "fit to screen": scale keeping aspect, centred in the bounds
BOUNDS_SCALE_OUTER = 3  # "fill": scale keeping aspect until the bounds are covered


def collection_file_name(name: str) -> str:
    """File name OBS uses for a collection: spaces become underscores (GenerateSpecifiedFilename)."""
    return name.replace(" ", "_") + ".json"


def filter_entry(name: str = FILTER_NAME, kind: str = FILTER_ID, settings: dict | None = None,
                 enabled: bool = True) -> dict:
    return {
        "id": kind,
        "versioned_id": kind,
        "name": name,
        "enabled": enabled,
        "settings": dict(settings or {}),
        "mixers": 0,
        "flags": 0,
        "prev_ver": OBS_VERSION,
    }


def source(name: str, kind: str, settings: dict | None = None, filters: list[dict] | None = None) -> dict:
    return {
        "id": kind,
        "versioned_id": kind,
        "name": name,
        "enabled": True,
        "settings": dict(settings or {}),
        "filters": list(filters or []),
        "mixers": 0,
        "flags": 0,
        "muted": False,
        "volume": 1.0,
        "balance": 0.5,
        "prev_ver": OBS_VERSION,
    }


def scene_item(source_name: str, item_id: int, bounds: tuple[int, int] | None = None) -> dict:
    """An item placing `source_name` at the top-left, or fitted into `bounds` (w, h) when given."""
    item = {
        "name": source_name,
        "id": item_id,
        "visible": True,
        "locked": False,
        "pos": {"x": 0.0, "y": 0.0},
        "rot": 0.0,
        "scale": {"x": 1.0, "y": 1.0},
        "align": ALIGN_TOP_LEFT,
        "bounds_type": BOUNDS_NONE,
        "bounds_align": ALIGN_CENTER,
        "bounds": {"x": 0.0, "y": 0.0},
        "crop_left": 0, "crop_top": 0, "crop_right": 0, "crop_bottom": 0,
        "scale_filter": "disable",
        "blend_method": "default",
        "blend_type": "normal",
    }
    if bounds:
        item["bounds_type"] = BOUNDS_SCALE_INNER
        item["bounds"] = {"x": float(bounds[0]), "y": float(bounds[1])}
    return item


def scene(name: str, source_names: list[str], bounds: tuple[int, int] | None = None) -> dict:
    items = [scene_item(n, i + 1, bounds) for i, n in enumerate(source_names)]
    s = source(name, "scene", {"custom_size": False, "id_counter": len(items), "items": items})
    return s


def collection(name: str, scenes: list[dict], sources: list[dict], current: str | None = None,
               modules: dict | None = None) -> dict:
    """A complete scene collection. `scenes` are dicts from `scene()`, `sources` the inputs they show;
    `modules` the frontend modules' data (e.g. "scripts-tool": the scripts to load)."""
    current = current or scenes[0]["name"]
    return {
        "name": name,
        "current_scene": current,
        "current_program_scene": current,
        "current_transition": "Fade",
        "transition_duration": 300,
        "transitions": [],
        "groups": [],
        "quick_transitions": [],
        "saved_projectors": [],
        "preview_locked": False,
        "scaling_enabled": False,
        "scene_order": [{"name": s["name"]} for s in scenes],
        "sources": list(sources) + list(scenes),
        "modules": dict(modules or {}),
    }


def write_ini(path: Path, sections: dict[str, dict[str, object]]) -> None:
    """Write an ini file the way OBS reads it (case-sensitive keys, no spaces around '=')."""
    path.parent.mkdir(parents=True, exist_ok=True)
    lines: list[str] = []
    for section, values in sections.items():
        lines.append(f"[{section}]")
        lines += [f"{k}={v}" for k, v in values.items()]
        lines.append("")
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text("\n".join(lines))
    os.replace(tmp, path)


def write_json(path: Path, data: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=4))
    os.replace(tmp, path)


def profile_sections(name: str, width: int, height: int, fps: int = 30) -> dict[str, dict[str, object]]:
    """basic.ini of a profile with the given canvas (base) and output size."""
    return {
        "General": {"Name": name},
        "Video": {
            "BaseCX": width, "BaseCY": height,
            "OutputCX": width, "OutputCY": height,
            "FPSType": 1,  # integer FPS
            "FPSInt": fps,
            "FPSCommon": fps,
        },
    }


def read_canvas(config_dir: Path) -> tuple[int, int] | None:
    """Canvas size of the profile selected in an existing global.ini, if it can be found."""
    glob = configparser.ConfigParser(interpolation=None, strict=False)
    glob.optionxform = str  # type: ignore[assignment]
    try:
        glob.read(config_dir / "global.ini")
        prof_dir = glob.get("Basic", "ProfileDir", fallback=None)
        if not prof_dir:
            return None
        basic = configparser.ConfigParser(interpolation=None, strict=False)
        basic.optionxform = str  # type: ignore[assignment]
        basic.read(config_dir / "basic" / "profiles" / prof_dir / "basic.ini")
        return int(basic.get("Video", "BaseCX")), int(basic.get("Video", "BaseCY"))
    except (configparser.Error, ValueError, OSError):
        return None


def demo(args: argparse.Namespace) -> int:
    """Create the demo scene collection without touching an existing user's choices."""
    config_dir = Path(args.config_dir).expanduser()
    coll_path = config_dir / "basic" / "scenes" / collection_file_name(DEMO_COLLECTION)
    global_ini = config_dir / "global.ini"
    fresh = not global_ini.exists()

    demo_canvas = (1280, 720)  # 720p30 is what a CPU-only machine comfortably renders
    canvas = demo_canvas if fresh else (read_canvas(config_dir) or (1920, 1080))

    if args.webcam:
        # v4l2_input picks its own resolution/format; the filter defaults to blur.
        src = source("Webcam", "v4l2_input", {"device_id": args.webcam}, [filter_entry()])
        what = f"webcam {args.webcam}"
    else:
        src = source("Sample picture", "image_source", {"file": str(Path(args.image).resolve())},
                     [filter_entry()])
        what = f"sample picture {args.image}"
    data = collection(DEMO_COLLECTION, [scene("Demo", [src["name"]], bounds=canvas)], [src])

    if coll_path.exists() and not args.force:
        print(f"kept existing scene collection {coll_path} (remove it to recreate)")
    else:
        write_json(coll_path, data)
        print(f"wrote scene collection '{DEMO_COLLECTION}' ({what}): {coll_path}")

    if fresh:
        # No OBS configuration yet: select the demo collection and a 720p profile, and skip the
        # first-run auto-configuration wizard.
        prof = "Virtual Background Demo"
        prof_dir = prof.replace(" ", "_")
        write_ini(config_dir / "basic" / "profiles" / prof_dir / "basic.ini",
                  profile_sections(prof, *demo_canvas))
        write_ini(global_ini, {
            "General": {"FirstRun": "true", "LastVersion": OBS_VERSION},
            "Basic": {
                "Profile": prof, "ProfileDir": prof_dir,
                "SceneCollection": DEMO_COLLECTION,
                "SceneCollectionFile": collection_file_name(DEMO_COLLECTION)[:-5],
            },
        })
        print(f"wrote {global_ini} selecting '{DEMO_COLLECTION}'")
    else:
        print(f"existing OBS configuration kept: select 'Scene Collection > {DEMO_COLLECTION}' in OBS")
    return 0


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(description=__doc__)
    sub = p.add_subparsers(dest="cmd", required=True)
    d = sub.add_parser("demo", help="create the demo scene collection")
    d.add_argument("--config-dir", default="~/.config/obs-studio")
    d.add_argument("--image", required=True, help="picture shown when there is no webcam")
    d.add_argument("--webcam", default="", help="V4L2 device to use instead of the picture")
    d.add_argument("--force", action="store_true", help="overwrite an existing demo collection")
    args = p.parse_args(argv)
    return demo(args)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

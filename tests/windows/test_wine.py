"""The Windows build in OBS's own Windows libobs (32.2.2) under Wine 10: run by scripts/test-windows.

Each run starts tests/windows/host.c (a minimal OBS host linked against obs.dll) in Wine, inside the sid root
that built the DLL, with the plugin installed in OBS's per-plugin layout (the zip's staging folder). The host
puts the filter on the evaluation photo and saves the output's frames; the checks read them as the Linux
end-to-end tests read screenshots: the person against the ground truth, the background against the setting.
Both of OBS's Windows renderers run: D3D11 (OBS's default on Windows, HLSL) and OpenGL (GLSL).

What Wine cannot show: a real GPU's timing (llvmpipe draws on the CPU in both renderers), DirectML running (no
DXCore or DirectX 12 device here: only its fallback is tested), and Windows' own loader in every detail (Wine's follows the documented search order).
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "e2e"))
import obs_harness as h  # noqa: E402
from conftest import PERSON_IMAGE, PERSON_MASK  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
ROOT = Path(os.environ.get("VBG_WINE_ROOT", "/nonexistent"))
OBS_WIN = Path(os.environ.get("VBG_OBS_WIN", "/nonexistent"))
STAGE = Path(os.environ.get("VBG_WIN_STAGE", "/nonexistent"))
HOST = Path(os.environ.get("VBG_WIN_HOST", "/nonexistent"))
DECOY = Path(os.environ.get("VBG_WIN_DECOY", "/nonexistent"))  # tests/windows/decoy.c, built as both names
ARTIFACTS = Path(os.environ.get("VBG_WIN_ARTIFACTS", "artifacts/windows"))
PREFIX = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "obs-virtual-background/windows/wineprefix"
MODES = ["transparent", "blur", "color", "image", "source"]
COLOUR = (40, 200, 90)
COLOUR_TOL = 10
IOU_MIN = 0.85  # as the Linux end-to-end checks (tests/e2e/test_filter.py)
# What the plugin DLL may import: Windows' own DLLs and OBS. No MinGW runtime (libgcc, libwinpthread).
SYSTEM_DLLS = {"kernel32.dll", "ntdll.dll", "advapi32.dll", "bcrypt.dll", "bcryptprimitives.dll", "ws2_32.dll",
               "userenv.dll", "msvcrt.dll", "user32.dll", "shell32.dll", "ole32.dll", "secur32.dll"}
# ONNX Runtime's own imports besides those: the MSVC runtime (OBS's installer puts it on every machine),
# the Universal CRT and DirectX's graphics infrastructure (for its device list).
ORT_RUNTIME_DLLS = {"msvcp140.dll", "msvcp140_1.dll", "vcruntime140.dll", "vcruntime140_1.dll", "dxgi.dll", "dbghelp.dll",
                    "setupapi.dll", "oleaut32.dll"}

# Only scripts/test-windows sets the paths; there, anything missing is a failure, not a skip.
pytestmark = pytest.mark.skipif("VBG_WINE_ROOT" not in os.environ,
                                reason="run through scripts/test-windows (needs its sid root with Wine)")


@pytest.fixture(scope="module", autouse=True)
def prepared() -> None:
    assert (ROOT / "usr/bin/wine-stable").exists(), f"no Wine in {ROOT}"
    for path in [HOST, OBS_WIN / "obs.dll", STAGE / "bin/64bit/obs-virtual-background.dll",
                 DECOY / "onnxruntime.dll"]:
        assert path.exists(), f"{path} missing (scripts/test-windows builds it)"


def win_path(path: Path) -> str:
    """The path as Wine's programs see it (Z: is the root file system)."""
    return "Z:" + str(path).replace("/", "\\")


def imports(dll: Path) -> set[str]:
    out = subprocess.run(["chroot", str(ROOT), "x86_64-w64-mingw32-objdump", "-p", str(dll)], capture_output=True,
                         text=True, check=True).stdout
    return {line.split("DLL Name:")[1].strip().lower() for line in out.splitlines() if "DLL Name:" in line}


@pytest.fixture(scope="module")
def display():
    """A headless X server for Wine (its OpenGL runs on Mesa's llvmpipe in the root)."""
    number = 90 + os.getpid() % 100
    xvfb = subprocess.Popen(["Xvfb", f":{number}", "-screen", "0", "1280x720x24", "-nolisten", "tcp"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(50):
        if Path(f"/tmp/.X11-unix/X{number}").exists():
            break
        time.sleep(0.1)
    yield f":{number}"
    xvfb.terminate()
    xvfb.wait(10)


def wine(display: str, args: list[str], path_extra: str = "", timeout: float = 240,
         preload: list[Path] = ()) -> subprocess.CompletedProcess:
    env = {"PATH": "/usr/bin:/bin", "HOME": "/root", "DISPLAY": display, "WINEPREFIX": str(PREFIX),
           "WINEDEBUG": "-all", "WINEDLLOVERRIDES": "mscoree,mshtml=", "LIBGL_ALWAYS_SOFTWARE": "1"}
    if path_extra:
        env["WINEPATH"] = path_extra
    if preload:
        env["VBG_HOST_PRELOAD"] = ";".join(win_path(p) for p in preload)
    PREFIX.parent.mkdir(parents=True, exist_ok=True)
    return subprocess.run(["chroot", str(ROOT), "env", "-i", *[f"{k}={v}" for k, v in env.items()], "wine", *args],
                          capture_output=True, text=True, timeout=timeout)


@dataclass
class HostRun:
    frames: list[np.ndarray]  # H x W x 4, in the channel order of the output (see `references`)
    statuses: list[dict]  # the filter's GetFilterStatus answer when each frame was saved
    log: str
    events: list[str]  # vendor events the plugin sent ("FilterStatusChanged {...}")
    proc: subprocess.CompletedProcess


def person_picture() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    picture = ARTIFACTS / "person.png"
    if not picture.exists():
        Image.open(PERSON_IMAGE).convert("RGB").save(picture)
    return picture


def run_host(display: str, renderer: str, settings: str, name: str, seconds: list[float], path_extra: str = "",
             picture: Path | None = None, stage: Path | None = None, preload: list[Path] = ()) -> HostRun:
    """Runs the host on `picture` (the person photo by default; an .mp4 plays in a Media source) with the
    plugin installed in `stage` (the zip's layout by default)."""
    picture = picture or person_picture()
    w, hgt = Image.open(person_picture()).size
    out = ARTIFACTS / name
    for old in [*ARTIFACTS.glob(f"{name}-*.rgba"), *ARTIFACTS.glob(f"{name}-*.status.json")]:
        old.unlink()
    proc = wine(display, [win_path(HOST), win_path(OBS_WIN), win_path(stage or STAGE), win_path(picture), str(w),
                          str(hgt), renderer, settings, win_path(out), *[str(s) for s in seconds]], path_extra,
                preload=preload)
    (ARTIFACTS / f"{name}-stdout.txt").write_text(proc.stdout + "\n--- stderr\n" + proc.stderr)
    log = (ARTIFACTS / f"{name}.log").read_text(errors="replace") if (ARTIFACTS / f"{name}.log").exists() else ""
    events_file = ARTIFACTS / f"{name}.events.txt"
    events = events_file.read_text(errors="replace").splitlines() if events_file.exists() else []
    frames, statuses = [], []
    for i in range(len(seconds)):
        raw = ARTIFACTS / f"{name}-{i}.rgba"
        if raw.exists():
            frame = np.frombuffer(raw.read_bytes(), np.uint8).reshape(hgt, w, 4)
            frames.append(frame)
            h.save_png(frame, ARTIFACTS / f"{name}-{i}.png")
        status = ARTIFACTS / f"{name}-{i}.status.json"
        if status.exists():
            statuses.append(json.loads(status.read_text(errors="replace") or "{}"))
    return HostRun(frames, statuses, log, events, proc)


def plugin_lines(log: str) -> list[str]:
    return [line for line in log.splitlines() if "[obs-virtual-background]" in line]


def test_the_plugin_dll_imports_only_windows_and_obs() -> None:
    found = imports(STAGE / "bin/64bit/obs-virtual-background.dll")
    print(f"imports: {sorted(found)}")
    assert "obs.dll" in found
    others = found - SYSTEM_DLLS - {"obs.dll"} - {d for d in found if d.startswith("api-ms-win-")}
    assert not others, f"the plugin imports DLLs that are neither Windows' nor OBS's: {sorted(others)}"


def obs_imports(dll: Path) -> list[str]:
    """The functions `dll` imports from obs.dll."""
    out = subprocess.run(["chroot", str(ROOT), "x86_64-w64-mingw32-objdump", "-p", str(dll)], capture_output=True,
                         text=True, check=True).stdout
    names, inside = [], False
    for line in out.splitlines():
        if "DLL Name:" in line:
            inside = line.split("DLL Name:")[1].strip().lower() == "obs.dll"
        elif inside and re.match(r"\s+[0-9a-f]+\s+\S+\s+[0-9a-f]+\s+\w+$", line):
            names.append(line.split()[-1])
    return names


def test_every_libobs_call_has_the_windows_sizes() -> None:
    """obs-sys's bindings come from libobs's Linux headers (scripts/build-windows). C's `long` is 64 bits there
    and 32 on Windows, so a binding that names `long` for a type that is 64 bits on both (size_t, spelled
    `unsigned long` by glibc) would cut every such argument in half on Windows. Every libobs function the DLL
    imports must use only types of one size on both."""
    bindings = max(REPO.glob("target/windows/x86_64-pc-windows-gnu/release/build/obs-sys-*/out/bindings.rs"),
                   key=lambda p: p.stat().st_mtime)
    text = bindings.read_text()
    size_t = re.search(r"pub type size_t = ([^;]+);", text)
    assert size_t and "c_ulonglong" in size_t.group(1), f"size_t is not 64 bits on Windows: {size_t}"
    longs = {m.group(1) for m in re.finditer(r"pub type (\w+) = [^;]*\bc_u?long\b[^;]*;", text)}
    word = re.compile(r"\b(c_u?long|" + "|".join(sorted(longs)) + r")\b") if longs else re.compile(r"\bc_u?long\b")
    names = obs_imports(STAGE / "bin/64bit/obs-virtual-background.dll")
    assert len(names) > 50, f"too few libobs imports read: {names}"
    wrong = []
    for name in names:
        decl = re.search(rf"pub fn {name} \(([^;]*?)\)\s*(->[^;]*)?;", text)
        assert decl, f"{name} is imported but not in the bindings"
        if word.search(decl.group(0)):
            wrong.append(decl.group(0))
    # The structs the plugin fills or reads itself (calldata_t, obs_source_info, ...): named in its OBS glue.
    glue = " ".join(f.read_text() for f in (REPO / "src/obs").rglob("*.rs"))
    aliases = dict(re.findall(r"pub type (\w+) = (\w+) ;", text))
    structs = dict(re.findall(r"pub struct (\w+) \{([^}]*)\}", text))
    used = {aliases.get(n, n) for n in set(re.findall(r"\b\w+\b", glue))} & structs.keys()
    wrong += [f"struct {n} {{{structs[n]}}}" for n in sorted(used) if word.search(structs[n])]
    print(f"{len(names)} libobs functions imported, {len(used)} of its structs used; typedefs through C's long: "
          f"{sorted(longs)}")
    assert not wrong, "libobs calls and structs whose sizes differ between Linux and Windows:\n" + "\n".join(wrong)


def test_onnx_runtime_imports_only_windows_and_the_msvc_runtime() -> None:
    found = imports(STAGE / "bin/64bit/onnxruntime.dll")
    print(f"onnxruntime.dll imports: {sorted(found)}")
    others = found - SYSTEM_DLLS - ORT_RUNTIME_DLLS - {d for d in found if d.startswith("api-ms-win-")}
    assert not others, f"ONNX Runtime imports unexpected DLLs: {sorted(others)}"


@pytest.fixture(scope="module")
def references(display: str) -> dict[str, tuple[str, int]]:
    """Per renderer, the picture without the filter: the channel order the host's frames come in (OBS's
    output as read back; BGRA here under Wine), checked against the photo, and libobs's own leak count."""
    photo = np.array(Image.open(PERSON_IMAGE).convert("RGB")).astype(np.int16)
    found = {}
    for renderer in ["d3d11", "opengl"]:
        run = run_host(display, renderer, "none", f"plain-{renderer}", [4.0])
        proc, frames = run.proc, run.frames
        assert proc.returncode == 0 and frames, f"{renderer}: OBS without the filter failed: {proc.stderr[-2000:]}"
        errors = {order: float(np.abs(frames[0][..., idx].astype(np.int16) - photo).mean())
                  for order, idx in [("rgb", [0, 1, 2]), ("bgr", [2, 1, 0])]}
        order = min(errors, key=errors.get)
        assert errors[order] < 1.0, f"{renderer}: OBS's output is not the photo: {errors}"
        found[renderer] = (order, int(proc.stdout.split("leaks ")[-1].split()[0]))
    return found


def as_rgba(frame: np.ndarray, order: str) -> np.ndarray:
    return frame if order == "rgb" else frame[..., [2, 1, 0, 3]]


def check_color_mode(renderer: str, name: str, references: dict, display: str, path_extra: str = "",
                     preload: list[Path] = (), extra: str = "") -> HostRun:
    """Color mode on the photo: the mask against the ground truth, the person's pixels against the photo, the
    status, and the filter's threads joined when the host destroyed it (before OBS shut down)."""
    settings = f'{{"mode": "color", "color": {h.colour_to_obs(COLOUR)}{extra}}}'
    run = run_host(display, renderer, settings, name, [20.0], path_extra, preload=preload)
    frames, log, proc = run.frames, run.log, run.proc
    lines = plugin_lines(log)
    print("\n".join(lines))
    assert proc.returncode == 0, f"the host failed ({proc.returncode}): {proc.stderr[-2000:]}"
    assert any("model ready" in line for line in lines), "the model never became ready"
    assert not any("internal error" in line for line in lines)
    assert frames, "no frame was saved"
    order, leaks = references[renderer]
    shot = as_rgba(frames[-1], order)
    h.save_png(shot, ARTIFACTS / f"{name}.png")
    gt = h.load_mask(PERSON_MASK, (shot.shape[1], shot.shape[0]))
    person = ~h.is_colour(shot, COLOUR, COLOUR_TOL)
    score = h.iou(person, gt)
    photo = np.array(Image.open(PERSON_IMAGE).convert("RGB"))
    core = h.erode(gt, 12)
    person_diff = h.mean_abs_diff(shot, photo, core)
    print(f"{renderer}: IoU {score:.3f}, person core {person_diff:.2f} levels from the photo")
    assert score >= IOU_MIN, f"{renderer}: Color mode IoU {score:.3f} < {IOU_MIN}"
    assert person_diff < 3.0, f"{renderer}: the person is {person_diff:.1f} levels from the photo"
    found = int(proc.stdout.split("leaks ")[-1].split()[0])
    assert found <= leaks, f"{renderer}: libobs counted {found} leaks, {leaks} without the filter"
    check_clean_end(run)
    return run


def check_clean_end(run: HostRun) -> None:
    """The host destroyed the filter before shutting OBS down: its threads were joined then, none was left for
    the unload to stop, and the host exited normally."""
    lines = plugin_lines(run.log)
    assert run.proc.returncode == 0, f"the host failed ({run.proc.returncode}): {run.proc.stderr[-2000:]}"
    assert any("unloaded (0 plugin threads still running)" in line for line in lines), "\n".join(lines[-5:])
    assert not any("had not destroyed" in line for line in lines), "\n".join(lines[-5:])


@pytest.mark.parametrize("renderer", ["d3d11", "opengl"])
def test_color_mode_masks_the_person(display: str, references: dict, renderer: str) -> None:
    run = check_color_mode(renderer, f"color-{renderer}", references, display)
    ort = [line for line in plugin_lines(run.log) if "ONNX Runtime loaded from" in line]
    assert ort and win_path(STAGE / "bin/64bit/onnxruntime.dll").lower() in ort[0].lower(), \
        f"ONNX Runtime was not loaded from the plugin's folder: {ort}"
    # The status API, through the same vendor requests obs-websocket would call (the host stands in for it).
    status = run.statuses[-1]
    print(f"status: {status}")
    assert status.get("state") == "ready" and status.get("mode") == "color" and status.get("device") == "cpu", status
    assert "fault" not in status and "fallback" not in status, status
    assert status.get("masksPerSecond", 0) > 0 and status.get("statusText"), status
    changed = [e for e in run.events if e.startswith("FilterStatusChanged ")]
    assert any('"state":"ready"' in e.replace(" ", "") for e in changed), f"no FilterStatusChanged to ready: {changed}"


def test_a_decoy_onnx_runtime_on_the_path_is_never_loaded(display: str, references: dict) -> None:
    """Another onnxruntime.dll (and providers DLL) on the search path, here not real ones, must not be taken."""
    decoy = ARTIFACTS / "decoy"
    decoy.mkdir(parents=True, exist_ok=True)
    shutil.copy(OBS_WIN / "zlib.dll", decoy / "onnxruntime.dll")
    shutil.copy(OBS_WIN / "zlib.dll", decoy / "onnxruntime_providers_shared.dll")
    run = check_color_mode("opengl", "decoy", references, display, path_extra=win_path(decoy))
    ort = [line for line in plugin_lines(run.log) if "ONNX Runtime loaded from" in line]
    assert ort and "decoy" not in ort[0].lower(), ort


def test_an_onnx_runtime_another_plugin_loaded_first_is_never_used(display: str, references: dict) -> None:
    """Another plugin's onnxruntime.dll and providers DLL (real DLLs, tests/windows/decoy.c) are already in the
    process when the plugin loads: Windows would hand them to anyone loading those names, so the plugin must
    load its own by full path, and its runtime's own dependencies from its folder."""
    decoys = [DECOY / "onnxruntime.dll", DECOY / "onnxruntime_providers_shared.dll"]
    run = check_color_mode("d3d11", "preloaded-decoy", references, display, preload=decoys)
    assert run.proc.stdout.count(": yes") == 2, f"the decoys were not loaded first: {run.proc.stdout[:500]}"
    ort = [line for line in plugin_lines(run.log) if "ONNX Runtime loaded from" in line]
    assert ort and win_path(STAGE / "bin/64bit/onnxruntime.dll").lower() in ort[0].lower(), ort
    assert run.statuses[-1].get("state") == "ready", run.statuses[-1]


def test_without_its_own_onnx_runtime_the_picture_passes_through_and_the_status_says_why(
        display: str, references: dict) -> None:
    """The plugin's onnxruntime.dll is missing and another one (a real DLL) is on PATH: the plugin does not
    take that one; it shows the picture unchanged, says why in its status and log, and shuts down cleanly."""
    stage = ARTIFACTS / "stage-without-runtime"
    shutil.rmtree(stage, ignore_errors=True)
    shutil.copytree(STAGE, stage)
    (stage / "bin/64bit/onnxruntime.dll").unlink()
    settings = f'{{"mode": "color", "color": {h.colour_to_obs(COLOUR)}}}'
    run = run_host(display, "d3d11", settings, "no-runtime", [12.0], path_extra=win_path(DECOY), stage=stage)
    lines = plugin_lines(run.log)
    print("\n".join(lines))
    check_passthrough(run, references["d3d11"][0])
    status = run.statuses[-1]
    print(f"status: {status}")
    fault = status.get("fault", {})
    # "model": the model or ONNX Runtime (the status API's kinds, README); the reason names the file and the fix.
    assert status.get("state") == "failed" and fault.get("kind") == "model", status
    reason = fault.get("reason", "")
    assert "onnxruntime.dll" in reason and "stage-without-runtime" in reason and "reinstall the plugin" in reason, fault
    assert not any("ONNX Runtime loaded from" in line for line in lines), "a runtime was loaded: " + str(lines)
    assert sum("onnxruntime.dll" in line for line in lines) == 1, "not one clear log line:\n" + "\n".join(lines)
    check_clean_end(run)


def check_passthrough(run: HostRun, order: str) -> None:
    """The frame is the photo as OBS shows it without the filter."""
    assert run.frames, f"no frame was saved: {run.proc.stderr[-2000:]}"
    photo = np.array(Image.open(PERSON_IMAGE).convert("RGB")).astype(np.int16)
    diff = float(np.abs(as_rgba(run.frames[-1], order)[..., :3].astype(np.int16) - photo).mean())
    assert diff < 1.0, f"the picture did not pass through unchanged (mean difference {diff:.2f})"


def test_a_bad_model_passes_the_picture_through_and_the_status_says_why(display: str, references: dict) -> None:
    bad = ARTIFACTS / "broken.onnx"
    bad.write_bytes(np.random.default_rng(3).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    settings = (f'{{"mode": "color", "color": {h.colour_to_obs(COLOUR)}, "model": "custom", '
                f'"model_path": "{str(bad)}"}}')
    run = run_host(display, "d3d11", settings, "bad-model", [12.0])
    lines = plugin_lines(run.log)
    print("\n".join(lines))
    check_passthrough(run, references["d3d11"][0])
    status = run.statuses[-1]
    fault = status.get("fault", {})
    assert status.get("state") == "failed" and fault.get("kind") == "model" and "broken.onnx" in fault.get("reason", ""), \
        status
    assert sum("broken.onnx" in line for line in lines) == 1, "not one clear log line:\n" + "\n".join(lines)
    check_clean_end(run)


def test_directml_is_offered_and_without_directx_12_falls_back_to_the_cpu_and_says_why(
        display: str, references: dict) -> None:
    """The runtime shipped is ONNX Runtime's DirectML build, so DirectML is offered. Choosing it loads the
    plugin's own DirectML.dll by full path first (ONNX Runtime delay-loads it by name; System32 holds an older
    one), never a DirectML.dll on the search path. Wine has no DXCore (the way ONNX Runtime finds a DirectX 12
    adapter), as older Windows 10 has none: a saved DirectML choice runs on the CPU, with ONNX Runtime's reason
    in the status, without its source location."""
    decoy = ARTIFACTS / "decoy-directml"
    decoy.mkdir(parents=True, exist_ok=True)
    shutil.copy(OBS_WIN / "zlib.dll", decoy / "DirectML.dll")
    run = check_color_mode("d3d11", "directml", references, display, path_extra=win_path(decoy),
                           extra=', "device": "directml"')
    status = run.statuses[-1]
    print(f"status: {status}")
    lines = plugin_lines(run.log)
    offered = [line for line in lines if "devices:" in line]
    assert offered and offered[0].rstrip().endswith("devices: CPU, DirectML"), offered
    dml = [line for line in lines if "DirectML.dll loaded from" in line]
    assert len(dml) == 1 and win_path(STAGE / "bin/64bit/DirectML.dll").lower() in dml[0].lower(), lines
    fallback = status.get("fallback", {})
    assert status.get("state") == "ready" and status.get("device") == "cpu", status
    reason = fallback.get("reason", "")
    assert fallback.get("wanted") == "directml" and "DXCore is not available" in reason, status
    assert ".cc:" not in reason and "onnxruntime::" not in reason, reason


def test_without_its_own_directml_dll_directml_falls_back_to_the_cpu_and_says_why(
        display: str, references: dict) -> None:
    """DirectML.dll missing from the plugin's folder (and one on PATH): the plugin never takes another one;
    DirectML falls back to the CPU with the file and the fix in the status."""
    stage = ARTIFACTS / "stage-without-directml"
    shutil.rmtree(stage, ignore_errors=True)
    shutil.copytree(STAGE, stage)
    (stage / "bin/64bit/DirectML.dll").unlink()
    decoy = ARTIFACTS / "decoy-directml"
    decoy.mkdir(parents=True, exist_ok=True)
    shutil.copy(OBS_WIN / "zlib.dll", decoy / "DirectML.dll")
    settings = f'{{"mode": "color", "color": {h.colour_to_obs(COLOUR)}, "device": "directml"}}'
    run = run_host(display, "d3d11", settings, "no-directml", [20.0], path_extra=win_path(decoy), stage=stage)
    status = run.statuses[-1]
    print(f"status: {status}")
    assert not any("DirectML.dll loaded from" in line for line in plugin_lines(run.log)), run.log
    fallback = status.get("fallback", {})
    reason = fallback.get("reason", "")
    assert status.get("state") == "ready" and status.get("device") == "cpu", status
    assert "DirectML.dll not found" in reason and "reinstall the plugin" in reason, status
    check_clean_end(run)


@pytest.mark.parametrize("mode", ["transparent", "blur", "image", "source"])
def test_every_mode_draws_the_same_in_d3d11_and_opengl(display: str, references: dict, mode: str) -> None:
    """The effect file compiled as HLSL (D3D11) and as GLSL (OpenGL) draws the same picture. Source mode has
    no background source in this host, so it shows the colour, as on Linux when the source is missing."""
    settings = mode_settings(mode)
    shots = {}
    for renderer in ["d3d11", "opengl"]:
        run = run_host(display, renderer, settings, f"{mode}-{renderer}", [15.0])
        frames, proc, lines = run.frames, run.proc, plugin_lines(run.log)
        assert proc.returncode == 0 and frames, f"{renderer}: {proc.stderr[-2000:]}"
        assert any("model ready" in line for line in lines), "\n".join(lines)
        shots[renderer] = as_rgba(frames[-1], references[renderer][0]).astype(np.int16)
        h.save_png(shots[renderer].astype(np.uint8), ARTIFACTS / f"{mode}-{renderer}.png")
    gt = h.load_mask(PERSON_MASK, (shots["opengl"].shape[1], shots["opengl"].shape[0]))
    d3d, gl = shots["d3d11"], shots["opengl"]
    alpha_iou = h.iou(d3d[..., 3] >= 128, gl[..., 3] >= 128)
    diff = np.abs(d3d - gl)
    print(f"{mode}: alpha IoU {alpha_iou:.4f}, mean |D3D11 - OpenGL| {diff.mean():.3f}, 99th percentile "
          f"{np.percentile(diff, 99):.0f}")
    # Two runs, two masks: the masks match closely but not to the pixel (each run segments its own frames).
    assert alpha_iou >= 0.99, f"{mode}: the two renderers' alpha differs (IoU {alpha_iou:.4f})"
    assert diff.mean() <= 1.0, f"{mode}: the two renderers differ by {diff.mean():.2f} levels on average"
    if mode == "transparent":
        assert h.iou(gl[..., 3] >= 128, gt) >= IOU_MIN


def backdrop_picture() -> Path:
    picture = ARTIFACTS / "backdrop.png"
    if not picture.exists():
        y, x = np.mgrid[0:240, 0:320]
        Image.fromarray(np.dstack([x * 255 // 320, y * 255 // 240, np.full_like(x, 128)]).astype(np.uint8)).save(
            picture)
    return picture


def mode_settings(mode: str, sync: bool = False) -> str:
    settings = {"mode": mode, "color": h.colour_to_obs(COLOUR), "temporal_smoothing": 0.0}
    if mode == "image":
        settings["image_path"] = str(backdrop_picture())
    if sync:
        settings["sync_video"] = True
    return json.dumps(settings)


@pytest.fixture(scope="module")
def video(display: str, references: dict) -> tuple[Path, np.ndarray]:
    """The photo as a 3 s H.264 clip, and its frame as OBS's Media source shows it without the filter."""
    clip = ARTIFACTS / "person.mp4"
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-loop", "1", "-i", str(person_picture()), "-t", "3", "-r", "30",
                    "-c:v", "libx264", "-crf", "12", "-pix_fmt", "yuv420p", str(clip)], check=True)
    run = run_host(display, "d3d11", "none", "video-plain", [6.0], picture=clip)
    assert run.proc.returncode == 0 and run.frames, f"the Media source did not play: {run.proc.stderr[-2000:]}"
    plain = as_rgba(run.frames[-1], references["d3d11"][0])
    photo = np.array(Image.open(PERSON_IMAGE).convert("RGB"))
    assert h.mean_abs_diff(plain, photo) < 4.0, "the Media source does not show the clip"
    return clip, plain


@pytest.mark.parametrize("mode", MODES)
def test_a_video_plays_through_the_filter_in_every_mode(display: str, references: dict, video, mode: str) -> None:
    """A Media source (OBS's asynchronous video path, not the Image source's) under D3D11: the person shows as
    in the clip, the background as the mode says."""
    clip, plain = video
    run = run_host(display, "d3d11", mode_settings(mode), f"video-{mode}", [15.0], picture=clip)
    check_clean_end(run)
    assert run.statuses[-1].get("state") == "ready", run.statuses[-1]
    shot = as_rgba(run.frames[-1], references["d3d11"][0])
    gt = h.load_mask(PERSON_MASK, (shot.shape[1], shot.shape[0]))
    core, background = h.erode(gt, 12), h.erode(~gt, 12)
    person = h.mean_abs_diff(shot, plain, core)
    if mode == "transparent":
        kept = h.iou(shot[..., 3] >= 128, gt)
        detail = f"alpha IoU {kept:.3f}"
        assert kept >= IOU_MIN, f"{mode}: {detail}"
    elif mode == "blur":
        before, after = h.laplacian_energy(plain, background), h.laplacian_energy(shot, background)
        detail = f"background detail {after:.1f} (clip {before:.1f})"
        assert after < 0.5 * before, f"{mode}: the background is not blurred: {detail}"
    elif mode == "image":
        changed = h.mean_abs_diff(shot, plain, background)
        detail = f"background {changed:.1f} levels from the clip"
        assert changed > 20, f"{mode}: the picture does not replace the background: {detail}"
    else:  # color, and source (no background source in this host: the colour stands in)
        kept = h.iou(~h.is_colour(shot, COLOUR, COLOUR_TOL), gt)
        detail = f"IoU {kept:.3f}"
        assert kept >= IOU_MIN, f"{mode}: {detail}"
    print(f"video {mode}: person core {person:.2f} levels from the clip, {detail}")
    assert person < 3.0, f"{mode}: the person is {person:.1f} levels from the clip"


CUTS_LINE = re.compile(r"(\d+) scene cuts seen, (\d+) held \((\d+) frames in all\)")


@pytest.fixture(scope="module")
def cut_video() -> Path:
    """The person photo and its negative, a second each, six times: a cut every second."""
    clip = ARTIFACTS / "cuts.mp4"
    photo = np.array(Image.open(person_picture()).convert("RGB"))
    hgt, w = photo.shape[:2]
    frames = b"".join((photo if (n // 30) % 2 == 0 else 255 - photo).tobytes() for n in range(180))
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{w}x{hgt}",
                    "-r", "30", "-i", "-", "-c:v", "libx264", "-crf", "18", "-pix_fmt", "yuv420p", str(clip)],
                   input=frames, check=True)
    return clip


@pytest.mark.parametrize("renderer", ["d3d11", "opengl"])
def test_scene_cuts_are_held_in_both_renderers(display: str, cut_video: Path, renderer: str) -> None:
    """The cut check runs on the GPU (an 8x8 thumbnail, a one-pixel verdict read back a frame later, the copy
    the passes read): in Windows libobs the filter sees the clip's cuts and holds all but the first, which
    starts the copies (src/cut_hold.rs; scored against the truth in tests/e2e/test_cuts.py)."""
    run = run_host(display, renderer, mode_settings("transparent"), f"cuts-{renderer}", [6.5], picture=cut_video)
    check_clean_end(run)
    found = [m for line in plugin_lines(run.log) if (m := CUTS_LINE.search(line))]
    assert found, "no 'scene cuts seen' line when the filter went:\n" + "\n".join(plugin_lines(run.log)[-8:])
    seen, held, frames = (int(g) for g in found[-1].groups())
    print(f"cuts {renderer}: {seen} seen, {held} held, {frames} frames")
    assert seen >= 3 and held >= seen - 1, found[-1].group(0)
    assert 1 <= frames <= 7 * held, found[-1].group(0)  # at most HOLD_MAX - 1 frames each


LINUX_MAX_MEAN_DIFF = 2.0  # levels of 255, per channel, over the whole frame


@pytest.mark.parametrize("mode", ["color", "blur"])
def test_the_composite_matches_the_linux_plugins(display: str, references: dict, mode: str) -> None:
    """The same photo, the same settings (sync mode, so each shows the mask of the frame it shows), in the
    Linux plugin inside this machine's OBS and in the Windows DLL inside OBS 32.2.2 for Windows: the same mask
    and the same composite, to a mean difference of at most LINUX_MAX_MEAN_DIFF per channel."""
    settings = mode_settings(mode, sync=True)
    linux = linux_screenshot(json.loads(settings), f"linux-{mode}")
    run = run_host(display, "d3d11", settings, f"windows-{mode}", [15.0])
    check_clean_end(run)
    windows = as_rgba(run.frames[-1], references["d3d11"][0])
    gt = h.load_mask(PERSON_MASK, (windows.shape[1], windows.shape[0]))
    diff = np.abs(windows.astype(np.int16) - linux.astype(np.int16))
    per_channel = [float(diff[..., c].mean()) for c in range(4)]
    edge = gt ^ h.erode(gt, 4)
    print(f"{mode}: mean |Windows - Linux| per channel {[round(v, 3) for v in per_channel]}, on the edge "
          f"{float(diff[edge][..., :3].mean()):.3f}, 99th percentile {np.percentile(diff[..., :3], 99):.0f}")
    h.save_png(linux, ARTIFACTS / f"linux-{mode}.png")
    assert max(per_channel) <= LINUX_MAX_MEAN_DIFF, f"{mode}: Windows and Linux differ: {per_channel}"
    if mode == "color":
        a = ~h.is_colour(windows, COLOUR, COLOUR_TOL)
        b = ~h.is_colour(linux, COLOUR, COLOUR_TOL)
        assert h.iou(a, b) >= 0.99, f"the masks differ: IoU {h.iou(a, b):.4f}"


def linux_screenshot(settings: dict, name: str) -> np.ndarray:
    """The Linux plugin's picture of the photo: the build installed into this machine's OBS (as the end-to-end
    tests do), a screenshot through obs-websocket once the filter's mask is ready."""
    assert h.obs_version(), "no OBS on this machine for the Linux side (scripts/setup installs it)"
    folder = ARTIFACTS / name
    shutil.rmtree(folder, ignore_errors=True)
    home = folder / "home"
    home.mkdir(parents=True)
    h.install_plugin(home / ".config/obs-studio/plugins" / h.PLUGIN, folder / "install-plugin.txt")
    oc = h.obs_config
    w, hgt = Image.open(person_picture()).size
    sources = [oc.source("Person", "image_source", {"file": str(person_picture())},
                         [oc.filter_entry("Virtual Background", settings=settings)])]
    obs = h.ObsInstance(home=home, artifacts=folder,
                        config=h.ObsConfig(canvas=(w, hgt), scenes=[oc.scene("Scene", ["Person"])], sources=sources))
    try:
        obs.start()
        ok, _, _ = h.wait_until(lambda: obs.filter_status("Person", "Virtual Background").get("state"),
                                lambda s: s == "ready", 90)
        assert ok, f"the Linux filter never became ready: {obs.plugin_log_lines()[-5:]}"
        time.sleep(3.0)  # a few masks on, as the Windows frame is taken 15 s after start
        return obs.wait_for_picture("Person", tol=1)
    finally:
        obs.stop()


def test_the_installer_needs_obs_installs_silently_and_uninstalls(display: str) -> None:
    installer = next(STAGE.parent.parent.glob("obs-virtual-background-*-windows-x64-setup.exe"))
    target = PREFIX / "drive_c/ProgramData/obs-studio/plugins/obs-virtual-background"
    obs_key = r"HKLM\Software\OBS Studio"
    uninstall_key = r"HKLM\Software\Microsoft\Windows\CurrentVersion\Uninstall\obs-virtual-background"
    wine(display, ["reg", "delete", obs_key, "/f", "/reg:64"])
    shutil.rmtree(target, ignore_errors=True)

    # Without OBS: refused, nothing installed.
    refused = wine(display, [win_path(installer), "/S"])
    assert refused.returncode == 2, f"installed without OBS (exit {refused.returncode})"
    assert not target.exists(), "files were installed without OBS"

    # With OBS (its installer's registry entry): silent install of the zip's folder, listed in Apps & features.
    assert wine(display, ["reg", "add", obs_key, "/ve", "/d", win_path(OBS_WIN), "/f", "/reg:64"]).returncode == 0
    try:
        done = wine(display, [win_path(installer), "/S"])
        assert done.returncode == 0, f"silent install failed (exit {done.returncode}): {done.stderr[-1000:]}"
        staged = sorted(p.relative_to(STAGE) for p in STAGE.rglob("*") if p.is_file())
        installed = sorted(p.relative_to(target) for p in target.rglob("*") if p.is_file())
        assert installed == sorted([*staged, Path("uninstall.exe")]), "the installed files are not the zip's"
        for rel in staged:
            assert (target / rel).read_bytes() == (STAGE / rel).read_bytes(), f"{rel} differs from the zip's"
        listed = wine(display, ["reg", "query", uninstall_key, "/v", "DisplayVersion", "/reg:64"])
        assert listed.returncode == 0 and "0.1.0" in listed.stdout, f"not in Apps & features: {listed.stdout}"

        # The uninstaller (it restarts itself from a temporary copy, so wait for the folder to go).
        wine(display, [win_path(target / "uninstall.exe"), "/S"])
        deadline = time.monotonic() + 60
        while target.exists() and time.monotonic() < deadline:
            time.sleep(0.5)
        assert not target.exists(), f"left after uninstalling: {[str(p) for p in target.rglob('*')]}"
        gone = wine(display, ["reg", "query", uninstall_key, "/reg:64"])
        assert gone.returncode != 0, "the Apps & features entry stayed"
    finally:
        wine(display, ["reg", "delete", obs_key, "/f", "/reg:64"])

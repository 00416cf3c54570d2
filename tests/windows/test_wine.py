"""The Windows build in OBS's own Windows libobs (32.2.2) under Wine 10: run by scripts/test-windows.

Each run starts tests/windows/host.c (a minimal OBS host linked against obs.dll) in Wine, inside the sid root
that built the DLL, with the plugin installed in OBS's per-plugin layout (the zip's staging folder). The host
puts the filter on the evaluation photo and saves the output's frames; the checks read them as the Linux
end-to-end tests read screenshots: the person against the ground truth, the background against the setting.
Both of OBS's Windows renderers run: D3D11 (OBS's default on Windows, HLSL) and OpenGL (GLSL).

What Wine cannot show: a real GPU's timing (llvmpipe draws on the CPU in both renderers), DirectML (no DirectX
12 here), and Windows' own loader in every detail (Wine's follows the documented search order).
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "e2e"))
import obs_harness as h  # noqa: E402
from conftest import PERSON_IMAGE, PERSON_MASK  # noqa: E402

ROOT = Path(os.environ.get("VBG_WINE_ROOT", "/nonexistent"))
OBS_WIN = Path(os.environ.get("VBG_OBS_WIN", "/nonexistent"))
STAGE = Path(os.environ.get("VBG_WIN_STAGE", "/nonexistent"))
HOST = Path(os.environ.get("VBG_WIN_HOST", "/nonexistent"))
ARTIFACTS = Path(os.environ.get("VBG_WIN_ARTIFACTS", "artifacts/windows"))
PREFIX = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "obs-virtual-background/windows/wineprefix"
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
    for path in [HOST, OBS_WIN / "obs.dll", STAGE / "bin/64bit/obs-virtual-background.dll"]:
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


def wine(display: str, args: list[str], path_extra: str = "", timeout: float = 240) -> subprocess.CompletedProcess:
    env = {"PATH": "/usr/bin:/bin", "HOME": "/root", "DISPLAY": display, "WINEPREFIX": str(PREFIX),
           "WINEDEBUG": "-all", "WINEDLLOVERRIDES": "mscoree,mshtml=", "LIBGL_ALWAYS_SOFTWARE": "1"}
    if path_extra:
        env["WINEPATH"] = path_extra
    PREFIX.parent.mkdir(parents=True, exist_ok=True)
    return subprocess.run(["chroot", str(ROOT), "env", "-i", *[f"{k}={v}" for k, v in env.items()], "wine", *args],
                          capture_output=True, text=True, timeout=timeout)


def run_host(display: str, renderer: str, settings: str, name: str, seconds: list[float],
             path_extra: str = "") -> tuple[list[np.ndarray], str, subprocess.CompletedProcess]:
    """Runs the host; returns its frames (H x W x 4), its log and the process."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    picture = ARTIFACTS / "person.png"
    Image.open(PERSON_IMAGE).convert("RGB").save(picture)
    w, hgt = Image.open(picture).size
    out = ARTIFACTS / name
    for old in ARTIFACTS.glob(f"{name}-*.rgba"):
        old.unlink()
    proc = wine(display, [win_path(HOST), win_path(OBS_WIN), win_path(STAGE), win_path(picture), str(w), str(hgt),
                          renderer, settings, win_path(out), *[str(s) for s in seconds]], path_extra)
    (ARTIFACTS / f"{name}-stdout.txt").write_text(proc.stdout + "\n--- stderr\n" + proc.stderr)
    log = (ARTIFACTS / f"{name}.log").read_text(errors="replace") if (ARTIFACTS / f"{name}.log").exists() else ""
    frames = []
    for i in range(len(seconds)):
        raw = ARTIFACTS / f"{name}-{i}.rgba"
        if raw.exists():
            frame = np.frombuffer(raw.read_bytes(), np.uint8).reshape(hgt, w, 4)
            frames.append(frame)
            h.save_png(frame, ARTIFACTS / f"{name}-{i}.png")
    return frames, log, proc


def plugin_lines(log: str) -> list[str]:
    return [line for line in log.splitlines() if "[obs-virtual-background]" in line]


def test_the_plugin_dll_imports_only_windows_and_obs() -> None:
    found = imports(STAGE / "bin/64bit/obs-virtual-background.dll")
    print(f"imports: {sorted(found)}")
    assert "obs.dll" in found
    others = found - SYSTEM_DLLS - {"obs.dll"} - {d for d in found if d.startswith("api-ms-win-")}
    assert not others, f"the plugin imports DLLs that are neither Windows' nor OBS's: {sorted(others)}"


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
        frames, _, proc = run_host(display, renderer, "none", f"plain-{renderer}", [4.0])
        assert proc.returncode == 0 and frames, f"{renderer}: OBS without the filter failed: {proc.stderr[-2000:]}"
        errors = {order: float(np.abs(frames[0][..., idx].astype(np.int16) - photo).mean())
                  for order, idx in [("rgb", [0, 1, 2]), ("bgr", [2, 1, 0])]}
        order = min(errors, key=errors.get)
        assert errors[order] < 1.0, f"{renderer}: OBS's output is not the photo: {errors}"
        found[renderer] = (order, int(proc.stdout.split("leaks ")[-1].split()[0]))
    return found


def as_rgba(frame: np.ndarray, order: str) -> np.ndarray:
    return frame if order == "rgb" else frame[..., [2, 1, 0, 3]]


def check_color_mode(renderer: str, name: str, references: dict, display: str, path_extra: str = "") -> list[str]:
    """Color mode on the photo: the mask against the ground truth, the person's pixels against the photo."""
    settings = f'{{"mode": "color", "color": {h.colour_to_obs(COLOUR)}}}'
    frames, log, proc = run_host(display, renderer, settings, name, [20.0], path_extra)
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
    return lines


@pytest.mark.parametrize("renderer", ["d3d11", "opengl"])
def test_color_mode_masks_the_person(display: str, references: dict, renderer: str) -> None:
    lines = check_color_mode(renderer, f"color-{renderer}", references, display)
    ort = [line for line in lines if "ONNX Runtime loaded from" in line]
    assert ort and win_path(STAGE / "bin/64bit/onnxruntime.dll").lower() in ort[0].lower(), \
        f"ONNX Runtime was not loaded from the plugin's folder: {ort}"


def test_a_decoy_onnx_runtime_on_the_path_is_never_loaded(display: str, references: dict) -> None:
    """Another onnxruntime.dll (and providers DLL) on the search path, here not real ones, must not be taken."""
    decoy = ARTIFACTS / "decoy"
    decoy.mkdir(parents=True, exist_ok=True)
    shutil.copy(OBS_WIN / "zlib.dll", decoy / "onnxruntime.dll")
    shutil.copy(OBS_WIN / "zlib.dll", decoy / "onnxruntime_providers_shared.dll")
    lines = check_color_mode("opengl", "decoy", references, display, path_extra=win_path(decoy))
    ort = [line for line in lines if "ONNX Runtime loaded from" in line]
    assert ort and "decoy" not in ort[0].lower(), ort


@pytest.mark.parametrize("mode", ["transparent", "blur", "image", "source"])
def test_every_mode_draws_the_same_in_d3d11_and_opengl(display: str, references: dict, mode: str) -> None:
    """The effect file compiled as HLSL (D3D11) and as GLSL (OpenGL) draws the same picture. Source mode has
    no background source in this host, so it shows the colour, as on Linux when the source is missing."""
    picture = ARTIFACTS / "backdrop.png"
    if not picture.exists():
        y, x = np.mgrid[0:240, 0:320]
        Image.fromarray(np.dstack([x * 255 // 320, y * 255 // 240, np.full_like(x, 128)]).astype(np.uint8)).save(
            picture)
    extra = {"image": f', "image_path": "{str(picture)}"'}.get(mode, "")
    settings = f'{{"mode": "{mode}", "color": {h.colour_to_obs(COLOUR)}, "temporal_smoothing": 0.0{extra}}}'
    shots = {}
    for renderer in ["d3d11", "opengl"]:
        frames, log, proc = run_host(display, renderer, settings, f"{mode}-{renderer}", [15.0])
        lines = plugin_lines(log)
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

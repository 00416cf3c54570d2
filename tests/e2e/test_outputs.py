"""What viewers see: OBS's own outputs (a recording, a live stream, the Virtual Camera) carry the composite.

Every other test reads the filter through GetSourceScreenshot; these read what OBS encodes. The canvas is a
person photo (the filter in Color mode, colour A) with a looping Media source of the same photo in the
top-left corner at 0.3x (a webcam, frames arriving asynchronously; its own filter in colour B). OBS runs
the Simple output with x264 (veryfast, 6000 kb/s), as a streamer's OBS does, so the encoder and the filter
share the two cores.

- Recording: StartRecord for 10 s to MKV, StopRecord, decode with ffmpeg. Sampled frames must match the
  scene's screenshot taken during the recording within what the encoder's compression explains, the
  background must be colour A (and B in the inset), the person the photo; the frame count must match the
  duration at 30 fps once OBS's own skipped-frame count is added. Skipped and lagged frames are reported.
- Live stream: nginx with its RTMP module (unpacked by scripts/setup into the cache, started here on a free
  port of 127.0.0.1, its files in a temporary directory removed after), OBS streams to it for 10 s while
  ffmpeg pulls the stream back; the pulled frames are checked as the recording's.
- Virtual Camera: needs the v4l2loopback kernel module, which these machines cannot load. Starting it fails
  in OBS (or never becomes active), the filter keeps rendering, and the plugin logs no error.

This module runs its own OBS. Numbers go to artifacts/e2e/outputs/outputs.json.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import numpy as np
import pytest
from PIL import Image

import obs_harness as h
from conftest import ARTIFACTS, FILTER, PERSON_IMAGE, PERSON_MASK, PLUGIN_ROOT_REL

OUT = ARTIFACTS / "outputs"
SCENE = "Outputs scene"
PHOTO = "Person"
WEBCAM = "Webcam"
FPS = 30
INSET_SCALE = 0.3
INSET_POS = (8, 8)
SECONDS = 10.0  # each output runs this long
SAMPLES = 12  # decoded frames compared per output
FIRST_WAIT = 90.0  # includes loading the model twice
# x264 at 6000 kb/s on a still picture, 4:2:0: flat colour comes back within a few levels, except next to
# edges (chroma is shared by 2x2 pixels, blocks ring): regions are eroded by EDGE px before comparing.
EDGE = 6
COLOUR_TOL = 16  # per channel, flat colour regions (mean of each channel)
PERSON_MAE = 8.0  # mean |RGB| difference on the person's interior, 0..255
SCREENSHOT_MAE = 6.0  # mean |RGB| difference of a decoded frame from the screenshot, whole canvas
FRAME_SLACK = 3  # frames: timestamps are rounded, the last frame may or may not be written
RTMP_DIR = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / h.PLUGIN / "rtmp"
NGINX = RTMP_DIR / "usr" / "sbin" / "nginx"
RTMP_MODULE = RTMP_DIR / "usr" / "lib" / "nginx" / "modules" / "ngx_rtmp_module.so"
STREAM_KEY = "vbg-test"


@dataclass
class Expected:
    """Where the canvas must show what, and the scene's screenshot to compare whole frames with."""
    colour_a: tuple[int, int, int]
    colour_b: tuple[int, int, int]
    background_a: np.ndarray  # bool, canvas size: colour A expected
    background_b: np.ndarray  # colour B expected (the inset's background)
    person: np.ndarray  # the photo's person, outside the inset
    photo: np.ndarray  # RGB, canvas size
    screenshot: np.ndarray | None = None


@dataclass(repr=False)
class OutputsEnv:
    obs: h.ObsInstance
    home: Path
    expected: Expected
    results: dict = field(default_factory=dict)

    def save_results(self) -> None:
        (OUT / "outputs.json").write_text(json.dumps(self.results, indent=2) + "\n")


def regions(gt: np.ndarray, canvas: tuple[int, int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(background A, background B, person) for the photo's mask `gt` at canvas size."""
    w, hgt = canvas
    iw, ih = round(w * INSET_SCALE), round(hgt * INSET_SCALE)
    x0, y0 = INSET_POS
    inset = np.zeros_like(gt)
    inset[y0:y0 + ih, x0:x0 + iw] = True
    around_inset = ~h.erode(~inset, EDGE)  # the inset grown by EDGE
    background_a = h.erode(~gt, EDGE) & ~around_inset
    person = h.erode(gt, EDGE) & ~around_inset
    small_gt = np.array(Image.fromarray(gt).resize((iw, ih), Image.NEAREST))
    small_bg = np.zeros_like(gt)
    small_bg[y0:y0 + ih, x0:x0 + iw] = ~small_gt
    background_b = h.erode(small_bg, EDGE // 2 + 1)
    return background_a, background_b, person


@pytest.fixture(scope="module")
def outputs(tmp_path_factory) -> Iterator[OutputsEnv]:
    if not (PERSON_IMAGE.exists() and PERSON_MASK.exists()):
        pytest.skip(f"the person photo is missing ({PERSON_IMAGE})")
    for tool in ("ffmpeg", "ffprobe"):
        if not shutil.which(tool):
            pytest.fail(f"{tool} is needed (scripts/setup installs ffmpeg)")
    OUT.mkdir(parents=True, exist_ok=True)
    home = tmp_path_factory.mktemp("obs-outputs-home")
    h.install_plugin(home / PLUGIN_ROOT_REL, OUT / "install-plugin.txt")
    photo_png = home / "person.png"
    Image.open(PERSON_IMAGE).convert("RGB").save(photo_png)
    canvas = Image.open(photo_png).size
    photo = np.array(Image.open(photo_png).convert("RGB"))
    video = home / "person.mp4"
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-loop", "1", "-i", str(photo_png), "-t", "2", "-r", str(FPS),
                    "-c:v", "libx264", "-pix_fmt", "yuv420p", "-crf", "12", str(video)], check=True)

    colour_a = h.pick_absent_colour(photo, 60)
    colour_b = next(c for c in [(0, 255, 255), (255, 255, 0), (0, 255, 0), (255, 0, 255)]
                    if c != colour_a and not h.is_colour(photo, c, 60).any())
    gt = h.load_mask(PERSON_MASK, canvas)
    background_a, background_b, person = regions(gt, canvas)
    expected = Expected(colour_a, colour_b, background_a, background_b, person, photo)

    def colour_filter(colour):
        return h.obs_config.filter_entry(FILTER, settings={"mode": "color", "color": h.colour_to_obs(colour)})

    sources = [
        h.obs_config.source(PHOTO, "image_source", {"file": str(photo_png)}, [colour_filter(colour_a)]),
        h.obs_config.source(WEBCAM, "ffmpeg_source",
                            {"local_file": str(video), "is_local_file": True, "looping": True,
                             "restart_on_activate": False, "hw_decode": False}, [colour_filter(colour_b)]),
    ]
    scene = h.obs_config.scene(SCENE, [PHOTO, WEBCAM])
    inset = scene["settings"]["items"][1]
    inset["pos"] = {"x": float(INSET_POS[0]), "y": float(INSET_POS[1])}
    inset["scale"] = {"x": INSET_SCALE, "y": INSET_SCALE}
    recordings = home / "recordings"
    recordings.mkdir()
    # The Simple output as a streamer sets it up: x264 for both stream and recording (the recording
    # "same as stream"), MKV. OBS 29 reads RecFormat, 30+ RecFormat2.
    profile = {
        "Output": {"Mode": "Simple"},
        "SimpleOutput": {"FilePath": str(recordings), "RecFormat": "mkv", "RecFormat2": "mkv",
                         "RecQuality": "Stream", "StreamEncoder": "x264", "RecEncoder": "x264",
                         "Preset": "veryfast", "VBitrate": 6000, "ABitrate": 160, "FileNameWithoutSpace": "true",
                         "RecRB": "false"},
    }
    obs = h.ObsInstance(home=home, artifacts=OUT, config=h.ObsConfig(
        canvas=canvas, fps=FPS, scenes=[scene], sources=sources, profile_extra=profile))
    env = OutputsEnv(obs=obs, home=home, expected=expected)
    try:
        obs.start()

        def composite():
            shot = obs.screenshot(SCENE)
            return check_frame(shot[..., :3], expected, None)

        ok, problems, secs = h.wait_until(composite, lambda p: not p, FIRST_WAIT, interval=0.25, consecutive=3)
        shot = obs.screenshot(SCENE)
        h.save_png(shot, OUT / "scene.png")
        if not ok:
            pytest.fail(f"the scene did not show both composites within {secs:.0f}s: {problems}"
                        f" (artifacts/e2e/outputs/scene.png)")
        expected.screenshot = shot[..., :3]
        env.results["composite_after_s"] = round(secs, 1)
        yield env
    finally:
        obs.stop()
        env.save_results()


# ---- checking a frame --------------------------------------------------------------------------------
def check_frame(rgb: np.ndarray, e: Expected, screenshot: np.ndarray | None) -> list[str]:
    """What is wrong with a canvas-sized RGB frame (empty: it shows the composite)."""
    problems = []
    if rgb.shape[:2] != e.photo.shape[:2]:
        return [f"frame is {rgb.shape[1]}x{rgb.shape[0]}, canvas {e.photo.shape[1]}x{e.photo.shape[0]}"]
    for name, region, colour in (("background", e.background_a, e.colour_a),
                                 ("inset background", e.background_b, e.colour_b)):
        mean = rgb[region].astype(np.float32).mean(axis=0)
        if np.abs(mean - colour).max() > COLOUR_TOL:
            problems.append(f"{name} mean {mean.round(1).tolist()} is not {colour}")
        replaced = h.is_colour(rgb[region], colour, 2 * COLOUR_TOL).mean()
        if replaced < 0.97:
            problems.append(f"{name}: only {replaced:.1%} of its pixels are {colour}")
    person = h.mean_abs_diff(rgb, e.photo, e.person)
    if person > PERSON_MAE:
        problems.append(f"person differs from the photo by {person:.1f}/255")
    if screenshot is not None:
        whole = h.mean_abs_diff(rgb, screenshot)
        if whole > SCREENSHOT_MAE:
            problems.append(f"frame differs from the scene's screenshot by {whole:.1f}/255")
    return problems


def frame_report(rgb: np.ndarray, e: Expected) -> dict:
    return {"background_mean": rgb[e.background_a].astype(np.float32).mean(axis=0).round(1).tolist(),
            "inset_background_mean": rgb[e.background_b].astype(np.float32).mean(axis=0).round(1).tolist(),
            "person_mae": round(h.mean_abs_diff(rgb, e.photo, e.person), 2),
            "screenshot_mae": round(h.mean_abs_diff(rgb, e.screenshot), 2) if e.screenshot is not None else None}


def decode_frames(args: list[str], size: tuple[int, int], timeout: float) -> list[np.ndarray]:
    """RGB frames from `ffmpeg <args> -f rawvideo -pix_fmt rgb24 -`, as decoded by ffmpeg (it converts with
    the stream's tagged colour matrix and range, as a player does)."""
    w, hgt = size
    r = subprocess.run(["ffmpeg", "-v", "error", *args, "-fps_mode", "passthrough", "-f", "rawvideo", "-pix_fmt", "rgb24", "-"],
                       capture_output=True, timeout=timeout)
    if r.returncode != 0:
        raise RuntimeError(f"ffmpeg {' '.join(args)} failed ({r.returncode}): {r.stderr.decode()[-2000:]}")
    n = len(r.stdout) // (w * hgt * 3)
    return [np.frombuffer(r.stdout, np.uint8, w * hgt * 3, i * w * hgt * 3).reshape(hgt, w, 3) for i in range(n)]


def check_frames(env: OutputsEnv, frames: list[np.ndarray], name: str) -> dict:
    e = env.expected
    assert frames, f"{name}: ffmpeg decoded no frames"
    picks = [frames[i] for i in np.linspace(0, len(frames) - 1, min(SAMPLES, len(frames))).round().astype(int)]
    reports = [frame_report(f, e) for f in picks]
    bad = [(i, check_frame(f, e, e.screenshot)) for i, f in enumerate(picks)]
    bad = [(i, p) for i, p in bad if p]
    h.save_png(np.dstack([picks[len(picks) // 2], np.full(picks[0].shape[:2], 255, np.uint8)]),
               OUT / f"{name}-frame.png")
    for i, _ in bad[:1]:
        h.save_png(np.dstack([picks[i], np.full(picks[i].shape[:2], 255, np.uint8)]), OUT / f"{name}-bad.png")
    summary = {"frames_checked": len(picks),
               "screenshot_mae_max": max(r["screenshot_mae"] for r in reports),
               "person_mae_max": max(r["person_mae"] for r in reports),
               "background_means": [r["background_mean"] for r in reports[:3]],
               "inset_background_means": [r["inset_background_mean"] for r in reports[:3]]}
    print(f"{name}: {len(picks)} frames checked: screenshot MAE max {summary['screenshot_mae_max']}, person MAE max "
          f"{summary['person_mae_max']}, background {reports[0]['background_mean']} (colour {e.colour_a}), inset "
          f"background {reports[0]['inset_background_mean']} (colour {e.colour_b})")
    assert not bad, f"{name}: {len(bad)} of {len(picks)} frames do not show the composite, e.g. frame " \
                    f"{bad[0][0]}: {bad[0][1]} (artifacts/e2e/outputs/{name}-bad.png)"
    return summary


def plugin_errors(obs: h.ObsInstance) -> list[str]:
    return [l for l in obs.plugin_log_lines() if re.search(r"error|panic|failed|passing video through", l, re.I)]


def lagged_lines(log: str) -> list[str]:
    """What OBS itself logs when an output stops: skipped (encoder) and lagged (rendering) frames."""
    return [l.split(": ", 1)[-1].strip() for l in log.splitlines()
            if "Number of skipped frames" in l or "Number of lagged frames" in l]


def stats(obs: h.ObsInstance) -> dict:
    s = obs.request("GetStats")
    return {k: s[k] for k in ("renderSkippedFrames", "renderTotalFrames", "outputSkippedFrames", "outputTotalFrames")}


def stats_delta(before: dict, after: dict) -> dict:
    return {k: after[k] - before[k] for k in before}


def wait_active(obs: h.ObsInstance, request: str, active: bool, timeout: float = 20.0) -> float:
    ok, _, secs = h.wait_until(lambda: obs.request(request).get("outputActive"), lambda a: bool(a) == active,
                               timeout, interval=0.1, consecutive=1)
    assert ok, f"{request}: outputActive did not become {active} within {timeout:.0f}s"
    return secs


# ---- recording ------------------------------------------------------------------------------------------
def test_a_recording_carries_the_composite(outputs: OutputsEnv) -> None:
    obs, e = outputs.obs, outputs.expected
    errors_before = len(plugin_errors(obs))
    before = stats(obs)
    obs.request("StartRecord")
    wait_active(obs, "GetRecordStatus", True)
    started = time.monotonic()
    time.sleep(SECONDS / 2)
    e.screenshot = obs.screenshot(SCENE)[..., :3]  # the same moment as the middle of the recording
    h.save_png(np.dstack([e.screenshot, np.full(e.screenshot.shape[:2], 255, np.uint8)]), OUT / "recording-screenshot.png")
    time.sleep(max(0.0, SECONDS - (time.monotonic() - started)))
    during = obs.request("GetRecordStatus")
    stopped = obs.request("StopRecord")
    wall = time.monotonic() - started
    wait_active(obs, "GetRecordStatus", False)
    after = stats(obs)

    path = Path(stopped.get("outputPath") or "")
    if not path.is_file():
        found = sorted((outputs.home / "recordings").glob("*.mkv"), key=lambda p: p.stat().st_mtime)
        assert found, f"no recording in {outputs.home / 'recordings'} (StopRecord said {stopped})"
        path = found[-1]
    # The muxer finishes the file when the output has stopped.
    ok, _, _ = h.wait_until(lambda: path.stat().st_size, lambda s: s > 0, 10, interval=0.2, consecutive=3)
    shutil.copy(path, OUT / "recording.mkv")
    probe = json.loads(subprocess.run(
        ["ffprobe", "-v", "error", "-select_streams", "v:0", "-count_frames", "-show_entries",
         "stream=codec_name,width,height,avg_frame_rate,nb_read_frames:format=duration,format_name", "-of", "json",
         str(path)], capture_output=True, text=True, check=True, timeout=120).stdout)
    stream, fmt = probe["streams"][0], probe["format"]
    frames = int(stream["nb_read_frames"])
    duration = float(fmt["duration"])
    d = stats_delta(before, after)
    log = obs.log_text()
    result = {"file": path.name, "codec": stream["codec_name"], "size": [stream["width"], stream["height"]],
              "container": fmt["format_name"], "duration_s": round(duration, 3), "wall_s": round(wall, 2),
              "frames": frames, "expected_frames": round(duration * FPS),
              "record_status_during": {k: during.get(k) for k in ("outputDuration", "outputBytes")},
              "stats_delta": d, "obs_log": lagged_lines(log)}
    print(f"recording: {frames} frames of {stream['codec_name']} {stream['width']}x{stream['height']} in "
          f"{duration:.2f} s ({wall:.2f} s wall); OBS during it: {d['outputSkippedFrames']} of "
          f"{d['outputTotalFrames']} frames skipped by the output, {d['renderSkippedFrames']} of "
          f"{d['renderTotalFrames']} lagged by rendering; log: {'; '.join(result['obs_log']) or 'nothing'}")
    outputs.results["recording"] = result
    assert stream["codec_name"] == "h264" and (stream["width"], stream["height"]) == e.photo.shape[1::-1], result
    assert abs(duration - wall) <= 1.0, f"recording of {duration:.2f} s for {wall:.2f} s of recording"
    # Every frame of the duration is in the file unless OBS says it skipped it (then it is missing, and the
    # timestamps keep the duration).
    assert abs(frames + d["outputSkippedFrames"] - duration * FPS) <= FRAME_SLACK + 0.02 * duration * FPS, result
    assert d["outputSkippedFrames"] <= 0.1 * max(1, d["outputTotalFrames"]), f"the encoder skipped too many: {d}"

    decoded = decode_frames(["-i", str(path)], e.photo.shape[1::-1], timeout=120)
    assert abs(len(decoded) - frames) <= 1, f"decoded {len(decoded)} frames, ffprobe counted {frames}"
    result.update(check_frames(outputs, decoded, "recording"))
    assert len(plugin_errors(obs)) == errors_before, "the plugin logged an error:\n" + "\n".join(plugin_errors(obs))


# ---- live stream ------------------------------------------------------------------------------------------
@dataclass
class RtmpServer:
    port: int
    directory: Path
    process: subprocess.Popen

    @property
    def url(self) -> str:
        return f"rtmp://127.0.0.1:{self.port}/live"


def start_rtmp_server() -> RtmpServer:
    if not (NGINX.is_file() and RTMP_MODULE.is_file()):
        pytest.fail(f"nginx with its RTMP module is not in {RTMP_DIR}: run scripts/setup")
    directory = Path(tempfile.mkdtemp(prefix="vbg-rtmp-"))
    (directory / "logs").mkdir()
    port = h.free_port()
    # One process, in the foreground, on 127.0.0.1 only; every file it writes is in `directory`.
    (directory / "nginx.conf").write_text(f"""load_module {RTMP_MODULE};
daemon off;
master_process off;
pid {directory}/nginx.pid;
error_log {directory}/logs/error.log info;
events {{ worker_connections 64; }}
rtmp {{
    access_log off;
    server {{
        listen 127.0.0.1:{port};
        application live {{ live on; record off; }}
    }}
}}
""")
    process = subprocess.Popen([str(NGINX), "-p", str(directory), "-c", str(directory / "nginx.conf")],
                               stdout=open(directory / "logs" / "stdout.txt", "w"), stderr=subprocess.STDOUT)
    server = RtmpServer(port, directory, process)

    def listening():
        if process.poll() is not None:
            raise RuntimeError(f"nginx exited ({process.returncode}): "
                               + (directory / "logs" / "stdout.txt").read_text()[-2000:])
        import socket
        with socket.socket() as s:
            return s.connect_ex(("127.0.0.1", port)) == 0

    ok, _, _ = h.wait_until(listening, bool, 10, interval=0.1, consecutive=1)
    if not ok:
        stop_rtmp_server(server)
        pytest.fail("nginx did not listen within 10 s")
    return server


def stop_rtmp_server(server: RtmpServer) -> None:
    if server.process.poll() is None:
        server.process.send_signal(signal.SIGQUIT)  # graceful: finish and exit
        try:
            server.process.wait(10)
        except subprocess.TimeoutExpired:
            server.process.kill()
            server.process.wait()
    logs = server.directory / "logs"
    if logs.is_dir():
        shutil.copytree(logs, OUT / "rtmp-server-logs", dirs_exist_ok=True)
    shutil.rmtree(server.directory, ignore_errors=True)


def test_a_live_stream_carries_the_composite(outputs: OutputsEnv) -> None:
    obs, e = outputs.obs, outputs.expected
    errors_before = len(plugin_errors(obs))
    server = start_rtmp_server()
    pull = None
    try:
        obs.request("SetStreamServiceSettings", {"streamServiceType": "rtmp_custom",
                                                 "streamServiceSettings": {"server": server.url, "key": STREAM_KEY}})
        # The viewer connects first and waits for the stream (nginx holds a player of a stream not yet
        # published), so it decodes from the stream's first keyframe.
        w, hgt = e.photo.shape[1::-1]
        pulled = OUT / "stream-pulled.mkv"
        pull = subprocess.Popen(["ffmpeg", "-v", "error", "-y", "-rw_timeout", "30000000",
                                 "-i", f"{server.url}/{STREAM_KEY}", "-t", str(SECONDS - 3), "-c", "copy", str(pulled)],
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        time.sleep(1.0)
        before = stats(obs)
        obs.request("StartStream")
        wait_active(obs, "GetStreamStatus", True)
        started = time.monotonic()
        time.sleep(SECONDS / 2)
        e.screenshot = obs.screenshot(SCENE)[..., :3]
        time.sleep(max(0.0, SECONDS - (time.monotonic() - started)))
        status = obs.request("GetStreamStatus")
        obs.request("StopStream")
        wall = time.monotonic() - started
        wait_active(obs, "GetStreamStatus", False)
        after = stats(obs)
        try:
            _, err = pull.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            pull.kill()
            _, err = pull.communicate()
        assert pulled.is_file() and pulled.stat().st_size > 0, \
            f"ffmpeg pulled nothing from {server.url}/{STREAM_KEY} ({pull.returncode}): {err.decode()[-2000:]}"
        decoded = decode_frames(["-i", str(pulled)], (w, hgt), timeout=120)
        d = stats_delta(before, after)
        result = {"server": "nginx " + subprocess.run([str(NGINX), "-v"], capture_output=True, text=True).stderr.strip(),
                  "wall_s": round(wall, 2), "pulled_frames": len(decoded),
                  "stream_status": {k: status.get(k) for k in ("outputSkippedFrames", "outputTotalFrames", "outputBytes",
                                                               "outputCongestion")},
                  "stats_delta": d, "obs_log": lagged_lines(obs.log_text())[-2:]}
        print(f"stream: OBS sent {status.get('outputTotalFrames')} frames ({status.get('outputSkippedFrames')} skipped,"
              f" {status.get('outputBytes')} bytes) to {server.url}; ffmpeg pulled {len(decoded)} frames; "
              f"{d['renderSkippedFrames']} of {d['renderTotalFrames']} frames lagged by rendering")
        outputs.results["stream"] = result
        # The viewer gets most of what was sent after it joined (it pulled SECONDS - 3 of the stream).
        assert len(decoded) >= 0.8 * (SECONDS - 3) * FPS, f"the viewer got {len(decoded)} frames: {result}"
        result.update(check_frames(outputs, decoded, "stream"))
    finally:
        if pull is not None and pull.poll() is None:
            pull.kill()
            pull.wait()
        stop_rtmp_server(server)
    assert not server.directory.exists(), f"the server's files were not removed: {server.directory}"
    assert len(plugin_errors(obs)) == errors_before, "the plugin logged an error:\n" + "\n".join(plugin_errors(obs))


# ---- virtual camera ---------------------------------------------------------------------------------------
def v4l2loopback_loaded() -> bool:
    return Path("/sys/module/v4l2loopback").exists()


def test_the_virtual_camera_fails_in_obs_not_in_the_filter(outputs: OutputsEnv) -> None:
    """OBS's Virtual Camera shows the same canvas the recording and the stream encode (tested above); it
    needs the v4l2loopback kernel module. Without it, starting it must fail in OBS and leave the filter be."""
    if v4l2loopback_loaded():
        pytest.skip("v4l2loopback is loaded here: this test is about a machine without it")
    obs, e = outputs.obs, outputs.expected
    errors_before = len(plugin_errors(obs))
    refused = None
    try:
        obs.request("StartVirtualCam")
    except Exception as ex:  # obs-websocket answers with an error status
        refused = str(ex)
    time.sleep(2.0)
    try:
        active = bool(obs.request("GetVirtualCamStatus").get("outputActive"))
    except Exception as ex:
        active, refused = False, refused or str(ex)
    outputs.results["virtual_camera"] = {"refused": refused, "active": active}
    print(f"virtual camera without v4l2loopback: StartVirtualCam {'refused: ' + refused if refused else 'accepted'};"
          f" active {active}")
    assert not active, "the Virtual Camera became active without v4l2loopback"
    assert obs.answers(), "OBS stopped answering after StartVirtualCam"
    before = obs.rendered_frames()
    time.sleep(1.0)
    assert obs.rendered_frames() > before + 10, "OBS stopped rendering after StartVirtualCam"
    problems = check_frame(obs.screenshot(SCENE)[..., :3], e, None)
    assert not problems, f"the scene no longer shows the composite: {problems}"
    assert len(plugin_errors(obs)) == errors_before, "the plugin logged an error:\n" + "\n".join(plugin_errors(obs))

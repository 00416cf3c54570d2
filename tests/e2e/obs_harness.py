"""Run OBS Studio headless (Xvfb) with a scene collection of our own and drive it through obs-websocket.

Pixels are judged only through `GetSourceScreenshot`: it renders the source through its filters into
an RGBA texture of the source's own size. (Under Xvfb the OBS preview window shows garbage, and the
preview is switched off here anyway to save CPU.)

Findings this harness relies on (OBS 29.0.2, Mesa llvmpipe):
- The screenshot of an `image_source` showing an RGB picture equals the file's pixels exactly, alpha 255.
- Alpha survives: a transparent pixel comes back as (0, 0, 0, 0); a half-transparent one comes back
  premultiplied (colour * alpha), because OBS draws the source with its normal blending into a cleared
  texture.
"""
from __future__ import annotations

import base64
import io
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "scripts"))
import obs_config  # noqa: E402  (scripts/obs_config.py: writes OBS scene collections and ini files)

PLUGIN = "obs-virtual-background"
LOG_PREFIX = f"[{PLUGIN}]"
# Where Debian's OBS loads system-wide plugins from (the .deb and `scripts/setup --system` install here).
SYSTEM_PLUGIN_DIR = Path("/usr/lib/x86_64-linux-gnu/obs-plugins")
SYSTEM_PLUGIN = SYSTEM_PLUGIN_DIR / f"{PLUGIN}.so"
OBS_WEBSOCKET = SYSTEM_PLUGIN_DIR / "obs-websocket.so"
VENDOR = "obs-virtual-background"  # the plugin's obs-websocket vendor (src/obs/remote.rs)
SYSTEM_DATA_DIR = Path("/usr/share/obs/obs-plugins") / PLUGIN
# scripts/test-obs-versions runs OBS inside the root file system of another Debian release (its own OBS,
# libobs and Mesa): VBG_OBS_ROOT names that root. Only OBS runs there (`chroot ROOT obs ...`); the harness,
# Xvfb (its socket folder is bind-mounted) and the websocket client stay on the host. The script bind-mounts
# the pytest temporary folder at the same path inside the root, so the test HOME and the pictures have one
# path for both sides; only paths OBS owns (its system plugin folders) differ, see host_path().
OBS_ROOT = Path(os.environ["VBG_OBS_ROOT"]) if os.environ.get("VBG_OBS_ROOT") else None


def host_path(path: Path) -> Path:
    """Where a path of OBS's own file system is seen from the harness (itself unless OBS runs in a root)."""
    return OBS_ROOT / Path(path).relative_to("/") if OBS_ROOT else Path(path)


def obs_command() -> list[str]:
    """How to start OBS: the host's, or the one inside VBG_OBS_ROOT."""
    return ["chroot", str(OBS_ROOT), "obs"] if OBS_ROOT else ["obs"]


_OBS_VERSION: tuple[int, ...] | None = None


def obs_version() -> tuple[int, ...]:
    """The (major, minor, patch) of the OBS that obs_command() starts, from `obs --version`
    ("OBS Studio - 30.2.3+dfsg-1 (linux)"), which needs no display."""
    global _OBS_VERSION
    if _OBS_VERSION is None:
        import re
        out = subprocess.run([*obs_command(), "--version"], capture_output=True, text=True, timeout=30).stdout
        m = re.search(r"(\d+)\.(\d+)\.(\d+)", out)
        if not m:
            raise RuntimeError(f"cannot read the OBS version from `obs --version`: {out!r}")
        _OBS_VERSION = tuple(int(g) for g in m.groups())
    return _OBS_VERSION


def hides_system_copy() -> bool:
    """Whether OBS instances started here hide a system-wide copy of the plugin from themselves: when one
    exists, the package test is not running (VBG_SYSTEM_INSTALL=1), and a private mount namespace is possible.
    Never inside a test root: scripts/test-obs-versions installs and removes that root's system copy itself."""
    if OBS_ROOT is not None:
        return False
    return SYSTEM_PLUGIN.exists() and os.environ.get("VBG_SYSTEM_INSTALL") != "1" and can_hide_files()


def can_hide_files() -> bool:
    """Whether an OBS started here can have files hidden from it (ObsInstance.hide): root, and a private mount
    namespace is possible (root without CAP_SYS_ADMIN, e.g. in a default container, cannot make one)."""
    if OBS_ROOT is not None or os.geteuid() != 0 or shutil.which("unshare") is None:
        return False
    return subprocess.run(["unshare", "--mount", "true"], capture_output=True).returncode == 0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def decode_image(data_url: str) -> np.ndarray:
    """A `data:image/png;base64,...` string from obs-websocket -> HxWx4 uint8 RGBA."""
    raw = base64.b64decode(data_url.split(",", 1)[1])
    return np.array(Image.open(io.BytesIO(raw)).convert("RGBA"))


def load_rgba(path: Path, size: tuple[int, int] | None = None) -> np.ndarray:
    im = Image.open(path).convert("RGBA")
    if size and im.size != size:
        im = im.resize(size, Image.BILINEAR)
    return np.array(im)


def unpremultiply(arr: np.ndarray) -> np.ndarray:
    """Screenshots carry premultiplied colour where alpha < 255; PNG files hold straight alpha."""
    a = arr[..., 3:4].astype(np.float32)
    rgb = np.where(a > 0, arr[..., :3] * 255.0 / np.maximum(a, 1.0) + 0.5, 0.0)
    return np.dstack([np.clip(rgb, 0, 255).astype(np.uint8), arr[..., 3]])


def save_png(arr: np.ndarray, path: Path) -> None:
    """Save a screenshot as it came. The filter's output is straight alpha, which PNG expects (only image
    sources come back premultiplied; see unpremultiply)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(arr).save(path)


def wait_until(measure: Callable[[], Any], good: Callable[[Any], bool], timeout: float,
               interval: float = 0.2, consecutive: int = 2) -> tuple[bool, Any, float]:
    """Call `measure()` until `good(value)` holds for `consecutive` calls in a row or `timeout` passes.

    Returns (ok, last value, seconds until ok). Masks need a model load plus a few frames, and a single
    lucky frame should not count, hence the consecutive requirement.
    """
    start = time.monotonic()
    streak = 0
    value = None
    while True:
        value = measure()
        streak = streak + 1 if good(value) else 0
        elapsed = time.monotonic() - start
        if streak >= consecutive:
            return True, value, elapsed
        if elapsed > timeout:
            return False, value, elapsed
        time.sleep(interval)


@dataclass
class ObsConfig:
    """What to put into the temporary OBS configuration."""
    canvas: tuple[int, int]
    scenes: list[dict]
    sources: list[dict]
    fps: int = 30
    collection: str = "E2E"
    profile: str = "E2E"
    # More basic.ini sections of the profile (e.g. "SimpleOutput" for recordings), merged over the defaults.
    profile_extra: dict = field(default_factory=dict)
    # The frontend modules' data in the collection (e.g. {"scripts-tool": [{"path": ..., "settings": {}}]}).
    modules: dict = field(default_factory=dict)
    # OBS's interface language (e.g. "pl-PL"), as a user picks it in Settings > General; "" = OBS's default.
    language: str = ""


@dataclass
class ObsInstance:
    """One OBS process on its own Xvfb display, with its own HOME and websocket port."""
    home: Path
    artifacts: Path
    config: ObsConfig
    port: int = field(default_factory=free_port)
    xvfb: subprocess.Popen | None = None
    obs: subprocess.Popen | None = None
    client: Any = None
    display: str = ""
    started_at: float = 0.0
    startup_seconds: float = 0.0
    # Extra environment for OBS; a value of None removes the variable.
    env: dict = field(default_factory=dict)
    # Files hidden from this OBS only (/dev/null mounted over them in its own mount namespace; needs
    # can_hide_files()), e.g. obs-websocket's module. Without obs-websocket set connect=False: start() then
    # only launches OBS, and the caller watches its log.
    hide: list = field(default_factory=list)
    connect: bool = True
    versions: dict = field(default_factory=dict)
    # Let OBS write a core file into its HOME (its working folder) when it crashes, for a backtrace.
    core_dumps: bool = False

    # ---- configuration -------------------------------------------------------------------------
    @property
    def config_dir(self) -> Path:
        return self.home / ".config" / "obs-studio"

    def write_config(self) -> None:
        c = self.config
        w, h = (v + (v & 1) for v in c.canvas)  # OBS wants an even canvas
        prof_dir = c.profile.replace(" ", "_")
        major, minor, patch = obs_version()
        sections = {
            # LastVersion = the OBS that runs: no "what's new", and OBS 31+ does not try to migrate a
            # pre-31 global.ini into user.ini (it refuses with a modal error when user.ini already exists).
            "General": {"FirstRun": "true", "LastVersion": (major << 24) | (minor << 16) | patch,
                        **({"Language": c.language} if c.language else {})},
            "Basic": {
                "Profile": c.profile, "ProfileDir": prof_dir,
                "SceneCollection": c.collection,
                "SceneCollectionFile": obs_config.collection_file_name(c.collection)[:-5],
            },
            # The preview under Xvfb is garbage anyway and costs about a quarter of a core.
            "BasicWindow": {"PreviewEnabled": "false"},
            "OBSWebSocket": {
                "ServerEnabled": "true", "AuthRequired": "false", "ServerPort": self.port,
                "FirstLoad": "false", "AlertsEnabled": "false",
            },
        }
        # OBS 29 and 30 read these from global.ini; OBS 31+ keeps the user's part (General, Basic,
        # BasicWindow, OBSWebSocket) in user.ini: write both.
        obs_config.write_ini(self.config_dir / "global.ini", sections)
        obs_config.write_ini(self.config_dir / "user.ini", sections)
        # obs-websocket 5.3+ (OBS 30+) keeps its settings in its own JSON file; 5.1 (OBS 29) reads global.ini.
        obs_config.write_json(self.config_dir / "plugin_config" / "obs-websocket" / "config.json", {
            "server_enabled": True, "server_port": self.port, "auth_required": False, "server_password": "",
            "first_load": False, "alerts_enabled": False})
        profile = obs_config.profile_sections(c.profile, w, h, c.fps)
        for section, values in c.profile_extra.items():
            profile[section] = {**profile.get(section, {}), **values}
        obs_config.write_ini(self.config_dir / "basic" / "profiles" / prof_dir / "basic.ini", profile)
        obs_config.write_json(
            self.config_dir / "basic" / "scenes" / obs_config.collection_file_name(c.collection),
            obs_config.collection(c.collection, c.scenes, c.sources, modules=c.modules))

    # ---- processes -----------------------------------------------------------------------------
    def start(self, timeout: float = 90.0) -> None:
        self.write_config()
        self.artifacts.mkdir(parents=True, exist_ok=True)
        # -displayfd: Xvfb picks a free display number itself and writes it to the pipe.
        r, w = os.pipe()
        self.xvfb = subprocess.Popen(
            ["Xvfb", "-displayfd", str(w), "-screen", "0", "1280x720x24", "-nolisten", "tcp"],
            pass_fds=(w,), stdout=subprocess.DEVNULL, stderr=open(self.artifacts / "xvfb.txt", "w"))
        os.close(w)
        with os.fdopen(r) as f:
            num = f.readline().strip()
        if not num:
            raise RuntimeError("Xvfb did not start (see xvfb.txt)")
        self.display = f":{num}"

        env = dict(os.environ)
        env.update(HOME=str(self.home), DISPLAY=self.display,
                   XDG_CONFIG_HOME=str(self.home / ".config"),
                   XDG_CACHE_HOME=str(self.home / ".cache"),
                   LIBGL_ALWAYS_SOFTWARE="1", QT_QPA_PLATFORM="xcb")
        env.pop("WAYLAND_DISPLAY", None)
        # The plugin must find ONNX Runtime on its own (RUNPATH), never through the test environment.
        for var in ("LD_LIBRARY_PATH", "ORT_DYLIB_PATH"):
            env.pop(var, None)
        for k, v in self.env.items():
            if v is None:
                env.pop(k, None)
            else:
                env[k] = str(v)
        # A tool to run OBS under, for investigations (e.g. VBG_OBS_WRAPPER="heaptrack -o /tmp/obs.heaptrack").
        wrapper = os.environ.get("VBG_OBS_WRAPPER", "").split()
        cmd = [*wrapper, *obs_command(), "--multi", "--disable-missing-files-check", "--minimize-to-tray",
               "--collection", self.config.collection, "--profile", self.config.profile]
        # OBS 30+ asks whether to start in safe mode after an unclean exit (a killed test OBS); 29 has no flag.
        if obs_version() >= (30, 0, 0):
            cmd.append("--disable-shutdown-check")
        # A system-wide copy of the plugin (the .deb, scripts/setup --system, perhaps another checkout's) would
        # be loaded too, and the first copy registered wins: hide it from this OBS only, in a private mount
        # namespace, so the tests always run the plugin they installed. The package test wants that copy.
        hidden = [*([SYSTEM_PLUGIN] if hides_system_copy() else []), *self.hide]
        if hidden:
            cmd = ["unshare", "--mount", "--propagation", "private", "sh", "-c",
                   'while [ "$1" != -- ]; do mount --bind /dev/null "$1" || exit 97; shift; done; shift; exec "$@"',
                   "sh", *map(str, hidden), "--", *cmd]
        self.started_at = time.monotonic()
        def allow_cores() -> None:
            import resource
            resource.setrlimit(resource.RLIMIT_CORE, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
        self.obs = subprocess.Popen(
            cmd, preexec_fn=allow_cores if self.core_dumps else None,
            cwd=self.home, env=env, stdin=subprocess.DEVNULL,
            stdout=open(self.artifacts / "obs-stdout.txt", "w"), stderr=subprocess.STDOUT)
        if not self.connect:
            return
        self.client = self._connect(timeout)
        self.startup_seconds = time.monotonic() - self.started_at
        # Which OBS and obs-websocket answered (scripts/test-obs-versions reports it per release).
        v = self.request("GetVersion")
        self.versions = {k: v.get(k) for k in ("obsVersion", "obsWebSocketVersion", "rpcVersion", "platform")}
        (self.artifacts / "obs-version.json").write_text(json.dumps(self.versions) + "\n")

    def _connect(self, timeout: float):
        import logging

        import obsws_python
        logging.getLogger("obsws_python").setLevel(logging.CRITICAL)  # refused connects while OBS starts
        deadline = time.monotonic() + timeout
        last: Exception | None = None
        while time.monotonic() < deadline:
            if self.obs.poll() is not None:
                raise RuntimeError(f"OBS exited with {self.obs.returncode} during start-up:\n{self.stdout_tail()}")
            try:
                client = obsws_python.ReqClient(host="127.0.0.1", port=self.port, timeout=30)
                client.send("GetVersion", raw=True)
                return client
            except Exception as e:  # connection refused until obs-websocket is up
                last = e
                time.sleep(0.25)
        raise RuntimeError(f"obs-websocket not reachable on port {self.port} after {timeout}s ({last}):\n"
                           f"{self.stdout_tail()}")

    def wait_exit(self, timeout: float,
                  on_hang: Callable[["ObsInstance"], None] | None = None) -> tuple[float, int | None]:
        """Wait for OBS to exit on its own (after a signal sent some other way); on a hang, `on_hang(self)`
        and kill as `stop` does. Returns (seconds, exit code or None if killed). Call `stop` afterwards."""
        t = time.monotonic()
        try:
            code = self.obs.wait(timeout)
            return time.monotonic() - t, code
        except subprocess.TimeoutExpired:
            if on_hang is not None:
                on_hang(self)
            self.obs.kill()
            self.obs.wait()
            return time.monotonic() - t, None

    def stop(self, timeout: float = 10.0,
             on_hang: Callable[["ObsInstance"], None] | None = None) -> tuple[float, int | None]:
        """SIGINT (clean shutdown, writes the log), wait; returns (seconds, exit code or None if killed).

        `on_hang(self)` runs before the kill when OBS is still alive after `timeout` (to take stacks)."""
        seconds, code = 0.0, None
        if self.client is not None:
            try:
                self.client.disconnect()
            except Exception:
                pass
            self.client = None
        if self.obs is not None and self.obs.poll() is None:
            t = time.monotonic()
            self.obs.send_signal(signal.SIGINT)
            try:
                code = self.obs.wait(timeout)
            except subprocess.TimeoutExpired:
                if on_hang is not None:
                    on_hang(self)
                self.obs.kill()
                self.obs.wait()
            seconds = time.monotonic() - t
        elif self.obs is not None:
            code = self.obs.returncode
        self.collect_log()
        if self.xvfb is not None and self.xvfb.poll() is None:
            self.xvfb.terminate()
            try:
                self.xvfb.wait(5)
            except subprocess.TimeoutExpired:
                self.xvfb.kill()
                self.xvfb.wait()
        return seconds, code

    # ---- logs ----------------------------------------------------------------------------------
    def log_path(self) -> Path | None:
        logs = sorted((self.config_dir / "logs").glob("*.txt"), key=lambda p: p.stat().st_mtime)
        return logs[-1] if logs else None

    def log_text(self) -> str:
        p = self.log_path()
        return p.read_text(errors="replace") if p else ""

    def plugin_log_lines(self) -> list[str]:
        return [line for line in self.log_text().splitlines() if LOG_PREFIX in line]

    def collect_log(self) -> None:
        p = self.log_path()
        if p:
            shutil.copy(p, self.artifacts / "obs-log.txt")

    def stdout_tail(self, n: int = 40) -> str:
        try:
            lines = (self.artifacts / "obs-stdout.txt").read_text(errors="replace").splitlines()
        except OSError:
            return ""
        return "\n".join(lines[-n:])

    # ---- requests ------------------------------------------------------------------------------
    def request(self, name: str, data: dict | None = None) -> dict:
        return self.client.send(name, data, raw=True) or {}

    def request_batch(self, requests: list[tuple[str, dict]], per_frame: bool = True) -> list[dict]:
        """obs-websocket's RequestBatch: `requests` as (requestType, requestData). With `per_frame` they run
        in order on OBS's graphics thread (executionType SerialFrame), where ("Sleep", {"sleepFrames": n})
        waits n video frames. Returns each request's responseData ({} when it has none); raises on a failed
        request."""
        ws = self.client.base_client.ws
        batch_id = f"batch-{time.monotonic_ns()}"
        ws.send(json.dumps({"op": 8, "d": {
            "requestId": batch_id, "haltOnFailure": True, "executionType": 1 if per_frame else 0,
            "requests": [{"requestType": t, "requestData": d} for t, d in requests]}}))
        while True:
            message = json.loads(ws.recv())
            if message.get("op") == 9 and message["d"].get("requestId") == batch_id:
                break
        results = message["d"]["results"]
        for r in results:
            if not r.get("requestStatus", {}).get("result"):
                raise RuntimeError(f"batch request {r.get('requestType')} failed: {r.get('requestStatus')}")
        return [r.get("responseData") or {} for r in results]

    def screenshot(self, source: str) -> np.ndarray:
        """The source rendered through its filters at its native size, HxWx4 uint8 RGBA."""
        r = self.request("GetSourceScreenshot", {"sourceName": source, "imageFormat": "png"})
        return decode_image(r["imageData"])

    def wait_for_picture(self, source: str, timeout: float = 30.0, tol: int = 0) -> np.ndarray:
        """Screenshot once the source shows something and stopped changing by more than `tol` (image
        sources load their file asynchronously: right after start-up they render fully transparent)."""
        prev: list[np.ndarray] = []

        def measure():
            shot = self.screenshot(source)
            same = bool(prev) and int(np.abs(prev[-1].astype(np.int16) - shot).max()) <= tol
            prev.append(shot)
            return bool(shot[..., 3].any()) and same

        ok, _, secs = wait_until(measure, bool, timeout, consecutive=1)
        if not ok:
            raise RuntimeError(f"source {source!r} showed nothing stable within {timeout}s")
        return prev[-1]

    def set_filter_settings(self, source: str, filt: str, settings: dict, reset: bool = False) -> None:
        """Apply settings; with reset=True everything else goes back to the filter's defaults first."""
        self.request("SetSourceFilterSettings", {"sourceName": source, "filterName": filt,
                                                 "filterSettings": settings, "overlay": not reset})

    def set_filter_enabled(self, source: str, filt: str, enabled: bool) -> None:
        self.request("SetSourceFilterEnabled", {"sourceName": source, "filterName": filt,
                                                "filterEnabled": enabled})

    def filter_settings(self, source: str, filt: str) -> dict:
        return self.request("GetSourceFilter", {"sourceName": source, "filterName": filt})["filterSettings"]

    def set_program_scene(self, scene: str) -> None:
        self.request("SetCurrentProgramScene", {"sceneName": scene})

    # ---- the plugin's obs-websocket vendor requests ----------------------------------------------
    def vendor_request(self, request_type: str, data: dict | None = None) -> dict:
        """A request of the plugin's obs-websocket vendor (CallVendorRequest); its responseData."""
        payload = {"vendorName": VENDOR, "requestType": request_type}
        if data:  # obs-websocket refuses an empty requestData
            payload["requestData"] = data
        r = self.request("CallVendorRequest", payload)
        return r.get("responseData") or {}

    def filter_status(self, source: str, filt: str) -> dict:
        """GetFilterStatus: the filter's state, model, speed, lag, mode, fault and status line."""
        status = self.vendor_request("GetFilterStatus", {"sourceName": source, "filterName": filt})
        if "error" in status:
            raise RuntimeError(f"GetFilterStatus {source!r}/{filt!r}: {status['error']}")
        return status

    def status_text(self, source: str, filt: str) -> str:
        """The filter's status line, as its properties window shows it (GetFilterStatus's statusText)."""
        return str(self.filter_status(source, filt).get("statusText", ""))

    # ---- reliability probes --------------------------------------------------------------------

    def answers(self) -> bool:
        """OBS is alive and obs-websocket answers a request."""
        try:
            return bool(self.request("GetVersion").get("obsVersion"))
        except Exception:
            return False

    def rendered_frames(self) -> int:
        return int(self.request("GetStats")["renderTotalFrames"])

    @property
    def pid(self) -> int:
        return self.obs.pid

    def rss_mb(self) -> float:
        """Resident memory of the OBS process (VmRSS), in MB."""
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
        raise RuntimeError("no VmRSS")

    def thread_names(self) -> list[str]:
        names = []
        for comm in Path(f"/proc/{self.pid}/task").glob("*/comm"):
            try:
                names.append(comm.read_text().strip())
            except OSError:  # the thread ended meanwhile
                pass
        return names

    def thread_cpu_seconds(self, name: str) -> float:
        """CPU seconds used so far by OBS's threads named `name` (Linux per-thread accounting)."""
        total = 0.0
        for task in Path(f"/proc/{self.pid}/task").iterdir():
            try:
                if (task / "comm").read_text().strip() != name:
                    continue
                fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:  # the thread ended meanwhile
                continue
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        return total

    def plugin_threads(self) -> int:
        """The plugin's own threads alive now (inference and picture loading; named vbg-*)."""
        return sum(1 for n in self.thread_names() if n.startswith("vbg-"))


def loads_before_obs_websocket(log_text: str) -> bool | None:
    """Whether the plugin loaded before obs-websocket in this OBS log (None when either did not load):
    within one folder OBS loads modules by name, and the per-user folder after the system one."""
    ours = log_text.find(f"{LOG_PREFIX} loaded version")
    theirs = log_text.find("[obs-websocket] [obs_module_load]")
    return None if ours < 0 or theirs < 0 else ours < theirs


def leak_count(log_text: str) -> int | None:
    """OBS's count of bmalloc'd blocks never freed, from the log it writes at shutdown."""
    import re
    m = re.findall(r"Number of memory leaks: (\d+)", log_text)
    return int(m[-1]) if m else None


def max_diff(a: np.ndarray, b: np.ndarray) -> int:
    """Largest per-channel difference between two screenshots (255 when their sizes differ)."""
    if a.shape != b.shape:
        return 255
    return int(np.abs(a.astype(np.int16) - b).max())


def save_onnx_model(path: Path, nodes: list[tuple[str, list[str], list[str]]],
                    inputs: list[tuple[str, int, list[int]]], outputs: list[tuple[str, int, list[int]]],
                    consts: dict[str, np.ndarray], name: str, check: bool = True) -> None:
    """Save any small ONNX graph: `inputs`/`outputs` are (name, onnx.TensorProto type, shape)."""
    import onnx
    from onnx import helper, numpy_helper

    graph = helper.make_graph(
        [helper.make_node(op, ins, outs) for op, ins, outs in nodes], name,
        [helper.make_tensor_value_info(n, t, shape) for n, t, shape in inputs],
        [helper.make_tensor_value_info(n, t, shape) for n, t, shape in outputs],
        [numpy_helper.from_array(v, k) for k, v in consts.items()])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)],
                              producer_name=f"obs-virtual-background {name}")
    model.ir_version = 7
    if check:
        onnx.checker.check_model(model)
    onnx.save(model, str(path))


def install_plugin(plugin_root: Path, log: Path) -> None:
    """Install the built plugin with the project's own installer (what a user runs), or, with
    VBG_PLUGIN_FOLDER set, copy that already installed per-user plugin folder (scripts/test-tarball: the
    portable archive's install)."""
    given = os.environ.get("VBG_PLUGIN_FOLDER")
    if given:
        shutil.rmtree(plugin_root, ignore_errors=True)
        shutil.copytree(given, plugin_root, symlinks=True)
        log.write_text(f"copied the plugin folder {given} (VBG_PLUGIN_FOLDER) to {plugin_root}\n")
        return
    with open(log, "w") as out:
        r = subprocess.run(["bash", str(REPO / "scripts" / "install-plugin"), "--dest", str(plugin_root)],
                           stdout=out, stderr=subprocess.STDOUT)
    if r.returncode != 0:
        raise RuntimeError(f"scripts/install-plugin failed ({r.returncode}):\n{log.read_text()}")


# ---- image measures (numpy only) -----------------------------------------------------------------
def load_mask(path: Path, size: tuple[int, int]) -> np.ndarray:
    """Ground-truth mask resized to `size` (w, h), as bool (True = person)."""
    im = Image.open(path).convert("L")
    if im.size != size:
        im = im.resize(size, Image.BILINEAR)
    return np.array(im) >= 128


def iou(a: np.ndarray, b: np.ndarray) -> float:
    union = np.logical_or(a, b).sum()
    return float(np.logical_and(a, b).sum() / union) if union else 1.0


def erode(mask: np.ndarray, radius: int) -> np.ndarray:
    """Binary erosion with a (2r+1)^2 square, via a summed-area table."""
    if radius <= 0:
        return mask.copy()
    m = np.pad(mask.astype(np.int32), radius, constant_values=0)
    s = np.pad(m.cumsum(0).cumsum(1), ((1, 0), (1, 0)))
    k = 2 * radius + 1
    h, w = mask.shape
    box = s[k:k + h, k:k + w] - s[0:h, k:k + w] - s[k:k + h, 0:w] + s[0:h, 0:w]
    return box == k * k


def mean_abs_diff(a: np.ndarray, b: np.ndarray, region: np.ndarray | None = None) -> float:
    """Mean absolute RGB difference (0..255) over `region` (all pixels if None)."""
    d = np.abs(a[..., :3].astype(np.int16) - b[..., :3].astype(np.int16)).mean(axis=-1)
    return float(d[region].mean() if region is not None else d.mean())


def laplacian_energy(img: np.ndarray, region: np.ndarray) -> float:
    """Mean squared 4-neighbour Laplacian of the luma over `region`: how much fine detail is there."""
    y = img[..., :3].astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)
    lap = np.zeros_like(y)
    lap[1:-1, 1:-1] = (4 * y[1:-1, 1:-1] - y[:-2, 1:-1] - y[2:, 1:-1] - y[1:-1, :-2] - y[1:-1, 2:])
    inner = region.copy()
    inner[[0, -1], :] = False
    inner[:, [0, -1]] = False
    return float((lap[inner] ** 2).mean())


def pattern_image(size: tuple[int, int], blocks: tuple[int, int] = (8, 6), seed: int = 7) -> np.ndarray:
    """A background with a strong pattern: blocks of vivid, clearly different colours (RGBA)."""
    rng = np.random.default_rng(seed)
    w, h = size
    bx, by = blocks
    palette = rng.integers(0, 256, size=(by, bx, 3))
    # Saturate: in every block one channel is 0 and another 255.
    lo = rng.integers(0, 3, size=(by, bx))
    hi = (lo + rng.integers(1, 3, size=(by, bx))) % 3
    iy, ix = np.indices((by, bx))
    palette[iy, ix, lo] = 0
    palette[iy, ix, hi] = 255
    ys = np.minimum(np.arange(h) * by // h, by - 1)
    xs = np.minimum(np.arange(w) * bx // w, bx - 1)
    rgb = palette[ys[:, None], xs[None, :]].astype(np.uint8)
    return np.dstack([rgb, np.full((h, w), 255, np.uint8)])


def colour_to_obs(rgb: tuple[int, int, int]) -> int:
    """(r, g, b) -> OBS colour setting 0xAABBGGRR (opaque)."""
    r, g, b = rgb
    return (0xFF << 24) | (b << 16) | (g << 8) | r


def pick_absent_colour(img: np.ndarray, tol: int) -> tuple[int, int, int]:
    """A vivid colour that no pixel of `img` is within `tol` of, so 'is the colour' means 'was replaced'."""
    candidates = [(255, 0, 255), (0, 255, 255), (0, 0, 255), (255, 255, 0), (0, 255, 0), (255, 0, 0)]
    px = img[..., :3].astype(np.int16)
    for c in candidates:
        if not (np.abs(px - np.array(c, np.int16)).max(axis=-1) <= tol).any():
            return c
    raise RuntimeError("every candidate colour occurs in the test picture")


def is_colour(img: np.ndarray, rgb: tuple[int, int, int], tol: int) -> np.ndarray:
    return np.abs(img[..., :3].astype(np.int16) - np.array(rgb, np.int16)).max(axis=-1) <= tol


def save_first_channel_model(path: Path, size: int, nodes: list[tuple[str, list[str], list[str]]],
                             consts: dict[str, np.ndarray], name: str) -> None:
    """Save a tiny ONNX model shaped as the plugin takes custom models: `input_1` [1,size,size,3] (NHWC,
    RGB 0..1) -> `segment` [1,size,size,1]. The graph starts from `first_channel` (input_1[..., 0:1]);
    `nodes` are (op, inputs, outputs) and must end in `segment`; `consts` are their constant inputs."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    consts = {"starts": np.array([0], np.int64), "ends": np.array([1], np.int64),
              "axes": np.array([3], np.int64), **consts}
    graph = helper.make_graph(
        [helper.make_node("Slice", ["input_1", "starts", "ends", "axes"], ["first_channel"]),
         *(helper.make_node(op, inputs, outputs) for op, inputs, outputs in nodes)],
        name,
        [helper.make_tensor_value_info("input_1", TensorProto.FLOAT, [1, size, size, 3])],
        [helper.make_tensor_value_info("segment", TensorProto.FLOAT, [1, size, size, 1])],
        [numpy_helper.from_array(v, k) for k, v in consts.items()])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)],
                              producer_name=f"obs-virtual-background {name}")
    model.ir_version = 7  # opset 13's IR version: any ONNX Runtime reads it
    onnx.checker.check_model(model)
    onnx.save(model, str(path))

"""A private PulseAudio sound server with a null sink, for tests that play and record.

``with pulse_server() as server:`` starts ``pulseaudio`` in a fresh XDG_RUNTIME_DIR (set
in ``os.environ`` for this process, so PortAudio's ALSA ``pulse``/``default`` devices
reach it), reinitialises sounddevice, and on exit stops the server and restores the
environment. Recording from the default source (the null sink's monitor) returns what
was played, in real time.

Two details make the null sink behave like a sound card:
- a loopback from a silent null source keeps the sink rendering all the time. An idle
  null sink renders in 2-second blocks, so a stream opened while nothing plays waits up
  to 2 s before its first sample, and the monitor records nothing between sounds.
- start-up waits until the monitor delivers samples (the sink's first block after
  start-up is one of those 2-second ones).

It raises ``RuntimeError`` saying why when the server cannot be started or used.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

SINK = "virt_out"
SOURCE = f"{SINK}.monitor"
ENV_KEYS = ("XDG_RUNTIME_DIR", "PULSE_SERVER", "PULSE_SINK", "PULSE_SOURCE",
            "PULSE_RUNTIME_PATH", "PULSE_CLIENTCONFIG")
# clients must never autospawn a server of their own (e.g. when PortAudio is
# reinitialised after this one was stopped)
CLIENT_CONF = "autospawn = no\n"

SCRIPT = f"""\
load-module module-native-protocol-unix
load-module module-null-sink sink_name={SINK}
load-module module-null-source source_name=silence
load-module module-loopback source=silence sink={SINK} latency_msec=20
load-module module-always-sink
set-default-sink {SINK}
set-default-source {SOURCE}
"""


@dataclass
class PulseServer:
    runtime_dir: Path
    executable: str

    @property
    def socket(self) -> Path:
        return self.runtime_dir / "pulse" / "native"

    def running(self) -> bool:
        return subprocess.run([self.executable, "--check"], env=self._env(),
                              capture_output=True).returncode == 0

    def kill(self, timeout: float = 10.0) -> None:
        """Stop the server (``pulseaudio -k``) and wait until it is gone."""
        subprocess.run([self.executable, "-k"], env=self._env(), capture_output=True,
                       timeout=timeout)
        deadline = time.monotonic() + timeout
        while self.running() and time.monotonic() < deadline:
            time.sleep(0.05)

    def _env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k not in ENV_KEYS}
        env["XDG_RUNTIME_DIR"] = str(self.runtime_dir)
        return env


def _reinit(sd) -> None:
    sd._terminate()
    sd._initialize()


def _warm_up(sd, timeout: float) -> None:
    """Wait until the default source delivers samples (the first block can take 2 s)."""
    got = threading.Event()
    frames = [0]

    def callback(indata, n, _time, _status):
        frames[0] += n
        if frames[0] >= 4410:
            got.set()

    with sd.InputStream(samplerate=44100, channels=1, dtype="float32", callback=callback):
        if not got.wait(timeout):
            raise RuntimeError(f"the sound server's monitor source delivered no samples in "
                               f"{timeout:.0f} s")


@contextlib.contextmanager
def pulse_server(start_timeout: float = 15.0) -> Iterator[PulseServer]:
    exe = shutil.which("pulseaudio")
    if exe is None:
        raise RuntimeError("no pulseaudio binary on PATH (Debian: apt-get install pulseaudio "
                           "libasound2-plugins libportaudio2; scripts/dev.sh does it)")
    try:
        import sounddevice as sd
    except OSError as exc:
        raise RuntimeError(f"PortAudio is not available: {exc}") from None

    saved = {k: os.environ.get(k) for k in ENV_KEYS}
    runtime = Path(tempfile.mkdtemp(prefix="l2i-pulse-"))
    server = PulseServer(runtime, exe)
    started = False
    try:
        for k in ENV_KEYS:
            os.environ.pop(k, None)
        os.environ["XDG_RUNTIME_DIR"] = str(runtime)
        client_conf = runtime / "client.conf"
        client_conf.write_text(CLIENT_CONF)
        os.environ["PULSE_CLIENTCONFIG"] = str(client_conf)
        script = runtime / "l2i.pa"
        script.write_text(SCRIPT)
        try:
            proc = subprocess.run([exe, "-D", "--exit-idle-time=-1", "-n", "-F", str(script)],
                                  env=server._env(), capture_output=True, text=True,
                                  timeout=start_timeout)
        except subprocess.TimeoutExpired:
            raise RuntimeError(f"pulseaudio did not start within {start_timeout:.0f} s"
                               ) from None
        started = True
        deadline = time.monotonic() + start_timeout
        while (proc.returncode == 0 and not server.socket.exists()
               and time.monotonic() < deadline):
            time.sleep(0.05)
        if proc.returncode != 0 or not server.socket.exists():
            lines = [ln for ln in (proc.stderr or "").splitlines()
                     if "not intended to be run as root" not in ln]
            raise RuntimeError(f"pulseaudio failed to start (exit {proc.returncode}): "
                               f"{lines[-1] if lines else 'no socket appeared'}")
        _reinit(sd)
        try:
            inputs = [d for d in sd.query_devices() if d["max_input_channels"] > 0]
            outputs = [d for d in sd.query_devices() if d["max_output_channels"] > 0]
        except Exception as exc:
            raise RuntimeError(f"PortAudio cannot list devices: {exc}") from None
        if not inputs or not outputs:
            raise RuntimeError("PortAudio sees no pulse device (is libasound2-plugins "
                               "installed?)")
        try:
            _warm_up(sd, start_timeout)
        except sd.PortAudioError as exc:
            raise RuntimeError(f"cannot record from the sound server: {exc}") from None
        yield server
    finally:
        if started:
            try:
                server.kill()
            except (OSError, subprocess.SubprocessError):
                pass
        # PortAudio forgets this server's devices; no autospawn while it probes again
        os.environ.pop("XDG_RUNTIME_DIR", None)
        for k, v in saved.items():
            if v is not None and k != "PULSE_CLIENTCONFIG":
                os.environ[k] = v
        try:
            _reinit(sd)
        except Exception:
            pass
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        shutil.rmtree(runtime, ignore_errors=True)

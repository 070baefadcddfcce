"""Takes kept on disk while they are recorded, so that a crash does not lose them.

While a recording (File > Record, or live input) runs, ``TakeWriter`` appends its samples
to ``take-<when>-<pid>-<n>.wav`` (32-bit float WAV, mono) in ``recordings_dir()``, beside a
small JSON (rate, start, source, pid). The audio thread never touches the file: the
recorder hands blocks over on the UI thread (a list append) and a writer thread writes
and flushes them every ``FLUSH_S`` seconds. A stopped take stays on disk until the
window's recording is saved or discarded (``Take.discard``), so a crash before saving is
recoverable too. ``leftovers()`` lists the takes of processes that are gone;
``read_take`` reads them even when the WAV header was never finalised (a SIGKILL): the
samples are taken from the data chunk up to the end of the file.
"""

from __future__ import annotations

import itertools
import json
import logging
import os
import struct
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import platformdirs
import soundfile as sf

from engine.dsp.audio import save_audio
from engine.runtime.atomic import write_atomically, write_json
from l2i_desktop.logs import APP

log = logging.getLogger(__name__)

FLUSH_S = 0.5  # at most this much audio is lost to a crash
_count = itertools.count()


def recordings_dir() -> Path:
    """``$XDG_STATE_HOME/l2i-desktop/recordings`` (beside the app's log)."""
    return Path(platformdirs.user_state_dir(APP)) / "recordings"


@dataclass
class Take:
    """One take on disk: ``path`` (the WAV) and its ``path.with_suffix('.json')``."""

    path: Path
    rate: int
    started: float  # time.time() when recording began
    source: str  # "record" or "live"
    pid: int

    @property
    def meta_path(self) -> Path:
        return self.path.with_suffix(".json")

    @property
    def duration(self) -> float:
        """Seconds on disk (from the file's size: the header may not say)."""
        try:
            offset = _data_offset(self.path)
            return max(0, self.path.stat().st_size - offset) // 4 / self.rate
        except (OSError, ValueError):
            return 0.0

    def read(self) -> tuple[np.ndarray, int]:
        return read_take(self.path), self.rate

    def discard(self) -> None:
        for p in (self.path, self.meta_path):
            try:
                p.unlink(missing_ok=True)
            except OSError:  # a take left behind is offered again, never harmful
                log.warning("cannot remove the recovery file %s", p, exc_info=True)


class TakeWriter:
    """Writes one take as it is recorded; ``append`` from the UI thread, ``close`` at stop."""

    def __init__(self, folder: Path, rate: int, source: str,
                 interval: float = FLUSH_S) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        stamp = time.strftime("%Y%m%d-%H%M%S")
        path = folder / f"take-{stamp}-{os.getpid()}-{next(_count)}.wav"
        self.take = Take(path, int(rate), time.time(), source, os.getpid())
        # the JSON first: a WAV without one would not be found again
        write_json(self.take.meta_path, {"rate": self.take.rate, "started": self.take.started,
                                         "source": source, "pid": self.take.pid})
        try:
            self._file: sf.SoundFile | None = sf.SoundFile(
                str(path), "w", int(rate), 1, "FLOAT", format="WAV")
        except (OSError, RuntimeError):
            self.take.discard()
            raise
        self.interval = float(interval)
        self.failed = False
        self.frames = 0  # written and flushed
        self._lock = threading.Lock()
        self._pending: list[np.ndarray] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="take-writer", daemon=True)
        self._thread.start()

    def append(self, block: np.ndarray) -> None:
        with self._lock:
            self._pending.append(block)

    def read_flushed(self, n: int) -> np.ndarray:
        """The first ``n`` samples, already flushed (``n <= frames``), read back from the
        file while it is still open or after a write failed."""
        if n > self.frames:
            raise ValueError(f"only {self.frames} samples are on disk, not {n}")
        offset = _data_offset(self.take.path)
        return np.fromfile(self.take.path, dtype="<f4", count=n,
                           offset=offset).astype(np.float32, copy=False)

    def close(self) -> Take | None:
        """Write what is left and finalise the file; the take, or None when it holds no
        samples or could not be written whole (the recording in memory is complete)."""
        self._stop.set()
        self._thread.join()
        self._drain()
        if self._file is not None:
            try:
                self._file.close()
            except (OSError, RuntimeError):
                log.warning("cannot finalise the recovery file %s", self.take.path,
                            exc_info=True)
                self.failed = True
            self._file = None
        if self.failed or self.frames == 0:
            self.take.discard()
            return None
        return self.take

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self._drain()

    def _drain(self) -> None:
        with self._lock:
            blocks, self._pending = self._pending, []
        if not blocks or self._file is None:
            return
        try:
            data = np.concatenate(blocks).astype(np.float32, copy=False)
            self._file.write(data)
            self._file.flush()
            self.frames += len(data)
        except (OSError, RuntimeError):  # disk full, folder gone: the take stays in memory
            log.warning("the recovery copy of this take stops at %.1f s: cannot write %s",
                        self.frames / self.take.rate, self.take.path, exc_info=True)
            self.failed = True
            try:
                self._file.close()
            except (OSError, RuntimeError):
                log.warning("closing the failed recovery file failed", exc_info=True)
            self._file = None


def open_writer(folder: Path | None, rate: int, source: str) -> TakeWriter | None:
    """A writer, or None (logged) when the state folder cannot be written: recording
    works without its recovery copy."""
    if folder is None:
        return None
    try:
        return TakeWriter(folder, rate, source)
    except (OSError, RuntimeError):
        log.warning("recording without a recovery copy: cannot write in %s", folder,
                    exc_info=True)
        return None


def _data_offset(path: Path) -> int:
    """Where the samples of our float WAV begin (its 'data' chunk)."""
    with open(path, "rb") as f:
        head = f.read(12)
        if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
            raise ValueError(f"{path.name}: not a WAV file")
        while True:
            chunk = f.read(8)
            if len(chunk) < 8:
                raise ValueError(f"{path.name}: no data chunk")
            name, size = chunk[:4], struct.unpack("<I", chunk[4:])[0]
            if name == b"data":
                return f.tell()
            f.seek(size + (size & 1), os.SEEK_CUR)


def read_take(path: Path) -> np.ndarray:
    """The samples of a take, finalised or not: from the data chunk to the end of the
    file, whole samples only (the header's length is not trusted)."""
    offset = _data_offset(path)
    return np.fromfile(path, dtype="<f4", offset=offset).astype(np.float32, copy=False)


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    if os.name != "posix":  # os.kill would end it there: assume gone
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # exists, another user's
        return True
    return True


def load_take(meta: Path) -> Take | None:
    """The take a JSON describes, or None (its files removed) when it is not usable."""
    wav = meta.with_suffix(".wav")
    try:
        info = json.loads(meta.read_text(encoding="utf-8"))
        take = Take(wav, int(info["rate"]), float(info["started"]), str(info["source"]),
                    int(info["pid"]))
        if take.rate <= 0:
            raise ValueError(f"rate {take.rate}")
        if not _alive(take.pid):  # a running recorder's WAV may not be there yet
            _data_offset(wav)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        log.warning("dropping the unusable recovery files %s: %s", meta, exc)
        Take(wav, 1, 0.0, "", 0).discard()
        return None
    return take


def leftovers(folder: Path | None = None) -> list[Take]:
    """Takes left by processes that ended (crashed, killed) without saving or discarding
    them, oldest first. Empty takes are removed on the way."""
    folder = recordings_dir() if folder is None else Path(folder)
    out = []
    for meta in sorted(folder.glob("take-*.json")):
        take = load_take(meta)
        if take is None or _alive(take.pid):
            continue
        if take.duration <= 0:
            take.discard()
            continue
        out.append(take)
    return sorted(out, key=lambda t: t.started)


def save_take(take: Take, folder: Path) -> Path:
    """Write ``take`` into ``folder`` as ``recording-<when it began>.wav`` (a new name,
    never over a file) and remove its recovery files. Raises OSError or ValueError with
    the take kept when it cannot be read or written."""
    wave, rate = take.read()
    stem = "recording-" + time.strftime("%Y%m%d-%H%M%S", time.localtime(take.started))
    path = Path(folder) / f"{stem}.wav"
    n = 2
    while path.exists():
        path = Path(folder) / f"{stem}-{n}.wav"
        n += 1
    write_atomically(path, lambda tmp: save_audio(tmp, wave, rate))
    take.discard()
    return path


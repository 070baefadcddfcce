"""Record mono audio from an input device through sounddevice.

PortAudio calls ``_callback`` on its own thread; that thread only copies samples under a
lock. Everything Qt sees (``level``, ``error``, ``recording_changed``) is emitted from
the UI thread by a QTimer. Without PortAudio or an input device, ``available`` is False
and ``start`` reports one line through ``error`` instead of raising. A stream that ends
by itself (the device went away) ends the recording with ``error``; what was recorded
until then is kept and returned by ``stop()``.

Each take is also written to disk as it is recorded (``l2i_desktop.recovery``): the UI
thread's timer hands new blocks to a ``TakeWriter``, whose thread writes them. After
``stop()``, ``last_take`` is that file (or None), to be discarded once the recording is
saved or dropped.

Memory stays bounded however long a take runs: blocks the writer has flushed to disk are
dropped from memory once they are more than ``keep_s`` seconds old, and ``stop()`` reads
them back from the file. Without a disk copy (no writable state folder, or the writer
failed) every block stays in memory, as the only copy.
"""

from __future__ import annotations

import logging
import math
import threading
from collections import deque
from itertools import islice
from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject, QTimer, Signal

from l2i_desktop import recovery

log = logging.getLogger(__name__)

FLOOR_DB = -120.0  # what silence reads as, instead of -inf
LEVEL_INTERVAL_MS = 50  # about 20 level readings a second
LEVEL_WINDOW_S = 0.05  # the level is the RMS of the newest 50 ms


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


def _load_sounddevice():
    """Import sounddevice; raises OSError when the PortAudio library is missing."""
    import sounddevice

    return sounddevice


def dbfs(samples: np.ndarray) -> float:
    """RMS level in dB relative to full scale (1.0); FLOOR_DB for silence or nothing."""
    if samples.size == 0:
        return FLOOR_DB
    rms = float(np.sqrt(np.mean(np.square(samples, dtype=np.float64))))
    return max(FLOOR_DB, 20.0 * math.log10(rms)) if rms > 0 else FLOOR_DB


class Recorder(QObject):
    level = Signal(float)  # dBFS of the newest samples, ~20 times a second while recording
    error = Signal(str)
    recording_changed = Signal(bool)
    source = "record"  # what the recovery file says this take came from
    keep_s = 5.0  # newest seconds kept in memory once they are safely on disk

    def __init__(self, sample_rate: int = 44100, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.requested_rate = int(sample_rate)
        self.sample_rate = int(sample_rate)  # the rate actually used by the last start()
        self._lock = threading.Lock()
        self._chunks: deque[np.ndarray] = deque()
        self._frames = 0
        self._dropped = 0  # frames at the take's start held only by the writer's file
        self._overflows = 0
        self._generation = 0  # one per start(): a late "finished" from an old stream
        self._ended = -1  # is not taken for the end of the current one
        self._stream = None
        self._result = np.zeros(0, np.float32)
        self.spool_folder: Path | None = recovery.recordings_dir()  # None: no disk copy
        self.last_take: recovery.Take | None = None
        self._writer: recovery.TakeWriter | None = None
        self._spooled = 0  # chunks already handed to the writer
        self._timer = QTimer(self)
        self._timer.setInterval(LEVEL_INTERVAL_MS)
        self._timer.timeout.connect(self._tick)
        try:
            self._sd = _load_sounddevice()
            self._why = ""
        except OSError as exc:  # PortAudio missing
            self._sd = None
            self._why = f"no audio input: PortAudio is not available ({_one_line(exc)})"
            log.warning("no audio input: sounddevice cannot load PortAudio: %s", exc)

    # ---- devices ----------------------------------------------------------------------
    def input_devices(self) -> list[tuple[int, str]]:
        """(PortAudio index, name) of every device with at least one input channel."""
        if self._sd is None:
            return []
        try:
            devices = self._sd.query_devices()
        except Exception:  # shown as "no input device"; the reason is only here
            log.warning("cannot list the audio devices", exc_info=True)
            return []
        out = []
        for i, d in enumerate(devices):
            try:
                if int(d.get("max_input_channels", 0)) > 0:
                    out.append((int(d.get("index", i)), str(d.get("name", f"device {i}"))))
            except (AttributeError, TypeError, ValueError):
                continue
        return out

    @property
    def available(self) -> bool:
        return self._sd is not None and bool(self.input_devices())

    @property
    def unavailable_reason(self) -> str:
        """One line saying why nothing can be recorded; empty when recording is possible."""
        if self._sd is None:
            return self._why
        if not self.input_devices():
            return "no audio input: no input device found (is a microphone connected?)"
        return ""

    # ---- state ------------------------------------------------------------------------
    @property
    def is_recording(self) -> bool:
        return self._stream is not None

    @property
    def duration(self) -> float:
        """Seconds recorded so far (or by the last recording)."""
        with self._lock:
            frames = self._frames
        return frames / self.sample_rate

    @property
    def overflows(self) -> int:
        """Callbacks that reported lost input (the machine was too busy); not fatal."""
        return self._overflows

    # ---- recording --------------------------------------------------------------------
    def start(self, device: int | None = None) -> bool:
        """Start recording from ``device`` (a PortAudio index; None: the default input)."""
        if self._stream is not None:
            self.stop()
        why = self.unavailable_reason
        if why:
            self.error.emit(why)
            return False
        with self._lock:
            self._chunks = deque()
            self._frames = 0
            self._dropped = 0
            self._overflows = 0
        self._generation += 1
        finished = self._finished_callback(self._generation)
        self._result = np.zeros(0, np.float32)
        stream = None
        errors = []
        for rate in self._rates_to_try(device):
            try:
                stream = self._sd.InputStream(device=device, samplerate=rate, channels=1,
                                              dtype="float32", callback=self._callback,
                                              finished_callback=finished)
                stream.start()
                self.sample_rate = rate
                break
            except Exception as exc:
                log.warning("cannot record from device %s at %d Hz", device, rate,
                            exc_info=True)
                errors.append(_one_line(exc))
                if stream is not None:
                    try:
                        stream.close()
                    except Exception:  # a stream that never started: dropped anyway
                        log.warning("closing a failed input stream failed", exc_info=True)
                    stream = None
        if stream is None:
            name = "the default input" if device is None else self._device_name(device)
            self.error.emit(f"cannot record from {name}: {errors[-1] if errors else '?'}")
            return False
        self._stream = stream
        self.last_take = None
        self._spooled = 0
        self._writer = recovery.open_writer(self.spool_folder, self.sample_rate, self.source)
        self._timer.start()
        self.recording_changed.emit(True)
        return True

    def stop(self) -> np.ndarray:
        """Stop recording; returns what was recorded (mono float32 at ``sample_rate``).

        Calling it again, or after the device went away, returns the same recording.
        """
        stream, self._stream = self._stream, None
        if stream is not None:
            self._timer.stop()
            self._close(stream)
            self._collect()
            self.recording_changed.emit(False)
        return self._result

    # ---- internals --------------------------------------------------------------------
    def _rates_to_try(self, device: int | None) -> list[int]:
        rates = [self.requested_rate]
        try:
            info = self._sd.query_devices(device, kind="input") if device is None \
                else self._sd.query_devices(device)
            native = int(round(float(info["default_samplerate"])))
            if native > 0 and native != self.requested_rate:
                rates.append(native)
        except Exception:  # no native rate to fall back on: the requested one is tried
            log.warning("cannot read the native rate of device %s", device, exc_info=True)
        return rates

    def _device_name(self, device: int) -> str:
        for index, name in self.input_devices():
            if index == device:
                return f"'{name}'"
        return f"device {device}"

    @staticmethod
    def _close(stream) -> None:
        # each step on its own: a device that went away refuses one or both, and the
        # recording so far is kept regardless
        try:
            stream.stop()
        except Exception:
            log.warning("stopping the input stream failed", exc_info=True)
        try:
            stream.close()
        except Exception:
            log.warning("closing the input stream failed", exc_info=True)

    def _spool(self) -> None:
        """Hand the blocks recorded since the last call to the writer (UI thread)."""
        if self._writer is None:
            return
        with self._lock:
            new = list(islice(self._chunks, self._spooled, None))
            self._spooled = len(self._chunks)
        for chunk in new:
            self._writer.append(chunk)

    def _trim(self) -> None:
        """Drop from memory the oldest blocks the writer has flushed, keeping ``keep_s``
        seconds (UI thread). A failed writer keeps the rest of the take in memory."""
        writer = self._writer
        if writer is None or writer.failed:
            return
        keep = int(self.keep_s * self.sample_rate)
        flushed = writer.frames  # the writer thread only ever raises it
        with self._lock:
            held = self._frames - self._dropped
            while self._spooled > 0:
                n = len(self._chunks[0])
                if self._dropped + n > flushed or held - n < keep:
                    break
                self._chunks.popleft()
                self._spooled -= 1
                self._dropped += n
                held -= n

    def _collect(self) -> None:
        self._spool()
        with self._lock:
            chunks, self._chunks = list(self._chunks), deque()
            dropped, self._dropped = self._dropped, 0
        writer, self._writer = self._writer, None
        parts = []
        if dropped:  # the take's start is only on disk: read it before close() may
            try:  # discard a failed copy
                parts.append(writer.read_flushed(dropped))
            except (OSError, ValueError) as exc:
                log.error("cannot read back the take's first %d samples from %s",
                          dropped, writer.take.path, exc_info=True)
                self.error.emit(f"the first {dropped / self.sample_rate:.1f} s of this "
                                f"take cannot be read back from {writer.take.path}: "
                                f"{_one_line(exc)}")
        self.last_take = writer.close() if writer is not None else None
        parts += chunks
        self._result = (np.concatenate(parts).astype(np.float32, copy=False) if parts
                        else np.zeros(0, np.float32))

    def _callback(self, indata, frames, _time, status) -> None:
        # PortAudio's thread: copy and return, nothing else
        with self._lock:
            self._chunks.append(indata[:, 0].copy())
            self._frames += frames
            if status and status.input_overflow:
                self._overflows += 1

    def _finished_callback(self, generation: int):
        def finished() -> None:
            # PortAudio's thread; the UI thread's timer notices it
            self._ended = generation

        return finished

    def _newest(self, n: int) -> np.ndarray:
        with self._lock:
            parts, have = [], 0
            for chunk in reversed(self._chunks):
                parts.append(chunk)
                have += len(chunk)
                if have >= n:
                    break
        if not parts:
            return np.zeros(0, np.float32)
        return np.concatenate(parts[::-1])[-n:]

    def _tick(self) -> None:
        stream = self._stream
        if stream is None:
            return
        try:
            alive = stream.active and self._ended != self._generation
        except Exception:  # the device went away: reported below as such
            log.warning("the input stream cannot be queried", exc_info=True)
            alive = False
        if not alive:
            self._stream = None
            self._timer.stop()
            self._close(stream)
            self._collect()
            self.recording_changed.emit(False)
            self.error.emit(f"recording stopped: the input device went away "
                            f"({len(self._result) / self.sample_rate:.1f} s kept)")
            return
        self._spool()
        self._trim()
        self.level.emit(dbfs(self._newest(int(LEVEL_WINDOW_S * self.sample_rate))))

"""One audio backend over sounddevice: play a buffer that can be swapped while it plays.

Swapping (``replace``) keeps the playback position, so toggling a component changes
what is heard at once. Without PortAudio or an output device, ``available`` is False
and every call reports one clear message through ``error`` instead of raising.
"""

from __future__ import annotations

import logging
import threading

import numpy as np
from PySide6.QtCore import QObject, QTimer, Signal

log = logging.getLogger(__name__)


class Player(QObject):
    position = Signal(float)  # seconds into the buffer
    playing_changed = Signal(bool)
    error = Signal(str)

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()
        self._buffer = np.zeros(0, np.float32)
        self._rate = 44100
        self._pos = 0
        self._start = 0
        self._end = 0
        self._loop = False  # back to _start at _end, until stopped
        self._stream = None
        self._generation = 0  # which stream is current (see _finisher)
        self._timer = QTimer(self)
        self._timer.setInterval(30)
        self._timer.timeout.connect(self._tick)
        try:
            import sounddevice as sd

            self._sd = sd
        except OSError as exc:  # PortAudio missing
            self._sd = None
            self._why = f"no audio output: {exc}"
            log.warning("no audio output: sounddevice cannot load PortAudio: %s", exc)

    @property
    def available(self) -> bool:
        if self._sd is None:
            return False
        try:
            return self._sd.query_devices(kind="output") is not None
        except Exception:  # no default output (or PortAudio's error): say "unavailable"
            log.warning("no audio output device", exc_info=True)
            return False

    @property
    def is_playing(self) -> bool:
        return self._stream is not None

    def play(self, wave: np.ndarray, rate: int, start_s: float = 0.0,
             end_s: float | None = None, loop: bool = False) -> None:
        """Play ``wave`` from ``start_s`` to ``end_s`` (None: its end), again and again
        while ``loop``."""
        self.stop()
        if self._sd is None:
            self.error.emit(self._why)
            return
        with self._lock:
            self._buffer = np.asarray(wave, np.float32)
            self._rate = rate
            self._pos = self._start = max(0, int(start_s * rate))
            self._end = len(self._buffer) if end_s is None else min(len(self._buffer),
                                                                     int(end_s * rate))
            self._loop = loop and self._end > self._start
        try:
            self._stream = self._sd.OutputStream(samplerate=rate, channels=1, dtype="float32",
                                                 callback=self._callback,
                                                 finished_callback=self._finisher())
            self._stream.start()
        except Exception as exc:
            self._stream = None
            log.exception("cannot open an output stream at %d Hz", rate)
            self.error.emit(f"cannot play audio: {exc}")
            return
        self._timer.start()
        self.playing_changed.emit(True)

    def replace(self, wave: np.ndarray) -> None:
        """Swap what is playing for a signal of the same length, keeping the position."""
        with self._lock:
            self._buffer = np.asarray(wave, np.float32)
            self._end = min(self._end, len(self._buffer))

    def stop(self) -> None:
        stream, self._stream = self._stream, None
        if stream is not None:
            with self._lock:
                self._loop = False
                self._end = self._pos  # the callback sends silence and ends the stream
            try:
                # stop, never abort: PortAudio's ALSA backend aborts by cancelling its
                # callback thread, which then dies holding the GIL (and self._lock) if it
                # was inside _callback: the whole process hung (seen once in the tests)
                stream.stop()
                stream.close()
            except Exception:  # the stream is dropped either way; playback has stopped
                log.warning("stopping the output stream failed", exc_info=True)
            self._timer.stop()
            self.playing_changed.emit(False)

    @property
    def looping(self) -> bool:
        return self._loop

    def _callback(self, out, frames, _time, _status) -> None:
        filled = 0
        with self._lock:
            while filled < frames:
                chunk = self._buffer[self._pos:min(self._pos + frames - filled, self._end)]
                out[filled:filled + len(chunk), 0] = chunk
                self._pos += len(chunk)
                filled += len(chunk)
                if filled < frames and self._loop and self._end > self._start:
                    self._pos = self._start  # the range again, seamlessly
                elif filled < frames:
                    break
        out[filled:, 0] = 0
        if filled < frames:
            raise self._sd.CallbackStop

    def _finisher(self):
        """A callback for the stream being opened now: when it ends, stop only if it is
        still the one playing (closing a replaced stream must not stop its successor)."""
        self._generation += 1
        generation = self._generation

        def finished() -> None:  # runs on PortAudio's thread: hand over to the UI thread
            QTimer.singleShot(0, self, lambda: self._stop_if_current(generation))
        return finished

    def _stop_if_current(self, generation: int) -> None:
        if generation == self._generation:
            self.stop()

    def _tick(self) -> None:
        self.position.emit(self._pos / self._rate)

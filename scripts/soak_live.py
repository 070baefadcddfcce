"""Soak of live interpretation (issue 26): the window listens to a private PulseAudio
server's monitor while the shipped examples play into its sink without end (``paplay``
in a loop, another process), for a given time. Every minute: resident memory, threads,
open files, input overflows, analyses shown/dropped/failed, the samples the recorder
holds in memory, the take's size on disk and the longest gap of a 20 ms UI timer.
At the end live input is stopped and the whole take analysed like a recording (timed).
Writes JSON (run under Xvfb):

    xvfb-run -a python scripts/soak_live.py --minutes 60 --out docs/results/soak_live.json
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import soundfile as sf
from PySide6.QtCore import QTimer
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QApplication

from engine.dsp.audio import load_audio
from l2i_desktop.live_panel import LivePanel
from l2i_desktop.main_window import MainWindow
from l2i_desktop.model import ClipSource
from resources import default_bundle_path, examples

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _soak import memory_summary, sample, write_result  # noqa: E402

RATE = 44100


def programme(folder: Path) -> Path:
    """The ten shipped examples, each followed by a second of silence, as one WAV."""
    silence = np.zeros(RATE, np.float32)
    parts = []
    for _name, path in examples():
        parts += [load_audio(path, RATE).astype(np.float32), silence]
    out = folder / "programme.wav"
    sf.write(out, np.concatenate(parts), RATE, subtype="FLOAT")
    return out


class Loop:
    """``paplay FILE`` again and again on another thread until stopped."""

    def __init__(self, wav: Path) -> None:
        self.wav = wav
        self.plays = 0
        self._stop = threading.Event()
        self._proc: subprocess.Popen | None = None
        self._thread = threading.Thread(target=self._run, name="paplay-loop", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            self._proc = subprocess.Popen(["paplay", str(self.wav)])
            self._proc.wait()
            self.plays += 1

    def stop(self) -> None:
        self._stop.set()
        if self._proc is not None:
            self._proc.terminate()
        self._thread.join(timeout=10)


def main() -> int:
    """Under a private PulseAudio server (tests/sound_server.py)."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    from sound_server import pulse_server

    with pulse_server(), tempfile.TemporaryDirectory() as tmp:
        return soak(programme(Path(tmp)))


def soak(wav: Path) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--minutes", type=float, default=60)
    ap.add_argument("--out", type=Path, required=True)
    a = ap.parse_args()
    app = QApplication(sys.argv[:1])
    win = MainWindow(default_bundle_path())
    win.resize(1280, 800)
    win.show()
    panel = win.findChild(LivePanel, "live_panel")
    action = win.findChild(QAction, "live")
    loop = Loop(wav)
    state: dict = {"samples": [], "next_sample": 0.0, "start": None, "gap": 0.0,
                   "last_beat": time.perf_counter(), "stopping": None}

    def beat() -> None:  # the UI thread's longest gap between two 20 ms ticks
        now = time.perf_counter()
        state["gap"] = max(state["gap"], now - state["last_beat"])
        state["last_beat"] = now

    def minute(now: float) -> None:
        rec = panel.recorder
        c = panel.gate.counts()
        writer = rec._writer
        state["samples"].append({
            "minute": round(now, 2), **sample(), "heard_s": round(rec.duration, 1),
            "overflows": rec.overflows, "analysed": c.done, "dropped": c.dropped,
            "failed": c.failed, "held_in_memory_s": round(
                sum(len(x) for x in rec._chunks) / rec.sample_rate, 2),
            "on_disk_s": round(writer.frames / rec.sample_rate, 1) if writer else None,
            "longest_ui_gap_ms": round(state["gap"] * 1000, 1), "plays": loop.plays})
        state["gap"] = 0.0
        print(json.dumps(state["samples"][-1]), flush=True)

    def tick() -> None:
        if state["start"] is None:  # wait for the model, then go live
            if win.session.explainer is None or not win.worker.is_idle():
                return
            loop.start()
            action.trigger()
            state["start"] = time.monotonic()
            return
        now = (time.monotonic() - state["start"]) / 60
        if state["stopping"] is None:
            if now >= state["next_sample"]:
                minute(now)
                state["next_sample"] += 1.0
            if now >= a.minutes:
                loop.stop()
                state["take_s"] = panel.recorder.duration
                state["stopping"] = time.monotonic()
                action.trigger()  # stop: the whole take is analysed like a recording
            return
        if win.shown == ClipSource.recording() or time.monotonic() - state["stopping"] > 900:
            finish()

    def finish() -> None:
        timer.stop()
        samples = state["samples"]
        analysed = win.shown == ClipSource.recording()
        result = {"minutes": a.minutes, "samples": samples, **memory_summary(samples),
                  "take_s": round(state["take_s"], 1),
                  "take_analysed": analysed,
                  "stop_to_take_shown_s": round(time.monotonic() - state["stopping"], 1),
                  "rss_mb_after_take_shown": round(sample()["rss_mb"], 1),
                  "overflows": samples[-1]["overflows"] if samples else None}
        write_result(a.out, result)
        win.recordings.unsaved = None  # a soak's take is not kept
        if win.recordings.take is not None:
            win.recordings.take.discard()
        win.close()
        app.quit()

    heart = QTimer()
    heart.timeout.connect(beat)
    heart.start(20)
    timer = QTimer()
    timer.timeout.connect(tick)
    timer.start(100)
    return app.exec()


if __name__ == "__main__":
    sys.exit(main())

"""Soak of the analysis window (issue 26): open, explain again at another tau, play and
stop, over and over, for a given time; resident memory, threads and open files sampled
every minute (from /proc). Writes JSON (run under Xvfb):

    xvfb-run -a python scripts/soak_window.py --minutes 60 --out docs/results/soak.json
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication

from l2i_desktop.main_window import MainWindow
from resources import default_bundle_path, examples

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _soak import memory_summary, sample, write_result  # noqa: E402


def main() -> int:
    """Under a private PulseAudio server (tests/sound_server.py), so playback is real."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    from sound_server import pulse_server

    with pulse_server():
        return soak()


def soak() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--minutes", type=float, default=60)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    app = QApplication(sys.argv[:1])
    win = MainWindow(default_bundle_path())
    win.resize(1280, 800)
    win.show()
    rng = random.Random(a.seed)
    clips = [p for _, p in examples()]
    start = time.monotonic()
    state = {"cycles": 0, "step": 0, "samples": [], "next_sample": 0.0}

    def tick() -> None:
        now = (time.monotonic() - start) / 60
        if now >= state["next_sample"]:
            state["samples"].append({"minute": round(now, 2), **sample(),
                                     "cycles": state["cycles"]})
            state["next_sample"] += 1.0
        if now >= a.minutes:
            finish()
            return
        s = win.session
        if s.explainer is None or not win.worker.is_idle():
            return
        step = state["step"] % 4
        if step == 0:
            win.open_clip(rng.choice(clips))
        elif step == 1:
            win.tau_slider.setValue(rng.randrange(2, 60))
        elif step == 2:
            win.play(rng.choice(["original", "interpretation", "residual"]))
        else:
            win.play("stop")
            state["cycles"] += 1
        state["step"] += 1

    def finish() -> None:
        timer.stop()
        samples = state["samples"]
        result = {"minutes": a.minutes, "cycles": state["cycles"], "samples": samples,
                  **memory_summary(samples)}
        write_result(a.out, result)
        win.close()
        app.quit()

    timer = QTimer()
    timer.timeout.connect(tick)
    timer.start(50)
    return app.exec()


if __name__ == "__main__":
    sys.exit(main())

"""Longest stall of the UI thread while the window analyses a clip (QTimer heartbeat).

    QT_QPA_PLATFORM=offscreen python benchmarks/ui_stall.py --bundle B --clip C [--runs 5]

A 5 ms heartbeat runs on the UI thread; the longest gap between beats while a clip is
opened, analysed on the worker, explained and drawn is the stall a user would feel.
Printed per run with the median; measured here, not asserted in a test, because it
depends on the machine and on what else runs on it.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

from PySide6.QtCore import QElapsedTimer, QTimer
from PySide6.QtWidgets import QApplication

from l2i_desktop.main_window import MainWindow


def one_run(app: QApplication, bundle: Path, clip: Path, tau: float) -> float:
    win = MainWindow(bundle)
    win.show()
    while win.session.explainer is None:
        app.processEvents()
    clock, gaps, last = QElapsedTimer(), [], [0]
    clock.start()

    def beat() -> None:
        now = clock.elapsed()
        gaps.append(now - last[0])
        last[0] = now

    timer = QTimer()
    timer.timeout.connect(beat)
    timer.start(5)
    done = {"stage": 0}

    def poll() -> None:
        s = win.session
        if done["stage"] == 0 and s.clip is not None and s.explanation is not None:
            done["stage"] = 1
            win.tau_slider.setValue(round(tau * 100))
        elif done["stage"] == 1 and abs(win.session.explanation.threshold - tau) < 1e-9:
            done["stage"] = 2
            QTimer.singleShot(300, app.quit)

    watcher = QTimer()
    watcher.timeout.connect(poll)
    watcher.start(10)
    QTimer.singleShot(200, lambda: win.open_clip(clip))
    QTimer.singleShot(60_000, app.quit)
    app.exec()
    timer.stop()
    watcher.stop()
    win.close()
    return float(max(gaps[2:])) if len(gaps) > 2 else float("nan")


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--bundle", type=Path, required=True)
    ap.add_argument("--clip", type=Path, required=True)
    ap.add_argument("--tau", type=float, default=0.05)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--json", type=Path, default=None)
    a = ap.parse_args()
    app = QApplication(sys.argv[:1])
    stalls = [one_run(app, a.bundle, a.clip, a.tau) for _ in range(a.runs)]
    result = {"longest_stall_ms": stalls, "median_ms": statistics.median(stalls)}
    print(json.dumps(result))
    if a.json:
        a.json.write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())

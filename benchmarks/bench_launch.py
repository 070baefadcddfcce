"""Launch: from the start of a fresh process to the window drawn, and to the model ready
(#24: the window within 1 s, torch imported behind a "loading model" state).

Side by side, interleaved run by run, each in a fresh process started through the real
entry point (``l2i_desktop.main.main``, default bundle, offscreen Qt):

- floor: ``import PySide6.QtWidgets``, an empty QMainWindow shown, to its first paint;
- app: ``l2i-desktop`` to its window's first paint, then to the model ready; between the
  two, a 5 ms QTimer heartbeat measures the UI thread's longest gap (torch is imported
  on the engine worker meanwhile, and holds the GIL in long stretches);
- eager: the same with torch and the engine imported first, as the window did before
  (the previous behaviour, for comparison).

    QT_QPA_PLATFORM=offscreen python benchmarks/bench_launch.py [--runs 5] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import ROOT, machine, write_json

FLOOR = """
import time
from PySide6.QtCore import QEvent, QObject
from PySide6.QtWidgets import QApplication, QMainWindow

class FirstPaint(QObject):
    def eventFilter(self, obj, event):
        if event.type() == QEvent.Type.Paint and obj is win:
            print(time.monotonic(), flush=True)
            app.quit()
        return False

app = QApplication([])
win = QMainWindow()
spy = FirstPaint()
win.installEventFilter(spy)
win.show()
app.exec()
"""

APP = """
import json, sys, time
if sys.argv[1] == "eager":  # what the window imported before #24
    import torch, engine.explanation.explain, engine.bundles.bundle  # noqa
from PySide6.QtCore import QEvent, QObject, QTimer
from PySide6.QtWidgets import QApplication
from l2i_desktop import main as entry
from l2i_desktop.main_window import MainWindow

out = {"gaps_ms": []}
real_show = MainWindow.show

class FirstPaint(QObject):
    def __init__(self, win):
        super().__init__(win)
        self.win = win

    def eventFilter(self, obj, event):
        if event.type() == QEvent.Type.Paint and obj is self.win and "visible" not in out:
            out["visible"] = time.monotonic()
            out["torch_at_visible"] = "torch" in sys.modules
            beat.last = time.monotonic()
            beat.start()
        return False

def tick():
    now = time.monotonic()
    out["gaps_ms"].append((now - beat.last) * 1000)
    beat.last = now

def ready(_explainer):
    out["ready"] = time.monotonic()
    beat.stop()
    QTimer.singleShot(0, lambda: (win.close(), QApplication.instance().quit()))

def show(self):
    global win
    win = self
    self.installEventFilter(FirstPaint(self))
    self.session.bundle_changed.connect(ready)
    real_show(self)

beat = QTimer(interval=5)
beat.timeout.connect(tick)
MainWindow.show = show
entry.main([])
gaps = sorted(out.pop("gaps_ms"), reverse=True)
out["longest_gap_ms"] = gaps[0] if gaps else None
out["top_gaps_ms"] = gaps[:5]
out["beats"] = len(gaps)
print(json.dumps(out))
"""


def _env() -> dict[str, str]:
    return os.environ | {"PYTHONPATH": str(ROOT), "QT_QPA_PLATFORM": "offscreen",
                         "XDG_CONFIG_HOME": tempfile.mkdtemp(prefix="l2i-bench-"),
                         "XDG_STATE_HOME": tempfile.mkdtemp(prefix="l2i-bench-")}


def floor_s() -> float:
    t0 = time.monotonic()
    run = subprocess.run([sys.executable, "-c", FLOOR], capture_output=True, text=True,
                         check=True, cwd=ROOT, env=_env())
    return float(run.stdout.strip().splitlines()[-1]) - t0


def app_run(way: str) -> dict:
    """Seconds from the process start to the window drawn and to the model ready."""
    t0 = time.monotonic()
    run = subprocess.run([sys.executable, "-c", APP, way], capture_output=True, text=True,
                         check=True, cwd=ROOT, env=_env(), timeout=600)
    out = json.loads(run.stdout.strip().splitlines()[-1])
    return {"visible_s": out["visible"] - t0, "ready_s": out["ready"] - t0,
            "longest_gap_ms": out["longest_gap_ms"], "top_gaps_ms": out["top_gaps_ms"],
            "torch_at_visible": out["torch_at_visible"]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--json", type=Path, default=None)
    a = ap.parse_args()
    floors, apps, eager = [], [], []
    load_before = os.getloadavg()
    for _ in range(a.runs):  # interleaved: a burst of load hits all three alike
        floors.append(floor_s())
        apps.append(app_run("lazy"))
        eager.append(app_run("eager"))
    med = statistics.median
    out = {"machine": machine(), "load_average_before": load_before,
           "runs": a.runs,
           "floor_window_s": med(floors),
           "launch_to_visible_s": med(r["visible_s"] for r in apps),
           "launch_to_model_ready_s": med(r["ready_s"] for r in apps),
           "longest_ui_gap_loading_ms": med(r["longest_gap_ms"] for r in apps),
           "longest_ui_gap_loading_ms_all": [round(r["longest_gap_ms"]) for r in apps],
           "torch_at_visible": [r["torch_at_visible"] for r in apps],
           "eager_to_visible_s": med(r["visible_s"] for r in eager),
           "eager_to_model_ready_s": med(r["ready_s"] for r in eager),
           "floors_s": floors, "apps": apps, "eager": eager}
    out["visible_vs_floor"] = out["launch_to_visible_s"] / out["floor_window_s"]
    out["eager_visible_vs_floor"] = out["eager_to_visible_s"] / out["floor_window_s"]
    for k, v in out.items():
        if k not in ("apps", "eager", "floors_s"):
            print(f"{k:>28}: {v}")
    write_json(a.json, out)


if __name__ == "__main__":
    main()

"""The window's responsiveness with the default bundle (offscreen Qt):

- launch: a fresh process, from its start to the window with its bundle loaded (the
  window itself is drawn earlier, before torch is imported: benchmarks/bench_launch.py);
- open a clip to a drawn explanation;
- mute a component to the new interpretation audio (ready to replace what plays);
- the UI thread's longest stall during an analysis (benchmarks/ui_stall.py does the
  same with more runs; the wizard's is benchmarks/wizard_stall.py).

    QT_QPA_PLATFORM=offscreen python benchmarks/bench_gui.py [--runs 5] [--json out.json]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# the windows' settings (recent files, layout) go to a throw-away folder, not the user's
os.environ["XDG_CONFIG_HOME"] = __import__("tempfile").mkdtemp(prefix="l2i-bench-")

from common import ESC10, ROOT, machine, write_json  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402
from ui_stall import one_run  # noqa: E402

from l2i_desktop.main_window import MainWindow  # noqa: E402
from resources import DEFAULT_BUNDLE  # noqa: E402

LAUNCH = """
import time; t0 = time.perf_counter()
from PySide6.QtWidgets import QApplication
from l2i_desktop.main_window import MainWindow
from resources import DEFAULT_BUNDLE
app = QApplication([])
win = MainWindow(DEFAULT_BUNDLE)
win.show()
while win.session.explainer is None:
    app.processEvents()
print(time.perf_counter() - t0)
win.close()
"""


def launch_s() -> tuple[float, float]:
    """(whole process from exec, inside Python from the first import) in seconds."""
    t0 = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", LAUNCH], capture_output=True, text=True,
                         check=True, cwd=ROOT, env=os.environ | {"PYTHONPATH": str(ROOT)})
    return time.perf_counter() - t0, float(out.stdout.strip().splitlines()[-1])


def wait(app: QApplication, done, timeout: float = 120.0) -> float:
    t0 = time.perf_counter()
    while not done():
        app.processEvents()
        if time.perf_counter() - t0 > timeout:
            raise TimeoutError
    return time.perf_counter() - t0


def open_and_toggle(app: QApplication, clips: list[Path]) -> tuple[list[float], list[float]]:
    win = MainWindow(DEFAULT_BUNDLE)
    win.show()
    wait(app, lambda: win.session.explainer is not None)
    opened, toggled = [], []
    for clip in clips:
        t0 = time.perf_counter()
        win.open_clip(clip)
        wait(app, lambda clip=clip: win.shown_clip == clip and win.session.rendering is not None)
        opened.append(time.perf_counter() - t0)
        before = win.session.rendering
        k = win.session.explanation.selected[0]
        t0 = time.perf_counter()
        win.components.set_checked(k, win.components.MUTE, True)
        wait(app, lambda before=before: win.session.rendering is not before)
        toggled.append(time.perf_counter() - t0)
        assert k not in win.session.rendering.indices
    win.close()
    return opened, toggled


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--json", type=Path, default=None)
    a = ap.parse_args()
    launches = [launch_s() for _ in range(a.runs)]
    app = QApplication.instance() or QApplication([])
    classes = sorted(d for d in ESC10.iterdir() if d.is_dir())
    clips = [sorted(d.glob("1-*.ogg"))[0] for d in classes[:a.runs]]
    opened, toggled = open_and_toggle(app, clips)
    stalls = [one_run(app, DEFAULT_BUNDLE, c, 0.05) for c in clips[:a.runs]]
    med = statistics.median
    out = {"machine": machine(),
           "launch_process_s": med(p for p, _ in launches),
           "launch_in_python_s": med(q for _, q in launches),
           "open_to_drawn_s": med(opened), "toggle_to_audio_s": med(toggled),
           "ui_stall_ms": med(stalls), "ui_stall_ms_all": stalls}
    for k, v in out.items():
        print(f"{k:>20}: {v}")
    write_json(a.json, out)


if __name__ == "__main__":
    main()

"""Screenshot of the analysis window with the SLIME panel beside L2I (run under Xvfb):

    xvfb-run -a -s "-screen 0 1800x1000x24" python scripts/screenshot_slime.py \
        --clip CLIP --out docs/slime_panel.png [--bundle B] [--segments patches]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QApplication, QDockWidget

from l2i_desktop.main_window import MainWindow
from resources import default_bundle_path


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--bundle", type=Path, default=default_bundle_path())
    ap.add_argument("--clip", type=Path, required=True)
    ap.add_argument("--segments", default="patches", choices=["patches", "time", "freq"])
    ap.add_argument("--samples", type=int, default=300)
    ap.add_argument("--tau", type=float, default=0.1)
    ap.add_argument("--out", type=Path, required=True)
    a = ap.parse_args()
    app = QApplication(sys.argv[:1])
    win = MainWindow(a.bundle)
    win.resize(1760, 960)
    win.show()
    panel = win.tools["slime"]
    panel.kind.setCurrentIndex(panel.kind.findData(a.segments))
    panel.samples.setValue(a.samples)
    dock = win.findChild(QDockWidget, "slime_dock")
    dock.show()
    win.resizeDocks([dock], [600], Qt.Orientation.Horizontal)
    win.tau_slider.setValue(round(a.tau * 100))
    win.open_clip(a.clip)

    def poll() -> None:
        if panel.result is not None and panel.result.key == panel.wanted():
            timer.stop()
            QTimer.singleShot(800, finish)

    def finish() -> None:
        a.out.parent.mkdir(parents=True, exist_ok=True)
        win.grab().save(str(a.out))
        print(f"-> {a.out}")
        win.close()
        app.quit()

    timer = QTimer()
    timer.timeout.connect(poll)
    timer.start(200)
    QTimer.singleShot(600_000, app.quit)
    return app.exec()


if __name__ == "__main__":
    sys.exit(main())

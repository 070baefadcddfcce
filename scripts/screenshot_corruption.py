"""Screenshot of Analyse > Corrupt and compare... with a real clip (run under Xvfb):

    xvfb-run -a -s "-screen 0 1400x1000x24" python scripts/screenshot_corruption.py \
        --bundle resources/default.l2i --clip CLIP --snr 10 --out docs/corruption.png

``--mix OTHER --level DB`` instead of ``--snr`` mixes in a second clip.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication

from l2i_desktop.corruption_dialog import open_corruption_dialog
from l2i_desktop.main_window import MainWindow


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--bundle", type=Path, required=True)
    ap.add_argument("--clip", type=Path, required=True)
    ap.add_argument("--snr", type=float, default=10.0)
    ap.add_argument("--mix", type=Path, default=None)
    ap.add_argument("--level", type=float, default=-6.0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, required=True)
    a = ap.parse_args()
    app = QApplication(sys.argv[:1])
    win = MainWindow(a.bundle)
    win.resize(1360, 940)
    win.show()
    win.open_clip(a.clip)
    state: dict = {"dialog": None}

    def poll() -> None:
        if state["dialog"] is None:
            if win.shown_clip != a.clip:
                return
            dialog = open_corruption_dialog(win)
            dialog.resize(1300, 900)
            dialog.seed.setValue(a.seed)
            if a.mix is not None:
                dialog.other.setText(str(a.mix))
                dialog.mix.setChecked(True)
                dialog.level.setValue(a.level)
            else:
                dialog.snr.setValue(a.snr)
            dialog.run()
            state["dialog"] = dialog
        elif state["dialog"].result is not None or state["dialog"].error.text():
            timer.stop()
            QTimer.singleShot(500, finish)

    def finish() -> None:
        a.out.parent.mkdir(parents=True, exist_ok=True)
        state["dialog"].grab().save(str(a.out))
        print(f"-> {a.out}")
        print(state["dialog"].error.text() or state["dialog"].numbers.text())
        win.close()
        app.quit()

    timer = QTimer()
    timer.timeout.connect(poll)
    timer.start(100)
    QTimer.singleShot(120_000, app.quit)
    return app.exec()


if __name__ == "__main__":
    sys.exit(main())

"""Screenshot of the timeline of a long recording (run under Xvfb):

    xvfb-run -a -s "-screen 0 1400x1000x24" python scripts/screenshot_timeline.py \
        --data ../shared/data/esc10 --out docs/timeline.png

The recording is made at run time, in a temporary folder, from real held-out ESC-10
clips (fold 1: the default bundle never trained on them): three consecutive 5-s clips of
each of eight classes, two minutes in all. The window opens it, computes the timeline,
a window is clicked with the mouse, and the picture is taken once that window is
explained in the views.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf
from PySide6.QtCore import Qt, QTimer
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from engine.dsp.audio import load_audio
from l2i_desktop.main_window import MainWindow
from l2i_desktop.timeline_controller import WindowResult
from resources import default_bundle_path


def write_recording(data: Path, out: Path, classes: int = 8, per_class: int = 3) -> Path:
    folders = sorted(p for p in data.iterdir() if p.is_dir())[:classes]
    with sf.SoundFile(str(out), "w", 44100, 1, "FLOAT") as f:
        for folder in folders:
            for clip in sorted(folder.glob("1-*"))[:per_class]:
                wave = load_audio(clip, 44100)[:220500]
                f.write(np.pad(wave, (0, 220500 - len(wave))))
    return out


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", type=Path, default=Path("../shared/data/esc10"))
    ap.add_argument("--bundle", type=Path, default=None)
    ap.add_argument("--click", type=float, default=47.5, help="seconds: the window to explain")
    ap.add_argument("--row", default=None,
                    help="the class whose row is clicked (default: above the rows, the top)")
    ap.add_argument("--size", default="1360x1000", help="the window's size, WxH")
    ap.add_argument("--tau", type=float, default=0.3)
    ap.add_argument("--out", type=Path, default=Path("docs/timeline.png"))
    a = ap.parse_args()
    tmp = tempfile.TemporaryDirectory()
    clip = write_recording(a.data, Path(tmp.name) / "two minutes of ESC-10.wav")
    app = QApplication(sys.argv[:1])
    win = MainWindow(a.bundle or default_bundle_path())
    win.resize(*(int(v) for v in a.size.split("x")))
    win.tau_slider.setValue(round(a.tau * 100))
    win.show()
    win.open_clip(clip)
    state = {"clicked": False}

    def poll() -> None:
        view = win.tools["timeline"].view
        t = view.timeline
        if t is None or win.tools["timeline"].run is not None or not len(t.starts):
            return  # the timeline is still being computed
        if not state["clicked"]:
            state["clicked"] = True
            row = t.classes.index(a.row) if a.row else -1
            QTest.mouseClick(view.plot.viewport(), Qt.MouseButton.LeftButton,
                             Qt.KeyboardModifier.NoModifier, view.point_of(a.click, row))
            QTest.mouseMove(view.plot.viewport(), view.point_of(a.click, row))
            return
        if isinstance(win.session.clip, WindowResult) and win.session.explanation is not None \
                and win.shown_clip == clip:
            timer.stop()
            QTimer.singleShot(700, finish)

    def finish() -> None:
        a.out.parent.mkdir(parents=True, exist_ok=True)
        win.grab().save(str(a.out))
        print(f"-> {a.out}")
        win.close()
        app.quit()

    timer = QTimer()
    timer.timeout.connect(poll)
    timer.start(200)
    QTimer.singleShot(300_000, app.quit)
    rc = app.exec()
    tmp.cleanup()
    return rc


if __name__ == "__main__":
    sys.exit(main())

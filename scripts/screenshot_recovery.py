"""Screenshot of the recovery dialog over the window (run under Xvfb): two takes, as a
crash would leave them (a dog bark recorded with File > Record, a rooster heard live),
offered at start:

    xvfb-run -a -s "-screen 0 1700x1100x24" python scripts/screenshot_recovery.py \
        --out docs/recovery.png
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

from PySide6.QtCore import QSettings, QTimer  # noqa: E402
from PySide6.QtGui import QColor, QPainter  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from engine.dsp.audio import load_audio  # noqa: E402
from l2i_desktop.main_window import MainWindow  # noqa: E402
from l2i_desktop.recovery import TakeWriter, leftovers  # noqa: E402
from l2i_desktop.recovery_dialog import RecoveryDialog  # noqa: E402
from l2i_desktop.settings import Settings  # noqa: E402
from resources import default_bundle_path  # noqa: E402

CLIPS = (("dog_bark-1-100032-A.ogg", "record"), ("rooster-1-26806-A.ogg", "live"))
RATE = 44100


def crashed_take(folder: Path, clip: Path, source: str, started: float) -> None:
    writer = TakeWriter(folder, RATE, source)
    writer.append(load_audio(clip, RATE))
    take = writer.close()
    child = subprocess.Popen([sys.executable, "-c", "pass"])  # a pid that has ended
    child.wait()
    meta = json.loads(take.meta_path.read_text())
    take.meta_path.write_text(json.dumps(meta | {"pid": child.pid, "started": started}))


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "recovery.png")
    ap.add_argument("--size", default="1280x820", help="the window's size, WxH")
    args = ap.parse_args()
    app = QApplication.instance() or QApplication(sys.argv[:1])
    tmp = Path(tempfile.mkdtemp(prefix="l2i-recovery-shot-"))
    examples = ROOT / "resources" / "examples"
    for i, (name, source) in enumerate(CLIPS):
        clip = examples / name
        if not clip.exists():
            clip = sorted(examples.glob(f"{name.split('-')[0]}*"))[0]
        crashed_take(tmp, clip, source, 1796290000.0 + 95 * i)
    settings = Settings(QSettings(str(tmp / "s.ini"), QSettings.Format.IniFormat))
    win = MainWindow(default_bundle_path(), settings)
    win.resize(*(int(v) for v in args.size.split("x")))
    win.show()
    dialog = RecoveryDialog(leftovers(tmp), win)
    dialog.show()

    def shoot() -> None:
        # Xvfb has no window manager: the dialog is drawn framed over the dimmed window
        picture = win.grab()
        box = dialog.grab()
        title_h = 28
        x = (picture.width() - box.width()) // 2
        y = (picture.height() - box.height() - title_h) // 2
        painter = QPainter(picture)
        painter.fillRect(picture.rect(), QColor(0, 0, 0, 90))
        painter.fillRect(x - 1, y - 1, box.width() + 2, box.height() + title_h + 2,
                         QColor("#555555"))
        painter.fillRect(x, y, box.width(), title_h, QColor("#dcdcdc"))
        painter.setPen(QColor("#202020"))
        painter.drawText(x + 10, y + 19, dialog.windowTitle())
        painter.drawPixmap(x, y + title_h, box)
        painter.end()
        picture.save(str(args.out))
        print(f"wrote {args.out}")
        dialog.reject()
        win.recordings.unsaved = None
        win.close()
        app.quit()

    QTimer.singleShot(4000, shoot)
    app.exec()
    return 0


if __name__ == "__main__":
    sys.exit(main())

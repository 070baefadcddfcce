"""The picture Help > How to read this window shows: the window on a shipped example,
its parts numbered in the order help_dialogs.PARTS describes them (run under Xvfb):

    xvfb-run -a -s "-screen 0 1700x1100x24" python scripts/help_picture.py \
        --out resources/help/window.png
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from PySide6.QtCore import QPoint, QRect, Qt, QTimer
from PySide6.QtGui import QColor, QFont, QPainter
from PySide6.QtWidgets import QApplication

from l2i_desktop.help_dialogs import PARTS
from l2i_desktop.main_window import MainWindow
from resources import default_bundle_path, examples


def part_rects(win: MainWindow) -> list[QRect]:
    """Where each of PARTS is, in window coordinates."""
    def of(widget) -> QRect:
        return QRect(widget.mapTo(win, QPoint(0, 0)), widget.size())

    views = []
    for plot in win.views.plots:
        r = plot.sceneBoundingRect().toRect()
        views.append(QRect(win.views.mapTo(win, r.topLeft()), r.size()))
    transport = of(win.buttons["original"]).united(of(win.tau_slider))
    return [*views, of(win.predictions), of(win.trust_view), of(win.relevance),
            of(win.components), transport]


def annotate(win: MainWindow, out: Path, width: int) -> None:
    picture = win.grab()
    painter = QPainter(picture)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    font = QFont(painter.font())
    font.setBold(True)
    font.setPixelSize(17)
    painter.setFont(font)
    for n, rect in enumerate(part_rects(win), start=1):
        # the time views: their left margin; panels: a corner their text leaves free
        if n <= 4 or n == 7:
            badge = QRect(rect.left() + 6, rect.top() + 4, 26, 26)
        elif n == 6:
            badge = QRect(rect.right() - 30, rect.bottom() - 28, 26, 26)
        else:
            badge = QRect(rect.right() - 30, rect.top() + 2, 26, 26)
        painter.setPen(QColor("white"))
        painter.setBrush(QColor("#d62728"))
        painter.drawEllipse(badge)
        painter.drawText(badge, Qt.AlignmentFlag.AlignCenter, str(n))
    painter.end()
    assert len(PARTS) == n, "each part described in help_dialogs.PARTS has a number"
    out.parent.mkdir(parents=True, exist_ok=True)
    picture.scaledToWidth(width, Qt.TransformationMode.SmoothTransformation).save(str(out))
    print(f"-> {out}")


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--width", type=int, default=1100, help="pixels of the saved picture")
    a = ap.parse_args()
    app = QApplication(sys.argv[:1])
    win = MainWindow(default_bundle_path())
    win.resize(1400, 900)
    win.show()
    clip = next((path for label, path in examples() if label.startswith("Dog bark")),
                examples()[0][1])
    win.open_clip(clip)

    def poll() -> None:
        s = win.session
        if s.clip is not None and s.trust is not None and win.shown == s.clip.source:
            timer.stop()
            QTimer.singleShot(500, lambda: (annotate(win, a.out, a.width), win.close(),
                                            app.quit()))

    timer = QTimer()
    timer.timeout.connect(poll)
    timer.start(100)
    QTimer.singleShot(120_000, app.quit)
    return app.exec()


if __name__ == "__main__":
    sys.exit(main())

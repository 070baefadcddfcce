"""Screenshot of the analysis window with a real clip loaded, or of its welcome page
when no clip is given (run under Xvfb):

    xvfb-run -a -s "-screen 0 1700x1100x24" python scripts/screenshot.py \
        --bundle B --clip CLIP --size 1600x1000 --out docs/main_window.png

``--size fit`` keeps the size the window chose for its screen (try it with
QT_SCALE_FACTOR=1.5); ``--dock slime_dock`` shows that dock too (``--dock
slime_dock,lmac_dock``: each in turn, the picture taken once the last one's work is
done). The colour scheme follows L2I_COLOR_SCHEME (light, dark). ``--focus K`` looks at component K
(``--focus top``: the most relevant one) before the picture is taken; ``--labels FILE``
shows the labels of an Audacity label file or CSV; ``--region 0.8,2.3`` chooses a play
range and ``--zoom 0.5,2.5`` shows only that part of the clip. ``--loading`` takes the
picture while the model loads (held until then), with ``--clip`` kept as the next one.
"""

from __future__ import annotations

import argparse
import sys
import threading
from pathlib import Path

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QDockWidget

from l2i_desktop import jobs
from l2i_desktop.linking import connect_linking
from l2i_desktop.main_window import MainWindow


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--bundle", type=Path, required=True)
    ap.add_argument("--clip", type=Path, default=None, help="none: the welcome page")
    ap.add_argument("--tau", type=float, default=0.3)
    ap.add_argument("--target", default=None, help="class to explain (default: the top one)")
    ap.add_argument("--focus", default=None, help="component to look at, or 'top'")
    ap.add_argument("--labels", type=Path, default=None,
                    help="an Audacity label file or CSV to show in the label track")
    ap.add_argument("--size", default="1360x940",
                    help="window size, WIDTHxHEIGHT, or 'fit': as the window fits its screen")
    ap.add_argument("--dock", default=None, help="docks to show too, by object name, "
                    "comma-separated, each once the one before has finished "
                    "(slime_dock,lmac_dock)")
    ap.add_argument("--region", default=None, help="a play range START,END in seconds")
    ap.add_argument("--zoom", default=None, help="show only START,END seconds")
    ap.add_argument("--loading", action="store_true",
                    help="the window while its model loads (the load waits for the picture)")
    ap.add_argument("--out", type=Path, required=True)
    a = ap.parse_args()
    app = QApplication(sys.argv[:1])
    loaded = threading.Event()
    if a.loading:  # the bundle job waits: the loading state stays for the picture
        real_open = jobs.open_bundle
        jobs.open_bundle = lambda *args: loaded.wait() and real_open(*args)
    else:
        loaded.set()
    win = MainWindow(a.bundle)
    if a.size != "fit":
        win.resize(*map(int, a.size.split("x")))
    docks = [win.findChild(QDockWidget, d) for d in a.dock.split(",")] if a.dock else []
    if docks:
        docks[0].show()
    # the window links its views itself once it calls this; a second call does nothing
    connect_linking(win.session, win.views, win.relevance, win.components,
                    win.statusBar().showMessage)
    win.show()
    if a.clip is not None:
        win.open_clip(a.clip)
    state = {"tau_set": False, "target_set": a.target is None, "dock": 0}

    def docks_done() -> bool:
        """Each dock shown in turn, once the one before it is settled."""
        while state["dock"] < len(docks):
            panel = docks[state["dock"]].widget()
            if hasattr(panel, "settled") and not panel.settled():
                return False
            state["dock"] += 1
            if state["dock"] < len(docks):
                docks[state["dock"]].show()
                docks[state["dock"]].raise_()
                return False
        return True

    def poll() -> None:
        if a.loading:
            timer.stop()
            QTimer.singleShot(1000, finish)
            return
        if a.clip is None:
            if win.session.explainer is not None:
                timer.stop()
                QTimer.singleShot(500, finish)
            return
        if win.session.clip is None:
            return
        if not state["target_set"]:
            state["target_set"] = True
            win.session.choose(target=win.session.explainer.bundle.classes.index(a.target))
            return
        if not state["tau_set"]:
            state["tau_set"] = True
            win.tau_slider.setValue(round(a.tau * 100))
            return
        s = win.session
        wanted = s.explained_class()
        if s.explanation is not None and abs(s.explanation.threshold - a.tau) < 1e-6 \
                and s.explanation.target == wanted and win.shown == s.clip.source \
                and docks_done():
            timer.stop()
            if a.focus is not None:
                s.focus(s.explanation.selected[0] if a.focus == "top" else int(a.focus))
            if a.labels is not None:
                win.tools["labels"].import_file(a.labels)
            if a.region is not None:
                s.choose(region=tuple(float(v) for v in a.region.split(",")))
            if a.zoom is not None:
                win.tools["navigation"].show_span(*(float(v) for v in a.zoom.split(",")))
            QTimer.singleShot(500, finish)

    def finish() -> None:
        a.out.parent.mkdir(parents=True, exist_ok=True)
        win.grab().save(str(a.out))
        print(f"-> {a.out}")
        loaded.set()
        win.close()
        app.quit()

    timer = QTimer()
    timer.timeout.connect(poll)
    timer.start(100)
    QTimer.singleShot(120_000, app.quit)
    return app.exec()


if __name__ == "__main__":
    sys.exit(main())

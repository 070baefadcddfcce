"""``l2i-desktop [CLIP] [--bundle B]``: the application's entry point."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from l2i_desktop.logs import start_logging


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(
        prog="l2i-desktop", description="L2I Desktop: hear why an audio classifier "
        "decided what it did (Listen to Interpret).")
    ap.add_argument("clip", nargs="?", type=Path,
                    help="audio file to open and explain at start (optional)")
    ap.add_argument("--bundle", type=Path, default=None,
                    help="model bundle (.l2i file or folder) to load instead of the one "
                         "that ships (resources/default.l2i)")
    return ap.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    start_logging()  # before anything that may log: the audio backends, the window
    from pyqtgraph.util.garbage_collector import GarbageCollector
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from l2i_desktop.main_window import MainWindow
    from l2i_desktop.recovery_dialog import after_start
    from l2i_desktop.settings import Settings
    from resources import default_bundle_path

    app = QApplication.instance() or QApplication(sys.argv[:1])
    # Python's cyclic GC on the UI thread only: run on the engine thread, it once freed a
    # closed window's Qt objects there while the UI thread, holding the GIL, waited on
    # the same Qt mutex (a deadlock seen in the tests, gdb: ~QObject vs take_gil)
    collector = GarbageCollector(interval=1.0)  # noqa: F841 - kept alive by this frame
    settings = Settings()  # an unreadable file is replaced by the defaults here
    # shown before torch is imported: the worker imports it with the bundle, behind a
    # "loading model" state (loading.py) that keeps a clip opened meanwhile
    win = MainWindow(None if args.bundle else default_bundle_path(), settings)
    if args.bundle is None and default_bundle_path() is None:
        win.show_error("No default model ships with this version yet: "
                       "Bundle > Open bundle... or start with --bundle PATH.")
    if args.clip is not None:
        win.open_clip(args.clip)
    win.show()
    if args.bundle is not None:
        # opened as File > Open bundle opens it (one whose classifier is Python code asks
        # first), once the window is drawn: reading its manifest imports torch
        QTimer.singleShot(0, lambda: win.open_bundle_asking(args.bundle))
    # once the window is drawn: the settings note, then takes a crash left behind
    QTimer.singleShot(0, lambda: after_start(win, settings))
    return app.exec()


if __name__ == "__main__":
    sys.exit(main())

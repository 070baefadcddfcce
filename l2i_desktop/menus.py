"""The analysis window's menus and shortcuts (the panels install their own entries)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QActionGroup, QKeySequence

from resources import examples

if TYPE_CHECKING:
    from l2i_desktop.main_window import MainWindow


def build_menus(win: MainWindow) -> None:
    file_menu = win.menuBar().addMenu("&File")
    open_act = QAction("&Open clip...", win, shortcut=QKeySequence.StandardKey.Open)
    open_act.triggered.connect(win._ask_clip)
    file_menu.addAction(open_act)
    win.recent_menu = file_menu.addMenu("Open &recent")
    win._fill_recent()
    examples_menu = file_menu.addMenu("Open e&xample")  # resources/examples
    for label, path in examples():
        act = examples_menu.addAction(label)
        act.setObjectName(f"example_{path.stem}")
        act.triggered.connect(lambda _c=False, p=path: win.open_clip(p))
    record_act = QAction("&Record...", win, shortcut=QKeySequence("Ctrl+R"))
    record_act.triggered.connect(win._ask_record)
    file_menu.addAction(record_act)
    win.save_recording_act = QAction("Save recording...", win, enabled=False)
    win.save_recording_act.triggered.connect(win.save_recording)
    file_menu.addAction(win.save_recording_act)
    win.export_act = QAction("&Export explanation...", win)
    win.export_act.setObjectName("export")
    win.export_act.triggered.connect(win._ask_export)
    file_menu.addAction(win.export_act)
    file_menu.addSeparator()
    quit_act = QAction("&Quit", win, shortcut=QKeySequence.StandardKey.Quit)
    quit_act.triggered.connect(win.close)
    file_menu.addAction(quit_act)
    bundle_menu = win.menuBar().addMenu("&Bundle")
    bundle_act = QAction("Open &bundle...", win)
    bundle_act.triggered.connect(win._ask_bundle)
    bundle_menu.addAction(bundle_act)
    manifest_act = QAction("Show &manifest...", win)
    manifest_act.triggered.connect(win.show_manifest)
    bundle_menu.addAction(manifest_act)
    train_menu = win.menuBar().addMenu("&Train")
    train_act = QAction("&New interpreter...", win)
    train_act.setObjectName("train_new")
    train_act.triggered.connect(win.show_training_wizard)
    train_menu.addAction(train_act)
    view_menu = win.menuBar().addMenu("&View")
    group = QActionGroup(win)
    for kind, text in (("log_mag", "Spectrogram: log-magnitude (what NMF explains)"),
                       ("log_mel", "Spectrogram: mel (what the classifier sees)")):
        act = QAction(text, win, checkable=True, checked=kind == "log_mag")
        act.setObjectName(f"view_{kind}")
        act.triggered.connect(lambda _c=False, kind=kind: win.views.set_spectrum_kind(kind))
        group.addAction(act)
        view_menu.addAction(act)
    space = QAction("Play/pause", win, shortcut=QKeySequence(Qt.Key.Key_Space))
    space.triggered.connect(lambda: win.play("stop" if win.player.is_playing
                                              else "interpretation"))
    win.addAction(space)
    stop = QAction("Cancel analysis", win, shortcut="Esc")  # a long clip, say
    stop.triggered.connect(win.worker.cancel_running)
    win.addAction(stop)

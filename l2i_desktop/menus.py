"""The analysis window's menus and shortcuts, declared once as data.

Menus are known by id (``file``, ``edit``...), never found by their title; tools add
their own entries through ``Host.add_action``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QActionGroup, QKeySequence
from PySide6.QtWidgets import QMainWindow, QMenu

from l2i_desktop import help_dialogs
from resources import examples

MENUS = (("file", "&File"), ("edit", "&Edit"), ("bundle", "&Bundle"), ("train", "&Train"),
         ("view", "&View"), ("analyse", "&Analyse"), ("help", "&Help"))


@dataclass(frozen=True)
class ActionSpec:
    id: str  # the QAction's objectName
    menu: str | None  # a menu id; None: a window-wide shortcut only
    text: str
    call: Callable[[], Any]
    shortcut: QKeySequence | str | None = None
    tip: str = ""


def declare(win: Any) -> list[ActionSpec]:
    """Every action of the window; ``win`` offers the methods named here."""
    std = QKeySequence.StandardKey
    return [
        ActionSpec("open_clip", "file", "&Open clip...", win.ask_clip, std.Open,
                   "Open an audio file and explain the classifier's decision"),
        ActionSpec("record", "file", "&Record...", win.recordings.ask_record, "Ctrl+R",
                   "Record from an input device, then explain the recording"),
        ActionSpec("export", "file", "&Export explanation...", win.ask_export, None,
                   "Write pictures, audio and CSV files of this explanation to a folder"),
        ActionSpec("quit", "file", "&Quit", win.close, std.Quit),
        ActionSpec("undo", "edit", "&Undo", win.session.history.undo, std.Undo),
        ActionSpec("redo", "edit", "&Redo", win.session.history.redo, "Ctrl+Shift+Z"),
        ActionSpec("open_bundle", "bundle", "Open &bundle...", win.ask_bundle, None,
                   "Load another model bundle (.l2i file or folder)"),
        ActionSpec("manifest", "bundle", "Show &manifest...", win.show_manifest),
        ActionSpec("train_new", "train", "&New interpreter...", win.show_training_wizard),
        ActionSpec("how_to_read", "help", "&How to read this window...",
                   lambda: help_dialogs.show_how_to_read(win), std.HelpContents,
                   "What each part of the window shows, with its picture"),
        ActionSpec("shortcuts", "help", "&Keyboard shortcuts...",
                   lambda: help_dialogs.show_shortcuts(win)),
        ActionSpec("about", "help", "&About L2I Desktop...",
                   lambda: help_dialogs.show_about(win, win.session.explainer)),
        ActionSpec("play_pause", None, "Play/pause", win.play_pause, Qt.Key.Key_Space),
        ActionSpec("cancel", None, "Cancel analysis", win.worker.cancel_running, "Esc"),
    ]


def build_menus(win: QMainWindow, specs: list[ActionSpec]) -> tuple[dict[str, QMenu],
                                                                    dict[str, QAction]]:
    menus = {mid: win.menuBar().addMenu(title) for mid, title in MENUS}
    actions: dict[str, QAction] = {}
    for spec in specs:
        act = QAction(spec.text, win)
        act.setObjectName(spec.id)
        if spec.shortcut is not None:
            act.setShortcut(QKeySequence(spec.shortcut))
        if spec.tip:
            act.setStatusTip(spec.tip)
        act.triggered.connect(lambda _c=False, call=spec.call: call())
        if spec.menu:
            menus[spec.menu].addAction(act)
        if spec.shortcut is not None or not spec.menu:
            win.addAction(act)  # its shortcut works wherever the focus is in the window
        actions[spec.id] = act
    return menus, actions


def add_file_extras(win: Any, menus: dict[str, QMenu], actions: dict[str, QAction]) -> QMenu:
    """Open recent, Open example and Save recording, in their places in File."""
    file_menu = menus["file"]
    recent = QMenu("Open &recent", file_menu)
    file_menu.insertMenu(actions["record"], recent)
    examples_menu = QMenu("Open e&xample", file_menu)  # resources/examples
    for label, path in examples():
        act = examples_menu.addAction(label)
        act.setObjectName(f"example_{path.stem}")
        act.triggered.connect(lambda _c=False, p=path: win.open_clip(p))
    file_menu.insertMenu(actions["record"], examples_menu)
    file_menu.insertAction(actions["export"], win.recordings.save_act)
    file_menu.insertSeparator(actions["quit"])
    return recent


def add_view_kinds(win: Any, menu: QMenu) -> None:
    group = QActionGroup(win)
    for kind, text in (("log_mag", "Spectrogram: log-magnitude (what NMF explains)"),
                       ("log_mel", "Spectrogram: mel (what the classifier sees)")):
        act = QAction(text, win, checkable=True, checked=kind == "log_mag")
        act.setObjectName(f"view_{kind}")
        act.triggered.connect(lambda _c=False, kind=kind: win.views.set_spectrum_kind(kind))
        group.addAction(act)
        menu.addAction(act)

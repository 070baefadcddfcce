"""Help: how to read the window (its picture, numbered), the keyboard shortcuts (read
from the window's own actions, so they never go stale) and About."""

from __future__ import annotations

import platform
from importlib import metadata
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QMainWindow,
    QMessageBox,
    QTableWidget,
    QTableWidgetItem,
    QTextBrowser,
    QVBoxLayout,
)

from resources import help_picture

PARTS = (
    ("Waveform", "the clip; drag the blue edges to choose what the play buttons play"),
    ("Spectrogram", "what the clip contains over time (x) and frequency (y); View switches "
     "to the mel spectrogram the classifier reads"),
    ("Component activations H", "when each of the K dictionary components is active; the "
     "numbers on its left axis are the selected components"),
    ("Interpretation", "the spectrogram of what the selected components explain: what "
     "▶ interpretation plays"),
    ("Predictions", "the classifier's probabilities and the interpreter's; the explained "
     "class is highlighted. A note appears when the decision itself looks shaky"),
    ("Trust", "how far to trust this explanation: what removing its components does to "
     "the class, against removing random ones, and whether they alone are still heard "
     "as the class"),
    ("Relevance", "every component's relevance to the explained class, most relevant "
     "first, normalised to the largest (negative: evidence against the class); "
     "components above the red line tau are selected. Drag the line, or use + and -"),
    ("Selected components", "each selected component's number, relevance and spectral "
     "pattern; mute or solo it and the interpretation changes; ▶ plays it alone"),
    ("Transport and tau", "play the original, the interpretation (what the classifier "
     "relied on) or the residual (everything else); the slider sets tau"),
)


def _dialog(parent: QMainWindow, title: str,
            size: tuple[int, int]) -> tuple[QDialog, QVBoxLayout, QDialogButtonBox]:
    dialog = QDialog(parent)
    dialog.setWindowTitle(title)
    dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    lay = QVBoxLayout(dialog)
    buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
    buttons.rejected.connect(dialog.reject)
    dialog.resize(*size)
    return dialog, lay, buttons


def how_to_read_html(picture: Path | None) -> str:
    items = "".join(f"<li><b>{name}</b>: {text}.</li>" for name, text in PARTS)
    image = f'<p><img src="{picture.as_uri()}" width="760"></p>' if picture else ""
    return (f"<h2>How to read this window</h2>{image}"
            "<p>The classifier decided; the interpreter says which of K fixed sound "
            "patterns (NMF components) carried that decision, and you hear them. The "
            "numbers in the picture match this list:</p>"
            f"<ol>{items}</ol>"
            "<p>Everything you change (class, tau, mute, solo, play range) can be undone "
            "with Edit &gt; Undo.</p>")


def show_how_to_read(parent: QMainWindow) -> QDialog:
    dialog, lay, buttons = _dialog(parent, "How to read this window", (840, 900))
    browser = QTextBrowser()
    browser.setObjectName("how_to_read")
    browser.setHtml(how_to_read_html(help_picture()))
    lay.addWidget(browser)
    lay.addWidget(buttons)
    dialog.open()
    return dialog


def shortcuts(window: QMainWindow) -> list[tuple[str, str]]:
    """(keys, what) of every action of the window that has a shortcut."""
    rows = {}
    for act in window.findChildren(QAction):
        keys = act.shortcut().toString(QKeySequence.SequenceFormat.NativeText)
        if keys:
            rows[keys] = act.text().replace("&", "").rstrip(".")
    return sorted(rows.items(), key=lambda kv: kv[1].lower())


def show_shortcuts(window: QMainWindow) -> QDialog:
    rows = shortcuts(window) + [("+ / - or Up / Down",
                                 "Relevance plot: tau up or down by 0.01"),
                                ("Wheel", "Views: zoom in time"),
                                ("click the views", "then + - arrows Home End F zoom, "
                                 "scroll and fit them")]
    dialog, lay, buttons = _dialog(window, "Keyboard shortcuts", (480, 520))
    table = QTableWidget(len(rows), 2)
    table.setObjectName("shortcuts")
    table.setHorizontalHeaderLabels(["keys", "does"])
    table.verticalHeader().hide()
    table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
    for r, (keys, what) in enumerate(rows):
        table.setItem(r, 0, QTableWidgetItem(keys))
        table.setItem(r, 1, QTableWidgetItem(what))
    table.resizeColumnsToContents()
    table.horizontalHeader().setStretchLastSection(True)
    lay.addWidget(table)
    lay.addWidget(buttons)
    dialog.open()
    return dialog


def about_text(explainer: Any) -> str:
    def version(name: str) -> str:
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            return "not installed"
    lines = [f"<b>L2I Desktop</b> {version('l2i-desktop')}: hear why an audio classifier "
             "decided what it did (Listen to Interpret, Parekh et al., NeurIPS 2022).",
             "<br>Python " + platform.python_version() + ", "
             + ", ".join(f"{n} {version(n)}" for n in ("torch", "PySide6", "pyqtgraph",
                                                        "numpy", "librosa"))]
    if explainer is not None:
        b = explainer.bundle
        lines.append(f"<br>Model: <b>{b.name}</b>, K = {b.k} components, "
                     f"{len(b.classes)} classes, from {b.path or 'memory'}")
    else:
        lines.append("<br>No model is open.")
    return "".join(lines)


def show_about(window: QMainWindow, explainer: Any) -> None:
    box = QMessageBox(window)
    box.setWindowTitle("About L2I Desktop")
    box.setTextFormat(Qt.TextFormat.RichText)
    box.setText(about_text(explainer))
    box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    box.open()

"""Analyse > Corrupt and compare...: the open clip against a corrupted copy of it.

The corrupted copy (white noise at an SNR, or a second clip at a level) is made and
explained on the window's engine worker, for the same class and tau as the clean clip;
the dialog shows both explanations side by side (input and interpretation spectrograms,
relevance bars with the selected sets), the stability numbers of engine.tools.corruption, and
plays the original, the corrupted clip and both interpretations through the window's
Player.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QDialog,
    QDoubleSpinBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QRadioButton,
    QSpinBox,
    QVBoxLayout,
)

from l2i_desktop.host import Host
from l2i_desktop.jobs import colorize
from l2i_desktop.opening import AUDIO_FILTER
from l2i_desktop.worker import Lane

if TYPE_CHECKING:  # torch is first imported on the worker, with the model (jobs.py)
    from engine.explanation.explain import Analysis, Explainer
    from engine.tools.corruption import Comparison

CORRUPTION = Lane("corrupt")  # a newer comparison makes an older one moot
COLOURS = {"clean": "#1f77b4", "corrupted": "#ff7f0e"}


@dataclass
class CorruptionResult:
    comparison: Comparison
    condition: str
    pictures: dict[str, np.ndarray]  # input/interpretation, clean/corrupted, as RGBA


def corrupt_and_explain(explainer: Explainer, clean: Analysis, kind: str, db: float,
                        other: Path | None, seed: int, target: int, tau: float,
                        levels: tuple[float, float]) -> CorruptionResult:
    """Runs on the engine worker: load the second clip if any, corrupt, explain, and
    colour the four spectrograms on the clean clip's scale (so they compare)."""
    from engine.tools import corruption

    rate = explainer.cfg.sample_rate
    if kind == "mix":
        wave, name = corruption.load_other(other, rate)
        condition = corruption.Corruption("mix", db, wave, name)
    else:
        condition = corruption.Corruption("white", db)
    comp = corruption.compare(explainer, clean, condition.apply(clean.wave, seed), target, tau)
    pictures = {
        "clean_input": colorize(clean.log_mag.cpu().numpy(), levels),
        "corrupted_input": colorize(comp.corrupted.log_mag.cpu().numpy(), levels),
        "clean_interpretation": colorize(comp.clean_explanation.interpretation_log_mag,
                                         levels),
        "corrupted_interpretation": colorize(
            comp.corrupted_explanation.interpretation_log_mag, levels)}
    return CorruptionResult(comp, condition.name, pictures)


class ComparisonView(pg.GraphicsLayoutWidget):
    """Two columns (clean, corrupted): input spectrogram, interpretation, relevance."""

    def __init__(self) -> None:
        super().__init__()
        self.setBackground("w")
        self.plots: dict[str, pg.PlotItem] = {}
        self.images: dict[str, pg.ImageItem] = {}
        self.bars: dict[str, tuple[pg.BarGraphItem, pg.BarGraphItem]] = {}
        for col, side in enumerate(("clean", "corrupted")):
            for row, what in enumerate(("input", "interpretation")):
                p = self.addPlot(row=row, col=col)
                p.setMenuEnabled(False)
                p.setLabel("left", "Hz")
                img = pg.ImageItem(axisOrder="row-major")
                p.addItem(img)
                self.plots[f"{side}_{what}"], self.images[f"{side}_{what}"] = p, img
            rel = self.addPlot(row=2, col=col)
            rel.setMenuEnabled(False)
            rel.setLabel("left", "relevance")
            rel.setLabel("bottom", "components by clean relevance (dashed: clean "
                                   "selection ends)")
            chosen = pg.BarGraphItem(x=[], height=[], width=0.8, brush=COLOURS[side], pen=None)
            rest = pg.BarGraphItem(x=[], height=[], width=0.8, brush="#c7c7c7", pen=None)
            rel.addItem(rest)
            rel.addItem(chosen)
            self.plots[f"{side}_relevance"], self.bars[side] = rel, (chosen, rest)
        for key, p in self.plots.items():
            if key != "clean_input":
                p.setXLink(self.plots["clean_input"] if "relevance" not in key
                           else self.plots["clean_relevance"])
            p.getAxis("left").setWidth(55)
        for col in (0, 1):  # equal columns, whatever the titles' lengths
            self.ci.layout.setColumnStretchFactor(col, 1)
            self.ci.layout.setColumnPreferredWidth(col, 100)
        self.tau_lines = [pg.InfiniteLine(0.1, angle=0, pen=pg.mkPen("#d62728", width=1))
                          for _ in range(2)]
        self.edges = [pg.InfiniteLine(0, angle=90, pen=pg.mkPen("#555", style=Qt.PenStyle.DashLine))
                      for _ in range(2)]
        for side, tau_line, edge in zip(("clean", "corrupted"), self.tau_lines, self.edges):
            self.plots[f"{side}_relevance"].addItem(tau_line)
            self.plots[f"{side}_relevance"].addItem(edge)

    def show_result(self, result: CorruptionResult, clip_name: str) -> None:
        comp = result.comparison
        a = comp.clean
        duration = a.n_samples / a.sample_rate
        height = a.sample_rate / 2
        cls = a.classes[comp.clean_explanation.target]
        titles = {"clean_input": f"Clean: {clip_name}",
                  "corrupted_input": f"Corrupted: {result.condition}",
                  "clean_interpretation": f"Interpretation of '{cls}' (clean)",
                  "corrupted_interpretation": f"Interpretation of '{cls}' (corrupted)",
                  "clean_relevance": "Relevance (clean), selected in colour",
                  "corrupted_relevance": "Relevance (corrupted), in the clean order"}
        for key, title in titles.items():
            self.plots[key].setTitle(title)
        for key, img in self.images.items():
            img.setImage(result.pictures[key], autoLevels=False)
            img.setRect(0, 0, duration, height)
            self.plots[key].setRange(xRange=(0, duration), yRange=(0, height), padding=0)
        order = np.argsort(-comp.clean_explanation.relevance, kind="stable")
        low = 0.0
        for side, exp in (("clean", comp.clean_explanation),
                          ("corrupted", comp.corrupted_explanation)):
            heights = exp.relevance[order]
            chosen = np.isin(order, exp.selected)
            x = np.arange(len(order))
            self.bars[side][0].setOpts(x=x[chosen], height=heights[chosen])
            self.bars[side][1].setOpts(x=x[~chosen], height=heights[~chosen])
            low = min(low, float(heights.min(initial=0.0)))
        n_clean = len(comp.clean_explanation.selected)
        for side, tau_line, edge in zip(("clean", "corrupted"), self.tau_lines, self.edges):
            tau_line.setValue(comp.clean_explanation.threshold)
            edge.setValue(n_clean - 0.5)  # right of it: what the clean one did not select
            self.plots[f"{side}_relevance"].setRange(xRange=(-0.5, len(order) - 0.5),
                                                     yRange=(low, 1.05), padding=0.01)


def stability_text(comp: Comparison) -> str:
    s, a, b = comp.stability, comp.clean, comp.corrupted
    c = comp.clean_explanation.target
    sel_a, sel_b = comp.clean_explanation.selected, comp.corrupted_explanation.selected
    kept = "yes" if s.top1_kept else "no"
    return (f"<b>Jaccard</b> {s.jaccard:.2f} (clean {sorted(sel_a)}, corrupted "
            f"{sorted(sel_b)})<br><b>top-1 kept</b> {kept} ({a.classes[a.predicted]} "
            f"→ {b.classes[b.predicted]}; p('{a.classes[c]}') {a.probabilities[c]:.2f} → "
            f"{b.probabilities[c]:.2f}) &nbsp; <b>Spearman</b> {s.rank_correlation:.2f} "
            f"&nbsp; <b>energy kept</b> {s.energy_kept:.2f} &nbsp; <b>on clean</b> "
            f"{s.energy_on_clean:.2f}")


def _spin(low: float, high: float, value: float, step: float) -> QDoubleSpinBox:
    box = QDoubleSpinBox()
    box.setRange(low, high)
    box.setDecimals(1)
    box.setSingleStep(step)
    box.setValue(value)
    return box


class CorruptionDialog(QDialog):
    def __init__(self, host: Host) -> None:
        super().__init__(host.window)
        self.host = host
        self.setWindowTitle("Corrupt and compare")
        self.result: CorruptionResult | None = None
        self._request = None  # the job in flight
        self._clip_name = ""
        self.white = QRadioButton("White noise, SNR (dB)")
        self.white.setChecked(True)
        self.snr = _spin(-30, 60, 10, 5)
        self.mix = QRadioButton("Second clip, level (dB)")
        self.level = _spin(-40, 20, -6, 1)
        self.other = QLineEdit()
        self.other.setPlaceholderText("a clip to mix in")
        browse = QPushButton("Browse...")
        browse.clicked.connect(self._ask_other)
        self.seed = QSpinBox()
        self.seed.setRange(0, 2**31 - 1)
        self.run_button = QPushButton("Corrupt and compare")
        self.run_button.setObjectName("corrupt_run")
        self.run_button.clicked.connect(self.run)
        first, second = QHBoxLayout(), QHBoxLayout()
        for w in (self.white, self.snr, QLabel("seed"), self.seed):
            first.addWidget(w)
        first.addStretch(1)
        first.addWidget(self.run_button)
        for w in (self.mix, self.level):
            second.addWidget(w)
        second.addWidget(self.other, 1)
        second.addWidget(browse)
        self.view = ComparisonView()
        self.numbers = QLabel("Choose a corruption and press Corrupt and compare.")
        self.numbers.setWordWrap(True)
        self.numbers.setTextFormat(Qt.TextFormat.RichText)
        self.error = QLabel("")
        self.error.setStyleSheet("color: #b00020")
        transport = QHBoxLayout()
        self.buttons: dict[str, QPushButton] = {}
        for kind, text in (("original", "▶ original"),
                           ("clean_interpretation", "▶ clean interpretation"),
                           ("corrupted", "▶ corrupted"),
                           ("corrupted_interpretation", "▶ corrupted interpretation"),
                           ("stop", "■ stop")):
            b = QPushButton(text)
            b.setEnabled(kind == "stop")
            b.setObjectName(f"corrupt_play_{kind}")
            b.clicked.connect(lambda _c=False, kind=kind: self.play(kind))
            transport.addWidget(b)
            self.buttons[kind] = b
        transport.addStretch(1)
        lay = QVBoxLayout(self)
        lay.addLayout(first)
        lay.addLayout(second)
        lay.addWidget(self.view, 1)
        lay.addWidget(self.numbers)
        lay.addLayout(transport)
        lay.addWidget(self.error)
        self.finished.connect(self._detach)
        self.resize(1200, 860)

    def _ask_other(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Clip to mix in",
                                              self.host.settings.last_folder(),
                                              AUDIO_FILTER)
        if path:
            self.other.setText(path)
            self.mix.setChecked(True)

    def run(self) -> None:
        """Ask the worker for the comparison of the window's clip, class and tau."""
        win = self.host.session
        if win.clip is None or win.explainer is None:
            self.error.setText("Open a clip first.")
            return
        other = Path(self.other.text().strip()) if self.mix.isChecked() else None
        if self.mix.isChecked() and not self.other.text().strip():
            self.error.setText("Choose a second clip to mix in.")
            return
        kind, db = ("mix", self.level.value()) if other else ("white", self.snr.value())
        a = win.clip.analysis
        target = win.explanation.target if win.explanation is not None else a.predicted
        self.error.setText("")
        self.numbers.setText(f"explaining the corrupted clip ({kind}, {db:g} dB)...")
        self.run_button.setEnabled(False)
        self._clip_name = win.clip.source.name
        job = self.host.worker.submit(
            CORRUPTION, corrupt_and_explain, win.explainer, a, kind, db, other,
            self.seed.value(), target, win.tau, win.clip.levels,
            done=lambda r: self._on_finished(job, r),
            failed=lambda m: self._on_failed(job, m))
        self._request = job

    def _on_finished(self, job, result: CorruptionResult) -> None:
        if job is not self._request:  # an older run, or the dialog closed meanwhile
            return
        self.result = result
        self.run_button.setEnabled(True)
        self.view.show_result(result, self._clip_name)
        self.numbers.setText(stability_text(result.comparison))
        for b in self.buttons.values():
            b.setEnabled(True)

    def _on_failed(self, job, message: str) -> None:
        if job is self._request:
            self.run_button.setEnabled(True)
            self.numbers.setText("")
            self.error.setText(message)

    def audio(self, kind: str) -> np.ndarray | None:
        if self.result is None:
            return None
        comp = self.result.comparison
        return {"original": comp.clean.wave, "corrupted": comp.corrupted.wave,
                "clean_interpretation": comp.clean_explanation.interpretation,
                "corrupted_interpretation": comp.corrupted_explanation.interpretation,
                }.get(kind)

    def play(self, kind: str) -> None:
        player = self.host.player
        if kind == "stop":
            player.stop()
            return
        wave = self.audio(kind)
        if wave is not None:
            # not the window's interpretation: a new rendering there must not swap it in
            self.host.session.set_playing(f"corruption:{kind}")
            player.play(wave, self.result.comparison.clean.sample_rate)

    def _detach(self) -> None:
        self._request = None  # a result still on its way finds the dialog gone
        playing = self.host.session.playing
        if playing and playing.startswith("corruption"):
            self.host.player.stop()


class CorruptionTool:
    """Analyse > Corrupt and compare...: one dialog at a time, on the open clip."""

    def __init__(self, host: Host) -> None:
        self.host = host
        self.dialog: CorruptionDialog | None = None
        act = QAction("&Corrupt and compare...", host.window)
        act.setObjectName("corrupt_compare")
        act.triggered.connect(self.open)
        host.add_action("analyse", act)

    def open(self) -> CorruptionDialog | None:
        if self.host.session.clip is None:
            self.host.show_error("Open a clip first: Corrupt and compare works on the open "
                                 "clip.")
            return None
        if self.dialog is None:
            self.dialog = CorruptionDialog(self.host)
            self.dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
            self.dialog.destroyed.connect(self._forget)
        self.dialog.show()
        self.dialog.raise_()
        return self.dialog

    def _forget(self) -> None:
        self.dialog = None


def install(host: Host) -> CorruptionTool:
    return CorruptionTool(host)

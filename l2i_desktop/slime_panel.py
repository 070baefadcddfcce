"""Analyse > SLIME: a second explanation of the same clip and class beside L2I's.

SLIME (engine/tools/slime.py) switches segments of the spectrogram off, classifies hundreds of
such copies and fits a weighted linear surrogate. The panel shows its mask over the
spectrogram, the segment weights, plays its explanation and residual, and puts the
faithfulness of both explanations side by side.

The work runs on the window's engine worker as a job that steps aside whenever another
job is waiting (the worker's queue is not empty): it is cancelled between batches, keeps
the classifications done so far, and the panel submits it again after the other jobs,
where it continues. So L2I stays responsive, a new clip makes the old work stale at once,
and a new class costs only a refit.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDockWidget,
    QGraphicsRectItem,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from engine.runtime.errors import Cancelled
from engine.runtime.progress import TaskState
from engine.tools.slime_config import SlimeConfig
from l2i_desktop.host import Host
from l2i_desktop.jobs import MAX_PICTURE_ROWS, colorize
from l2i_desktop.worker import Lane

if TYPE_CHECKING:  # torch is first imported on the worker, with the model (jobs.py)
    from engine.explanation.explain import Analysis, Explainer
    from engine.tools import slime

SLIME = Lane("slime")

KINDS = {"patches": "time-frequency patches (5 x 4)", "time": "time segments (10)",
         "freq": "frequency bands (8, mel-spaced)"}
ROWS = ("FF: p lost without it", "p kept: it alone", "share of spectrogram", "selected")
WASH = (0.35, np.array([150.0, 150.0, 150.0]))  # what SLIME leaves out: faded to grey


@dataclass
class SlimeResult:
    key: tuple
    explanation: slime.SlimeExplanation
    faith: dict[str, slime.Faithfulness]  # "L2I" and "SLIME", for the same class
    picture: np.ndarray  # RGBA spectrogram, dimmed outside SLIME's mask
    probability: float  # of the class on the clip itself
    l2i_selected: int
    seconds: float  # working on this clip and segmentation, its steps aside excluded


class _StepAside(TaskState):
    """Cancelled when other jobs wait on the worker, or when asked to."""

    def __init__(self, worker, on_report) -> None:
        super().__init__(on_report)
        self._worker = worker

    def check(self) -> None:
        if self._worker.has_waiting_jobs():
            self.cancel()
        super().check()


def _rows_like_picture(mask: np.ndarray) -> np.ndarray:
    """The mask reduced over frequency rows the way ``colorize`` reduces a picture."""
    rows = mask.shape[0]
    if rows <= MAX_PICTURE_ROWS:
        return mask
    step = -(-rows // MAX_PICTURE_ROWS)
    padded = np.pad(mask, ((0, -rows % step), (0, 0)))
    return padded.reshape(-1, step, mask.shape[1]).max(axis=1)


def compute(ex: Explainer, analysis: Analysis, target: int, config: SlimeConfig,
            l2i_selected: list[int], levels: tuple[float, float], key: tuple,
            cache: dict, task: TaskState) -> SlimeResult | None:
    """Runs on the worker thread. None when it stepped aside (``cache`` keeps the
    classifications done so far, keyed by segmentation)."""
    from engine.tools import slime

    start = time.perf_counter()
    spent = cache.setdefault(("seconds", config.segmentation), [0.0])
    pert = cache.get(config.segmentation)
    if pert is None or not pert.fits(config, analysis):
        pert = cache[config.segmentation] = slime.plan(ex, analysis, config)
        spent[0] = 0.0  # new perturbations: the time of the old ones is not theirs
    try:
        exp = slime.explain(ex, analysis, target, config, task, pert)
    except Cancelled:
        spent[0] += time.perf_counter() - start
        return None
    faith = slime.compare(ex, analysis, target,
                          {"L2I": slime.l2i_mask(ex, analysis, l2i_selected),
                           "SLIME": exp.mask})
    picture = colorize(analysis.log_mag.cpu().numpy(), levels)
    out = _rows_like_picture(exp.mask) == 0
    keep, grey = WASH
    picture[out, :3] = (picture[out, :3] * keep + grey * (1 - keep)).astype(np.uint8)
    spent[0] += time.perf_counter() - start
    return SlimeResult(key, exp, faith, picture, float(analysis.probabilities[target]),
                       len(l2i_selected), spent[0])


class SlimePanel(QWidget):
    progress = Signal(int, int)  # done, total: emitted on the worker thread
    result_shown = Signal(object)  # the SlimeResult now on screen (the L-MAC table's row)

    def __init__(self, host: Host) -> None:
        super().__init__()
        self.host = host
        self.session = host.session
        self.worker = host.worker
        self.result: SlimeResult | None = None
        self.error: tuple | None = None  # (key, message) of the last failure
        self._cache: dict = {}
        self._cache_for: Analysis | None = None
        self._pending = None  # the job in flight
        self._pending_key: tuple | None = None
        self._seen: Analysis | None = None  # the window's analysis, numbered by _serial
        self._serial = 0
        self._task: TaskState | None = None

        self.kind = QComboBox()
        self.kind.setObjectName("slime_segments")
        for k, text in KINDS.items():
            self.kind.addItem(text, k)
        self.samples = QSpinBox()
        self.samples.setObjectName("slime_samples")
        self.samples.setRange(20, 5000)
        self.samples.setSingleStep(50)
        self.samples.setValue(SlimeConfig().n_samples)
        self.samples.setToolTip("perturbed copies of the clip the classifier runs on")
        self.bar = QProgressBar()
        self.bar.setMaximumWidth(110)
        controls = QHBoxLayout()
        controls.addWidget(QLabel("Segments:"))
        controls.addWidget(self.kind, 1)
        controls.addWidget(QLabel("samples:"))
        controls.addWidget(self.samples)
        controls.addWidget(self.bar)
        self.status = QLabel("Open a clip: SLIME explains the class L2I explains.")
        self.status.setObjectName("slime_status")
        self.status.setWordWrap(True)

        self.spectrum = pg.PlotWidget(background="w", title="SLIME mask over the spectrogram")
        self.spectrum.setMenuEnabled(False)
        self.spectrum.setLabel("left", "Hz")
        self.spectrum.setLabel("bottom", "time", units="s")
        self.image = pg.ImageItem(axisOrder="row-major")
        self.spectrum.addItem(self.image)
        self._boxes: list = []
        self.grid = pg.PlotCurveItem(connect="pairs", pen=pg.mkPen(255, 255, 255, 90))
        self.spectrum.addItem(self.grid)
        self.weights = pg.PlotWidget(background="w", title="Segment weights")
        self.weights.setMenuEnabled(False)
        self.weights.setLabel("left", "weight (Δp)")
        self.weights.getAxis("left").enableAutoSIPrefix(False)
        self.bars = pg.BarGraphItem(x=[], height=[], width=0.8, brushes=[], pen=None)
        self.weights.addItem(self.bars)
        self.weights.addItem(pg.InfiniteLine(0, angle=0, pen=pg.mkPen("#888")))

        self.buttons = {}
        play = QHBoxLayout()
        for kind, text in (("interpretation", "▶ SLIME explanation"),
                           ("residual", "▶ SLIME residual"), ("stop", "■ stop")):
            b = QPushButton(text)
            b.setObjectName(f"slime_play_{kind}")
            b.clicked.connect(lambda _c=False, kind=kind: self.play(kind))
            play.addWidget(b)
            self.buttons[kind] = b
        self.table = QTableWidget(len(ROWS), 2)
        self.table.setObjectName("slime_faithfulness")
        self.table.setHorizontalHeaderLabels(["L2I", "SLIME"])
        self.table.setVerticalHeaderLabels(list(ROWS))
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.setMaximumHeight(150)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)

        lay = QVBoxLayout(self)
        lay.addLayout(controls)
        lay.addWidget(self.status)
        lay.addWidget(self.spectrum, 3)
        lay.addWidget(self.weights, 2)
        lay.addLayout(play)
        lay.addWidget(self.table)

        self.progress.connect(self._on_progress)
        self.session.explanation_changed.connect(lambda _e: self.kick())
        self.session.bundle_changed.connect(self._on_bundle)
        self.kind.currentIndexChanged.connect(lambda _i: self.restart())
        self._debounce = QTimer(self, singleShot=True, interval=600)  # typing, arrows
        self._debounce.timeout.connect(self.restart)
        self.samples.valueChanged.connect(lambda _v: self._debounce.start())

    # ---- what to compute --------------------------------------------------------------
    def config(self) -> SlimeConfig:
        # small batches: the job notices sooner that L2I's work is waiting
        return SlimeConfig(segmentation=self.kind.currentData(),
                                 n_samples=self.samples.value(), threshold=self.session.tau,
                                 batch_size=8)

    def wanted(self) -> tuple | None:
        """What the panel should show now: the window's clip, class and L2I selection."""
        w = self.session
        if w.clip is None or w.explanation is None or w.explainer is None:
            return None
        if w.clip.analysis is not self._seen:  # a serial, not id(): ids are reused
            self._seen, self._serial = w.clip.analysis, self._serial + 1
        exp = w.explanation
        return (self._serial, exp.target, tuple(exp.selected), self.config())

    def active(self) -> bool:
        dock = self.parentWidget()
        return dock is not None and dock.isVisible()

    def kick(self) -> None:
        """Submit the job if the panel is shown and out of date and none is in flight;
        stop the one in flight if it is no longer what the panel should show."""
        want = self.wanted() if self.active() else None
        if self._pending is not None:
            if want != self._pending_key and self._task is not None:
                self._task.cancel()  # it stops at its next batch, keeping its rows
            return
        if want is None:
            return
        if (self.result is not None and self.result.key == want) or \
                (self.error is not None and self.error[0] == want):
            return
        w = self.session
        if self._cache_for is not w.clip.analysis:  # a new clip: nothing to reuse
            self._cache, self._cache_for = {}, w.clip.analysis
        self._task = _StepAside(self.worker, lambda r: self.progress.emit(int(r.done),
                                                                          int(r.total)))
        self.status.setText(f"SLIME: classifying {want[3].n_samples} perturbed copies of "
                            f"the clip for '{w.clip.analysis.classes[want[1]]}'...")
        self._pending_key = want
        self._pending = self.worker.submit(
            SLIME, compute, w.explainer, w.clip.analysis, want[1], want[3],
            list(want[2]), w.clip.levels, want, self._cache, self._task,
            done=self._on_finished, failed=self._on_failed)

    def set_shown(self, _shown: bool) -> None:
        """Work only while the dock is visible (hidden: the job keeps what it did)."""
        self.kick()

    def restart(self) -> None:
        """Settings changed: the job in flight, if any, is stale now."""
        self.kick()

    # ---- results --------------------------------------------------------------------
    def _on_finished(self, result: SlimeResult | None) -> None:
        """``None``: the job stepped aside for others; kicked again, it queues behind
        them and goes on from its cache."""
        self._pending, self._task = None, None
        if result is not None and result.key == self.wanted():
            self.show_result(result)
        self.kick()  # what is shown may be out of date now

    def _on_bundle(self, _explainer) -> None:
        self.result, self._cache, self._cache_for = None, {}, None
        self.kick()

    def _on_failed(self, message: str) -> None:
        self.error = (self._pending_key, message)
        self._pending, self._task = None, None
        self.status.setText(f"SLIME: {message}")
        self.kick()

    def _on_progress(self, done: int, total: int) -> None:
        self.bar.setMaximum(max(total, 1))
        self.bar.setValue(done)

    def current(self) -> SlimeResult | None:
        """The result shown, if it is of the window's clip, class and settings now."""
        r = self.result
        return r if r is not None and r.key == self.wanted() else None

    def settled(self) -> bool:
        """Nothing in flight and the result shown is what the window asks for."""
        return self._pending is None and (self.wanted() is None or self.current() is not None)

    def show_result(self, r: SlimeResult) -> None:
        self.result = r
        exp, a = r.explanation, self.session.clip.analysis
        cfg = self.session.explainer.cfg
        F, T = exp.mask.shape
        duration, nyquist = a.n_samples / a.sample_rate, cfg.sample_rate / 2
        sx, sy = duration / T, nyquist / (F - 1)
        self.image.setImage(r.picture, autoLevels=False)
        self.image.setRect(QRectF(0, 0, duration, sy * (F - 1)))
        for box in self._boxes:
            self.spectrum.removeItem(box)
        self._boxes = []
        xs, ys = [], []  # every segment's outline, faintly: the segmentation itself
        for s in exp.segments:
            x0, x1, y0, y1 = s.t0 * sx, s.t1 * sx, s.f0 * sy, s.f1 * sy
            xs += [x0, x1, x1, x1, x1, x0, x0, x0]
            ys += [y0, y0, y0, y1, y1, y1, y1, y0]
        self.grid.setData(np.array(xs), np.array(ys))
        for rank, j in enumerate(exp.selected):
            s = exp.segments[j]
            box = QGraphicsRectItem(s.t0 * sx, s.f0 * sy, (s.t1 - s.t0) * sx, (s.f1 - s.f0) * sy)
            pen = pg.mkPen("#00e5ff", width=2)
            pen.setCosmetic(True)
            box.setPen(pen)
            label = pg.TextItem(str(rank + 1), color="#00e5ff", anchor=(0, 1))
            label.setPos(s.t0 * sx, s.f1 * sy)
            for item in (box, label):
                self.spectrum.addItem(item)
                self._boxes.append(item)
        self.spectrum.setXRange(0, duration, padding=0)
        self.spectrum.setYRange(0, nyquist, padding=0)
        self._show_weights(exp, cfg)
        name = a.classes[exp.target]
        segs = r.key[3]
        self.status.setText(f"'{name}' (p = {r.probability:.2f}): SLIME over "
                            f"{KINDS[segs.segmentation]}, {segs.n_samples} samples, "
                            f"surrogate R² {exp.score:.2f}; {len(exp.selected)} segments kept")
        for col, method in enumerate(("L2I", "SLIME")):
            f = r.faith[method]
            n = f"{r.l2i_selected} components" if method == "L2I" else \
                f"{len(exp.selected)} of {len(exp.segments)} segments"
            for row, text in enumerate((f"{f.ff:+.3f}", f"{f.kept:.3f}",
                                        f"{100 * f.fraction:.1f} %", n)):
                item = QTableWidgetItem(text)
                item.setTextAlignment(Qt.AlignmentFlag.AlignRight
                                      | Qt.AlignmentFlag.AlignVCenter)
                self.table.setItem(row, col, item)
        self.result_shown.emit(r)

    def _show_weights(self, exp: slime.SlimeExplanation, cfg) -> None:
        w = exp.weights
        colours = ["#d62728" if j in exp.selected else "#1f77b4" if v > 0 else "#bbbbbb"
                   for j, v in enumerate(w)]
        self.bars.setOpts(x=np.arange(len(w)), height=w, brushes=colours)
        sec, hz = cfg.hop_length / cfg.sample_rate, cfg.sample_rate / cfg.n_fft
        kind = exp.perturbations.config.segmentation if exp.perturbations else "patches"
        ticks = [(j, f"{s.t0 * sec:.1f}s" if kind == "time" else
                  f"{s.f0 * hz / 1000:.1f}k" if kind == "freq" else str(j))
                 for j, s in enumerate(exp.segments)]
        self.weights.getAxis("bottom").setTicks([ticks])
        self.weights.setLabel("bottom", {"time": "segment start", "freq": "band from (Hz)",
                                         "patches": "patch (time-major)"}[kind])
        lo, hi = min(0.0, float(w.min())), max(0.0, float(w.max()))
        self.weights.setXRange(-0.6, len(w) - 0.4, padding=0)
        self.weights.setYRange(lo - 0.05 * (hi - lo + 1e-9), hi + 0.1 * (hi - lo + 1e-9),
                               padding=0)

    # ---- audio ------------------------------------------------------------------------
    def play(self, kind: str) -> None:
        player, w = self.host.player, self.session
        if kind == "stop":
            player.stop()
            return
        if self.result is None or w.clip is None:
            return
        exp = self.result.explanation
        w.set_playing(f"slime_{kind}")  # the window must not swap L2I audio into it
        player.play(exp.interpretation if kind == "interpretation" else exp.residual,
                    w.clip.analysis.sample_rate)


def install(host: Host) -> SlimePanel:
    """A hidden "SLIME" dock on the right of the window and Analyse > SLIME to show it."""
    panel = SlimePanel(host)
    dock = QDockWidget("SLIME: perturbation explanation", host.window)
    dock.setObjectName("slime_dock")
    dock.setWidget(panel)
    host.add_dock(dock)
    dock.hide()
    dock.visibilityChanged.connect(panel.set_shown)
    act = dock.toggleViewAction()
    act.setText("&SLIME beside L2I")
    act.setObjectName("slime_show")
    host.add_action("analyse", act)
    return panel

"""Analyse > L-MAC: the bundle's L-MAC decoder (Paissan et al. 2024) on the window's clip,
beside L2I and SLIME.

L-MAC masks the spectrogram directly, one value in [0, 1] per time-frequency cell; L2I
keeps a few NMF components. The panel draws L-MAC's mask over the spectrogram, plays
its masked-in and masked-out audio, and puts the three methods in one table, measured
on this clip for the classifier's own class (l2i_desktop/lmac_job.py). The work runs on
the engine worker (SLIME's work steps aside for it), restarts when the clip or tau
changes, and can be cancelled from the panel.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pyqtgraph as pg
from PySide6.QtCore import QRectF, Qt
from PySide6.QtWidgets import (
    QDockWidget,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from engine.runtime.progress import TaskState
from l2i_desktop.host import Host
from l2i_desktop.lmac_job import LmacOutcome, Row, compute
from l2i_desktop.worker import Lane

if TYPE_CHECKING:
    from engine.explanation.explain import Analysis

LMAC = Lane("lmac")
METHODS = ("L2I", "L-MAC", "SLIME")
COLUMNS = (
    ("FF", "Faithfulness: the class probability lost when the explanation is removed "
           "(p on the clip minus p on the masked-out audio). Higher: the explanation "
           "holds more of what the classifier used."),
    ("keeps class", "Does the masked-in audio alone (what the explanation keeps) still get "
                    "the classifier's class? In brackets: its probability for that class."),
    ("share kept", "Share of the spectrogram the explanation keeps: the mean of its mask "
                   "over all time-frequency cells (100 % keeps everything)."),
    ("time", "Wall time on this computer to explain the clip from its waveform and "
             "classify the masked-in and masked-out audio (SLIME: all its perturbed "
             "copies)."),
)
# 0 (removed): the spectrogram washed to grey; 1 (kept): its colours untouched
MASK_MAP = pg.ColorMap([0.0, 1.0], [(150, 150, 150, 215), (150, 150, 150, 0)])


class LmacPanel(QWidget):
    def __init__(self, host: Host) -> None:
        super().__init__()
        self.host, self.session, self.worker = host, host.session, host.worker
        self.slime = host.tools.get("slime")
        self.outcome: LmacOutcome | None = None
        self.error: tuple | None = None  # (key, message) of the last failure
        self._cache: dict = {}
        self._pending = None
        self._pending_key: tuple | None = None
        self._task = None
        self._stopped: tuple | None = None  # the key the user cancelled
        self._seen: Analysis | None = None
        self._serial = 0

        self.status = QLabel("Open a clip: L-MAC masks the spectrogram for the "
                             "classifier's class.")
        self.status.setObjectName("lmac_status")
        self.status.setWordWrap(True)
        self.run_button = QPushButton("■ Cancel")
        self.run_button.setObjectName("lmac_run")
        self.run_button.setToolTip("Stop the L-MAC computation, or start it again")
        self.run_button.clicked.connect(self.cancel_or_run)
        top = QHBoxLayout()
        top.addWidget(self.status, 1)
        top.addWidget(self.run_button)

        self.spectrum = pg.PlotWidget(background="w", title="L-MAC mask over the spectrogram")
        self.spectrum.setMenuEnabled(False)
        self.spectrum.setLabel("left", "Hz")
        self.spectrum.setLabel("bottom", "time", units="s")
        self.image = pg.ImageItem(axisOrder="row-major")
        self.overlay = pg.ImageItem(axisOrder="row-major")
        self.spectrum.addItem(self.image)
        self.spectrum.addItem(self.overlay)
        self.bar = pg.ColorBarItem(values=(0, 1), colorMap=MASK_MAP, interactive=False,
                                   label="mask: 0 removed (grey) .. 1 kept", width=12)
        self.bar.setImageItem(self.overlay, insert_in=self.spectrum.getPlotItem())

        self.buttons = {}
        play = QHBoxLayout()
        for kind, text, tip in (
                ("in", "▶ masked-in", "What L-MAC keeps: the mask times the spectrogram"),
                ("out", "▶ masked-out", "What L-MAC removes: (1 - mask) times the "
                                        "spectrogram"),
                ("stop", "■ stop", "")):
            b = QPushButton(text)
            b.setObjectName(f"lmac_play_{kind}")
            b.setToolTip(tip)
            b.clicked.connect(lambda _c=False, kind=kind: self.play(kind))
            play.addWidget(b)
            self.buttons[kind] = b

        self.table = QTableWidget(len(METHODS), len(COLUMNS))
        self.table.setObjectName("lmac_comparison")
        self.table.setHorizontalHeaderLabels([c for c, _ in COLUMNS])
        for i, (_, tip) in enumerate(COLUMNS):
            self.table.horizontalHeaderItem(i).setToolTip(tip)
        self.table.setVerticalHeaderLabels(list(METHODS))
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.table.verticalHeader().setSectionResizeMode(
            QHeaderView.ResizeMode.ResizeToContents)
        self.table.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.table.setFixedHeight(self._table_height())
        self.run_slime = QPushButton("Run SLIME")
        self.run_slime.setObjectName("lmac_run_slime")
        self.run_slime.setToolTip("Show the SLIME panel, which explains the window's class")
        self.run_slime.clicked.connect(self._show_slime)
        self.caption = QLabel()
        self.caption.setObjectName("lmac_caption")
        self.caption.setWordWrap(True)
        self.caption.setText(
            "FF: probability lost without the explanation. Keeps class: the kept audio "
            "alone is still that class (its p). Share kept: mean mask. Time: explaining "
            "and classifying both parts here. Hover a header for more.")

        lay = QVBoxLayout(self)
        lay.addLayout(top)
        lay.addWidget(self.spectrum, 1)
        lay.addLayout(play)
        lay.addWidget(self.table)
        below = QHBoxLayout()
        below.addWidget(self.caption, 1)
        below.addWidget(self.run_slime)
        lay.addLayout(below)

        self.session.clip_changed.connect(lambda _c: self.kick())
        self.session.explanation_changed.connect(lambda _e: self.kick())
        self.session.bundle_changed.connect(self._on_bundle)
        if self.slime is not None:
            self.slime.result_shown.connect(lambda _r: self._show_slime_row())
        self._show_buttons()

    def _table_height(self) -> int:
        rows = sum(self.table.rowHeight(i) for i in range(self.table.rowCount()))
        return rows + self.table.horizontalHeader().sizeHint().height() + 4

    # ---- availability ----------------------------------------------------------------
    def why_not(self) -> str | None:
        """Why L-MAC cannot run now, or None when it can."""
        ex = self.session.explainer
        if ex is None:
            return "L-MAC: no model loaded yet"
        if ex.bundle.lmac is None:
            return (f"L-MAC: the bundle '{ex.bundle.name}' has no L-MAC decoder "
                    "(train one with `l2i train lmac --into BUNDLE`)")
        if ex.bundle.multilabel:
            return "L-MAC explains single-label classifiers only"
        if self.session.clip is None:
            return "L-MAC: open a clip first"
        return None

    # ---- what to compute -------------------------------------------------------------
    def wanted(self) -> tuple | None:
        w = self.session
        if self.why_not() is not None or w.explanation is None:
            return None
        if w.clip.analysis is not self._seen:  # a serial, not id(): ids are reused
            self._seen, self._serial = w.clip.analysis, self._serial + 1
        return (self._serial, round(w.tau, 6))

    def active(self) -> bool:
        dock = self.parentWidget()
        return dock is not None and dock.isVisible()

    def settled(self) -> bool:
        """Nothing in flight and what is shown is what the window asks for."""
        want = self.wanted()
        return self._pending is None and (want is None or (
            self.outcome is not None and self.outcome.key == want))

    def kick(self) -> None:
        want = self.wanted() if self.active() else None
        if self._pending is not None:
            if want != self._pending_key and self._task is not None:
                self._task.cancel()  # stale: it stops at its next stage
            return
        if want is None or want == self._stopped:
            self._show_buttons()
            return
        if (self.outcome is not None and self.outcome.key == want) or \
                (self.error is not None and self.error[0] == want):
            return
        w = self.session
        self._stopped = None
        # a plain task: the job is short, and SLIME's steps aside for it (both stepping
        # aside for each other would pass the worker back and forth for ever)
        self._task = TaskState()
        self._pending_key = want
        self.status.setText("L-MAC: masking the clip and measuring the three methods...")
        self._pending = self.worker.submit(
            LMAC, compute, w.explainer, w.clip.analysis, w.tau, w.clip.levels, want,
            self._cache, self._task, done=self._on_finished, failed=self._on_failed)
        self._show_buttons()

    def cancel_or_run(self) -> None:
        if self._pending is not None and self._task is not None:
            self._stopped = self._pending_key
            self._task.cancel()
        else:
            self._stopped, self.error = None, None
            self.kick()

    # ---- results ---------------------------------------------------------------------
    def _on_finished(self, outcome: LmacOutcome) -> None:
        self._pending, self._task = None, None
        if outcome.key == self.wanted():
            self.show_outcome(outcome)
        self.kick()

    def _on_failed(self, message: str) -> None:
        key, self._pending, self._task = self._pending_key, None, None
        if message == "cancelled" and key != self._stopped:
            self.kick()  # stepped aside for the window's work, or stale: go on later
            return
        if message == "cancelled":
            self.status.setText("L-MAC: cancelled. Press Run to compute it.")
        else:
            self.error = (key, message)
            self.status.setText(f"L-MAC: {message}")
        self.kick()

    def _on_bundle(self, _explainer) -> None:
        self.outcome, self.error, self._cache = None, None, {}
        self.kick()

    def _show_buttons(self) -> None:
        running = self._pending is not None
        self.run_button.setText("■ Cancel" if running else "Run")
        want = self.wanted() if self.active() else None
        stale = self.outcome is None or self.outcome.key != want
        self.run_button.setEnabled(running or (want is not None and stale))
        for kind in ("in", "out"):
            self.buttons[kind].setEnabled(self.outcome is not None)

    def show_outcome(self, o: LmacOutcome) -> None:
        self.outcome = o
        a, cfg = self.session.clip.analysis, self.session.explainer.cfg
        duration, nyquist = a.n_samples / a.sample_rate, cfg.sample_rate / 2
        rect = QRectF(0, 0, duration, nyquist)
        self.image.setImage(o.picture, autoLevels=False)
        self.image.setRect(rect)
        self.overlay.setImage(o.lmac.mask, autoLevels=False)
        self.overlay.setRect(rect)
        self.bar.setLevels((0.0, 1.0))
        self.spectrum.setXRange(0, duration, padding=0)
        self.spectrum.setYRange(0, nyquist, padding=0)
        name = a.classes[o.target]
        self.status.setText(f"L-MAC explains '{name}' (p = {a.probabilities[o.target]:.2f}), "
                            "the classifier's class; every row below explains it too.")
        for i, method in enumerate(("L2I", "L-MAC")):
            self._fill(i, o.rows[method])
        self._show_slime_row()
        self._show_buttons()

    def _fill(self, row: int, r: Row | None, note: str = "") -> None:
        texts = [note] * 4 if r is None else [
            f"{r.ff:+.3f}", f"{'yes' if r.keeps_class else 'no'} (p {r.kept_p:.2f})",
            f"{100 * r.share:.1f} %", f"{r.seconds:.2f} s"]
        for col, text in enumerate(texts):
            item = QTableWidgetItem(text)
            item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            if r is not None and r.detail:
                item.setToolTip(f"{METHODS[row]}: {r.detail}")
            self.table.setItem(row, col, item)

    def slime_row(self) -> tuple[Row | None, str]:
        """SLIME's row when the SLIME panel has explained this clip's class, or why not."""
        res = self.slime.current() if self.slime is not None else None
        if res is None or self.outcome is None:
            return None, "not run"
        if res.explanation.target != self.outcome.target:
            return None, "other class"
        f, exp = res.faith["SLIME"], res.explanation
        return Row(f.ff, f.fidelity_in, f.kept, f.fraction, res.seconds,
                   f"{len(exp.selected)} of {len(exp.segments)} segments"), ""

    def _show_slime_row(self) -> None:
        if self.outcome is None:
            return
        row, note = self.slime_row()
        self._fill(2, row, note)
        self.run_slime.setVisible(row is None)

    def _show_slime(self) -> None:
        dock = self.slime.parentWidget() if self.slime is not None else None
        if dock is not None:
            dock.show()
            dock.raise_()

    # ---- audio -----------------------------------------------------------------------
    def play(self, kind: str) -> None:
        player, w = self.host.player, self.session
        if kind == "stop":
            player.stop()
            return
        if self.outcome is None or w.clip is None:
            return
        r = self.outcome.lmac
        w.set_playing(f"lmac_{kind}")  # the window must not swap L2I audio into it
        player.play(r.interpretation if kind == "in" else r.residual,
                    w.clip.analysis.sample_rate)


def install(host: Host) -> LmacPanel:
    """A hidden "L-MAC" dock, in tabs with SLIME's, and Analyse > L-MAC to show it,
    enabled only when the bundle has a decoder and a clip is analysed."""
    panel = LmacPanel(host)
    dock = QDockWidget("L-MAC, compared", host.window)
    dock.setObjectName("lmac_dock")
    dock.setWidget(panel)
    host.add_dock(dock)
    if panel.slime is not None and isinstance(panel.slime.parentWidget(), QDockWidget):
        host.window.tabifyDockWidget(panel.slime.parentWidget(), dock)
    dock.hide()
    dock.visibilityChanged.connect(lambda _shown: panel.kick())
    act = dock.toggleViewAction()
    act.setText("&L-MAC beside L2I")
    act.setObjectName("lmac_show")
    host.menus["analyse"].setToolTipsVisible(True)
    host.add_action("analyse", act, after="slime_show")

    def update(_value=None) -> None:
        why = panel.why_not()
        act.setEnabled(why is None)
        tip = why or "Show the L-MAC mask of this clip and compare it with L2I and SLIME"
        act.setToolTip(tip)
        act.setStatusTip(tip)
        ex = panel.session.explainer
        if dock.isVisible() and ex is not None and ex.bundle.lmac is None:
            dock.hide()  # another bundle, without a decoder

    host.session.bundle_changed.connect(update)
    host.session.clip_changed.connect(update)
    update()
    return panel

"""Page 5, Run: the plan runs in a child process; each stage shows a progress bar and ETA,
the losses are drawn as they come, and a cancelled, failed or crashed run resumes from its
checkpoints. The page only draws reports: all computing is in trainer.plan.run_plan."""

from __future__ import annotations

from pathlib import Path

import pyqtgraph as pg
from PySide6.QtWidgets import (
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWizardPage,
)

from engine.bundles.bundle import load_bundle
from engine.runtime.progress import Report
from l2i_desktop.wizard.process_runner import ProcessRunner
from trainer.plan import PlanResult, TrainingPlan, run_plan_in_child

# (row, title, the report stages that belong to it)
STAGES = (
    ("data", "Reading clips", ("features",)),
    ("classifier", "Classifier", ("loading classifier", "classifier", "classifier epochs")),
    ("dictionary", "Dictionary (sparse NMF)", ("dictionary",)),
    ("interpreter", "Interpreter", ("classifier outputs", "interpreter",
                                    "interpreter epochs")),
    ("evaluation", "Evaluation", ("evaluation",)),
    ("lmac", "L-MAC decoder", ("L-MAC", "L-MAC epochs")),  # shown when the plan asks
)
_ROW_OF = {stage: row for row, _t, stages in STAGES for stage in stages}
# the stage whose fraction drives each row's bar (the others only update the text)
_BAR_STAGE = {"features": "data", "classifier": "classifier", "loading classifier":
              "classifier", "dictionary": "dictionary", "interpreter": "interpreter",
              "evaluation": "evaluation", "L-MAC": "lmac"}
_STARTING = "starting the training process..."


def format_eta(seconds: float | None) -> str:
    if seconds is None:
        return ""
    seconds = int(round(seconds))
    return f"{seconds // 60}:{seconds % 60:02d} left" if seconds >= 60 else f"{seconds} s left"


class RunPage(QWizardPage):
    def __init__(self) -> None:
        super().__init__()
        self.setTitle("5. Training")
        self.setSubTitle("Each stage in turn. You can cancel at any time and resume later "
                         "from the last finished epoch.")
        self.plan: TrainingPlan | None = None
        self.result: PlanResult | None = None
        self.state = "idle"  # running, done, cancelled, failed
        self.runner = ProcessRunner("training", self, after=_load_result)
        self.runner.progress.connect(self.on_report)
        self.runner.finished.connect(self._finished)
        self.runner.failed.connect(self._failed)
        self.runner.cancelled.connect(self._cancelled)

        grid = QGridLayout()
        self.bars: dict[str, QProgressBar] = {}
        self.notes: dict[str, QLabel] = {}
        self.titles: dict[str, QLabel] = {}
        for i, (row, title, _stages) in enumerate(STAGES):
            bar = QProgressBar()
            bar.setRange(0, 1000)
            bar.setTextVisible(False)
            note = QLabel("waiting")
            note.setMinimumWidth(260)
            self.titles[row] = QLabel(title)
            grid.addWidget(self.titles[row], i, 0)
            grid.addWidget(bar, i, 1)
            grid.addWidget(note, i, 2)
            self.bars[row], self.notes[row] = bar, note
        grid.setColumnStretch(1, 1)

        self.loss_plot = pg.PlotWidget(title="Training loss (per batch)")
        self.loss_plot.setBackground("w")
        self.loss_plot.addLegend(offset=(-10, 10))
        self.loss_plot.setLabel("bottom", "epoch")
        self.curves = {
            "classifier": self.loss_plot.plot([], [], pen=pg.mkPen("#1f77b4", width=2),
                                              name="classifier"),
            "interpreter": self.loss_plot.plot([], [], pen=pg.mkPen("#d62728", width=2),
                                               name="interpreter (total)"),
            "fidelity": self.loss_plot.plot([], [], pen=pg.mkPen("#2ca02c", width=1),
                                            name="interpreter fidelity"),
            # named in the legend only in a run that trains it (initializePage)
            "L-MAC": self.loss_plot.plot([], [], pen=pg.mkPen("#ff7f0e", width=2)),
        }
        self.nmf_plot = pg.PlotWidget(title="Dictionary objective")
        self.nmf_plot.setBackground("w")
        self.nmf_plot.setLabel("bottom", "iteration")
        self.curves["dictionary"] = self.nmf_plot.plot([], [], pen=pg.mkPen("#9467bd",
                                                                            width=2))
        self.points: dict[str, tuple[list[float], list[float]]] = {
            k: ([], []) for k in self.curves}
        plots = QHBoxLayout()
        plots.addWidget(self.loss_plot, 2)
        plots.addWidget(self.nmf_plot, 1)

        self.message = QLabel("")
        self.message.setWordWrap(True)
        self.cancel_button = QPushButton("Cancel training")
        self.cancel_button.clicked.connect(self.cancel)
        self.resume_button = QPushButton("Resume")
        self.resume_button.setEnabled(False)
        self.resume_button.clicked.connect(lambda: self.start(resume=True))
        buttons = QHBoxLayout()
        buttons.addWidget(self.message, 1)
        buttons.addWidget(self.cancel_button)
        buttons.addWidget(self.resume_button)
        lay = QVBoxLayout(self)
        lay.addLayout(grid)
        lay.addLayout(plots, 1)
        lay.addLayout(buttons)

    # ---- running --------------------------------------------------------------------
    def initializePage(self) -> None:  # noqa: N802 - Qt's name
        self.plan = self.wizard().plan()
        with_lmac = self.plan.lmac is not None
        for widget in (self.titles["lmac"], self.bars["lmac"], self.notes["lmac"]):
            widget.setVisible(with_lmac)
        legend = self.loss_plot.plotItem.legend
        legend.removeItem(self.curves["L-MAC"])
        if with_lmac:
            legend.addItem(self.curves["L-MAC"], "L-MAC (total)")
        self.start(resume=False)

    def start(self, resume: bool) -> None:
        self.result = None
        self.state = "running"
        for row in self.bars:  # a resumed run shows which stages it reuses
            self.bars[row].setValue(0)
            self.notes[row].setText("waiting")
        # the child process loads torch and the trainer first: seconds without a report
        self.notes["data"].setText(_STARTING)
        self.message.setText(f"work folder: {self.plan.work}")
        self.cancel_button.setEnabled(True)
        self.resume_button.setEnabled(False)
        self.completeChanged.emit()
        self.runner.start(run_plan_in_child, self.plan, resume)

    def cancel(self) -> None:
        if self.state == "running":
            self.message.setText("cancelling at the next safe point...")
            self.cancel_button.setEnabled(False)
            self.runner.cancel()

    def on_report(self, r: Report) -> None:
        row = _ROW_OF.get(r.stage)
        if row is None:
            return
        order = [name for name, _t, _s in STAGES]
        for earlier in order[:order.index(row)]:  # a later stage started: earlier ones end
            note = self.notes[earlier].text()
            if not note.startswith("done"):
                self.bars[earlier].setValue(1000)
                self.notes[earlier].setText("done (reused)" if note in ("waiting", _STARTING)
                                            else "done")
        if r.stage in _BAR_STAGE:
            self.bars[row].setValue(int(1000 * r.fraction))
            eta = format_eta(r.eta_s)
            self.notes[row].setText(" — ".join(x for x in (r.message, eta) if x)
                                    or f"{r.done:.0f}/{r.total:.0f}")
        elif r.stage == "classifier outputs":
            self.notes[row].setText(f"classifier outputs {r.done:.0f}/{r.total:.0f} clips")
        self._plot(r)

    def _plot(self, r: Report) -> None:
        if r.stage in ("classifier", "interpreter", "L-MAC") and "loss" in r.metrics:
            epochs = float({"classifier": self.plan.classifier.epochs,
                            "interpreter": self.plan.interpreter["epochs"],
                            "L-MAC": (self.plan.lmac or {}).get("epochs", 1)}[r.stage])
            x = r.done / max(r.total, 1) * epochs
            self._add(r.stage, x, r.metrics["loss"])
            if "fidelity" in r.metrics:
                self._add("fidelity", x, r.metrics["fidelity"])
        elif r.stage == "dictionary" and "objective" in r.metrics:
            self._add("dictionary", r.done, r.metrics["objective"])

    def _add(self, curve: str, x: float, y: float) -> None:
        xs, ys = self.points[curve]
        if xs and x < xs[-1]:  # a resumed stage restarts its curve
            xs.clear()
            ys.clear()
        xs.append(x)
        ys.append(y)
        self.curves[curve].setData(xs, ys)

    # ---- endings ----------------------------------------------------------------------
    def _finished(self, result: PlanResult) -> None:
        self.result = result
        self.state = "done"
        for row in self.bars:
            self.bars[row].setValue(1000)
            if not self.notes[row].text().startswith("done"):
                self.notes[row].setText("done")
        self.message.setText(f"Finished: {result.bundle_path}")
        self.cancel_button.setEnabled(False)
        self.completeChanged.emit()

    def _stopped(self, state: str, text: str) -> None:
        self.state = state
        self.message.setText(text)
        self.cancel_button.setEnabled(False)
        self.resume_button.setEnabled(True)
        self.completeChanged.emit()

    def _cancelled(self) -> None:
        self._stopped("cancelled", "Cancelled. Resume continues from the last checkpoint.")

    def _failed(self, message: str) -> None:
        self._stopped("failed", f"<span style='color:#b00020'>Stopped: {message}</span>"
                      "<br>Resume continues from the last checkpoint.")

    def isComplete(self) -> bool:  # noqa: N802 - Qt's name
        return self.state == "done"


def _load_result(sent: tuple[str, dict]) -> PlanResult:
    """The child sends the bundle's path and metrics; the bundle is read back here, on
    the runner's thread (loading never unpickles). It is this run's own output: code in it
    is the code the user agreed to run, as ``run_plan`` itself treats it."""
    path, metrics = sent
    return PlanResult(Path(path), metrics, load_bundle(path, trust_code=True))

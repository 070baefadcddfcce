"""Page 6, Results: classifier accuracy, fidelity, and faithfulness against the random
baseline, as a table and a chart; with L-MAC, what its training's validation measured (the
plan does not evaluate L-MAC: ``l2i evaluate --method lmac`` does); save the bundle; open
it in the main window."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWizardPage,
)

from engine.bundles.lmac_part import SECTION as LMAC_SECTION
from l2i_desktop.saving import save_bundle_to
from l2i_desktop.wizard.runner import TaskRunner


def metric_rows(m: dict) -> list[tuple[str, str]]:
    """(name, value) lines of an evaluation result, in reading order."""
    rows = [("evaluated on", f"{m.get('evaluated_on', '?')} ({m['clips']} clips)")]
    if m.get("labels") == "not used":  # unlabelled data: no accuracy to show
        rows.append(("labels", "not used: scored against the classifier's decisions"))
    rows += [(f"classifier {k}", f"{v:.3f}") for k, v in m.get("classifier", {}).items()]
    rows += [(f"fidelity {k}", f"{v:.3f}") for k, v in m["fidelity"].items()]
    for tau, v in m["faithfulness"].items():
        rows.append((f"faithfulness, tau {tau}",
                     f"{v['median']:.4f} (random {v['random_median']:.4f}; "
                     f"{v['mean_selected']:.1f} components)"))
    return rows


def lmac_rows(section: dict | None) -> list[tuple[str, str]]:
    """(name, value) lines of a bundle's L-MAC section (None: no decoder): its training,
    and the validation numbers of its best epoch, on mixtures of held-out training clips
    (not the test fold, which only ``l2i evaluate --method lmac`` scores)."""
    if section is None:
        return []
    prov = section.get("provenance", {})
    history, best = prov.get("history", []), prov.get("best_epoch")
    epochs = prov.get("training", {}).get("epochs", len(history))
    rows = [("L-MAC decoder", f"trained {epochs} epochs, best epoch {best}, taps "
             f"{', '.join(section.get('layers', []))}")]
    row = history[best - 1] if best and 0 < best <= len(history) else {}
    where = f"mixtures of {prov.get('validation_clips', '?')} held-out training clips"
    if "val_keeps" in row:
        rows.append(("L-MAC masked-in keeps the decision", f"{row['val_keeps']:.3f} ({where})"))
    if "val_mask" in row:
        rows.append(("L-MAC mask mean (share kept)", f"{row['val_mask']:.3f} ({where})"))
    rows.append(("L-MAC on the test fold", "not evaluated here: l2i evaluate --bundle "
                 "BUNDLE --data DATA --method lmac"))
    return rows


class ResultsPage(QWizardPage):
    open_requested = Signal(Path)

    def __init__(self) -> None:
        super().__init__()
        self.setTitle("6. Results")
        self.setSubTitle("How well the interpreter mimics the classifier (fidelity) and "
                         "whether removing what it selects changes the decision "
                         "(faithfulness, against removing as many random components).")
        self.metrics: dict | None = None
        self.saved: Path | None = None
        self.saver = TaskRunner("save", self)
        self.saver.finished.connect(self._saved)
        self.saver.failed.connect(lambda m: self.status.setText(
            f"<span style='color:#b00020'>{m}</span>"))

        self.table = QTableWidget(0, 2)
        self.table.setHorizontalHeaderLabels(["metric", "value"])
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.verticalHeader().setVisible(False)
        self.chart = pg.PlotWidget(title="Faithfulness (median probability drop) by tau")
        self.chart.setBackground("w")
        self.chart.addLegend(offset=(-10, 10))
        self.chart.setLabel("bottom", "tau")
        self.fid_chart = pg.PlotWidget(title="Classifier and interpreter")
        self.fid_chart.setBackground("w")
        self.fid_chart.setYRange(0, 1)
        self.bars: dict[str, pg.BarGraphItem] = {}
        self.status = QLabel("")
        self.status.setWordWrap(True)
        self.lmac_label = QLabel("")
        self.lmac_label.setWordWrap(True)
        self.lmac_label.setVisible(False)
        save = QPushButton("Save bundle...")
        save.clicked.connect(self._ask_save)
        self.open_button = QPushButton("Open in the main window")
        self.open_button.clicked.connect(self.request_open)
        charts = QHBoxLayout()
        charts.addWidget(self.fid_chart, 1)
        charts.addWidget(self.chart, 2)
        buttons = QHBoxLayout()
        buttons.addWidget(self.status, 1)
        buttons.addWidget(save)
        buttons.addWidget(self.open_button)
        lay = QVBoxLayout(self)
        lay.addWidget(self.table, 1)
        lay.addWidget(self.lmac_label)
        lay.addLayout(charts, 2)
        lay.addLayout(buttons)

    def initializePage(self) -> None:  # noqa: N802 - Qt's name
        result = self.wizard().run_page.result
        self.show_results(result.metrics, result.bundle.manifest.get(LMAC_SECTION))

    def show_results(self, m: dict, lmac: dict | None = None) -> None:
        """``lmac``: the bundle's L-MAC section, when the run trained one."""
        self.metrics = m
        rows = metric_rows(m)
        # L-MAC's lines under the table, not at its scrolled-off end
        self.lmac_label.setText("<br>".join(f"<b>{name}</b>: {value}"
                                            for name, value in lmac_rows(lmac)))
        self.lmac_label.setVisible(lmac is not None)
        self.table.setRowCount(len(rows))
        for i, (name, value) in enumerate(rows):
            self.table.setItem(i, 0, QTableWidgetItem(name))
            self.table.setItem(i, 1, QTableWidgetItem(value))
        self.table.resizeColumnToContents(0)
        self.chart.clear()
        self.fid_chart.clear()
        taus = list(m["faithfulness"])
        x = np.arange(len(taus), dtype=float)
        ff = [_finite(m["faithfulness"][t]["median"]) for t in taus]
        rnd = [_finite(m["faithfulness"][t]["random_median"]) for t in taus]
        self.bars["faithfulness"] = pg.BarGraphItem(x=x - 0.18, height=ff, width=0.35,
                                                    brush="#d62728", name="selected removed")
        self.bars["random"] = pg.BarGraphItem(x=x + 0.18, height=rnd, width=0.35,
                                              brush="#999999", name="random removed")
        for item in (self.bars["faithfulness"], self.bars["random"]):
            self.chart.addItem(item)
        self.chart.getAxis("bottom").setTicks([list(zip(x, taus))])
        scores = {**{f"clf {k}": v for k, v in m.get("classifier", {}).items()},
                  **{f"fid {k}": v for k, v in m["fidelity"].items()}}
        xs = np.arange(len(scores), dtype=float)
        self.bars["scores"] = pg.BarGraphItem(x=xs, height=[_finite(v) for v in
                                                            scores.values()],
                                              width=0.6, brush="#1f77b4")
        self.fid_chart.addItem(self.bars["scores"])
        self.fid_chart.getAxis("bottom").setTicks([list(zip(xs, scores))])

    # ---- save and open ------------------------------------------------------------------
    def _ask_save(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Save bundle", f"{self._name()}.l2i",
                                              "Bundle (*.l2i)")
        if path:
            self.save_to(Path(path))

    def _name(self) -> str:
        return self.wizard().run_page.result.bundle.name

    def save_to(self, path: Path) -> None:
        """Write the evaluated bundle (a .l2i archive or a folder) off the UI thread."""
        self.status.setText(f"saving {path.name}...")
        bundle = self.wizard().run_page.result.bundle
        self.saver.start(save_bundle_to, bundle, path)

    def _saved(self, path: Path) -> None:
        self.saved = path
        self.status.setText(f"saved {path}")

    def bundle_path(self) -> Path:
        return self.saved or self.wizard().run_page.result.bundle_path

    def request_open(self) -> None:
        self.open_requested.emit(self.bundle_path())


def _finite(v: float) -> float:
    return float(v) if v is not None and math.isfinite(v) else 0.0

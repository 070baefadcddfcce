"""Figure of what the shipped model explains, for a few held-out ESC-10 clips: the input
spectrogram, the interpretation's and the residual's, and the relevance of every component.

    python scripts/figure_explanations.py --data ../shared/data/esc10 --out docs/explanations.png
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import numpy as np

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pyqtgraph as pg  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from engine.bundles.bundle import load_bundle  # noqa: E402
from engine.dsp.audio import load_audio  # noqa: E402
from engine.explanation.explain import Explainer  # noqa: E402
from l2i_desktop.jobs import colorize, display_levels  # noqa: E402
from resources import DEFAULT_BUNDLE  # noqa: E402
from trainer.datasets import load_dataset  # noqa: E402

CLASSES = ("Dog bark", "Rooster", "Clock tick", "Chainsaw")


def first_clip(ds, name: str, fold: int) -> Path:
    c = ds.classes.index(name)
    rows = np.flatnonzero((ds.labels == c) & (ds.folds == fold))
    return ds.paths[int(rows[0])]


def image(plot: pg.PlotItem, values: np.ndarray, levels, seconds: float, title: str) -> None:
    item = pg.ImageItem(colorize(values, levels).transpose(1, 0, 2))
    item.setRect(0, 0, seconds, values.shape[0])
    plot.addItem(item)
    plot.setTitle(title, size="9pt")
    plot.hideAxis("left")
    plot.setRange(xRange=(0, seconds), yRange=(0, values.shape[0]), padding=0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, required=True)
    ap.add_argument("--bundle", type=Path, default=DEFAULT_BUNDLE)
    ap.add_argument("--tau", type=float, default=0.1)
    ap.add_argument("--out", type=Path, default=Path("docs/explanations.png"))
    a = ap.parse_args()
    bundle = load_bundle(a.bundle)
    held_out = bundle.manifest["provenance"]["test_fold"]
    ds = load_dataset(a.data)
    app = QApplication.instance() or QApplication([])
    pg.setConfigOptions(background="w", foreground="k", antialias=True)
    win = pg.GraphicsLayoutWidget()
    win.resize(1400, 230 * len(CLASSES))
    with Explainer(bundle) as ex:
        for row, name in enumerate(CLASSES):
            clip = first_clip(ds, name, held_out)
            sr = bundle.frontend.sample_rate
            wave = load_audio(clip, sr)
            an = ex.analyse(wave)
            e = ex.explain(an, None, a.tau, with_components=False)
            log_mag = an.log_mag.numpy()
            interp = e.interpretation_log_mag
            levels = display_levels(log_mag)
            seconds = len(wave) / sr
            predicted = an.classes[e.target]
            p = an.probabilities[e.target]
            image(win.addPlot(row=row, col=0), log_mag, levels, seconds,
                  f"{clip.name}: {name} → predicted {predicted} ({p:.2f})")
            image(win.addPlot(row=row, col=1), interp, levels, seconds,
                  f"interpretation, τ={a.tau}: {len(e.selected)} components")
            image(win.addPlot(row=row, col=2), log_mag - interp, levels, seconds, "residual")
            bars = win.addPlot(row=row, col=3)
            order = np.argsort(-e.relevance)
            colours = [(214, 39, 40) if e.relevance[k] > a.tau else (150, 150, 150)
                       for k in order]
            bars.addItem(pg.BarGraphItem(x=np.arange(len(order)), height=e.relevance[order],
                                         width=0.8, brushes=colours, pens=colours))
            dashed = pg.mkPen("k", style=pg.QtCore.Qt.PenStyle.DashLine)
            bars.addItem(pg.InfiniteLine(a.tau, angle=0, pen=dashed))
            bars.setTitle("relevance of the K components, sorted", size="9pt")
            bars.setYRange(min(0.0, float(e.relevance.min())), 1.0)
    for col in range(4):
        win.ci.layout.setColumnStretchFactor(col, 1)
    win.show()
    app.processEvents()
    a.out.parent.mkdir(parents=True, exist_ok=True)
    win.grab().save(str(a.out))
    print(f"-> {a.out}")


if __name__ == "__main__":
    main()

"""The soaks' resident memory, minute by minute, as one small PNG (RELIABILITY.md):

    QT_QPA_PLATFORM=offscreen python scripts/plot_soaks.py \
        docs/results/soak_window.json docs/results/soak_live.json --out docs/soaks.png

Each JSON is what scripts/soak_window.py or scripts/soak_live.py wrote; a panel each,
with the least-squares slope after the first minute in its title.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import pyqtgraph as pg
import pyqtgraph.exporters
from PySide6.QtWidgets import QApplication


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("results", type=Path, nargs="+")
    ap.add_argument("--out", type=Path, required=True)
    a = ap.parse_args()
    app = QApplication.instance() or QApplication(sys.argv[:1])
    pg.setConfigOptions(background="w", foreground="k", antialias=True)
    layout = pg.GraphicsLayoutWidget()
    layout.resize(520 * len(a.results), 300)
    for col, path in enumerate(a.results):
        result = json.loads(path.read_text())
        samples = result["samples"]
        minutes = [s["minute"] for s in samples]
        rss = [s["rss_mb"] for s in samples]
        slope = result["rss_slope_mb_per_hour_after_minute_1"]
        plot = layout.addPlot(row=0, col=col)
        plot.setTitle(f"{path.stem}: {result['minutes']:g} min, slope after minute 1 "
                      f"{slope:+.0f} MB/h", size="9pt")
        plot.setLabel("bottom", "minutes")
        plot.setLabel("left", "resident memory (MB)")
        plot.plot(minutes, rss, pen=pg.mkPen("#1f5fa8", width=2), symbol="o",
                  symbolSize=4, symbolBrush="#1f5fa8")
        plot.setYRange(0, max(rss) * 1.15, padding=0)
        plot.showGrid(y=True, alpha=0.3)
    layout.show()  # laid out at its size before it is drawn
    app.processEvents()
    exporter = pyqtgraph.exporters.ImageExporter(layout.scene())
    exporter.export(str(a.out))
    print(f"wrote {a.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

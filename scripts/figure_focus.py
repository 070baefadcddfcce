"""Figure and listening examples of focus: three 0 dB mixtures of held-out clips, the
source whose class is explained, and each bundle's interpretation of that class.

The mixtures are the first three "top"-case rows of an evaluation JSON (``l2i evaluate
--focus``), taken in the order the seeded set lists them, whatever their scores.

    python scripts/figure_focus.py --data ../shared/data/esc10 \\
        --json docs/results/focus/shipped-fold1.json \\
        --bundle paper=resources/default.l2i --bundle focus=runs/.../focus.l2i \\
        --out docs/focus.png --listen docs/focus_examples
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pyqtgraph as pg  # noqa: E402
from figure_explanations import image  # noqa: E402  (same picture of a spectrogram)
from PySide6.QtWidgets import QApplication  # noqa: E402

from engine.bundles.bundle import load_bundle  # noqa: E402
from engine.dsp.audio import load_audio, save_audio  # noqa: E402
from engine.explanation.explain import Explainer  # noqa: E402
from engine.explanation.focus import gain_db, mix_pair  # noqa: E402
from l2i_desktop.jobs import display_levels  # noqa: E402
from trainer.datasets import load_dataset  # noqa: E402
from trainer.features_cache import fix_length  # noqa: E402


def main() -> None:
    import json

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, required=True)
    ap.add_argument("--json", type=Path, required=True, help="an evaluation with focus rows")
    ap.add_argument("--bundle", action="append", required=True, metavar="NAME=PATH")
    ap.add_argument("--count", type=int, default=3)
    ap.add_argument("--out", type=Path, default=Path("docs/focus.png"))
    ap.add_argument("--listen", type=Path, default=None,
                    help="also write the mixtures, sources and interpretations as WAVs here")
    a = ap.parse_args()
    rows = [r for r in json.loads(a.json.read_text())["focus"]["rows"]
            if r["case"] == "top"][:a.count]
    bundles = [(n, load_bundle(p)) for n, p in (b.split("=", 1) for b in a.bundle)]
    ds = load_dataset(a.data)
    by_name = {p.name: p for p in ds.paths}
    cfg = bundles[0][1].frontend
    n = int(round(5.0 * cfg.sample_rate))
    app = QApplication.instance() or QApplication([])
    pg.setConfigOptions(background="w", foreground="k", antialias=True)
    win = pg.GraphicsLayoutWidget()
    win.resize(400 * (2 + len(bundles)), 240 * len(rows))
    seconds = n / cfg.sample_rate
    classes = bundles[0][1].classes
    for i, r in enumerate(rows):
        wa = fix_length(load_audio(by_name[r["a"]], cfg.sample_rate), n)
        wb = fix_length(load_audio(by_name[r["b"]], cfg.sample_rate), n)
        m, a_, b_ = mix_pair(wa, wb)
        label_a = ds.labels[ds.paths.index(by_name[r["a"]])]
        s, other = (a_, b_) if label_a == r["explained_class"] else (b_, a_)
        cs = int(r["explained_class"])
        with Explainer(bundles[0][1]) as ex0:
            mix_an = ex0.analyse(m)
            src_log = ex0.analyse(s).log_mag.numpy()
        levels = display_levels(mix_an.log_mag.numpy())
        image(win.addPlot(row=i, col=0), mix_an.log_mag.numpy(), levels, seconds,
              f"mixture: {classes[cs]} + {classes[int(r['other_class'])]}")
        image(win.addPlot(row=i, col=1), src_log, levels, seconds,
              f"source: {classes[cs]} ({r['a'] if label_a == cs else r['b']})")
        folder = a.listen / f"mixture{i + 1}" if a.listen else None
        if folder:
            folder.mkdir(parents=True, exist_ok=True)
            save_audio(folder / "mixture.wav", m, cfg.sample_rate)
            save_audio(folder / f"source_{classes[cs].replace(' ', '_')}.wav", s,
                       cfg.sample_rate)
        for j, (name, bundle) in enumerate(bundles):
            with Explainer(bundle) as ex:
                an = ex.analyse(m)
                e = ex.explain(an, cs, 0.1, with_components=False)
            g = gain_db(e.interpretation, m, s)
            image(win.addPlot(row=i, col=2 + j), e.interpretation_log_mag, levels, seconds,
                  f"{name}: {len(e.selected)} components, {g:+.1f} dB")
            if folder:
                save_audio(folder / f"interpretation_{name}.wav", e.interpretation,
                           cfg.sample_rate)
            print(f"mixture {i + 1} ({r['a']} + {r['b']}), {name}: {g:+.2f} dB, "
                  f"{len(e.selected)} components")
    for col in range(2 + len(bundles)):
        win.ci.layout.setColumnStretchFactor(col, 1)
    win.show()
    app.processEvents()
    a.out.parent.mkdir(parents=True, exist_ok=True)
    win.grab().save(str(a.out))
    print(f"-> {a.out}")


if __name__ == "__main__":
    main()

"""Rewrite the generated parts of EVALUATION.md and its figures from the protocol's runs.

Reads WORK/fold*/{attention,max}.json (written by scripts/evaluate_protocol.py) and the
shipped bundle's manifest; replaces the text between ``<!-- generated:NAME -->`` and
``<!-- /generated:NAME -->`` markers; draws docs/evaluation_fidelity.png and
docs/evaluation_ff.png with pyqtgraph (offscreen).

    python scripts/evaluation_report.py --esc10 runs/esc10 --esc50 runs/esc50-subset
"""

from __future__ import annotations

import argparse
import json
import os
import re
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
TAUS = ["0.1", "0.3", "0.5", "0.7", "0.9"]
POOLINGS = ("attention", "max")


def load_runs(work: Path) -> dict[int, dict[str, dict]]:
    """{fold: {pooling: report}} for every fold with at least one finished report."""
    runs: dict[int, dict[str, dict]] = {}
    for d in sorted(p for p in work.glob("fold*") if p.is_dir() and p.name[4:].isdigit()):
        fold = int(d.name[4:])
        for pooling in POOLINGS:
            f = d / f"{pooling}.json"
            if f.is_file():
                runs.setdefault(fold, {})[pooling] = json.loads(f.read_text())
    return runs


def _pm(values: list[float], scale: float = 1.0, digits: int = 1) -> str:
    v = np.asarray(values, dtype=float) * scale
    return f"{v.mean():.{digits}f} ± {v.std():.{digits}f}"


def fidelity_table(runs: dict[int, dict[str, dict]]) -> str:
    head = ("| fold | clips | classifier acc. % | attention top-1/3/5 % | max top-1/3/5 % |\n"
            "|---|---|---|---|---|\n")
    rows, acc, fid = [], [], {p: {k: [] for k in ("top1", "top3", "top5")} for p in POOLINGS}
    for fold, reps in sorted(runs.items()):
        any_rep = next(iter(reps.values()))
        acc.append(any_rep["classifier"]["accuracy"])
        cells = []
        for p in POOLINGS:
            if p in reps:
                f = reps[p]["fidelity"]
                cells.append("/".join(f"{100 * f[k]:.1f}" for k in ("top1", "top3", "top5")))
                for k in fid[p]:
                    fid[p][k].append(f[k])
            else:
                cells.append("not run yet")
        rows.append(f"| {fold} | {any_rep['clips']} | {100 * acc[-1]:.2f} | {cells[0]} | "
                    f"{cells[1]} |")
    def over(p: str) -> str:  # say so when a pooling has fewer folds than the row
        n = len(fid[p]["top1"])
        text = " / ".join(_pm(fid[p][k], 100) for k in fid[p])
        return text + (f" ({n} fold{'s' if n > 1 else ''})" if n != len(acc) else "")
    cells = [_pm(acc, 100, 2)] + [over(p) if fid[p]["top1"] else "-" for p in POOLINGS]
    mean = f"| mean ± std ({len(acc)} folds) | | " + " | ".join(cells) + " |"
    return head + "\n".join(rows) + "\n" + mean + "\n"


def ff_table(runs: dict[int, dict[str, dict]], pooling: str) -> str:
    head = ("| fold | " + " | ".join(f"τ={t}" for t in TAUS) + " |\n"
            "|---|" + "---|" * len(TAUS) + "\n")
    rows, med, rnd = [], {t: [] for t in TAUS}, {t: [] for t in TAUS}
    for fold, reps in sorted(runs.items()):
        if pooling not in reps:
            continue
        ff = reps[pooling]["faithfulness"]
        for t in TAUS:
            med[t].append(ff[t]["median"])
            rnd[t].append(ff[t]["random_median"])
        rows.append(f"| {fold} | " + " | ".join(
            f"{ff[t]['median']:.3f} ({ff[t]['random_median']:.4f})" for t in TAUS) + " |")
    if not rows:
        return "(no fold finished yet)\n"
    rows.append(f"| mean ± std ({len(rows)} folds) | " + " | ".join(
        f"{_pm(med[t], digits=3)} ({np.mean(rnd[t]):.4f})" for t in TAUS) + " |")
    return head + "\n".join(rows) + "\n"


def shipped_table(bundle: Path) -> str:
    from engine.bundles.bundle import load_bundle

    b = load_bundle(bundle)
    m = b.manifest["metrics"]
    prov = b.manifest["provenance"]
    lines = ["| metric | value |", "|---|---|",
             f"| name | {b.name} |",
             f"| trained on | folds other than {prov['test_fold']} "
             f"({prov['train_clips']} clips) |",
             f"| evaluated on | {m['evaluated_on']} {prov['test_fold']} ({m['clips']} clips) |",
             f"| classifier accuracy | {m['classifier']['accuracy']:.4f} |"]
    lines += [f"| fidelity {k} | {m['fidelity'][k]:.4f} |" for k in ("top1", "top3", "top5")]
    for t in TAUS:
        ff = m["faithfulness"][t]
        lines.append(f"| FF_median τ={t} | {ff['median']:.4f} |")
        lines.append(f"| random FF_median τ={t} | {ff['random_median']:.4f} |")
    return "\n".join(lines) + "\n"


# ESC-10 runs beside the main table: what the seed, the device, the validation split and
# the interpreter's settings change (folders under runs/, made by the commands in
# EVALUATION.md's "Seeds, device and validation split" section)
VARIATIONS = [
    ("CPU, seed 0, validation split by class (the table above)", "esc10"),
    ("H200, seed 0, same classifiers, interpreter retrained", "esc10-sweep/base"),
    ("H200, seed 0, same classifiers, interpreter 70 epochs", "esc10-sweep/e70"),
    ("H200, seed 0, same classifiers, interpreter alpha 5", "esc10-sweep/a5"),
    ("H200, seed 1, validation split by class", "esc10-seed1"),
    ("H200, seed 0, validation split by recording", "esc10-valrec"),
    ("H200, seed 1, validation split by recording", "esc10-valrec-seed1"),
]


def variations_table(variants: list[tuple[str, dict[int, dict[str, dict]]]]) -> str:
    lines = ["| run | pooling | classifier acc. % | top-1 fidelity % per fold | top-1 mean % "
             "| FF_median(0.1) mean (lowest fold) | random, highest | lowest FF over τ |",
             "|---|---|---|---|---|---|---|---|"]
    for label, runs in variants:
        folds = sorted(runs)
        acc = [next(iter(runs[f].values()))["classifier"]["accuracy"] for f in folds]
        for p in POOLINGS:
            reps = [runs[f][p] for f in folds if p in runs[f]]
            if len(reps) != len(folds):
                continue
            top1 = [r["fidelity"]["top1"] for r in reps]
            ff = [r["faithfulness"]["0.1"]["median"] for r in reps]
            rnd = max(r["faithfulness"]["0.1"]["random_median"] for r in reps)
            low = min(r["faithfulness"][t]["median"] for r in reps for t in TAUS)
            lines.append(f"| {label} | {p} | {_pm(acc, 100, 2)} | "
                         + " / ".join(f"{100 * v:.2f}" for v in top1)
                         + f" | **{_pm(top1, 100, 2)}** | {np.mean(ff):.3f} ({min(ff):.3f}) "
                         f"| {rnd:.4f} | {low:.3f} |")
    return "\n".join(lines) + "\n"


# published on ESC-50 mixtures (SpeechBrain's recipe README; DESIGN.md)
PUBLISHED = {"L-MAC (published, ESC-50 mixtures)": {"AI": 61.6, "AD": 3.8, "AG": 33.5,
                                                    "FF": 0.40, "Fid-In": 0.82},
             "L2I (published, ESC-50 mixtures)": {"AI": 6.8, "AD": 25.9, "AG": 1.3,
                                                   "FF": 0.26}}
QUALITY = ("AI", "AD", "AG", "FF", "Fid-In", "SPS", "COMP")
LABELS = {"paper_log": "ours: paper's loss, log-domain masks",
          "paper_linear": "ours: paper's loss, linear-magnitude masks",
          "faith_log": "ours: + faithfulness fine-tuning, log-domain masks",
          "faith_linear": "ours: + faithfulness fine-tuning, linear masks (shipped until focus)",
          "paper_log_fold2": "fold 2: paper's loss, log-domain masks",
          "faith_linear_fold2": "fold 2: + faithfulness fine-tuning, linear masks",
          "fast_paper_log": "fast Psi: paper's loss, log-domain masks",
          "fast_faith_linear": "fast Psi: + faithfulness fine-tuning, linear masks"}


def quality_table(reports: dict[str, Path]) -> str:
    """One row per (variant, input) from `l2i evaluate --contaminate ...` JSON reports."""
    lines = ["| explanation | input | " + " | ".join(QUALITY) + " |",
             "|---|---|" + "---|" * len(QUALITY)]
    for name, path in reports.items():
        q = json.loads(path.read_text())["quality"]
        for kind, values in q.items():
            if kind == "tau":
                continue
            lines.append(f"| {LABELS.get(name, name)} (τ={q['tau']:g}) | {kind} | " + " | ".join(
                f"{values[m]:.1f}" if m in ("AI", "AD", "AG") else f"{values[m]:.3f}"
                for m in QUALITY) + " |")
    for name, values in PUBLISHED.items():
        lines.append(f"| {name} | mixture | " + " | ".join(
            f"{values[m]:g}" if m in values else "-" for m in QUALITY) + " |")
    return "\n".join(lines) + "\n"


def replace_block(text: str, name: str, body: str) -> str:
    pattern = re.compile(rf"(<!-- generated:{name} -->\n).*?(<!-- /generated:{name} -->)",
                         re.S)
    if not pattern.search(text):
        raise SystemExit(f"EVALUATION.md has no generated:{name} markers")
    return pattern.sub(lambda m: m.group(1) + body + m.group(2), text)


def draw_figures(runs: dict[int, dict[str, dict]], out_dir: Path) -> None:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    import pyqtgraph as pg
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication([])

    def save(win: pg.GraphicsLayoutWidget, name: str) -> None:
        win.resize(760, 380)
        win.show()
        app.processEvents()  # lay the plot out before grabbing it
        win.grab().save(str(out_dir / name))
        win.close()

    pg.setConfigOptions(background="w", foreground="k", antialias=True)
    colours = {"attention": (31, 119, 180), "max": (214, 39, 40)}
    folds = sorted(runs)

    win = pg.GraphicsLayoutWidget()
    plot = win.addPlot(title="Top-1 fidelity per fold (ESC-10)")
    plot.addLegend(offset=(-10, -10))
    for i, p in enumerate(POOLINGS):
        xs = [f + (i - 0.5) * 0.3 for f in folds if p in runs[f]]
        ys = [100 * runs[f][p]["fidelity"]["top1"] for f in folds if p in runs[f]]
        if xs:
            plot.addItem(pg.BarGraphItem(x=xs, height=ys, width=0.28,
                                         brush=colours[p], name=p))
    acc = [100 * next(iter(runs[f].values()))["classifier"]["accuracy"] for f in folds]
    plot.plot(folds, acc, pen=pg.mkPen("k", width=2), symbol="o", symbolBrush="k",
              name="classifier acc.")
    plot.setLabel("bottom", "test fold")
    plot.setLabel("left", "%")
    plot.setYRange(0, 105, padding=0)
    plot.setXRange(0.4, 5.6, padding=0)
    plot.getAxis("bottom").setTicks([[(f, str(f)) for f in range(1, 6)]])
    save(win, "evaluation_fidelity.png")

    win2 = pg.GraphicsLayoutWidget()
    plot2 = win2.addPlot(title="FF_median against τ (ESC-10, mean over folds)")
    plot2.addLegend(offset=(-10, 10))
    taus = [float(t) for t in TAUS]
    for p in POOLINGS:
        done = [f for f in folds if p in runs[f]]
        if not done:
            continue
        med = [np.mean([runs[f][p]["faithfulness"][t]["median"] for f in done]) for t in TAUS]
        rnd = [np.mean([runs[f][p]["faithfulness"][t]["random_median"] for f in done])
               for t in TAUS]
        plot2.plot(taus, med, pen=pg.mkPen(colours[p], width=2), symbol="o",
                   symbolBrush=colours[p], name=p)
        plot2.plot(taus, rnd, pen=pg.mkPen(colours[p], width=1, style=pg.QtCore.Qt.DashLine),
                   name=f"{p}: random")
    plot2.setLabel("bottom", "τ")
    plot2.setLabel("left", "FF_median")
    for axis in ("left", "bottom"):
        plot2.getAxis(axis).enableAutoSIPrefix(False)
    plot2.setYRange(0, 0.7, padding=0)
    save(win2, "evaluation_ff.png")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--esc10", type=Path, default=ROOT / "runs" / "esc10")
    ap.add_argument("--esc50", type=Path, default=ROOT / "runs" / "esc50-subset")
    ap.add_argument("--bundle", type=Path, default=ROOT / "resources" / "default.l2i")
    ap.add_argument("--doc", type=Path, default=ROOT / "EVALUATION.md")
    ap.add_argument("--quality", type=Path, default=ROOT / "runs" / "quality",
                    help="folder of `l2i evaluate --contaminate` reports, one per variant")
    ap.add_argument("--quality-variants",
                    default="paper_log,paper_linear,faith_log,faith_linear,paper_log_fold2,"
                            "faith_linear_fold2,fast_paper_log,fast_faith_linear")
    a = ap.parse_args()
    text = a.doc.read_text()
    runs = load_runs(a.esc10)
    text = replace_block(text, "esc10-fidelity", fidelity_table(runs))
    text = replace_block(text, "esc10-ff-attention", ff_table(runs, "attention"))
    text = replace_block(text, "esc10-ff-max", ff_table(runs, "max"))
    sub = load_runs(a.esc50)
    text = replace_block(text, "esc50-fidelity",
                         fidelity_table(sub) if sub else "(not run yet)\n")
    text = replace_block(text, "esc50-ff-attention",
                         ff_table(sub, "attention") if sub else "(not run yet)\n")
    text = replace_block(text, "esc50-ff-max",
                         ff_table(sub, "max") if sub else "(not run yet)\n")
    variants = [(label, load_runs(a.esc10.parent / rel)) for label, rel in VARIATIONS]
    if all(len(r) == 5 for _, r in variants):
        text = replace_block(text, "esc10-variations", variations_table(variants))
    else:  # keep the stored table rather than print a partial one
        print("esc10-variations left as it was: not every run folder is complete")
    text = replace_block(text, "shipped", shipped_table(a.bundle))
    reports = {name: a.quality / f"{name}.json" for name in a.quality_variants.split(",")}
    reports = {n: f for n, f in reports.items() if f.is_file()}
    text = replace_block(text, "quality", quality_table(reports) if reports
                         else "(not run yet)\n")
    a.doc.write_text(text)
    if runs:
        draw_figures(runs, ROOT / "docs")
    print(f"-> {a.doc}")


if __name__ == "__main__":
    main()

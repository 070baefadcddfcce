"""EVALUATION.md's L-MAC section, from the committed evaluation JSONs alone.

For each fold with results: the shipped L2I (fold 1), L2I with the paper's loss (folds of
scripts/focus_protocol.py) and L-MAC (scripts/lmac_protocol.py, or `l2i evaluate --method
lmac`), on clean and contaminated inputs, then focus; the published numbers below them,
labelled as another dataset and classifier. Rewrites the block between
``<!-- generated:lmac -->`` markers.

    python scripts/lmac_table.py [--print]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))

from evaluation_report import PUBLISHED, QUALITY, replace_block  # noqa: E402

RESULTS = ROOT / "docs" / "results"
# (fold, label, file): the first file that exists for a (fold, label) is used
SOURCES = [
    (1, "shipped L2I (focus-trained)", RESULTS / "lmac" / "default-l2i-fold1.json"),
    (1, "L-MAC (10 epochs, the recipe's weights)", RESULTS / "lmac" / "default-lmac-fold1.json"),
    (1, "L-MAC (10 epochs, the recipe's weights)", RESULTS / "lmac" / "lmac-fold1.json"),
    (2, "L2I, paper's loss", RESULTS / "lmac" / "paper-l2i-fold2.json"),
    (2, "L2I, paper's loss", RESULTS / "focus" / "paper-fold2.json"),
    (2, "L-MAC (10 epochs, the recipe's weights)", RESULTS / "lmac" / "lmac-fold2.json"),
]
FOCUS_FALLBACK = {(1, "shipped L2I (focus-trained)"): ROOT / "resources" / "default.l2i"}
# focus measured on its own (`l2i evaluate ... --focus 200 --focus-only`)
FOCUS_FILES = {(2, "L-MAC (10 epochs, the recipe's weights)"):
               RESULTS / "lmac" / "lmac-focus-fold2.json",
               (2, "L2I, paper's loss"): RESULTS / "focus" / "paper-fold2.json"}


def _manifest_metrics(bundle: Path, part: str | None = None) -> dict:
    import zipfile

    manifest = json.loads(zipfile.ZipFile(bundle).read("manifest.json"))
    return (manifest.get(part, {}) if part else manifest).get("metrics", {})


def rows() -> list[tuple[int, str, dict]]:
    seen, out = set(), []
    for fold, label, path in SOURCES:
        if (fold, label) in seen or not path.is_file():
            continue
        seen.add((fold, label))
        result = json.loads(path.read_text())
        alone = FOCUS_FILES.get((fold, label))
        if "focus" not in result and alone is not None and alone.is_file():
            result["focus"] = json.loads(alone.read_text()).get("focus")
        if "focus" not in result and (fold, label) in FOCUS_FALLBACK:
            result["focus"] = _manifest_metrics(FOCUS_FALLBACK[fold, label]).get("focus")
        out.append((fold, label, result))
    return out


def _fmt(metric: str, value) -> str:
    if value is None:
        return "-"
    return f"{value:.1f}" if metric in ("AI", "AD", "AG") else f"{value:.3f}"


def table() -> str:
    found = rows()
    lines = ["| fold | explanation | input | " + " | ".join(QUALITY) + " |",
             "|---|---|---|" + "---|" * len(QUALITY)]
    for fold, label, r in found:
        for kind, values in r.get("quality", {}).items():
            if isinstance(values, dict):
                lines.append(f"| {fold} | {label} | {kind} | " + " | ".join(
                    _fmt(m, values.get(m)) for m in QUALITY) + " |")
    for name, values in PUBLISHED.items():
        lines.append(f"| - | {name} | mixture | " + " | ".join(
            f"{values[m]:g}" if m in values else "-" for m in QUALITY) + " |")
    lines += ["", "| fold | explanation | focus: median gain toward the explained source "
              "(dB) | toward the other source | ideal ratio mask | random | mixtures "
              "(explained class ranked first) |", "|---|---|---|---|---|---|---|"]
    for fold, label, r in found:
        f = r.get("focus")
        if not f:
            continue
        top = f.get("by_case", {}).get("top", f)
        lines.append(f"| {fold} | {label} | {top['median_gain_db']:+.2f} | "
                     f"{top['median_gain_other_db']:+.2f} | {top['median_irm_db']:+.2f} | "
                     f"{top['median_random_db']:+.2f} | {top['mixtures']} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--print", action="store_true", help="print the block, write nothing")
    a = ap.parse_args()
    body = table()
    if a.print:
        print(body)
        return
    doc = ROOT / "EVALUATION.md"
    doc.write_text(replace_block(doc.read_text(), "lmac", body))


if __name__ == "__main__":
    main()

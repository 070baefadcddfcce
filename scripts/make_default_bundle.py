"""Make resources/default.l2i from a bundle of the evaluation protocol.

The shipped model is the attention bundle of test fold 1 (trained on folds 2-5): fold 1
was chosen before any fold's results were known, so the metrics it carries are an honest
held-out evaluation. The bundle is renamed, evaluated again on its held-out fold with
``l2i evaluate --into-bundle`` (the same numbers EVALUATION.md states) and written
atomically.

    python scripts/make_default_bundle.py --source runs/esc10/fold1/attention.l2i \\
        --data ../shared/data/esc10 --test-fold 1
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from engine.bundles.bundle import load_bundle, save_bundle
from resources import DEFAULT_BUNDLE
from trainer.cli import main as l2i

MAX_BYTES = 20 * 1024 * 1024


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--source", type=Path, required=True)
    ap.add_argument("--data", type=Path, required=True)
    ap.add_argument("--test-fold", type=int, required=True)
    ap.add_argument("--name", default="ESC-10 (attention, K=100)")
    ap.add_argument("--out", type=Path, default=DEFAULT_BUNDLE)
    a = ap.parse_args()
    bundle = load_bundle(a.source)
    bundle.manifest["name"] = a.name
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp) / "default.l2i"
        save_bundle(bundle, work)
        rc = l2i(["evaluate", "--bundle", str(work), "--data", str(a.data), "--test-fold",
                  str(a.test_fold), "--device", "cpu", "--into-bundle"])
        if rc != 0:
            sys.exit(f"evaluation failed ({rc})")
        size = work.stat().st_size
        if size > MAX_BYTES:
            sys.exit(f"the bundle is {size / 2**20:.1f} MB, over the 20 MB budget")
        save_bundle(load_bundle(work), a.out)
    print(f"-> {a.out} ({a.out.stat().st_size / 2**20:.1f} MB)")


if __name__ == "__main__":
    main()

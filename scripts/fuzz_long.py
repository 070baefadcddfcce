"""A long fuzz run: the hypothesis tests of bundle loading and of the numeric core with
many more examples than CI runs, and the hostile-input corpus.

    python scripts/fuzz_long.py [--scale 50]

CI runs 20 examples per property (tests/test_fuzz_bundle.py, tests/test_properties.py);
``--scale N`` runs 20 N. Prints pytest's summary and the example count; RELIABILITY.md
records the last run.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FILES = ["tests/test_fuzz_bundle.py", "tests/test_properties.py",
         "tests/test_hostile_inputs.py"]


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--scale", type=int, default=50)
    ap.add_argument("--log", type=Path, default=Path("fuzz_long.log"),
                    help="pytest's whole output (the failing examples, if any)")
    args = ap.parse_args()
    env = {**os.environ, "L2I_FUZZ_SCALE": str(args.scale),
           "QT_QPA_PLATFORM": os.environ.get("QT_QPA_PLATFORM", "offscreen")}
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                           "-o", "timeout=0", "--hypothesis-show-statistics", *FILES],
                          cwd=ROOT, env=env, capture_output=True, text=True)
    args.log.write_text(proc.stdout + proc.stderr)
    lines = proc.stdout.splitlines()
    stats = [ln.strip() for ln in lines if "passing examples" in ln or "::" in ln
             or ln.startswith("FAILED")]
    print("\n".join(stats))
    print(lines[-1] if lines else proc.stderr[-2000:])
    print(f"scale {args.scale} ({20 * args.scale} examples per property), "
          f"{time.perf_counter() - start:.0f} s, exit {proc.returncode}")
    return proc.returncode


if __name__ == "__main__":
    sys.exit(main())

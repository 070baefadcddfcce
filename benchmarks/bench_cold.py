"""Cold start: the first explanation in a fresh process, and whether anything compiled
on first use (librosa's numba functions cost about 20 s in a fresh environment) sits on
the interactive path.

    python benchmarks/bench_cold.py [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

from common import ROOT, esc10_clip, machine, write_json

CHILD = """
import json, sys, time
t0 = time.perf_counter()
from engine.dsp.audio import load_audio
from engine.bundles.bundle import load_bundle
from engine.explanation.explain import Explainer
import l2i_desktop.main_window, l2i_desktop.jobs  # everything the window imports
t_import = time.perf_counter() - t0
ex = Explainer(load_bundle(sys.argv[2]))
t_bundle = time.perf_counter() - t0
wave = load_audio(sys.argv[1], ex.cfg.sample_rate)
t1 = time.perf_counter()
ex.explain(ex.analyse(wave), None, 0.1)
first = time.perf_counter() - t1
t1 = time.perf_counter()
ex.explain(ex.analyse(wave), None, 0.1)
second = time.perf_counter() - t1
print(json.dumps({"import_s": t_import, "import_and_bundle_s": t_bundle,
                  "first_explain_s": first, "second_explain_s": second,
                  "librosa_loaded": "librosa" in sys.modules,
                  "numba_loaded": "numba" in sys.modules}))
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", type=Path, default=None)
    a = ap.parse_args()
    from resources import DEFAULT_BUNDLE
    t0 = time.perf_counter()
    run = subprocess.run([sys.executable, "-c", CHILD, str(esc10_clip()),
                          str(DEFAULT_BUNDLE)], capture_output=True, text=True, check=True,
                         cwd=ROOT, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin",
                                        "QT_QPA_PLATFORM": "offscreen"})
    out = json.loads(run.stdout.strip().splitlines()[-1])
    out["process_s"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    cli = subprocess.run([sys.executable, "-m", "trainer.cli", "explain", str(esc10_clip()),
                          "--out", str(Path(__import__("tempfile").mkdtemp()) / "x")],
                         capture_output=True, text=True, cwd=ROOT,
                         env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    out["l2i_explain_process_s"] = time.perf_counter() - t0
    out["l2i_explain_ok"] = cli.returncode == 0
    out["machine"] = machine()
    for k, v in out.items():
        print(f"{k:>22}: {v}")
    write_json(a.json, out)


if __name__ == "__main__":
    main()

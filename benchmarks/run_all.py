"""Run every benchmark, print one table of ratios against their peers, write JSON.

    python benchmarks/run_all.py [--quick] [--out benchmarks/results]

--quick uses 20 000 NMF frames, 64 training clips and lengths up to 2 min (minutes
instead of most of an hour on a 2-core machine). Close other work first: every figure is
a ratio measured side by side, but a busy machine still blurs them.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent

# (name, script, full args, quick args, [(label, key, goal text)])
SUITE = [
    ("nmf", "bench_nmf.py", [], ["--frames", "20000"], [
        ("NMF per iteration / GEMM floor (Frobenius)", "frobenius_vs_floor", "<= 1.3"),
        ("NMF per iteration / GEMM floor (sparse)", "sparse_vs_floor", "-"),
        ("scikit-learn per iteration / GEMM floor", "sklearn_per_iteration_vs_floor", "-"),
        ("speed-up to scikit-learn's objective (plain MU)", "plain_speedup_vs_sklearn",
         "-"),
        ("speed-up to scikit-learn's objective (accelerated)",
         "accelerated_speedup_vs_sklearn", ">= 3")]),
    ("explain", "bench_explain.py", [], ["--repeats", "5"], [
        ("explain a 5-s clip / one forward pass", "explain_vs_forward", "<= 2"),
        ("all K components / one forward pass", "all_components_vs_forward", "<= 5"),
        ("toggle to new audio / one forward pass", "toggle_vs_forward", "<= 1"),
        ("speed-up against the reference-style pipeline", "speedup_vs_reference", "-")]),
    ("epoch", "bench_epoch.py", [], ["--clips", "64"], [
        ("interpreter epoch: reference / ours (steady)", "speedup_steady", ">= 5"),
        ("interpreter epoch: reference / ours (first epoch)", "speedup_first_epoch", "-")]),
    ("length", "bench_length.py", [], ["--lengths", "5,30,120"], []),
    ("gui", "bench_gui.py", [], ["--runs", "3"], [
        ("launch to first window (s)", "launch_process_s", "-"),
        ("open a clip to a drawn explanation (s)", "open_to_drawn_s", "-"),
        ("mute a component to new audio (s)", "toggle_to_audio_s", "-"),
        ("longest UI stall during an analysis (ms)", "ui_stall_ms", "< 50")]),
    ("launch", "bench_launch.py", [], ["--runs", "3"], [
        ("launch to the window drawn (s)", "launch_to_visible_s", "<= 1"),
        ("launch to the window drawn / an empty QMainWindow's", "visible_vs_floor", "-"),
        ("launch to the model ready (s)", "launch_to_model_ready_s", "-"),
        ("longest UI gap while the model loads (ms)", "longest_ui_gap_loading_ms", "< 50"),
        ("the same launch with torch imported first: to the window (s)",
         "eager_to_visible_s", "-")]),
    ("scale", "bench_scale.py", [], ["--frames", "20000", "--iterations", "30",
                                      "--passes", "4"], [
        ("dictionary frames/s per rank, 1 process", "per_rank_frames_per_s_1", "-"),
        ("dictionary frames/s per rank, 2 processes", "per_rank_frames_per_s_2", "-"),
        ("dictionary frames/s per rank, 4 processes", "per_rank_frames_per_s_4", "-"),
        ("dictionary speed-up, 2 processes", "speedup_2", "-"),
        ("mini-batch objective / full batch's", "online_score_vs_full", "-"),
        ("full-batch time / mini-batch time", "full_vs_online_time", "-")]),
    ("cold", "bench_cold.py", [], [], [
        ("fresh process: imports + bundle (s)", "import_and_bundle_s", "-"),
        ("fresh process: first explanation (s)", "first_explain_s", "-"),
        ("librosa/numba on the interactive path", "numba_loaded", "False")]),
]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--only", default=None, help="comma list of: " +
                    ",".join(s[0] for s in SUITE))
    ap.add_argument("--out", type=Path, default=HERE / "results")
    a = ap.parse_args()
    a.out = a.out.resolve()
    a.out.mkdir(parents=True, exist_ok=True)
    env = os.environ | {"PYTHONPATH": str(HERE.parent), "QT_QPA_PLATFORM": "offscreen"}
    rows = []
    for name, script, full, quick, figures in SUITE:
        if a.only and name not in a.only.split(","):
            continue
        target = a.out / f"{name}.json"
        print(f"== {name}", flush=True)
        subprocess.run([sys.executable, str(HERE / script), *(quick if a.quick else full),
                        "--json", str(target)], check=True, cwd=HERE, env=env)
        result = json.loads(target.read_text())
        for label, key, goal in figures:
            rows.append((label, result.get(key), goal))
        if name == "length":
            for r in result["rows"]:
                rows.append((f"{r['seconds']:g}-s clip, {r['way']}: time (s) / peak RSS (MB)",
                             f"{r.get('time_s', float('nan')):.2f} / "
                             f"{r.get('peak_rss_mb', float('nan')):.0f}",
                             "< 2048 MB at 600 s"))
    width = max(len(r[0]) for r in rows) if rows else 10
    for label, value, goal in rows:
        shown = f"{value:.3g}" if isinstance(value, float) else str(value)
        print(f"{label:<{width}}  {shown:>14}  goal {goal}")
    (a.out / "summary.json").write_text(json.dumps(
        [{"figure": r[0], "value": r[1], "goal": r[2]} for r in rows], indent=2))


if __name__ == "__main__":
    main()

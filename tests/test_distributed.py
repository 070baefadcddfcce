"""`torchrun` with two CPU processes (gloo) trains a tiny bundle end to end."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from conftest import TINY_WIDTHS

from engine.bundles.bundle import load_bundle

ROOT = Path(__file__).resolve().parents[1]
TORCHRUN = ROOT / ".venv" / "bin" / "torchrun"


def test_two_process_gloo_run_yields_a_loadable_bundle(tiny_esc10, cache_dir, tmp_path):
    assert TORCHRUN.is_file(), f"torchrun not found at {TORCHRUN}"
    out = tmp_path / "ddp.l2i"
    cmd = [str(TORCHRUN), "--standalone", "--nproc_per_node=2", "-m", "trainer.cli",
           "train", "all", "--data", str(tiny_esc10), "--out", str(out), "--test-fold", "1",
           "--epochs", "2", "--widths", ",".join(map(str, TINY_WIDTHS)), "--k", "16",
           "--iterations", "10", "--interpreter-epochs", "2", "--cache", str(cache_dir),
           "--device", "cpu"]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
    env.pop("WORLD_SIZE", None)
    run = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=400)
    assert run.returncode == 0, run.stderr[-3000:]

    # rank 0 alone evaluates, prints and writes
    assert run.stdout.count(f"bundle -> {out}") == 1, run.stdout
    assert run.stdout.count("multiclass: 6 clips") == 1
    assert out.is_file()
    work = out.with_name(out.name + ".work")
    assert (work / "evaluation.json").is_file()
    assert (work / "classifier" / "classifier.json").is_file()
    assert (work / "dictionary.safetensors").is_file()
    assert not [p.name for p in work.rglob(".*")]  # no half-written temporary files

    b = load_bundle(out)
    assert b.classes == ["Dog bark", "Rain", "Sea waves"]
    assert b.k == 16
    prov = b.manifest["provenance"]
    assert prov["data"] == str(tiny_esc10) and prov["test_fold"] == 1
    assert len(prov["interpreter"]["history"]) == 2
    assert b.manifest["metrics"]["clips"] == 6
    assert set(b.manifest["metrics"]["fidelity"]) == {"top1", "top3", "top5"}

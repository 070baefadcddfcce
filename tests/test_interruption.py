"""Killed at random moments (real processes, real signals): a bundle on disk is always
complete, and interpreter training continues with --resume. The classifier stage and
Ctrl-C are covered by tests/test_training_resume.py."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import torch

from engine.bundles.bundle import load_bundle
from engine.runtime import atomic

ROOT = Path(__file__).resolve().parents[1]
_ENV = {**os.environ, "PYTHONUNBUFFERED": "1", "OMP_NUM_THREADS": "1"}

_SAVER = textwrap.dedent("""
    import sys
    sys.path[:0] = [sys.argv[1], sys.argv[1] + "/tests"]
    from conftest import random_bundle
    from engine.bundles.bundle import save_bundle
    bundles = [random_bundle(k=8, seed=s) for s in (0, 1)]
    i = 0
    while True:  # replace the same bundle again and again until killed
        save_bundle(bundles[i % 2], sys.argv[2])
        i += 1
        print(i, flush=True)
""")


def _wait_for_line(proc: subprocess.Popen, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while proc.stdout.readline() == "":
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"the saver did not start: {proc.stderr.read()[-2000:]}")


@pytest.mark.parametrize("name", ["b.l2i", "folder"])
def test_a_bundle_killed_while_being_replaced_is_old_or_new_never_half(tmp_path, name):
    rng = random.Random(8)
    out = tmp_path / name
    expected = {_first_weight(0), _first_weight(1)}  # the two bundles the saver alternates
    for round_ in range(2):
        proc = subprocess.Popen([sys.executable, "-c", _SAVER, str(ROOT), str(out)],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                env=_ENV)
        _wait_for_line(proc)  # one complete save at least
        time.sleep(rng.uniform(0.0, 0.5))  # then a random moment inside a later save
        proc.send_signal(rng.choice([signal.SIGKILL, signal.SIGTERM]))
        proc.communicate(timeout=30)
        assert proc.returncode < 0, f"round {round_}: the saver ended by itself"
        old = out.with_name(f".{out.name}.old")
        if not out.exists() and name == "folder":
            # without renameat2 a folder is replaced by two renames: between them the
            # previous bundle is kept whole beside it (RELIABILITY.md)
            assert atomic._RENAMEAT2 is None, "the atomic exchange left no folder"
            bundle = load_bundle(old)
        else:
            bundle = load_bundle(out)
        assert float(bundle.W[0, 0]) in expected  # one of them, whole
        leftovers = [p.name for p in tmp_path.iterdir() if p.name not in (name, old.name)]
        assert all(n.startswith(f".{name}.") for n in leftovers), leftovers


def _first_weight(seed: int) -> float:
    from conftest import random_bundle

    return float(random_bundle(k=8, seed=seed).W[0, 0])


def test_interpreter_training_killed_at_a_random_moment_resumes(tiny_bundle, tiny_esc10,
                                                                cache_dir, tmp_path):
    """The tiny bundle's own classifier and dictionary (its work folder), a new
    interpreter: killed after a random number of epochs, resumed to the end."""
    work = tiny_bundle.with_name(tiny_bundle.name + ".work")
    out = tmp_path / "again.l2i"
    args = [sys.executable, "-m", "trainer.cli", "train", "interpreter", "--data",
            str(tiny_esc10), "--classifier", str(work / "classifier"), "--dictionary",
            str(work / "dictionary.safetensors"), "--out", str(out), "--test-fold", "1",
            "--epochs", "4", "--cache", str(cache_dir), "--device", "cpu"]
    ckpt = tmp_path / "again.l2i.work" / "interpreter.pt"
    proc = subprocess.Popen(args, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=_ENV)
    deadline = time.monotonic() + 180
    while not ckpt.is_file() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    time.sleep(random.Random(3).uniform(0.0, 1.0))
    running = proc.poll() is None
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=30)
    assert running and ckpt.is_file(), "training ended before it could be killed"
    assert not out.exists()  # no bundle until training is finished
    done = int(torch.load(ckpt, map_location="cpu", weights_only=True)["epoch"]) + 1
    assert 1 <= done < 4

    resumed = subprocess.run([*args, "--resume"], cwd=ROOT, capture_output=True, text=True,
                             timeout=300, env=_ENV)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert "Traceback" not in resumed.stderr
    final = torch.load(ckpt, map_location="cpu", weights_only=True)
    assert final["epoch"] == 3 and [r["epoch"] for r in final["history"]] == list(range(1, 5))
    bundle = load_bundle(out)
    assert bundle.k == 16 and len(bundle.classes) == 3

"""Interrupted training: a killed `l2i train classifier` resumes from its last epoch, and
Ctrl-C stops it with one line and exit code 130 (real processes, real clips)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from conftest import TINY_WIDTHS

ROOT = Path(__file__).resolve().parents[1]
WIDTHS = ",".join(map(str, TINY_WIDTHS))


def _l2i_lines(stderr: str) -> list[str]:
    """The lines of the CLI's own messages (progress bars use carriage returns)."""
    return [ln for ln in stderr.replace("\r", "\n").splitlines() if ln.startswith("l2i:")]


# --- (d) resume after a kill; Ctrl-C ------------------------------------------------------

_ENV = {**os.environ, "PYTHONUNBUFFERED": "1", "OMP_NUM_THREADS": "1"}


def _start(args: list[str]) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "trainer.cli", *args], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=_ENV)


def _wait_for(path: Path, proc: subprocess.Popen, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not path.is_file():
        if proc.poll() is not None:
            out, err = proc.communicate()
            pytest.fail(f"training ended (rc {proc.returncode}) before {path.name} "
                        f"appeared:\n{err[-2000:]}")
        if time.monotonic() > deadline:
            proc.kill()
            proc.communicate()
            pytest.fail(f"no {path.name} after {timeout} s")
        time.sleep(0.02)


def _classifier_args(data: Path, out: Path, cache: Path, epochs: int, widths: str):
    return ["train", "classifier", "--data", str(data), "--out", str(out), "--test-fold", "1",
            "--epochs", str(epochs), "--widths", widths, "--cache", str(cache),
            "--device", "cpu"]


def test_classifier_training_resumes_after_sigkill(tiny_esc10, cache_dir, tmp_path):
    out = tmp_path / "clf"
    args = _classifier_args(tiny_esc10, out, cache_dir, 6, "16,32,64,128")
    proc = _start(args)
    ckpt = out / "checkpoint.pt"
    _wait_for(ckpt, proc)
    still_running = proc.poll() is None
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=30)
    assert still_running, "training finished before it could be killed"
    assert proc.returncode == -signal.SIGKILL
    assert not (out / "classifier.json").exists()

    saved = torch.load(ckpt, map_location="cpu", weights_only=True)
    done = int(saved["epoch"]) + 1  # epochs finished before the kill
    assert 1 <= done < 6
    assert len(saved["history"]) == done
    assert [r["epoch"] for r in saved["history"]] == list(range(1, done + 1))
    assert {"model", "optimizer", "best_state", "best_score", "best_epoch", "rng"} <= set(saved)

    resumed = subprocess.run([sys.executable, "-m", "trainer.cli", *args, "--resume"],
                             cwd=ROOT, capture_output=True, text=True, timeout=300, env=_ENV)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert "classifier: best epoch" in resumed.stdout
    reported = [int(ln.split("epoch ", 1)[1].split("/")[0])
                for ln in resumed.stderr.replace("\r", "\n").splitlines()
                if ln.startswith("epoch ") and "/6:" in ln]
    assert reported == list(range(done + 1, 7))  # continued, not restarted

    meta = json.loads((out / "classifier.json").read_text())
    history = meta["info"]["history"]
    assert [r["epoch"] for r in history] == list(range(1, 7))
    assert history[:done] == saved["history"]  # the epochs before the kill are kept
    assert 1 <= meta["info"]["best_epoch"] <= 6
    final = torch.load(ckpt, map_location="cpu", weights_only=True)
    assert final["epoch"] == 5 and len(final["history"]) == 6


def test_ctrl_c_exits_130_with_one_line(tiny_esc10, cache_dir, tmp_path):
    out = tmp_path / "clf"
    proc = _start(_classifier_args(tiny_esc10, out, cache_dir, 500, WIDTHS))
    _wait_for(out / "checkpoint.pt", proc)
    proc.send_signal(signal.SIGINT)
    try:
        _, err = proc.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        pytest.fail("the process did not stop on SIGINT")
    assert proc.returncode == 130
    assert "Traceback" not in err
    assert _l2i_lines(err) == [
        "l2i: interrupted; rerun the same command with --resume to continue"]
    assert not (out / "classifier.json").exists()
    saved = torch.load(out / "checkpoint.pt", map_location="cpu", weights_only=True)
    assert 0 <= saved["epoch"] < 499

"""A newcomer's first minutes (issue 18): the README's first screen, dev.sh without a
command, the try-it command as written, and files that honour the umask wherever the
project writes them for the user."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
from conftest import random_bundle

from engine.bundles.bundle import save_bundle
from resources import examples
from trainer.artifacts import save_dictionary
from trainer.checkpoint import atomic_write_json

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def test_the_first_screen_says_what_it_is_shows_it_and_gives_the_two_commands():
    lines = README.splitlines()
    assert len(lines) <= 150, f"the README grew to {len(lines)} lines"
    first = "\n".join(lines[:45])
    assert "Hear *why*" in first and "![" in first
    assert "bash scripts/dev.sh app" in first and "bash scripts/dev.sh test" in first
    assert "## Try it" in first
    assert ".venv/bin" in README and "source .venv/bin/activate" in README
    assert "6 GB" in README and "download.pytorch.org/whl/cpu" in README


def test_dev_sh_without_a_command_prints_usage_and_installs_nothing(tmp_path):
    env = dict(os.environ, L2I_VENV=str(tmp_path / "venv"))
    proc = subprocess.run(["bash", str(ROOT / "scripts" / "dev.sh")], capture_output=True,
                          text=True, timeout=30, env=env)
    assert proc.returncode == 2
    assert proc.stderr.startswith("usage: bash scripts/dev.sh COMMAND")
    assert not (tmp_path / "venv").exists()


def _try_it_commands() -> list[list[str]]:
    block = README.split("## Try it", 1)[1].split("\n## ", 1)[0]
    return [shlex.split(line.strip()) for line in block.splitlines()
            if line.strip().startswith(".venv/bin/l2i ")]


def test_the_try_it_command_runs_as_written(tmp_path):
    commands = _try_it_commands()
    assert commands, "the README's Try it has no l2i command"
    for cmd in commands:
        clip = next(a for a in cmd if a.startswith("resources/examples/"))
        assert (ROOT / clip).is_file() and ROOT / clip in [p for _, p in examples()]
        args = [str(ROOT / a) if a.startswith("resources/") else a for a in cmd[1:]]
        args = [str(tmp_path / a) if a.endswith("/") and not a.startswith("/") else a
                for a in args]
        proc = subprocess.run([str(Path(sys.executable).parent / "l2i"), *args],
                              capture_output=True, text=True, timeout=300, cwd=tmp_path)
        assert proc.returncode == 0, proc.stderr
        said = re.search(r"explained '([^']+)'", proc.stdout)
        assert said, proc.stdout


@contextmanager
def umask(mask: int):
    old = os.umask(mask)
    try:
        yield
    finally:
        os.umask(old)


@pytest.mark.parametrize("mask", [0o022, 0o027])
def test_bundles_checkpoints_and_exports_honour_the_umask(tmp_path, mask):
    from engine.dsp.audio import save_audio
    from l2i_desktop.export import _Stage, _write_text

    with umask(mask):
        folder = save_bundle(random_bundle(), tmp_path / "bundle")
        zipped = save_bundle(random_bundle(), tmp_path / "bundle.l2i")
        atomic_write_json(tmp_path / "metrics.json", {"a": 1})
        save_dictionary(tmp_path / "W.safetensors", np.ones((4, 2), np.float32), {})
        _write_text(tmp_path / "export" / "relevance.csv", "k,r\n")
        stage = _Stage(tmp_path / "export")  # how export_audio writes its WAVs
        stage.write("interpretation.wav",
                    lambda tmp: save_audio(tmp, np.zeros(100, np.float32), 8000))
        stage.commit()
        stage.remove()
    for path in [folder, *folder.iterdir(), zipped, tmp_path / "metrics.json",
                 tmp_path / "W.safetensors",
                 *(tmp_path / "export").iterdir()]:
        want = (0o777 if path.is_dir() else 0o666) & ~mask
        assert path.stat().st_mode & 0o777 == want, (path.name, oct(path.stat().st_mode))

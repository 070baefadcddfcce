"""The command line refuses outputs it cannot write and devices the machine lacks with one
line, exit 2 and nothing written; what it writes honours the umask. Runs the installed
``l2i`` in a child process, as a user does, on a generated clip (no shared data needed)."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
from conftest import random_bundle

from engine.bundles.bundle import save_bundle

L2I = Path(sys.executable).parent / "l2i"


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> tuple[Path, Path]:
    """(a 2-second tone, a complete if untrained bundle)."""
    d = tmp_path_factory.mktemp("inputs")
    t = np.arange(2 * 22050) / 22050
    sf.write(d / "tone.wav", 0.3 * np.sin(2 * np.pi * 440 * t).astype(np.float32), 22050)
    return d / "tone.wav", save_bundle(random_bundle(), d / "bundle.l2i")


def l2i(*args, cwd: Path, umask: int | None = None) -> subprocess.CompletedProcess:
    def set_umask() -> None:
        os.umask(umask)
    return subprocess.run([str(L2I), *map(str, args)], cwd=cwd, capture_output=True,
                          text=True, timeout=300,
                          preexec_fn=set_umask if umask is not None else None)


def refused(proc: subprocess.CompletedProcess, cwd: Path, before: set[str]) -> str:
    """The one error line, after checking exit 2, no traceback and nothing written."""
    lines = proc.stderr.strip("\n").split("\n")
    assert proc.returncode == 2, proc.stderr
    assert len(lines) == 1 and lines[0].startswith("l2i: error: "), proc.stderr
    assert {p.name for p in cwd.iterdir()} == before  # no temporary file left either
    return lines[0]


def _commands(clip: Path, bundle: Path, out: str) -> dict[str, list[str]]:
    data = ["--data", "no-data-here"]
    return {
        "explain": ["explain", clip, "--bundle", bundle, "--out", out],
        "explain slime": ["explain", clip, "--bundle", bundle, "--method", "slime",
                          "--out", out],
        "report": ["report", clip.parent, "--bundle", bundle, "--out", out],
        "evaluate --json": ["evaluate", "--bundle", bundle, *data, "--json", out],
        "corrupt --json": ["corrupt", clip.parent, "--bundle", bundle, "--snr", "10",
                           "--json", out],
        "train classifier": ["train", "classifier", *data, "--out", out],
        "train dictionary": ["train", "dictionary", *data, "--out", out],
        "train interpreter": ["train", "interpreter", *data, "--classifier", bundle,
                              "--dictionary", "d.safetensors", "--out", out],
        "train all": ["train", "all", *data, "--out", out],
        "train all --work": ["train", "all", *data, "--out", "b.l2i", "--work", out],
    }


COMMANDS = list(_commands(Path("c"), Path("b"), "o"))


@pytest.mark.parametrize("command", COMMANDS)
def test_an_output_under_a_file_is_refused_naming_the_path_as_typed(inputs, tmp_path,
                                                                     command):
    (tmp_path / "a_file").write_text("keep me")
    before = {"a_file"}
    proc = l2i(*_commands(*inputs, "a_file/sub")[command], cwd=tmp_path)
    line = refused(proc, tmp_path, before)
    assert "cannot write a_file/sub: a_file is a file, not a folder" in line
    assert (tmp_path / "a_file").read_text() == "keep me"


@pytest.mark.parametrize("command", ["explain", "report", "evaluate --json",
                                     "train dictionary", "train all"])
def test_a_place_that_takes_no_files_names_the_users_path_and_the_reason(inputs, tmp_path,
                                                                         command):
    proc = l2i(*_commands(*inputs, "/proc/x")[command], cwd=tmp_path)
    line = refused(proc, tmp_path, set())
    assert "cannot write /proc/x: " in line
    assert ".x." not in line  # never an internal temporary name
    reasons = ("permission denied", "does not accept new files", "read-only")
    assert any(r in line for r in reasons), line


@pytest.mark.parametrize("command", ["explain", "report", "train all"])
def test_an_existing_file_where_a_folder_goes_is_kept(inputs, tmp_path, command):
    (tmp_path / "out").write_text("keep me")
    proc = l2i(*_commands(*inputs, "out")[command], cwd=tmp_path)
    line = refused(proc, tmp_path, {"out"}) if command != "train all" else None
    if command == "train all":  # a bundle may be a file: the data is what is missing
        assert proc.returncode == 2 and "no-data-here" in proc.stderr
    else:
        assert "--out out is a file; give a folder" in line
    assert (tmp_path / "out").read_text() == "keep me"


DEVICES = ["gpu", "cuda:99"] + ([] if torch.cuda.is_available() else ["cuda", "cuda:0"])


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("command", ["explain", "report", "corrupt --json",
                                     "train classifier", "evaluate --json"])
def test_a_device_the_machine_lacks_is_one_line(inputs, tmp_path, command, device):
    proc = l2i(*_commands(*inputs, "o")[command], "--device", device, cwd=tmp_path)
    line = refused(proc, tmp_path, set())
    assert f"{device}" in line and "Traceback" not in proc.stderr
    assert any(w in line for w in ("unknown device", "no usable CUDA GPU", "this machine has"))


@pytest.mark.parametrize("mask", [0o022, 0o027])
def test_written_folders_and_files_honour_the_umask(inputs, tmp_path, mask):
    clip, bundle = inputs
    proc = l2i("explain", clip, "--bundle", bundle, "--out", "deep/out", cwd=tmp_path,
               umask=mask)
    assert proc.returncode == 0, proc.stderr
    for path in [tmp_path / "deep", *(tmp_path / "deep").rglob("*")]:
        want = (0o777 if path.is_dir() else 0o666) & ~mask
        assert path.stat().st_mode & 0o777 == want, (path, oct(path.stat().st_mode))
    assert (tmp_path / "deep" / "out" / "explanation.json").is_file()


def _every_action(parser: argparse.ArgumentParser, name: str):
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub, p in action.choices.items():
                yield from _every_action(p, f"{name} {sub}")
        elif action.dest != "help":
            yield name, action


def test_every_argument_of_every_command_has_help_with_its_default():
    from trainer.cli import build_parser

    actions = list(_every_action(build_parser(), "l2i"))
    assert len(actions) > 80
    for name, action in actions:
        assert action.help, f"{name} {action.option_strings or action.dest} has no help"

    def shown(*cmd: str) -> str:
        return " ".join(subprocess.run([str(L2I), *cmd, "--help"], capture_output=True,
                                       text=True, timeout=60).stdout.split())
    assert "tau (default 0.1)" in shown("explain")
    assert "--device DEVICE auto (a GPU when there is one; default)" in shown("explain")
    assert "--lr LR the interpreter's learning rate (default 0.0002)" in shown(
        "train", "interpreter")
    assert "``" not in shown() and "l2i: explain clips" in shown()
    desktop = subprocess.run([str(L2I.parent / "l2i-desktop"), "--help"], capture_output=True,
                             text=True, timeout=60).stdout
    assert "audio file to open" in desktop and "model bundle" in desktop


def test_progress_counts_are_whole_numbers(capsys):
    from engine.runtime.progress import report
    from trainer.progress_bar import TerminalProgress

    bar = TerminalProgress()
    for done in range(4):
        report(bar, "report", float(done), 3.0)
    bar.close()
    err = capsys.readouterr().err
    assert "3/3" in err and "3.0/3.0" not in err

"""Every failure reaches the user as one line, out of memory included."""

from __future__ import annotations

import pytest
import torch

from engine.runtime.errors import AudioError, failure_message
from trainer import cli, dispatch


def test_each_kind_of_failure_is_one_readable_line():
    assert failure_message(AudioError("a.wav: not a readable audio file")) == \
        "a.wav: not a readable audio file"
    assert failure_message(MemoryError()).startswith("out of memory: ")
    assert failure_message(torch.OutOfMemoryError("CUDA out of memory. Tried 2 GiB")) \
        .startswith("GPU out of memory: ")
    assert failure_message(RuntimeError("bad\nshape\n  trace")) == "RuntimeError: bad"
    assert failure_message(KeyError()) == "KeyError"


@pytest.mark.parametrize("error", [MemoryError(), torch.OutOfMemoryError("CUDA out of memory")])
def test_the_command_line_reports_out_of_memory_in_one_line(monkeypatch, capsys, error):
    def run(args):
        raise error
    monkeypatch.setattr(dispatch, "run", run)
    assert cli.main(["explain", "x.wav", "--out", "o"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "out of memory" in err and "Traceback" not in err


def test_the_command_line_still_shows_a_real_bug(monkeypatch, capsys, tmp_path):
    """As a bug: its own one line, the traceback in the log (tests/test_cli_errors.py)."""
    def run(args):
        raise RuntimeError("a bug")
    monkeypatch.setattr(dispatch, "run", run)
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path))
    assert cli.main(["explain", "x.wav", "--out", "o"]) == 70
    err = capsys.readouterr().err
    assert err.startswith("l2i: internal error: RuntimeError: a bug (details in ")
    assert "RuntimeError: a bug" in (tmp_path / "l2i-desktop" / "l2i.log").read_text()

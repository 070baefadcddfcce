"""The command line's two kinds of failure: a user's (one line, exit 2) and a bug's (one
line naming the log that keeps its traceback, exit 70); and --verbose."""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

import pytest

from engine.runtime.errors import L2IError
from trainer.cli import EX_SOFTWARE, main


def _raiser(exc: Exception):
    def handler(_args) -> int:
        raise exc
    return handler


@pytest.fixture
def state(tmp_path, monkeypatch) -> Path:
    """A private state folder: the log never lands in the real ~/.local/state."""
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    return tmp_path / "state"


def _explain(tmp_path: Path) -> list[str]:
    return ["explain", str(tmp_path / "clip.wav"), "--out", str(tmp_path / "out")]


def test_a_bug_is_one_line_and_its_traceback_goes_to_the_log(tmp_path, state, monkeypatch,
                                                             capsys):
    monkeypatch.setattr("trainer.commands.explain", _raiser(ValueError("boom\nsecond line")))
    assert main(_explain(tmp_path)) == EX_SOFTWARE == 70
    log = state / "l2i-desktop" / "l2i.log"
    assert capsys.readouterr().err.splitlines() == [
        f"l2i: internal error: ValueError: boom (details in {log})"]
    text = log.read_text()
    assert "Traceback (most recent call last)" in text and "ValueError: boom" in text
    assert f"l2i explain {tmp_path / 'clip.wav'}" in text
    assert stat.S_IMODE(log.stat().st_mode) == 0o600
    assert stat.S_IMODE(log.parent.stat().st_mode) == 0o700

    monkeypatch.setattr("trainer.commands.explain", _raiser(KeyError("again")))
    assert main(_explain(tmp_path)) == 70
    assert log.read_text().startswith(text) and "KeyError: 'again'" in log.read_text()


def test_without_a_writable_log_the_traceback_goes_to_stderr(tmp_path, monkeypatch, capsys):
    (tmp_path / "a_file").write_text("not a folder")
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "a_file"))
    monkeypatch.setattr("trainer.commands.explain", _raiser(TypeError("bad")))
    assert main(_explain(tmp_path)) == 70
    err = capsys.readouterr().err.splitlines()
    assert err[0] == "Traceback (most recent call last):" and "TypeError: bad" in err
    assert err[-1] == "l2i: internal error: TypeError: bad"


def test_a_link_in_the_logs_place_is_not_followed(tmp_path, state, monkeypatch, capsys):
    (state / "l2i-desktop").mkdir(parents=True)
    target = tmp_path / "elsewhere.txt"
    os.symlink(target, state / "l2i-desktop" / "l2i.log")
    monkeypatch.setattr("trainer.commands.explain", _raiser(RuntimeError("bug")))
    assert main(_explain(tmp_path)) == 70
    assert not target.exists()
    assert capsys.readouterr().err.splitlines()[-1] == "l2i: internal error: RuntimeError: bug"


def test_a_users_error_is_one_line_and_no_log(tmp_path, state, monkeypatch, capsys):
    monkeypatch.setattr("trainer.commands.explain", _raiser(L2IError("the clip is silent")))
    assert main(_explain(tmp_path)) == 2
    assert capsys.readouterr().err == "l2i: error: the clip is silent\n"
    assert not state.exists()


@pytest.mark.parametrize("flags, says", [
    (["train", "all", "--widths", "0,8"], "--widths: VGG widths must be 1 to 16 channel "
                                          "counts in 1..8192: [0, 8]"),
    (["train", "all", "--widths", "8,x"], "--widths takes channel counts separated by "
                                          "commas, e.g. 16,32,64,128; not '8,x'"),
    (["evaluate", "--bundle", "b.l2i", "--taus", "0.1,abc"], "--taus must be numbers in "
                                                             "[0, 1), e.g. 0.1,0.3,0.5"),
])
def test_bad_numbers_in_flags_are_users_errors(tmp_path, state, capsys, flags, says):
    out = ["--out", str(tmp_path / "m.l2i")] if flags[0] == "train" else []
    rc = main([*flags, "--data", str(tmp_path / "nowhere"), *out, "--device", "cpu"])
    assert rc == 2
    lines = [ln for ln in capsys.readouterr().err.splitlines() if ln.startswith("l2i")]
    assert lines == [f"l2i: error: {says}"]
    assert not state.exists()


def test_verbose_logs_while_the_command_runs_and_no_longer(tmp_path, monkeypatch, capsys):
    def talk(_args) -> int:
        logging.getLogger("trainer.test").info("said with -v")
        logging.getLogger("trainer.test").debug("said with -vv")
        return 0
    monkeypatch.setattr("trainer.commands.explain", talk)
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    said = []
    for flags in ([], ["-v"], ["-vv"]):
        assert main([*flags, *_explain(tmp_path)]) == 0
        said.append(capsys.readouterr().err)
    assert "said" not in said[0]
    assert "INFO trainer.test: said with -v" in said[1] and "said with -vv" not in said[1]
    assert "DEBUG trainer.test: said with -vv" in said[2]
    assert root.handlers == handlers and root.level == level

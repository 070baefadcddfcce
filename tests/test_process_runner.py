"""Long work in a child process: reports, results, failures, cancellation and a dying child
reach the window as the same signals a thread runner gives; the child never loads Qt. And
a thread runner for quick looks that never makes the window wait for a superseded run."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time

import pytest
from child_functions import (
    busy_without_reports,
    count_to,
    die,
    gui_modules,
    print_then_return,
    raise_error,
    unpicklable,
    until_cancelled,
)

from engine.runtime.child_task import read_frame, write_frame
from l2i_desktop.wizard.process_runner import ProcessRunner
from l2i_desktop.wizard.runner import TaskRunner

TIMEOUT = 60_000


@pytest.fixture
def runner(qtbot):
    r = ProcessRunner("test")
    seen: dict = {"reports": [], "finished": [], "failed": [], "cancelled": 0}
    r.progress.connect(seen["reports"].append)
    r.finished.connect(seen["finished"].append)
    r.failed.connect(seen["failed"].append)
    r.cancelled.connect(lambda: seen.__setitem__("cancelled", seen["cancelled"] + 1))
    r.seen = seen
    yield r
    r.stop()
    assert r.process is None or r.process.poll() is not None


def ended(qtbot, r: ProcessRunner) -> dict:
    seen = r.seen
    qtbot.waitUntil(lambda: bool(seen["finished"] or seen["failed"] or seen["cancelled"]),
                    timeout=TIMEOUT)
    qtbot.waitUntil(lambda: not r.running, timeout=TIMEOUT)
    return seen


def test_reports_and_the_result_come_back_from_another_process(qtbot, runner):
    runner.start(count_to, 3)
    seen = ended(qtbot, runner)
    assert [(r.stage, r.done, r.message) for r in seen["reports"]] == [
        ("counting", 1.0, "step 1"), ("counting", 2.0, "step 2"), ("counting", 3.0, "step 3")]
    assert seen["finished"][0]["n"] == 3
    assert seen["finished"][0]["pid"] not in (os.getpid(), None)
    assert not seen["failed"] and not seen["cancelled"]


def test_after_turns_the_result_into_what_finished_carries(qtbot):
    r = ProcessRunner("after", after=lambda result: ("loaded", result["n"]))
    got = []
    r.finished.connect(got.append)
    r.start(count_to, 2)
    qtbot.waitUntil(lambda: bool(got) and not r.running, timeout=TIMEOUT)
    assert got == [("loaded", 2)]


@pytest.mark.parametrize("kind, line", [("l2i", "the data folder is empty"),
                                        ("bug", "RuntimeError: disk on fire")])
def test_an_error_in_the_child_is_one_line(qtbot, runner, kind, line):
    runner.start(raise_error, kind)
    seen = ended(qtbot, runner)
    assert seen["failed"] == [line] and not seen["finished"]


def test_cancel_stops_the_child_at_its_next_report(qtbot, runner):
    runner.start(until_cancelled)
    qtbot.waitUntil(lambda: len(runner.seen["reports"]) >= 3, timeout=TIMEOUT)
    runner.cancel()
    seen = ended(qtbot, runner)
    assert seen["cancelled"] == 1 and not seen["failed"]
    assert runner.process.returncode == 0


def test_stop_terminates_a_child_that_does_not_reach_a_safe_point(qtbot, runner):
    runner.start(busy_without_reports)
    qtbot.waitUntil(lambda: bool(runner.seen["reports"]), timeout=TIMEOUT)
    began = time.monotonic()
    runner.stop(timeout=0.5)
    assert time.monotonic() - began < 10
    assert runner.process.returncode == -signal.SIGTERM and not runner.running
    qtbot.wait(200)  # nothing of the terminated run reaches the window
    assert not (runner.seen["failed"] or runner.seen["finished"] or runner.seen["cancelled"])


def test_a_child_that_dies_is_reported_with_its_exit_code(qtbot, runner):
    runner.start(die, 3)
    seen = ended(qtbot, runner)
    assert seen["failed"] == ["the training process stopped unexpectedly (exit code 3)"]


def test_a_result_that_cannot_cross_is_a_failure_not_a_silent_death(qtbot, runner):
    runner.start(unpicklable)
    seen = ended(qtbot, runner)
    assert len(seen["failed"]) == 1
    assert seen["failed"][0].startswith("the result could not be sent back: TypeError")


def test_the_child_never_loads_qt(qtbot, runner):
    assert "PySide6" in sys.modules  # this process has it
    runner.start(gui_modules)
    seen = ended(qtbot, runner)
    assert seen["finished"] == [[]]


def test_a_newer_start_drops_what_the_older_run_still_sends(qtbot, runner):
    runner.start(until_cancelled)
    qtbot.waitUntil(lambda: bool(runner.seen["reports"]), timeout=TIMEOUT)
    runner.start(count_to, 1)  # stops the first run, waits for it, then starts
    seen = ended(qtbot, runner)
    assert seen["cancelled"] == 0  # the first run's "cancelled" was for a forgotten run
    assert seen["finished"][0]["n"] == 1


def test_what_the_child_prints_does_not_break_the_frames(qtbot, runner):
    runner.start(print_then_return)
    seen = ended(qtbot, runner)
    assert seen["finished"] == ["the frames survived"]


def test_an_unpicklable_function_fails_at_start_and_leaves_no_child(runner):
    with pytest.raises(TypeError):
        runner.start(count_to, threading.Lock())
    assert runner.process is None and not runner.running


def test_an_orphaned_child_cancels_itself(tmp_path):
    """Its stdin closes when the window's process dies: it stops at its next report."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    proc = subprocess.Popen([sys.executable, "-m", "engine.runtime.child_task"], env=env,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    write_frame(proc.stdin, (until_cancelled, ()))
    assert read_frame(proc.stdout)[0] == "report"
    proc.stdin.close()
    while (kind := read_frame(proc.stdout)[0]) == "report":
        pass
    assert kind == "cancelled"
    assert proc.wait(timeout=60) == 0
    proc.stdout.close()


def test_a_thread_runner_that_does_not_wait_starts_the_new_run_at_once(qtbot):
    """The classifier page's look at a model: a new look must not freeze the window until
    the previous forward pass ends; the previous answer is dropped."""
    r = TaskRunner("look", wait_for_previous=False)
    release, got = threading.Event(), []
    r.finished.connect(got.append)

    def slow(task):
        release.wait(30)
        return "old"
    r.start(slow)
    began = time.monotonic()
    r.start(lambda task: "new")
    assert time.monotonic() - began < 1.0
    qtbot.waitUntil(lambda: got == ["new"], timeout=TIMEOUT)
    release.set()
    r.stop()  # also waits for the superseded run
    qtbot.wait(100)
    assert got == ["new"]

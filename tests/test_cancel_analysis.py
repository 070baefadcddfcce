"""A long analysis can be stopped: by Esc, by asking for another clip, by closing."""

from __future__ import annotations

import threading

from PySide6.QtCore import Qt

from l2i_desktop import jobs
from l2i_desktop.worker import ANALYSE, EngineWorker

TIMEOUT = 60_000


def _endless(started: threading.Event, ended: list, task=None):
    """Stands for the analysis of a very long clip: works until it is cancelled."""
    started.set()
    try:
        while True:
            task.check()
            threading.Event().wait(0.01)
    except BaseException as exc:
        ended.append(type(exc).__name__)
        raise


def test_a_newer_request_cancels_the_running_one(qtbot):
    worker = EngineWorker()
    started, ended, failed, done = threading.Event(), [], [], []
    try:
        worker.submit(ANALYSE, _endless, started, ended, cancellable=True,
                      done=done.append, failed=failed.append)
        assert started.wait(10)
        worker.submit(ANALYSE, lambda: "second clip", done=done.append,
                      failed=failed.append)
        qtbot.waitUntil(lambda: done == ["second clip"], timeout=TIMEOUT)
        assert ended == ["Cancelled"] and failed == []  # superseded: nothing to say
    finally:
        worker.stop()


def test_stop_ends_a_running_analysis_at_once():
    worker = EngineWorker()
    started, ended = threading.Event(), []
    worker.submit(ANALYSE, _endless, started, ended, cancellable=True)
    assert started.wait(10)
    worker.stop()
    assert not worker._thread.is_alive() and ended == ["Cancelled"]


def test_escape_cancels_the_analysis_and_the_window_goes_on(qtbot, window, esc10_clip,
                                                           monkeypatch):
    window.open_clip(esc10_clip)
    qtbot.waitUntil(lambda: window.shown_clip == esc10_clip, timeout=TIMEOUT)
    shown = window.session.clip
    real = jobs.analyse_clip
    started, ended = threading.Event(), []

    def long_clip(explainer, path, target, tau, recorded=None, task=None):
        return _endless(started, ended, task)
    monkeypatch.setattr(jobs, "analyse_clip", long_clip)
    window.open_clip(esc10_clip)
    assert started.wait(10)
    qtbot.keyClick(window, Qt.Key.Key_Escape)
    qtbot.waitUntil(lambda: "cancelled" in window.error_label.text(), timeout=TIMEOUT)
    assert ended == ["Cancelled"] and window.session.clip is shown
    monkeypatch.setattr(jobs, "analyse_clip", real)
    window.open_clip(esc10_clip)
    qtbot.waitUntil(lambda: window.session.clip is not shown, timeout=TIMEOUT)

"""The window survives what goes wrong underneath it: an engine job that crashes or runs
out of memory, a training run that runs out of memory, and an audio device that vanishes
while it plays. Each leaves a message and a window that still works.
(tests/test_main_window.py covers a bad file; tests/test_wizard_run.py a crashed stage.)
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from child_functions import run_out_of_memory, trained

from engine.runtime.errors import failure_message
from l2i_desktop import jobs
from l2i_desktop.wizard.process_runner import ProcessRunner

TIMEOUT = 60_000


def _analysed(qtbot, win, clip) -> None:
    win.open_clip(clip)
    qtbot.waitUntil(lambda: win.shown_clip == clip, timeout=TIMEOUT)


@pytest.mark.parametrize("error", [RuntimeError("worker bug"), MemoryError(),
                                   torch.OutOfMemoryError("CUDA out of memory")],
                         ids=["crash", "oom", "cuda-oom"])
def test_an_engine_job_that_fails_leaves_the_window_working(qtbot, window, esc10_clip,
                                                            monkeypatch, error):
    _analysed(qtbot, window, esc10_clip)
    shown = window.session.clip
    real = jobs.analyse_clip

    def failing(*args, **kwargs):
        raise error
    monkeypatch.setattr(jobs, "analyse_clip", failing)
    window.open_clip(esc10_clip)
    qtbot.waitUntil(lambda: window.error_label.text() != "", timeout=TIMEOUT)
    assert window.error_label.text().endswith(failure_message(error))
    assert "\n" not in window.error_label.text()
    assert window.session.clip is shown  # what was on screen stays there
    assert window.worker._thread.is_alive()
    monkeypatch.setattr(jobs, "analyse_clip", real)
    window.tau_slider.setValue(5)  # the same worker thread still serves requests
    qtbot.waitUntil(lambda: window.session.explanation.threshold == pytest.approx(0.05),
                    timeout=TIMEOUT)
    _analysed(qtbot, window, esc10_clip)
    assert window.error_label.text() == ""


@pytest.mark.parametrize("kind, start", [("memory", "out of memory: "),
                                         ("cuda", "GPU out of memory: ")])
def test_a_training_run_out_of_memory_is_reported_and_the_next_run_works(qtbot, kind, start):
    """As the wizard trains: in a child process (tests/test_process_runner.py has more)."""
    runner = ProcessRunner("oom-test")
    failures, results = [], []
    runner.failed.connect(failures.append)
    runner.finished.connect(results.append)
    runner.start(run_out_of_memory, kind)
    qtbot.waitUntil(lambda: bool(failures), timeout=TIMEOUT)
    assert failures[0].startswith(start) and "\n" not in failures[0]
    runner.start(trained)
    qtbot.waitUntil(lambda: bool(results), timeout=TIMEOUT)
    assert results == ["trained"]
    runner.stop()


class _VanishingDevice:
    """A sounddevice stand-in whose output device disappears: the running stream ends
    (PortAudio calls its finished callback), closing it fails, and new streams fail."""

    class PortAudioError(Exception):
        pass

    class CallbackStop(Exception):
        pass

    def __init__(self) -> None:
        self.present = True
        self.streams: list = []

    def query_devices(self, kind=None):
        if not self.present:
            raise self.PortAudioError("no output device")
        return {"name": "fake"}

    def OutputStream(self, **kwargs):  # noqa: N802 - sounddevice's name
        if not self.present:
            raise self.PortAudioError("Error querying device -1")
        device = self

        class Stream:
            def start(self):
                device.streams.append(kwargs)

            def abort(self):
                if not device.present:
                    raise device.PortAudioError("device lost")

            close = abort
        return Stream()

    def vanish(self) -> None:
        self.present = False
        self.streams[-1]["finished_callback"]()


def test_an_audio_device_that_vanishes_mid_playback(qtbot, window, esc10_clip):
    _analysed(qtbot, window, esc10_clip)
    fake = _VanishingDevice()
    window.player._sd = fake
    window.play("original")
    assert window.player.is_playing and len(fake.streams) == 1
    out = np.zeros((4096, 1), np.float32)
    peak = 0.0
    for _ in range(20):  # audio was flowing (ESC-10 clips may open with digital silence)
        window.player._pos += 4096
        fake.streams[0]["callback"](out, 4096, None, None)
        peak = max(peak, float(np.abs(out).max()))
    assert peak > 0
    fake.vanish()
    qtbot.waitUntil(lambda: not window.player.is_playing, timeout=TIMEOUT)
    window.play("interpretation")  # the device is gone: a message, not an exception
    assert "cannot play audio" in window.error_label.text()
    assert not window.player.is_playing
    window.tau_slider.setValue(7)  # the analysis side is untouched
    qtbot.waitUntil(lambda: window.session.explanation.threshold == pytest.approx(0.07),
                    timeout=TIMEOUT)
    fake.present = True  # plugged back in: playback works again
    window.play("residual")
    assert window.player.is_playing and len(fake.streams) == 2
    window.play("stop")

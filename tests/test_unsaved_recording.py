"""An analysed recording that is not saved is never dropped without asking."""

from __future__ import annotations

import pytest
from PySide6.QtWidgets import QFileDialog, QMessageBox
from test_main_window import TIMEOUT, fresh_settings

from engine.dsp.audio import load_audio
from l2i_desktop.main_window import MainWindow

Button = QMessageBox.StandardButton


@pytest.fixture
def recorded(qtbot, tiny_bundle, tmp_path, tone):
    win = MainWindow(tiny_bundle, fresh_settings(tmp_path))
    qtbot.addWidget(win)
    win.show()
    qtbot.waitUntil(lambda: win.session.explainer is not None, timeout=TIMEOUT)
    win.recordings.analyse(tone, 44100)
    qtbot.waitUntil(lambda: win.session.clip is not None
                    and win.shown == win.session.clip.source, timeout=TIMEOUT)
    assert win.recordings.save_act.isEnabled()
    yield win
    win.recordings.unsaved = None  # let the fixture close it
    win.close()


def _answer(monkeypatch, button) -> list[str]:
    asked = []

    def question(parent, title, text, *args):
        asked.append(text)
        return button
    monkeypatch.setattr(QMessageBox, "question", question)
    return asked


def test_cancel_keeps_the_recording_and_the_window(qtbot, recorded, esc10_clip,
                                                   monkeypatch):
    asked = _answer(monkeypatch, Button.Cancel)
    shown = recorded.shown
    recorded.open_clip(esc10_clip)
    qtbot.wait(300)
    assert asked and recorded.shown == shown
    assert recorded.recordings.unsaved is not None
    assert not recorded.close() and recorded.isVisible()  # quitting asks too


def test_discard_goes_on_without_asking_again(qtbot, recorded, esc10_clip, monkeypatch):
    asked = _answer(monkeypatch, Button.Discard)
    recorded.open_clip(esc10_clip)
    qtbot.waitUntil(lambda: recorded.shown_clip == esc10_clip, timeout=TIMEOUT)
    assert len(asked) == 1 and recorded.recordings.unsaved is None
    recorded.open_clip(esc10_clip)  # nothing unsaved now: no question
    assert len(asked) == 1


def test_save_writes_the_recording_then_goes_on(qtbot, recorded, esc10_clip, tone,
                                                monkeypatch, tmp_path):
    _answer(monkeypatch, Button.Save)
    target = tmp_path / "kept.wav"
    monkeypatch.setattr(QFileDialog, "getSaveFileName",
                        lambda *a, **k: (str(target), ""))
    recorded.open_clip(esc10_clip)
    qtbot.waitUntil(lambda: recorded.shown_clip == esc10_clip, timeout=TIMEOUT)
    back = load_audio(target, 44100)
    assert back.shape == tone.shape and abs(back - tone).max() < 1e-3
    assert not recorded.recordings.save_act.isEnabled()


def test_save_cancelled_in_the_file_dialog_keeps_everything(qtbot, recorded, esc10_clip,
                                                            monkeypatch):
    _answer(monkeypatch, Button.Save)
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: ("", ""))
    shown = recorded.shown
    recorded.open_clip(esc10_clip)
    qtbot.wait(300)
    assert recorded.shown == shown and recorded.recordings.unsaved is not None

"""Edit > Undo and Redo in the real window: the engine explains again, every view follows
the session, and the play range is an edit too."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence
from test_main_window import TIMEOUT, _analysed


def _settled(window, tau=None, target=None) -> bool:
    s, exp = window.session, window.session.explanation
    return exp is not None and (tau is None or abs(exp.threshold - tau) < 1e-9) \
        and (target is None or exp.target == target) and window.shown == s.clip.source


def test_undo_and_redo_of_tau_class_and_mute(qtbot, window, esc10_clip):
    _analysed(qtbot, window, esc10_clip)
    undo, redo = window.menu_actions["undo"], window.menu_actions["redo"]
    assert undo.shortcut() == QKeySequence(QKeySequence.StandardKey.Undo)
    assert redo.shortcut() == QKeySequence("Ctrl+Shift+Z")
    assert not undo.isEnabled() and undo.text() == "&Undo"
    first_tau, first_target = window.session.tau, window.session.explanation.target

    window.tau_slider.setValue(0)  # the slider, as a user drags it
    qtbot.waitUntil(lambda: _settled(window, tau=0.0), timeout=TIMEOUT)
    assert undo.isEnabled() and undo.text() == "&Undo tau 0.00"
    other = (first_target + 1) % len(window.session.clip.analysis.classes)
    window.predictions.target_changed.emit(other)  # the "Explain:" box
    qtbot.waitUntil(lambda: _settled(window, target=other), timeout=TIMEOUT)
    k = window.session.explanation.selected[0]
    window.components.set_checked(k, window.components.MUTE, True)
    qtbot.waitUntil(lambda: window.session.rendering is not None
                    and k not in window.session.rendering.indices, timeout=TIMEOUT)
    assert undo.text() == f"&Undo mute {k}"

    undo.trigger()  # the mute goes: the rendering plays k again
    qtbot.waitUntil(lambda: k in window.session.rendering.indices, timeout=TIMEOUT)
    row = window.components.indices.index(k)
    assert window.components.table.item(row, window.components.MUTE).checkState() \
        == Qt.CheckState.Unchecked
    undo.trigger()  # the class: explained again for the first one
    qtbot.waitUntil(lambda: _settled(window, target=first_target), timeout=TIMEOUT)
    assert window.predictions.combo.currentData() == first_target
    undo.trigger()  # tau: the slider, its label and the explanation follow
    qtbot.waitUntil(lambda: _settled(window, tau=first_tau), timeout=TIMEOUT)
    assert window.tau_slider.value() == round(first_tau * 100)
    assert f"{first_tau:.2f}" in window.tau_label.text() and not undo.isEnabled()

    qtbot.keyClick(window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier
                   | Qt.KeyboardModifier.ShiftModifier)
    qtbot.waitUntil(lambda: _settled(window, tau=0.0), timeout=TIMEOUT)
    redo.trigger()
    redo.trigger()  # the class and the mute come back with it
    qtbot.waitUntil(lambda: _settled(window, target=other) and window.session.rendering
                    is not None and k not in window.session.rendering.indices,
                    timeout=TIMEOUT)
    assert window.session.choices.muted == {k} and not redo.isEnabled()


def test_the_play_range_is_an_edit(qtbot, window, esc10_clip, monkeypatch):
    _analysed(qtbot, window, esc10_clip)
    calls = []
    monkeypatch.setattr(window.player, "play", lambda wave, rate, start=0.0, end=None, loop=False:
                        calls.append((start, end)))
    window.views.region.setRegion((1.0, 2.0))
    window.views.region.sigRegionChangeFinished.emit(window.views.region)  # a drag ends
    assert window.session.choices.region == pytest.approx((1.0, 2.0))
    assert window.menu_actions["undo"].text() == "&Undo play range"
    window.menu_actions["undo"].trigger()
    assert window.session.choices.region is None
    assert window.views.selected_range() == pytest.approx((0.0, window.session.clip.duration_s))
    window.play("original")
    assert calls[-1] == pytest.approx((0.0, window.session.clip.duration_s))


def test_a_new_clip_starts_a_new_history(qtbot, window, esc10_clip, tmp_path):
    import shutil

    _analysed(qtbot, window, esc10_clip)
    window.tau_slider.setValue(0)
    qtbot.waitUntil(lambda: _settled(window, tau=0.0), timeout=TIMEOUT)
    assert window.menu_actions["undo"].isEnabled()
    other = tmp_path / f"copy{esc10_clip.suffix}"
    shutil.copy(esc10_clip, other)
    _analysed(qtbot, window, other)
    assert not window.menu_actions["undo"].isEnabled()
    assert window.session.tau == 0.0  # tau is kept across clips, as before

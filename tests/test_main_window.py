"""The analysis window driven for real (offscreen): a real ESC-10 clip, a real bundle,
the engine in its worker thread."""

from __future__ import annotations

import numpy as np
import pytest

from l2i_desktop.main_window import MainWindow

TIMEOUT = 60_000


@pytest.fixture
def window(qtbot, tiny_bundle):
    win = MainWindow(tiny_bundle)
    qtbot.addWidget(win)
    win.show()
    qtbot.waitUntil(lambda: win.explainer is not None, timeout=TIMEOUT)
    yield win
    win.close()


def _analysed(qtbot, win, clip):
    win.open_clip(clip)
    qtbot.waitUntil(lambda: win.clip is not None and win.clip.path == clip, timeout=TIMEOUT)


def test_a_real_clip_fills_every_view(qtbot, window, esc10_clip):
    _analysed(qtbot, window, esc10_clip)
    a, exp = window.clip.analysis, window.explanation
    assert window.predictions.table.rowCount() == 3
    top = window.predictions.table.item(0, 0).text()
    assert top == a.classes[int(np.argmax(a.probabilities))]
    assert len(window.relevance.bars.opts["height"]) == 16
    assert window.components.table.rowCount() == len(exp.selected) > 0
    assert window.views.images[1].image.shape == tuple(a.H.shape)
    assert window.rendering.interpretation.shape == a.wave.shape


def test_tau_and_class_changes_update_the_explanation(qtbot, window, esc10_clip):
    _analysed(qtbot, window, esc10_clip)
    n_before = len(window.explanation.selected)
    window.tau_slider.setValue(0)
    qtbot.waitUntil(lambda: window.explanation.threshold == 0.0, timeout=TIMEOUT)
    assert len(window.explanation.selected) >= n_before
    other = (window.explanation.target + 1) % 3
    window.set_target(other)
    qtbot.waitUntil(lambda: window.explanation.target == other
                    and window.predictions.combo.currentData() == other, timeout=TIMEOUT)


def test_muting_a_component_changes_the_interpretation_audio(qtbot, window, esc10_clip):
    _analysed(qtbot, window, esc10_clip)
    window.tau_slider.setValue(0)
    qtbot.waitUntil(lambda: window.explanation.threshold == 0.0, timeout=TIMEOUT)
    chosen = window.explanation.selected
    assert len(chosen) >= 2
    before = window.rendering.interpretation.copy()
    window.components.mute_boxes[chosen[0]].setChecked(True)
    qtbot.waitUntil(lambda: chosen[0] not in window.rendering.indices, timeout=TIMEOUT)
    assert not np.allclose(window.rendering.interpretation, before)
    window.components.solo_boxes[chosen[1]].setChecked(True)
    qtbot.waitUntil(lambda: window.rendering.indices == [chosen[1]], timeout=TIMEOUT)


def test_a_bad_file_shows_an_error_and_the_app_keeps_working(qtbot, window, tmp_path,
                                                               esc10_clip):
    bad = tmp_path / "noise.wav"
    bad.write_bytes(b"definitely not audio")
    window.open_clip(bad)
    qtbot.waitUntil(lambda: "noise.wav" in window.error_label.text(), timeout=TIMEOUT)
    _analysed(qtbot, window, esc10_clip)
    assert window.error_label.text() == ""

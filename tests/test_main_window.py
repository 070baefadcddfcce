"""The analysis window driven for real (offscreen): a real ESC-10 clip, a real bundle,
the engine in its worker thread."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QElapsedTimer, QMimeData, QPointF, QSettings, Qt, QTimer, QUrl
from PySide6.QtGui import QDropEvent

from l2i_desktop.main_window import MainWindow
from l2i_desktop.settings import Settings

TIMEOUT = 60_000


def fresh_settings(folder) -> Settings:
    return Settings(QSettings(str(folder / "settings.ini"), QSettings.Format.IniFormat))


@pytest.fixture
def window(qtbot, tiny_bundle, tmp_path):
    win = MainWindow(tiny_bundle, fresh_settings(tmp_path))
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
    assert len(window.relevance.heights) == 16
    assert len(window.relevance.bars.opts["height"]) == len(exp.selected)
    assert window.components.table.rowCount() == len(exp.selected) > 0
    assert window.views.images[1].image.shape[:2] == tuple(a.H.shape)
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
    window.components.set_checked(chosen[0], window.components.MUTE, True)
    qtbot.waitUntil(lambda: chosen[0] not in window.rendering.indices, timeout=TIMEOUT)
    assert not np.allclose(window.rendering.interpretation, before)
    window.components.set_checked(chosen[1], window.components.SOLO, True)
    qtbot.waitUntil(lambda: window.rendering.indices == [chosen[1]], timeout=TIMEOUT)


def test_a_bad_file_shows_an_error_and_the_app_keeps_working(qtbot, window, tmp_path,
                                                               esc10_clip):
    bad = tmp_path / "noise.wav"
    bad.write_bytes(b"definitely not audio")
    window.open_clip(bad)
    qtbot.waitUntil(lambda: "noise.wav" in window.error_label.text(), timeout=TIMEOUT)
    _analysed(qtbot, window, esc10_clip)
    assert window.error_label.text() == ""


def test_settings_are_remembered_by_the_next_window(qtbot, tiny_bundle, tmp_path, esc10_clip):
    first = MainWindow(tiny_bundle, fresh_settings(tmp_path))
    qtbot.addWidget(first)
    qtbot.waitUntil(lambda: first.explainer is not None, timeout=TIMEOUT)
    _analysed(qtbot, first, esc10_clip)
    first.tau_slider.setValue(42)
    first.close()
    second = MainWindow(tiny_bundle, fresh_settings(tmp_path))
    qtbot.addWidget(second)
    assert second.tau == pytest.approx(0.42)
    assert second.settings.recent_files()[0] == esc10_clip
    assert [a.text() for a in second.recent_menu.actions()] == [str(esc10_clip)]
    second.close()


def test_mel_view_shows_what_the_classifier_sees(qtbot, window, esc10_clip):
    _analysed(qtbot, window, esc10_clip)
    views = window.views
    before = views.images[0].image.copy()
    assert "log(1+|X|)" in views.plots[1].titleLabel.text
    window.findChild(type(window.menuBar().actions()[0]), "view_log_mel").trigger()
    assert "Mel" in views.plots[1].titleLabel.text
    assert views.images[0].image.shape[0] == 128  # mel bands, drawn at full resolution
    assert views.images[0].image.shape != before.shape
    np.testing.assert_array_equal(views.images[0].image, window.clip.pictures["log_mel"])


def test_dropping_a_clip_opens_it(qtbot, window, esc10_clip):
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(esc10_clip))])
    event = QDropEvent(QPointF(10, 10), Qt.DropAction.CopyAction, mime,
                       Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier)
    window.dropEvent(event)
    qtbot.waitUntil(lambda: window.clip is not None and window.clip.path == esc10_clip,
                    timeout=TIMEOUT)


def test_the_ui_thread_never_stalls_during_an_analysis(qtbot, window, esc10_clip):
    """A 5 ms heartbeat on the UI thread; the longest gap between beats while a clip is
    loaded, analysed, explained and drawn must stay under 50 ms."""
    clock, gaps, last = QElapsedTimer(), [], [0]
    clock.start()

    def beat():
        now = clock.elapsed()
        gaps.append(now - last[0])
        last[0] = now

    timer = QTimer()
    timer.timeout.connect(beat)
    timer.start(5)
    qtbot.wait(100)
    window.open_clip(esc10_clip)
    qtbot.waitUntil(lambda: window.clip is not None, timeout=TIMEOUT)
    window.tau_slider.setValue(5)
    qtbot.waitUntil(lambda: window.explanation.threshold == 0.05, timeout=TIMEOUT)
    qtbot.wait(200)
    timer.stop()
    assert len(gaps) > 20
    assert max(gaps[1:]) < 50, f"longest stall {max(gaps[1:])} ms"

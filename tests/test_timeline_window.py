"""The timeline in the real analysis window (offscreen), with the shipped ESC-10 bundle:
a long recording made of real clips gets a timeline, a mouse click on a window explains
that window in the views, "Whole clip" goes back without recomputing, a short clip keeps
the whole-clip behaviour, and a long recording held in memory gets a timeline too."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import Qt
from test_main_window import TIMEOUT, fresh_settings
from test_timeline import CLIP, RATE, clips_of, concatenate

from engine.dsp.audio import load_audio
from l2i_desktop.main_window import MainWindow
from l2i_desktop.timeline_controller import WindowResult
from resources import default_bundle_path


@pytest.fixture
def window(qtbot, tmp_path):
    win = MainWindow(default_bundle_path(), fresh_settings(tmp_path))
    qtbot.addWidget(win)
    win.show()
    qtbot.waitUntil(lambda: win.session.explainer is not None, timeout=TIMEOUT)
    yield win
    win.close()


def _timeline_done(win, n: int) -> bool:
    t = win.tools["timeline"].view.timeline
    return t is not None and len(t.starts) == n and win.tools["timeline"].run is None


def test_clicking_a_window_explains_it_in_the_views(qtbot, window, esc10, esc10_clip,
                                                    tmp_path):
    long = concatenate([f for _, f in clips_of(esc10)[:4]], tmp_path / "twenty s.wav")
    window.open_clip(long)
    view = window.tools["timeline"].view
    qtbot.waitUntil(lambda: _timeline_done(window, 7), timeout=TIMEOUT)
    assert view.isVisible()
    assert window.session.clip.analysis.n_samples == 4 * CLIP  # the whole clip, as before
    timeline = view.timeline
    assert timeline.starts.tolist() == [0, 2.5, 5, 7.5, 10, 12.5, 15]
    assert len(view.labels) >= 1 and view.labels[0].textItem.toPlainText() in timeline.classes
    assert np.array_equal(view.image.image, timeline.classifier.T)  # classes x windows
    view.source.setCurrentIndex(view.source.findData("interpreter"))
    assert np.array_equal(view.image.image, timeline.interpreter.T)
    view.source.setCurrentIndex(view.source.findData("classifier"))

    qtbot.mouseClick(view.plot.viewport(), Qt.MouseButton.LeftButton, pos=view.point_of(10.1))
    # the window's handler and the timeline's run as two queued calls: wait for both
    qtbot.waitUntil(lambda: isinstance(window.session.clip, WindowResult)
                    and window.session.explanation is window.session.clip.explanation
                    and view.chosen.isVisible(), timeout=TIMEOUT)
    clip = window.session.clip
    assert (clip.index, clip.start_s) == (3, 7.5)  # the window centred nearest 10.1 s
    assert view.chosen.getRegion() == pytest.approx((7.5, 12.5))
    a = clip.analysis
    assert a.n_samples == CLIP and window.views.duration == pytest.approx(5.0)
    assert np.array_equal(a.wave, load_audio(long, RATE)[int(7.5 * RATE):][:CLIP])
    assert np.allclose(a.probabilities, timeline.classifier[3], atol=1e-5)
    top = timeline.classes[int(timeline.top[3])]
    qtbot.waitUntil(lambda: window.predictions.table.item(0, 0).text() == top, timeout=TIMEOUT)
    assert "window 0:07.5 to 0:12.5" in window.statusBar().currentMessage()

    qtbot.mouseClick(view.whole, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not isinstance(window.session.clip, WindowResult)
                    and not view.chosen.isVisible(), timeout=TIMEOUT)
    assert window.session.clip.analysis.n_samples == 4 * CLIP
    assert view.timeline is timeline and window.tools["timeline"].run is None  # not recomputed

    window.open_clip(esc10_clip)  # a 5-s clip (5.001 s): the whole-clip views only
    qtbot.waitUntil(lambda: window.session.clip.path == esc10_clip and not view.isVisible(),
                    timeout=TIMEOUT)
    assert not isinstance(window.session.clip, WindowResult)
    assert CLIP < window.session.clip.analysis.n_samples < 1.1 * CLIP


def test_a_long_recording_in_memory_gets_a_timeline(qtbot, window, esc10):
    wave = np.concatenate([load_audio(f, RATE)[:CLIP] for _, f in clips_of(esc10)[4:7]])
    window.recordings.analyse(wave[:12 * RATE], RATE, saved=True)
    qtbot.waitUntil(lambda: _timeline_done(window, 4), timeout=TIMEOUT)
    view = window.tools["timeline"].view
    qtbot.mouseClick(view.plot.viewport(), Qt.MouseButton.LeftButton, pos=view.point_of(9.0))
    qtbot.waitUntil(lambda: isinstance(window.session.clip, WindowResult)
                    and view.chosen.isVisible(),
                    timeout=TIMEOUT)
    assert window.session.clip.start_s == 7.5
    tail = window.session.clip.analysis.wave
    assert np.array_equal(tail[:int(4.5 * RATE)], wave[int(7.5 * RATE):12 * RATE])
    assert not tail[int(4.5 * RATE):].any()  # the last window is padded, as in the timeline
    assert np.allclose(window.session.clip.analysis.probabilities, view.timeline.classifier[3],
                       atol=1e-5)


def test_esc_stops_a_timeline_and_keeps_what_it_has(qtbot, window, esc10, tmp_path):
    long = concatenate([f for _, f in clips_of(esc10)[:4]], tmp_path / "minute.wav",
                       seconds=60)
    window.open_clip(long)
    view = window.tools["timeline"].view
    qtbot.waitUntil(lambda: view.timeline is not None and len(view.timeline.starts) > 0,
                    timeout=TIMEOUT)

    def escaped() -> bool:  # Esc stops the running job: press it until a chunk runs
        qtbot.keyClick(window, Qt.Key.Key_Escape)
        return window.tools["timeline"].run is None

    qtbot.waitUntil(escaped, timeout=TIMEOUT)
    n = len(view.timeline.starts)
    assert 0 < n < 23 and "(stopped)" in view.title.text()
    qtbot.wait(500)
    assert len(view.timeline.starts) == n  # nothing more comes
    qtbot.mouseClick(view.plot.viewport(), Qt.MouseButton.LeftButton, pos=view.point_of(2.5))
    qtbot.waitUntil(lambda: isinstance(window.session.clip, WindowResult)
                    and view.chosen.isVisible(),
                    timeout=TIMEOUT)
    assert window.session.clip.index == 0


def test_a_very_long_file_opens_on_its_timeline_never_whole(qtbot, window, esc10, tmp_path,
                                                            monkeypatch):
    """Past TIMELINE_FIRST_S (10 min; 15 s here) the whole file is never analysed: the
    first window is explained and the timeline fills in behind it."""
    from l2i_desktop import jobs, timeline_controller

    monkeypatch.setattr(timeline_controller, "TIMELINE_FIRST_S", 15.0)
    long = concatenate([f for _, f in clips_of(esc10)[:4]], tmp_path / "long.wav")
    whole = []
    real = jobs.analyse_clip

    def spy(explainer, path, target, tau, recorded=None, task=None):
        whole.append(recorded is None)  # the window reads its part itself
        return real(explainer, path, target, tau, recorded, task)
    monkeypatch.setattr(jobs, "analyse_clip", spy)
    window.open_clip(long)
    qtbot.waitUntil(lambda: isinstance(window.session.clip, WindowResult), timeout=TIMEOUT)
    assert window.session.clip.index == 0 and window.session.clip.analysis.n_samples == CLIP
    assert window.tools["timeline"].view.isVisible() and whole == [False]
    qtbot.waitUntil(lambda: _timeline_done(window, 7), timeout=TIMEOUT)
    assert np.allclose(window.session.clip.analysis.probabilities,
                       window.tools["timeline"].view.timeline.classifier[0], atol=1e-5)
    assert whole == [False]

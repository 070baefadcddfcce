"""The play range heard through a real (private) sound server: only the range plays,
a loop repeats it, a component plays within it, and the window says what plays."""

from __future__ import annotations

import numpy as np
import pytest
from test_audio_server import RATE, Capture, best_lag

TIMEOUT = 60_000


@pytest.fixture
def win(qtbot, server, request):
    """The window on the tiny bundle with a real clip analysed; closed after the test."""
    from l2i_desktop.main_window import MainWindow

    # asked for here: session fixtures must not be set up before the server may skip
    w = MainWindow(request.getfixturevalue("tiny_bundle"))
    qtbot.addWidget(w)
    w.open_clip(request.getfixturevalue("esc10_clip"))
    qtbot.waitUntil(lambda: w.session.rendering is not None, timeout=TIMEOUT)
    assert w.session.clip.analysis.sample_rate == RATE
    yield w
    w.close()


def _loud_range(win, wave: np.ndarray, seconds: float) -> tuple[np.ndarray, float]:
    """Make the loudest ``seconds`` of ``wave`` (in 10-ms steps: a range with sound all
    through it) the play range; ``wave`` as float32 and the range's start."""
    wave = np.asarray(wave, np.float32)
    n = int(seconds * RATE)
    energy = np.convolve(wave.astype(np.float64) ** 2, np.ones(n), mode="valid")
    start = round(float(np.argmax(energy[::RATE // 100]) * 0.01), 2)
    win.session.choose(region=(start, start + seconds))
    return wave, start


def test_only_the_range_plays_and_is_said(qtbot, win):
    original, start = _loud_range(win, win.session.clip.analysis.wave, 0.5)
    with Capture() as cap:
        win.play("original")
        assert win.range_bar.now.text() == f"▶ original ({start:.2f}-{start + 0.5:.2f} s)"
        qtbot.waitUntil(lambda: not win.player.is_playing, timeout=5000)
        qtbot.wait(1200)  # room to find the lag in what was recorded
    assert win.range_bar.now.text() == ""  # nothing plays: nothing said
    heard = cap.wave()
    segment = original[int(start * RATE):int((start + 0.5) * RATE)]
    lag, corr = best_lag(heard, segment, max_lag=RATE // 2)
    assert corr > 0.9, corr
    loud = np.flatnonzero(np.abs(heard) > 0.01)
    # what sounded lasted the range (0.5 s), not the clip (5 s)
    assert 0.25 < (loud[-1] - loud[0]) / RATE < 0.55


def test_a_loop_repeats_the_range_until_stopped(qtbot, win):
    _, start = _loud_range(win, win.session.clip.analysis.wave, 0.3)
    win.range_bar.loop.setChecked(True)
    with Capture() as cap:
        win.play("original")
        assert win.range_bar.now.text().endswith("looped")
        qtbot.wait(1500)
        assert win.player.is_playing  # 5 times the range, still playing
        win.play("stop")
    heard = cap.wave()
    n = int((start + 0.3) * RATE) - int(start * RATE)  # the range, in samples
    first = int(np.flatnonzero(np.abs(heard) > 0.01)[0])
    # sound for far longer than the range: it came again...
    assert np.flatnonzero(np.abs(heard) > 0.01)[-1] - first > 3 * n
    # ...sample for sample, each time right after the last: its period is the range
    once, twice = heard[first:first + n], heard[first + n:first + 2 * n]
    assert np.linalg.norm(twice - once) / np.linalg.norm(once) < 0.02
    # (the range's own samples: test_only_the_range_plays_and_is_said)


def test_a_component_plays_within_the_range(qtbot, win):
    s = win.session
    parts = s.explainer.component_audio(s.clip.analysis, list(s.explanation.selected))
    k = max(parts, key=lambda j: float(np.abs(parts[j]).max()))  # the loudest one
    wave, start = _loud_range(win, parts[k], 0.4)  # where this component sounds
    with Capture() as cap:
        win.play_component(k)
        qtbot.waitUntil(lambda: win.player.is_playing, timeout=TIMEOUT)
        assert win.range_bar.now.text().startswith(f"▶ component {k} ({start:.2f}-")
        qtbot.waitUntil(lambda: not win.player.is_playing, timeout=5000)
        qtbot.wait(1200)  # room to find the lag in what was recorded
    heard = cap.wave()
    segment = wave[int(start * RATE):int((start + 0.4) * RATE)]
    assert np.abs(segment).max() > 0.01, "the component is silent in its loudest second"
    lag, corr = best_lag(heard, segment, max_lag=RATE // 2)
    assert corr > 0.9
    assert len(np.flatnonzero(np.abs(heard) > 0.01)) < 0.5 * RATE

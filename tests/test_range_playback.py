"""The play range heard through a real (private) sound server: only the range plays,
a loop repeats it, a component plays within it, and the window says what plays."""

from __future__ import annotations

import numpy as np
from test_audio_server import RATE, Capture, best_lag

TIMEOUT = 60_000


def _window(qtbot, request):
    from l2i_desktop.main_window import MainWindow

    # asked for here: session fixtures must not be set up before the server may skip
    win = MainWindow(request.getfixturevalue("tiny_bundle"))
    qtbot.addWidget(win)
    clip = request.getfixturevalue("esc10_clip")
    win.open_clip(clip)
    qtbot.waitUntil(lambda: win.session.rendering is not None, timeout=TIMEOUT)
    assert win.session.clip.analysis.sample_rate == RATE
    return win


def _loud_part(wave: np.ndarray, seconds: float) -> float:
    """The start (s, in 10-ms steps) of the loudest ``seconds`` of ``wave``: a range
    with sound all through it."""
    n = int(seconds * RATE)
    energy = np.convolve(wave.astype(np.float64) ** 2, np.ones(n), mode="valid")
    return round(float(np.argmax(energy[::RATE // 100]) * 0.01), 2)


def test_only_the_range_plays_and_is_said(qtbot, server, request):
    win = _window(qtbot, request)
    try:
        original = np.asarray(win.session.clip.analysis.wave, np.float32)
        start = _loud_part(original, 0.5)
        win.session.choose(region=(start, start + 0.5))
        with Capture() as cap:
            win.play("original")
            assert win.range_bar.now.text() == \
                f"▶ original ({start:.2f}-{start + 0.5:.2f} s)"
            qtbot.waitUntil(lambda: not win.player.is_playing, timeout=5000)
            qtbot.wait(1200)  # room to find the lag in what was recorded
        assert win.range_bar.now.text() == ""  # nothing plays: nothing said
    finally:
        win.close()
    heard = cap.wave()
    segment = original[int(start * RATE):int((start + 0.5) * RATE)]
    lag, corr = best_lag(heard, segment, max_lag=RATE // 2)
    assert corr > 0.9, corr
    loud = np.flatnonzero(np.abs(heard) > 0.01)
    # what sounded lasted the range (0.5 s), not the clip (5 s)
    assert 0.25 < (loud[-1] - loud[0]) / RATE < 0.55


def test_a_loop_repeats_the_range_until_stopped(qtbot, server, request):
    win = _window(qtbot, request)
    try:
        original = np.asarray(win.session.clip.analysis.wave, np.float32)
        start = _loud_part(original, 0.3)
        win.session.choose(region=(start, start + 0.3))
        win.range_bar.loop.setChecked(True)
        with Capture() as cap:
            win.play("original")
            assert win.range_bar.now.text().endswith("looped")
            qtbot.wait(1500)
            assert win.player.is_playing  # 5 times the range, still playing
            win.play("stop")
    finally:
        win.close()
    heard = cap.wave()
    n = int((start + 0.3) * RATE) - int(start * RATE)  # the range, in samples
    first = int(np.flatnonzero(np.abs(heard) > 0.01)[0])
    # sound for far longer than the range: it came again...
    assert np.flatnonzero(np.abs(heard) > 0.01)[-1] - first > 3 * n
    # ...sample for sample, each time right after the last: its period is the range
    once, twice = heard[first:first + n], heard[first + n:first + 2 * n]
    assert np.linalg.norm(twice - once) / np.linalg.norm(once) < 0.02
    # (the range's own samples: test_only_the_range_plays_and_is_said)


def test_a_component_plays_within_the_range(qtbot, server, request):
    win = _window(qtbot, request)
    try:
        s = win.session
        parts = s.explainer.component_audio(s.clip.analysis, list(s.explanation.selected))
        k = max(parts, key=lambda j: float(np.abs(parts[j]).max()))  # the loudest one
        wave = np.asarray(parts[k], np.float32)
        start = _loud_part(wave, 0.4)  # where this component sounds
        s.choose(region=(start, start + 0.4))
        with Capture() as cap:
            win.play_component(k)
            qtbot.waitUntil(lambda: win.player.is_playing, timeout=TIMEOUT)
            assert win.range_bar.now.text().startswith(f"▶ component {k} ({start:.2f}-")
            qtbot.waitUntil(lambda: not win.player.is_playing, timeout=5000)
            qtbot.wait(1200)  # room to find the lag in what was recorded
    finally:
        win.close()
    heard = cap.wave()
    segment = wave[int(start * RATE):int((start + 0.4) * RATE)]
    assert np.abs(segment).max() > 0.01, "the component is silent in its loudest second"
    lag, corr = best_lag(heard, segment, max_lag=RATE // 2)
    assert corr > 0.9
    assert len(np.flatnonzero(np.abs(heard) > 0.01)) < 0.5 * RATE

"""Playing and recording through a real (private, null-sink) PulseAudio server.

What the app plays goes to the null sink; the default source is that sink's monitor, so
recording it returns what was played, in real time, through PortAudio, ALSA's pulse
plugin and the server. Skipped only when the server cannot be started here.
"""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest
from sound_server import pulse_server

from l2i_desktop.audio import Player
from l2i_desktop.recorder import Recorder

RATE = 44100
LOUD = 0.05  # a sample above this is sound, not the server's silence
TONE_DBFS = 20 * np.log10(0.5 / np.sqrt(2))  # RMS of a 0.5-amplitude sine: -9.03 dBFS


@pytest.fixture
def player(qtbot, server):
    p = Player()
    errors = []
    p.error.connect(errors.append)
    yield p
    p.stop()
    assert not errors, errors


# --- signal helpers ------------------------------------------------------------------


def sine(freq: float, seconds: float, amp: float = 0.5) -> np.ndarray:
    return (amp * np.sin(2 * np.pi * freq * np.arange(int(seconds * RATE)) / RATE)
            ).astype(np.float32)


def magnitude_at(x: np.ndarray, freq: float) -> float:
    """|DFT| of x at one frequency (x windowed)."""
    w = np.hanning(len(x))
    return float(abs(np.sum(x * w * np.exp(-2j * np.pi * freq * np.arange(len(x)) / RATE))))


def peak_frequency(x: np.ndarray) -> float:
    spec = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    return float(np.argmax(spec) * RATE / len(x))


def band_fraction(x: np.ndarray, freq: float, width: float = 15.0) -> float:
    """Share of x's energy within freq +- width Hz."""
    spec = np.abs(np.fft.rfft(x * np.hanning(len(x)))) ** 2
    f = np.fft.rfftfreq(len(x), 1 / RATE)
    return float(spec[np.abs(f - freq) <= width].sum() / spec.sum())


def loud_part(x: np.ndarray) -> np.ndarray:
    idx = np.flatnonzero(np.abs(x) > LOUD)
    assert idx.size, "the recording is silent"
    return x[idx[0]:idx[-1] + 1]


def best_lag(rec: np.ndarray, ref: np.ndarray, max_lag: int) -> tuple[int, float]:
    """The delay d (0 <= d < max_lag) of ``ref`` in ``rec`` maximising the normalised
    correlation of rec[d:] with ref[:len(rec) - d]; returns (d, correlation)."""
    n = len(rec)
    assert max_lag < n - RATE // 2, "recording too short to correlate"
    a = rec.astype(np.float64)
    b = ref[:n].astype(np.float64)
    size = 1 << int(np.ceil(np.log2(2 * n)))
    # num[d] = sum_t rec[t + d] * ref[t]
    num = np.fft.irfft(np.fft.rfft(a, size) * np.conj(np.fft.rfft(b, size)), size)[:max_lag]
    d = np.arange(max_lag)
    rec_energy = np.sum(a * a) - np.concatenate([[0.0], np.cumsum(a * a)])[d]  # rec[d:]
    ref_energy = np.concatenate([[0.0], np.cumsum(b * b)])[len(b) - d]  # ref[:n - d]
    ok = (rec_energy > 1e-6) & (ref_energy > 1e-6)
    corr = np.where(ok, num / np.sqrt(np.maximum(rec_energy * ref_energy, 1e-12)), 0.0)
    best = int(np.argmax(corr))
    return best, float(corr[best])


def relative_error(heard: np.ndarray, ref: np.ndarray) -> float:
    return float(np.linalg.norm(heard - ref) / np.linalg.norm(ref))


class Capture:
    """Records the default source (the sink's monitor) on PortAudio's thread."""

    def __init__(self) -> None:
        import sounddevice as sd

        self._chunks: list[np.ndarray] = []
        self._lock = threading.Lock()
        self._running = threading.Event()
        self.first_callback: float | None = None
        self.stream = sd.InputStream(samplerate=RATE, channels=1, dtype="float32",
                                     callback=self._callback)

    def _callback(self, indata, frames, _time, _status) -> None:
        with self._lock:
            if self.first_callback is None:
                self.first_callback = time.monotonic() - frames / RATE
            self._chunks.append(indata[:, 0].copy())
        self._running.set()

    def __enter__(self) -> Capture:
        self.stream.start()
        # samples flow before anything is played: the delay of what is played is >= 0
        if not self._running.wait(3.0):
            self.__exit__()
            raise AssertionError("the monitor source delivered nothing within 3 s")
        return self

    def __exit__(self, *exc) -> None:
        self.stream.stop()
        self.stream.close()

    def wave(self) -> np.ndarray:
        with self._lock:
            return np.concatenate(self._chunks) if self._chunks else np.zeros(0, np.float32)


def play_to_end(qtbot, player: Player, wave: np.ndarray, timeout_s: float = 5.0) -> None:
    player.play(wave, RATE)
    assert player.is_playing
    qtbot.waitUntil(lambda: not player.is_playing, timeout=int(timeout_s * 1000))


# --- Player through the server --------------------------------------------------------


def test_player_tone_is_heard_on_the_monitor(qtbot, player, tone):
    with Capture() as cap:
        qtbot.wait(200)  # some silence first: the onset measures the output latency
        t_play = time.monotonic()
        play_to_end(qtbot, player, tone)
        qtbot.wait(300)
    rec = cap.wave()
    # the monitor runs in real time: about as many samples as wall-clock time passed
    assert len(rec) > 1.3 * RATE
    loud = loud_part(rec)
    assert abs(len(loud) / RATE - 1.0) < 0.05  # the whole tone, nothing cut, nothing added
    assert abs(peak_frequency(loud) - 440) < 3
    assert band_fraction(loud, 440) > 0.95
    assert abs(np.sqrt(np.mean(loud ** 2)) - 0.5 / np.sqrt(2)) < 0.03  # unity gain
    onset = np.flatnonzero(np.abs(rec) > LOUD)[0] / RATE
    latency = onset - (t_play - cap.first_callback)
    print(f"playback onset {latency * 1000:.0f} ms after play()")
    assert -0.05 < latency < 0.5


def test_replace_switches_what_is_heard_at_the_play_position(qtbot, player):
    a, b = sine(440, 2.0), sine(660, 2.0)
    positions = []
    player.position.connect(positions.append)
    with Capture() as cap:
        player.play(a, RATE)
        qtbot.waitUntil(lambda: bool(positions) and positions[-1] >= 0.8, timeout=5000)
        switched_at = positions[-1]
        player.replace(b)
        qtbot.waitUntil(lambda: not player.is_playing, timeout=5000)
        qtbot.wait(200)
    loud = loud_part(cap.wave())
    assert abs(len(loud) / RATE - 2.0) < 0.05  # replace keeps the position: still 2 s
    frame = RATE // 20
    labels = []
    for i in range(len(loud) // frame):
        x = loud[i * frame:(i + 1) * frame]
        ma, mb = magnitude_at(x, 440), magnitude_at(x, 660)
        labels.append("A" if ma > mb else "B")
    text = "".join(labels)
    assert text.count("A") >= 10 and text.count("B") >= 10, text
    assert text == "A" * text.count("A") + "B" * text.count("B"), text  # A, then only B
    switch_s = text.count("A") * frame / RATE
    # B starts where the play position was when replace() ran (within a frame or two)
    assert switched_at - 0.1 < switch_s < switched_at + 0.2, (switch_s, switched_at)


def test_switching_what_plays_keeps_playing(qtbot, player):
    player.play(sine(440, 2.0), RATE)
    qtbot.wait(300)
    assert player.is_playing
    with Capture() as cap:
        player.play(sine(660, 2.0), RATE)
        qtbot.wait(600)
        still = player.is_playing
    loud = loud_part(cap.wave())
    assert still, "the new sound stopped by itself"
    assert len(loud) > 0.4 * RATE and abs(peak_frequency(loud) - 660) < 3


def test_main_window_plays_the_interpretation(qtbot, server, request):
    from l2i_desktop.main_window import MainWindow

    # asked for here, not as arguments: session fixtures would be set up (a bundle
    # trained) before the module's server fixture gets to skip
    tiny_bundle = request.getfixturevalue("tiny_bundle")
    esc10_clip = request.getfixturevalue("esc10_clip")
    win = MainWindow(tiny_bundle)
    qtbot.addWidget(win)
    try:
        win.open_clip(esc10_clip)
        qtbot.waitUntil(lambda: win.session.rendering is not None, timeout=60_000)
        ref = np.asarray(win.session.rendering.interpretation, np.float32)
        assert win.session.clip.analysis.sample_rate == RATE
        assert np.abs(ref).max() > 0.01, "the interpretation is silent: nothing to hear"
        with Capture() as cap:
            win.play("interpretation")
            assert win.player.is_playing
            qtbot.wait(3500)  # this clip's interpretation is silent until the bark at 2 s
            win.play("stop")
            assert not win.player.is_playing
        assert win.error_label.text() == ""
    finally:
        win.close()
    rec = cap.wave()
    lag, corr = best_lag(rec, ref, max_lag=RATE)
    print(f"interpretation: correlation {corr:.3f} at {lag / RATE * 1000:.0f} ms")
    assert corr > 0.5
    assert lag < 0.25 * RATE  # played at once
    # Correlation alone cannot tell what was played: with the tiny bundle this clip's
    # interpretation is nearly a scaled copy of the original (correlation ~0.99). The
    # server passes samples unchanged (16-bit), so what was heard is the interpretation
    # itself, sample for sample, and not the original.
    heard = rec[lag:]
    assert relative_error(heard, ref[:len(heard)]) < 0.02
    original = np.asarray(win.session.clip.analysis.wave, np.float32)
    assert relative_error(heard, original[:len(heard)]) > 0.3


# --- Recorder --------------------------------------------------------------------------


def test_recorder_records_what_the_player_plays(qtbot, player, tone):
    rec = Recorder(RATE)
    levels, threads, states, errors = [], [], [], []
    rec.level.connect(lambda db: (levels.append(db), threads.append(threading.get_ident())))
    rec.recording_changed.connect(states.append)
    rec.error.connect(errors.append)
    assert rec.available
    assert rec.input_devices() and all(isinstance(i, int) for i, _ in rec.input_devices())
    t0 = time.monotonic()
    assert rec.start()
    try:
        qtbot.wait(400)
        quiet = len(levels)
        play_to_end(qtbot, player, tone)
        qtbot.wait(200)
    finally:
        wave = rec.stop()
    wall = time.monotonic() - t0
    assert states == [True, False] and not errors
    assert wave.dtype == np.float32 and wave.ndim == 1 and rec.sample_rate == RATE
    assert abs(len(wave) / RATE - wall) < 0.3
    loud = loud_part(wave)
    assert abs(len(loud) / RATE - 1.0) < 0.05
    assert abs(peak_frequency(loud) - 440) < 3 and band_fraction(loud, 440) > 0.95
    # ~20 levels a second, all emitted on the UI thread
    assert 12 * wall < len(levels) < 25 * wall, (len(levels), wall)
    assert set(threads) == {threading.get_ident()}
    assert quiet >= 4 and max(levels[:quiet]) < -60  # silence before the tone
    assert abs(max(levels) - TONE_DBFS) < 1.5, max(levels)  # -9 dBFS tone
    n = len(levels)
    qtbot.wait(200)
    assert len(levels) == n  # stopped means no more levels
    np.testing.assert_array_equal(rec.stop(), wave)  # stop() again: the same recording


def test_recorder_starts_again_at_once(qtbot, server):
    rec = Recorder(RATE)
    errors = []
    rec.error.connect(errors.append)
    assert rec.start()
    qtbot.wait(200)
    first = rec.stop()
    assert rec.start()  # straight away: the old stream's end must not end this one
    try:
        qtbot.wait(600)
        assert rec.is_recording and not errors, errors
    finally:
        second = rec.stop()
    assert len(first) > 0.1 * RATE and 0.4 * RATE < len(second) < 1.0 * RATE


def test_recorder_keeps_what_it_had_when_the_device_goes_away(qtbot, server):
    rec = Recorder(RATE)
    errors, states = [], []
    rec.error.connect(errors.append)
    rec.recording_changed.connect(states.append)
    with pulse_server() as doomed:  # a second server, so the module's one survives
        assert rec.start()
        try:
            qtbot.waitUntil(lambda: rec.duration > 0.5, timeout=5000)
            doomed.kill()
            qtbot.waitUntil(lambda: bool(errors), timeout=5000)
        finally:
            wave = rec.stop()
    assert len(errors) == 1 and "went away" in errors[0], errors
    assert "\n" not in errors[0]
    assert states == [True, False] and not rec.is_recording
    assert 0.5 <= len(wave) / RATE < 3.0
    # still usable afterwards, on the module's server (the default input again)
    assert rec.start()
    try:
        qtbot.waitUntil(lambda: rec.duration > 0.2, timeout=5000)
    finally:
        again = rec.stop()
    assert len(again) >= 0.2 * RATE and len(errors) == 1


def test_a_clip_recorded_from_the_default_input_is_analysed_by_the_window(qtbot, server,
                                                                           player, request):
    """Play a real clip into the sound server, record it from the default input, and
    have the window explain the recording: it agrees with the file's own analysis."""
    from engine.dsp.audio import load_audio
    from l2i_desktop.main_window import MainWindow

    tiny_bundle = request.getfixturevalue("tiny_bundle")
    esc10_clip = request.getfixturevalue("esc10_clip")
    clip = load_audio(esc10_clip, RATE)
    rec = Recorder(RATE)
    rec.start()
    qtbot.wait(100)
    play_to_end(qtbot, player, clip, timeout_s=10.0)
    wave = rec.stop()
    assert len(wave) >= len(clip)
    win = MainWindow(tiny_bundle)
    qtbot.addWidget(win)
    try:
        win.open_clip(esc10_clip)
        qtbot.waitUntil(lambda: win.shown_clip == esc10_clip, timeout=60_000)
        from_file = win.session.clip.analysis.probabilities.copy()
        win.recordings.analyse(wave, rec.sample_rate)
        qtbot.waitUntil(lambda: win.shown is not None and win.shown.name ==
                        "recording", timeout=60_000)
        from_mic = win.session.clip.analysis.probabilities
        assert int(np.argmax(from_mic)) == int(np.argmax(from_file))
        assert win.predictions.table.rowCount() == len(from_file)
        assert win.recordings.unsaved is not None  # closing would ask (test_unsaved_recording)
    finally:
        win.recordings.unsaved = None
        win.close()

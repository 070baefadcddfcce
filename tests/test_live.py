"""Live interpretation without Qt: the rolling buffer, the gate that drops stale hops,
and windows of real ESC-10 audio analysed as they stream in (engine/tools/live.py)."""

from __future__ import annotations

import queue
import threading

import numpy as np
import pytest

from engine.bundles.bundle import load_bundle
from engine.dsp.audio import load_audio, resample
from engine.explanation.explain import Explainer
from engine.runtime.errors import AudioError
from engine.tools.live import DropGate, RingBuffer, analyse_window, window_seconds
from resources import default_bundle_path

RATE = 44100
BLOCK = 1024  # what a PortAudio callback typically hands over
DOG = ("001 - Dog bark", "2-114280-A.ogg")
ROOSTER = ("009 - Rooster", "2-100786-A.ogg")


# --- RingBuffer ---------------------------------------------------------------------


def test_window_before_it_is_full_is_silence_then_the_samples():
    ring = RingBuffer(10)
    assert ring.capacity == 10 and ring.written == 0
    np.testing.assert_array_equal(ring.window()[0], np.zeros(10, np.float32))
    ring.write(np.array([1, 2, 3], np.float32))
    wave, written = ring.window()
    assert written == 3 and wave.dtype == np.float32
    np.testing.assert_array_equal(wave, [0, 0, 0, 0, 0, 0, 0, 1, 2, 3])


def test_wraparound_keeps_exactly_the_newest_samples_in_order():
    ring = RingBuffer(7)
    stream = np.arange(1, 40, dtype=np.float32)
    pos = 0
    for size in (3, 4, 1, 6, 5, 2, 7, 3, 8):  # blocks that end anywhere in the ring
        ring.write(stream[pos:pos + size])
        pos += size
        wave, written = ring.window()
        assert written == pos
        expected = np.concatenate([np.zeros(max(0, 7 - pos), np.float32),
                                   stream[max(0, pos - 7):pos]])
        np.testing.assert_array_equal(wave, expected)


def test_a_block_longer_than_the_ring_leaves_its_tail_and_copies_are_private():
    ring = RingBuffer(4)
    ring.write(np.array([9, 9], np.float32))
    ring.write(np.arange(10, dtype=np.float32).reshape(-1, 1))  # (frames, 1) as PortAudio
    wave, written = ring.window()
    np.testing.assert_array_equal(wave, [6, 7, 8, 9])
    assert written == 12
    wave[:] = -1  # the caller's copy: the ring is untouched
    np.testing.assert_array_equal(ring.window()[0], [6, 7, 8, 9])
    ring.write(np.zeros(0, np.float32))
    assert ring.written == 12
    ring.reset(6)
    assert ring.capacity == 6 and ring.written == 0
    np.testing.assert_array_equal(ring.window()[0], np.zeros(6))
    with pytest.raises(ValueError):
        RingBuffer(0)


def test_windows_taken_while_another_thread_writes_are_never_torn():
    """Each window read during writes is one contiguous run of the stream ending at the
    sample count read with it: no half-written block, no stale part."""
    ring = RingBuffer(1000)
    total = 200_000
    done = threading.Event()

    def writer() -> None:
        rng = np.random.default_rng(1)
        pos = 0
        while pos < total:
            n = int(rng.integers(1, 700))
            ring.write(np.arange(pos + 1, min(pos + n, total) + 1, dtype=np.float32))
            pos = min(pos + n, total)
        done.set()

    t = threading.Thread(target=writer)
    t.start()
    reads = 0
    try:
        while not done.is_set() or reads == 0:
            wave, written = ring.window()
            reads += 1
            start = max(0, written - 1000)
            expected = np.concatenate([np.zeros(1000 - (written - start), np.float32),
                                       np.arange(start + 1, written + 1, dtype=np.float32)])
            np.testing.assert_array_equal(wave, expected)
    finally:
        t.join()
    assert ring.written == total and reads > 0


# --- DropGate -------------------------------------------------------------------------


def test_gate_lets_one_through_and_counts_the_rest():
    gate = DropGate()
    assert gate.try_start() and gate.busy
    assert not gate.try_start() and not gate.try_start()
    gate.finish()
    assert gate.try_start()
    gate.finish(ok=False)
    assert gate.try_start()
    gate.abandon()
    gate.finish()  # nothing running: no effect
    gate.abandon()
    c = gate.counts()
    assert (c.done, c.dropped, c.failed, c.busy) == (1, 3, 1, False)
    gate.reset()
    assert gate.counts().done == gate.counts().dropped == 0


# --- real audio through the window ------------------------------------------------------


@pytest.fixture(scope="module")
def explainer():
    path = default_bundle_path()
    if path is None:
        pytest.skip("resources/default.l2i is missing")
    with Explainer(load_bundle(path)) as ex:
        yield ex


def five_seconds(wave: np.ndarray) -> np.ndarray:
    """Cut or padded with silence to 5 s (some ESC-10 files are a little shorter)."""
    return np.pad(wave, (0, max(0, 5 * RATE - len(wave))))[:5 * RATE]


@pytest.fixture(scope="module")
def dog_then_rooster(esc10) -> np.ndarray:
    """0.3 s of silence, a dog barking (5 s), 0.1 s of silence, a rooster (5 s)."""
    dog, rooster = (five_seconds(load_audio(esc10 / d / f, RATE)) for d, f in (DOG, ROOSTER))
    def silence(seconds: float) -> np.ndarray:
        return np.zeros(round(seconds * RATE), np.float32)

    return np.concatenate([silence(0.3), dog, silence(0.1), rooster])


def _stream(ring: RingBuffer, signal: np.ndarray, start: int, stop: int) -> None:
    for i in range(start, stop, BLOCK):
        ring.write(signal[i:min(i + BLOCK, stop)])


def test_streamed_windows_are_the_right_audio_and_follow_the_sound(explainer,
                                                                  dog_then_rooster):
    sig = dog_then_rooster
    seconds = window_seconds(explainer)
    assert seconds == 5.0
    ring = RingBuffer(round(seconds * RATE))
    classes = explainer.bundle.classes
    seen = []
    pos = 0
    for end_s in (2.0, 5.3, 10.4):
        end = int(end_s * RATE)
        _stream(ring, sig, pos, end)
        pos = end
        wave, written = ring.window()
        frame = analyse_window(explainer, wave, RATE, written, None, 0.2)
        expected = np.concatenate([np.zeros(max(0, ring.capacity - end), np.float32),
                                   sig[max(0, end - ring.capacity):end]])
        np.testing.assert_array_equal(frame.analysis.wave, expected)  # 44.1 kHz: as is
        assert frame.start_s == pytest.approx(end_s - seconds, abs=1e-4)
        assert frame.duration_s == pytest.approx(seconds)
        direct = explainer.analyse(expected)
        np.testing.assert_allclose(frame.analysis.probabilities, direct.probabilities,
                                   atol=1e-5)
        exp = frame.explanation
        assert exp.target == frame.predicted and exp.threshold == 0.2
        assert exp.relevance.shape == (explainer.bundle.k,)
        assert all(exp.relevance[k] > 0.2 for k in exp.selected)
        assert frame.analysis.H.shape[0] == explainer.bundle.k
        assert exp.components == {} and frame.compute_s > 0
        seen.append(classes[frame.predicted])
    assert seen[1:] == ["Dog bark", "Rooster"], seen


def test_a_window_recorded_at_another_rate_is_resampled(explainer, dog_then_rooster):
    rate = 16000
    n = 5 * rate
    dog = dog_then_rooster[int(0.3 * RATE):int(5.3 * RATE)]
    low = resample(dog, RATE, rate)[:n]
    frame = analyse_window(explainer, low, rate, n + rate)
    assert frame.analysis.sample_rate == RATE
    assert abs(frame.analysis.n_samples - 5 * RATE) <= 2
    assert frame.start_s == pytest.approx(1.0)
    assert explainer.bundle.classes[frame.predicted] == "Dog bark"
    with pytest.raises(AudioError):
        analyse_window(explainer, np.zeros(0, np.float32), RATE, 0)


def test_hops_while_an_analysis_runs_are_dropped_and_the_next_one_is_fresh(
        explainer, dog_then_rooster):
    """The clock below ticks every half second of audio. Until the UI has taken a
    result, ticks are dropped, never queued; the next analysis is of the newest window,
    not of one that waited."""
    sig = dog_then_rooster
    ring, gate = RingBuffer(5 * RATE), DropGate()
    jobs: queue.Queue = queue.Queue()
    results: queue.Queue = queue.Queue()
    running, peak = [0], [0]

    def worker() -> None:
        while (job := jobs.get()) is not None:
            running[0] += 1
            peak[0] = max(peak[0], running[0])
            try:
                results.put(analyse_window(explainer, *job))
            except Exception as exc:  # fail the test now, not after a time-out
                results.put(exc)
            running[0] -= 1

    t = threading.Thread(target=worker)
    t.start()
    started_at, frames = [], []
    try:
        pos = 0
        for hop in range(1, 21):  # 10 s of audio, a tick every 0.5 s
            end = int(hop * 0.5 * RATE)
            _stream(ring, sig, pos, end)
            pos = end
            if hop in (11, 20):  # the UI takes the result now (as a slow display would)
                frames.append(results.get(timeout=60))
                gate.finish()
            if gate.try_start():
                started_at.append(hop * 0.5)
                wave, written = ring.window()
                jobs.put((wave, RATE, written, None, 0.1))
    finally:
        jobs.put(None)
        t.join()
    frames.append(results.get(timeout=60))
    gate.finish()
    assert all(not isinstance(f, Exception) for f in frames), frames
    c = gate.counts()
    assert started_at == [0.5, 5.5, 10.0]  # three windows analysed, the rest dropped
    assert (c.done, c.dropped, c.busy) == (3, 17, False) and peak[0] == 1
    assert [round(f.start_s + f.duration_s, 3) for f in frames] == started_at
    names = [explainer.bundle.classes[f.predicted] for f in frames]
    assert names[1:] == ["Dog bark", "Rooster"], names

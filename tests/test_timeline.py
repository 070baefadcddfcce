"""engine.tools.timeline on real ESC-10 clips concatenated into long recordings (written to
tmp_path here): exact windows, the streamed result equal to the one-piece one, the top
class following the concatenation, cancellation, one window read alone, and the peak
memory of a 20-minute recording (in a fresh process, scripts/timeline_memory.py)."""

from __future__ import annotations

import tracemalloc
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from conftest import random_bundle
from hostile_corpus import long_clip

from engine.bundles.bundle import load_bundle
from engine.dsp.audio import load_audio, resample
from engine.explanation.explain import Explainer
from engine.runtime.errors import AudioError, Cancelled, L2IError
from engine.runtime.progress import TaskState
from engine.tools.timeline import (
    TimelineStream,
    compute_timeline,
    count_windows,
    explain_window,
    read_window,
)
from resources import default_bundle_path
from trainer.features_cache import fix_length

RATE = 44100
CLIP = 5 * RATE


def clips_of(esc10: Path, fold: int = 1, per_class: int = 1) -> list[tuple[int, Path]]:
    """(class index, clip) of the first clips of each class in a fold, class by class."""
    folders = sorted(p for p in esc10.iterdir() if p.is_dir())
    return [(c, f) for c, d in enumerate(folders) for f in sorted(d.glob(f"{fold}-*"))[:per_class]]


def concatenate(clips: list[Path], out: Path, rate: int = RATE, seconds: float | None = None
                ) -> Path:
    """Real clips, each cut or padded to 5 s, one after the other (then cut to
    ``seconds``), written as a float WAV at ``rate``."""
    wave = np.concatenate([fix_length(load_audio(c, RATE), CLIP) for c in clips])
    if seconds is not None:
        wave = np.resize(wave, int(round(seconds * RATE)))  # repeats real audio if longer
    sf.write(str(out), resample(wave, RATE, rate), rate, subtype="FLOAT")
    return out


@pytest.fixture(scope="module")
def tiny():
    with Explainer(random_bundle(n_classes=4, k=12, seed=3)) as ex:
        yield ex


@pytest.fixture(scope="module")
def shipped():
    with Explainer(load_bundle(default_bundle_path())) as ex:
        yield ex


def one_piece(explainer: Explainer, wave: np.ndarray, starts_s: np.ndarray
              ) -> tuple[np.ndarray, np.ndarray]:
    """The classifier's and the interpreter's probabilities of each window analysed
    alone, as a 5-s clip."""
    clf, interp = [], []
    for s in starts_s:
        a = int(round(s * RATE))
        analysis = explainer.analyse(fix_length(wave[a:a + CLIP], CLIP))
        clf.append(analysis.probabilities)
        interp.append(analysis.interpreter_probabilities)
    return np.stack(clf), np.stack(interp)


@pytest.mark.parametrize("seconds, hop, starts", [
    (20.0, None, [0, 2.5, 5, 7.5, 10, 12.5, 15]),  # the last window ends on the last sample
    (21.0, None, [0, 2.5, 5, 7.5, 10, 12.5, 15, 17.5]),  # one more, zero-padded
    (3.0, None, [0]),  # shorter than a window: one, padded
    (21.0, 5.0, [0, 5, 10, 15, 20]),
    (20.0, 7.0, [0, 7, 14]),  # a hop longer than the window leaves gaps
])
def test_window_count_and_times_are_exact(tiny, esc10, tmp_path, seconds, hop, starts):
    clip = concatenate([f for _, f in clips_of(esc10)[:5]], tmp_path / "long.wav",
                       seconds=seconds)
    t = compute_timeline(tiny, clip, hop)
    assert t.starts.tolist() == starts
    assert len(starts) == count_windows(int(seconds * RATE), CLIP, int((hop or 2.5) * RATE))
    assert t.window_s == 5.0 and t.hop_s == (hop or 2.5)
    assert t.duration_s == seconds
    assert t.classifier.shape == t.interpreter.shape == (len(starts), 4)
    assert np.allclose(t.classifier.sum(axis=1), 1, atol=1e-5)


def test_streaming_equals_each_window_analysed_alone(tiny, esc10, tmp_path, monkeypatch):
    monkeypatch.setattr("engine.tools.timeline.BLOCK_FRAMES", 10_007)  # many odd-sized blocks
    clip = concatenate([f for _, f in clips_of(esc10)[:3]], tmp_path / "short.wav",
                       seconds=13.3)
    wave = load_audio(clip, RATE)
    streamed = compute_timeline(tiny, clip, batch=3)
    whole = compute_timeline(tiny, wave, batch=3)  # from the decoded array
    assert np.array_equal(streamed.classifier, whole.classifier)
    assert np.array_equal(streamed.interpreter, whole.interpreter)
    clf, interp = one_piece(tiny, wave, streamed.starts)
    assert np.allclose(streamed.classifier, clf, atol=1e-5)
    assert np.allclose(streamed.interpreter, interp, atol=1e-5)


def test_a_stereo_file_at_another_rate_is_resampled_as_one_piece(tiny, esc10, tmp_path,
                                                                 monkeypatch):
    monkeypatch.setattr("engine.tools.timeline.BLOCK_FRAMES", 8_000)
    mono = concatenate([f for _, f in clips_of(esc10)[:3]], tmp_path / "22k.wav",
                       rate=22050, seconds=12.0)
    x, _ = sf.read(str(mono), dtype="float32")
    clip = tmp_path / "22k stereo.flac"  # channels are averaged, as load_audio does
    sf.write(str(clip), np.stack([x, 0.5 * x], axis=1), 22050, subtype="PCM_24")
    streamed = compute_timeline(tiny, clip)
    whole = compute_timeline(tiny, load_audio(clip, RATE))  # soxr on the whole signal
    assert streamed.starts.tolist() == [0, 2.5, 5, 7.5]
    assert np.allclose(streamed.classifier, whole.classifier, atol=1e-6)
    # one window read alone matches the whole file resampled, but at its very edges
    piece = read_window(clip, 5.0, 5.0, RATE)
    ref = load_audio(clip, RATE)[5 * RATE:10 * RATE]
    assert np.abs(piece - ref).max() < 1e-4 * max(1.0, float(np.abs(ref).max()))


def test_the_top_class_follows_the_concatenation(shipped, esc10, tmp_path):
    # held-out clips (fold 1) that the classifier gets right alone, one per class
    chosen: dict[int, Path] = {}
    for c, f in clips_of(esc10, fold=1, per_class=4):
        if c not in chosen and shipped.analyse(fix_length(load_audio(f, RATE), CLIP)
                                               ).predicted == c:
            chosen[c] = f
    order = [c for c in (3, 7, 0, 9, 4, 1) if c in chosen]  # an order unlike the folders
    assert len(order) >= 5
    clip = concatenate([chosen[c] for c in order], tmp_path / "mix.wav")
    t = compute_timeline(shipped, clip)
    assert len(t.starts) == 2 * len(order) - 1
    aligned = t.top[::2]  # windows 0, 5, 10 s... hold exactly one source clip each
    assert aligned.tolist() == order
    wave = load_audio(clip, RATE)
    assert np.allclose(t.classifier[::2], one_piece(shipped, wave, t.starts[::2])[0],
                       atol=1e-5)
    # a window over two clips names one of them, mostly
    pairs = [(order[i], order[i + 1]) for i in range(len(order) - 1)]
    hits = [top in pair for top, pair in zip(t.top[1::2], pairs)]
    assert sum(hits) >= len(hits) / 2, (t.top.tolist(), order)


def test_cancelling_stops_between_batches(tiny, esc10, tmp_path):
    clip = concatenate([f for _, f in clips_of(esc10)[:4]], tmp_path / "minute.wav",
                       seconds=60)
    seen = []

    def cancel_at_first(report):
        seen.append(report)
        task.cancel()

    task = TaskState(cancel_at_first)
    with pytest.raises(Cancelled):
        compute_timeline(tiny, clip, batch=2, task=task)
    assert [(r.done, r.total) for r in seen] == [(2, 23)]
    done = TaskState()
    done.cancel()
    with pytest.raises(Cancelled):
        compute_timeline(tiny, clip, task=done)


def test_one_window_is_read_alone_and_explained(tiny, esc10, tmp_path, monkeypatch):
    clip = concatenate([f for _, f in clips_of(esc10)[:6]], tmp_path / "half.wav",
                       seconds=30)
    t = compute_timeline(tiny, clip)
    read = []
    real_read = sf.SoundFile.read

    def counting(self, frames=-1, *args, **kwargs):
        data = real_read(self, frames, *args, **kwargs)
        read.append(len(data))
        return data

    monkeypatch.setattr(sf.SoundFile, "read", counting)
    analysis, exp = explain_window(tiny, clip, float(t.starts[5]), threshold=0.3)
    assert sum(read) == CLIP  # the window's samples, not the file
    wave = load_audio(clip, RATE)
    assert np.array_equal(analysis.wave, wave[int(t.starts[5] * RATE):][:CLIP])
    assert np.allclose(analysis.probabilities, t.classifier[5], atol=1e-5)
    assert exp.interpretation.shape == (CLIP,) and len(exp.selected) > 0
    last = read_window(clip, 27.0, 5.0, RATE)  # past the end: zeros
    assert np.array_equal(last[:3 * RATE], wave[27 * RATE:]) and not last[3 * RATE:].any()


def test_bad_input_gets_one_line(tiny, tmp_path):
    with pytest.raises(AudioError, match="no such file"):
        compute_timeline(tiny, tmp_path / "absent.wav")
    junk = tmp_path / "junk.wav"
    junk.write_bytes(b"not audio at all" * 100)
    with pytest.raises(AudioError) as info:
        compute_timeline(tiny, junk)
    assert "\n" not in str(info.value) and "junk.wav" in str(info.value)
    with pytest.raises(L2IError, match="positive"):
        TimelineStream(tiny, np.zeros(RATE, np.float32), hop_s=0.0)
    with pytest.raises(AudioError, match="NaN"):
        compute_timeline(tiny, np.full(RATE, np.nan, np.float32))


def test_twenty_minutes_stream_in_bounded_memory(tiny, tmp_path):
    """The peak of what the streaming allocates (tracemalloc: numpy buffers, blocks,
    windows; deterministic, unlike RSS) over a 20-minute recording at the bundle's rate,
    against the 202 MB it takes decoded. A hop of a minute keeps the test quick (twenty
    windows) while every block of the file is still read; scripts/timeline_memory.py
    measures peak RSS with the default hop for 10 and 60 minutes (README)."""
    long = long_clip(tmp_path / "twenty minutes.wav", 20 * 60)
    decoded = 20 * 60 * RATE * 4
    compute_timeline(tiny, long_clip(tmp_path / "warm.wav", 30))  # one-off allocations
    tracemalloc.start()
    try:
        t = compute_timeline(tiny, long, hop_s=60)
        streamed = tracemalloc.get_traced_memory()[1]
        tracemalloc.reset_peak()
        whole = compute_timeline(tiny, load_audio(long, RATE), hop_s=60)
        decoded_first = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert len(t.starts) == 20 and t.duration_s == 20 * 60
    assert np.allclose(t.classifier, whole.classifier, atol=1e-6)
    assert decoded_first > decoded  # the measure sees a recording held whole
    assert streamed < decoded / 10, (streamed, decoded)

"""Class probabilities over a long recording, one window of the bundle's clip length at
a time, in bounded memory.

The classifier was trained on clips of ``clip_seconds`` (5 s for ESC-10); a recording of
an hour is a sequence of such clips. The file is streamed in blocks (soundfile), mixed to
mono and resampled block by block with one continuous soxr stream (its output equals the
one-shot ``engine.dsp.audio.resample``), and only a window plus a block is ever held, so
memory does not grow with the length. Windows start every ``hop`` samples; the last one
is zero-padded past the end, as training pads short clips, so every sample is covered:
1 + ceil(max(0, N - window) / hop) windows for N samples.

``explain_window`` then reads only the chosen window's stretch of the file.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr
import torch

from engine.dsp.audio import MAX_ABS_SAMPLE, _reason, resample, shown
from engine.explanation.explain import Analysis, Explainer, Explanation, _probabilities
from engine.models.user_classifier import classifier_input
from engine.runtime.errors import AudioError, L2IError
from engine.runtime.progress import TaskState, check, report

BLOCK_FRAMES = 1 << 16  # frames read from the file at a time (1.5 s at 44.1 kHz)
BATCH = 4  # windows per forward pass: the peak memory of the networks grows with it

# a source is a file (str or PathLike) or a mono float signal at the bundle's rate
Source = str | os.PathLike | np.ndarray


@dataclass
class Timeline:
    starts: np.ndarray  # (W,) window start times in seconds
    window_s: float
    hop_s: float
    duration_s: float  # of the recording at the bundle's rate
    classifier: np.ndarray  # (W, C) the classifier's probabilities per window
    interpreter: np.ndarray  # (W, C) the interpreter's
    classes: list[str]

    @property
    def top(self) -> np.ndarray:
        """The classifier's top class per window."""
        return np.argmax(self.classifier, axis=1) if len(self.starts) else np.zeros(0, int)

    @property
    def centres(self) -> np.ndarray:
        return self.starts + self.window_s / 2

    def index_at(self, seconds: float) -> int:
        """The window whose centre is nearest to a time (what a click there means)."""
        if not len(self.starts):
            raise L2IError("the timeline has no windows yet")
        return int(np.argmin(np.abs(self.centres - seconds)))


def window_samples(explainer: Explainer) -> int:
    clip = float(explainer.bundle.manifest.get("clip_seconds", 5.0))
    return int(round(clip * explainer.cfg.sample_rate))


def is_long(n_samples: int, window: int) -> bool:
    """Worth a timeline: more than a tenth longer than a clip. Slightly longer files (many
    ESC clips are 5.02 s) are single clips, cut to length as training cuts them."""
    return n_samples > window * 1.1


def count_windows(n_samples: int, window: int, hop: int) -> int:
    """Windows until every sample is covered; with a hop longer than the window (gaps),
    only those that start inside the recording."""
    return max(1, min(1 + -(-max(0, n_samples - window) // hop), -(-n_samples // hop)))


def _hop_samples(hop_s: float | None, window: int, rate: int) -> int:
    if hop_s is None:
        return max(1, window // 2)
    if not math.isfinite(hop_s) or hop_s <= 0:
        raise L2IError(f"the hop must be a positive number of seconds, not {hop_s}")
    return max(1, int(round(hop_s * rate)))


def _open(path: Path) -> sf.SoundFile:
    """The file opened for reading, or one AudioError line (as ``read_audio`` words it)."""
    if not path.exists():
        raise AudioError(f"{shown(path, full=True)}: no such file")
    if not path.is_file():
        raise AudioError(f"{shown(path, full=True)}: not a regular audio file")
    try:
        return sf.SoundFile(str(path))
    except (sf.LibsndfileError, RuntimeError, TypeError, ValueError, OSError) as exc:
        raise AudioError(f"{shown(path, full=True)}: not a readable audio file "
                         f"({_reason(exc)})") from None


def _mono(data: np.ndarray, name: str) -> np.ndarray:
    mono = data.mean(axis=1, dtype=np.float32) if data.shape[1] > 1 else data[:, 0]
    if not np.isfinite(mono).all():
        raise AudioError(f"{name}: the audio contains NaN or infinite samples")
    if mono.size and float(np.abs(mono).max()) > MAX_ABS_SAMPLE:
        raise AudioError(f"{name}: samples far beyond full scale (1.0): not usable audio")
    return np.ascontiguousarray(mono, dtype=np.float32)


def _file_blocks(f: sf.SoundFile, rate: int, name: str) -> Iterator[np.ndarray]:
    """Mono blocks at ``rate``: one continuous resampler, so the cuts leave no trace."""
    stream = None if f.samplerate == rate else \
        soxr.ResampleStream(f.samplerate, rate, 1, dtype="float32", quality="HQ")
    while True:
        try:
            data = f.read(BLOCK_FRAMES, dtype="float32", always_2d=True)
        except (sf.LibsndfileError, RuntimeError, OSError) as exc:
            raise AudioError(f"{name}: unreadable past {f.tell() / f.samplerate:.1f} s "
                             f"({_reason(exc)})") from None
        last = data.shape[0] < BLOCK_FRAMES
        mono = _mono(data, name)
        yield mono if stream is None else stream.resample_chunk(mono, last=last)
        if last:
            return


class TimelineStream:
    """Iterates over (starts in seconds (B,), classifier (B, C), interpreter (B, C)) for
    successive batches of windows; the app advances it a few batches per worker job, so
    other requests run in between. Close it (or use ``with``) to release the file."""

    def __init__(self, explainer: Explainer, source: Source, hop_s: float | None = None,
                 batch: int = BATCH) -> None:
        self.explainer = explainer
        self.rate = explainer.cfg.sample_rate
        self.window = window_samples(explainer)
        self.hop = _hop_samples(hop_s, self.window, self.rate)
        self.batch = max(1, int(batch))
        self.done = 0  # windows computed so far
        self.n_samples: int | None = None  # known once the whole source has been read
        self._file: sf.SoundFile | None = None
        if isinstance(source, np.ndarray):
            wave = np.asarray(source, np.float32)
            if wave.ndim != 1 or wave.size == 0:
                raise AudioError("expected a non-empty mono signal")
            self.name = "recording"
            self.estimated_samples = wave.size
            blocks: Iterator[np.ndarray] = (_mono(wave[i:i + BLOCK_FRAMES, None], self.name)
                                            for i in range(0, wave.size, BLOCK_FRAMES))
        else:
            path = Path(source)
            self.name = shown(path)
            self._file = _open(path)
            frames, native = self._file.frames, self._file.samplerate
            if frames <= 0:
                self._file.close()
                raise AudioError(f"{self.name}: the file holds no audio samples")
            self.estimated_samples = -(-frames * self.rate // native)
            blocks = _file_blocks(self._file, self.rate, self.name)
        self._batches = self._run(blocks)

    @property
    def estimated_windows(self) -> int:
        n = self.n_samples if self.n_samples is not None else self.estimated_samples
        return count_windows(n, self.window, self.hop)

    def __iter__(self) -> TimelineStream:
        return self

    def __next__(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return next(self._batches)

    def close(self) -> None:
        self._batches.close()
        if self._file is not None:
            self._file.close()

    def __enter__(self) -> TimelineStream:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _run(self, blocks: Iterator[np.ndarray]):
        window, hop = self.window, self.hop
        # buf holds samples [buf_start, total): nothing before the next window is kept
        buf, buf_start, total, k = np.zeros(0, np.float32), 0, 0, 0
        pending: list[np.ndarray] = []
        for block in blocks:
            skip = min(block.size, max(0, buf_start - total))  # a gap (hop > window)
            total += block.size
            buf = np.concatenate([buf, block[skip:]])
            while k * hop + window <= total:
                a = k * hop - buf_start
                pending.append(buf[a:a + window].copy())
                k += 1
                if len(pending) == self.batch:
                    yield self._forward(pending, k - len(pending))
                    pending = []
            if k * hop > buf_start:
                buf = buf[max(0, min(k * hop, total) - buf_start):]
                buf_start = k * hop
        if total == 0:
            raise AudioError(f"{self.name}: the file holds no audio samples")
        self.n_samples = total
        for j in range(k, count_windows(total, window, hop)):  # the zero-padded tail
            piece = np.zeros(window, np.float32)
            tail = buf[j * hop - buf_start:]
            piece[:min(window, tail.size)] = tail[:window]
            pending.append(piece)
            if len(pending) == self.batch:
                yield self._forward(pending, j + 1 - len(pending))
                pending = []
        if pending:
            yield self._forward(pending, count_windows(total, window, hop) - len(pending))

    @torch.no_grad()
    def _forward(self, waves: list[np.ndarray], first: int):
        ex = self.explainer
        x = torch.from_numpy(np.stack(waves)).to(ex.device)
        logits, maps = ex.taps(classifier_input(ex.bundle.classifier_input, x, ex.cfg))
        _, ilogits, _ = ex.bundle.interpreter(maps, ex.cfg.n_frames(self.window))
        if not (torch.isfinite(logits).all() and torch.isfinite(ilogits).all()):
            raise L2IError("the model produced non-finite outputs for this recording")
        ml = ex.bundle.multilabel
        self.done = first + len(waves)
        starts = (first + np.arange(len(waves))) * self.hop / self.rate
        return (starts, _probabilities(logits, ml).cpu().numpy(),
                _probabilities(ilogits, ml).cpu().numpy())


def compute_timeline(explainer: Explainer, source: Source, hop_s: float | None = None,
                     batch: int = BATCH, task: TaskState | None = None) -> Timeline:
    """Probabilities of every window of a file (streamed) or of a mono signal at the
    bundle's rate; ``task`` gets one report per batch and may cancel between batches."""
    check(task)
    starts, clf, interp = [], [], []
    with TimelineStream(explainer, source, hop_s, batch) as stream:
        for s, p, q in stream:
            starts.append(s)
            clf.append(p)
            interp.append(q)
            report(task, "timeline", stream.done, max(stream.done, stream.estimated_windows),
                   "windows")
        rate, c = stream.rate, len(explainer.bundle.classes)
        return Timeline(
            starts=np.concatenate(starts), window_s=stream.window / rate,
            hop_s=stream.hop / rate, duration_s=stream.n_samples / rate,
            classifier=np.concatenate(clf).reshape(-1, c),
            interpreter=np.concatenate(interp).reshape(-1, c),
            classes=list(explainer.bundle.classes))


def read_window(source: Source, start_s: float, duration_s: float, rate: int) -> np.ndarray:
    """``duration_s`` of a file (or of a signal at ``rate``) from ``start_s``, mono at
    ``rate``, zero-padded past the end. Only that stretch (and 50 ms of context on each
    side for the resampler) is decoded; it equals that stretch of the file resampled whole,
    up to the resampler's edge effects beyond the context."""
    first, n = int(round(start_s * rate)), int(round(duration_s * rate))
    if first < 0 or n <= 0:
        raise L2IError(f"no such window: {start_s} s for {duration_s} s")
    out = np.zeros(n, np.float32)
    if isinstance(source, np.ndarray):
        piece = np.asarray(source, np.float32)[first:first + n]
        out[:piece.size] = piece
        return out
    path = Path(source)
    with _open(path) as f:
        native = f.samplerate
        # start on an input frame that falls on an output sample, with context before it
        step = native // math.gcd(native, rate)
        margin = 0 if native == rate else native // 20
        a = max(0, (first * native // rate - margin) // step * step)
        if a >= f.frames:
            return out
        offset = first - a * rate // native
        try:
            f.seek(a)
            data = f.read(-(-(offset + n) * native // rate) + 2 * margin, dtype="float32",
                          always_2d=True)
        except (sf.LibsndfileError, RuntimeError, OSError) as exc:
            raise AudioError(f"{shown(path, full=True)}: unreadable at {start_s:.1f} s "
                             f"({_reason(exc)})") from None
    piece = resample(_mono(data, shown(path)), native, rate)[offset:offset + n]
    out[:piece.size] = piece
    return out


def explain_window(explainer: Explainer, source: Source, start_s: float, target: int | None = None,
                   threshold: float = 0.1, task: TaskState | None = None
                   ) -> tuple[Analysis, Explanation]:
    """Analyse and explain the one window of the timeline that starts at ``start_s``."""
    wave = read_window(source, start_s, window_samples(explainer) / explainer.cfg.sample_rate,
                       explainer.cfg.sample_rate)
    analysis = explainer.analyse(wave, task)
    return analysis, explainer.explain(analysis, target, threshold)

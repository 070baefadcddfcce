"""Audio files in and out: anything libsndfile reads, to mono float32 at a given rate."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

from engine.errors import AudioError

AUDIO_EXTENSIONS = (".wav", ".flac", ".ogg", ".oga", ".mp3", ".aiff", ".aif", ".opus", ".au")


def resample(wave: np.ndarray, rate_in: int, rate_out: int) -> np.ndarray:
    """Band-limited resampling (soxr, high quality) of a 1-D signal."""
    if rate_in == rate_out or wave.size == 0:
        return wave.astype(np.float32, copy=False)
    return soxr.resample(wave, rate_in, rate_out, quality="HQ").astype(np.float32, copy=False)


def read_audio(path: str | os.PathLike) -> tuple[np.ndarray, int]:
    """Read a file as (samples x channels float32, native sample rate).

    Raises AudioError with one line for missing, unreadable, empty or non-finite input.
    """
    p = Path(path)
    if not p.exists():
        raise AudioError(f"{p}: no such file")
    if p.is_dir():
        raise AudioError(f"{p}: is a folder, not an audio file")
    try:
        data, rate = sf.read(str(p), dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError, TypeError, ValueError, OSError) as exc:
        reason = str(exc).split("\n")[0].strip() or type(exc).__name__
        raise AudioError(f"{p.name}: not a readable audio file ({reason})") from None
    if data.shape[0] == 0:
        raise AudioError(f"{p.name}: the file holds no audio samples")
    if not np.isfinite(data).all():
        raise AudioError(f"{p.name}: the audio contains NaN or infinite samples")
    return data, int(rate)


def load_audio(path: str | os.PathLike, sample_rate: int) -> np.ndarray:
    """Load a file as mono float32 at ``sample_rate`` (channels averaged)."""
    data, rate = read_audio(path)
    mono = data.mean(axis=1) if data.shape[1] > 1 else data[:, 0]
    return resample(np.ascontiguousarray(mono), rate, sample_rate)


def file_sample_rate(path: str | os.PathLike) -> int:
    try:
        return int(sf.info(str(path)).samplerate)
    except (sf.LibsndfileError, RuntimeError, OSError) as exc:
        raise AudioError(f"{Path(path).name}: not a readable audio file ({exc})") from None


def save_audio(path: str | os.PathLike, wave: np.ndarray, sample_rate: int) -> None:
    """Write a mono float signal; WAV (32-bit float) unless the suffix says otherwise.

    Samples beyond full scale are kept in float WAV; for integer formats they are clipped.
    """
    p = Path(path)
    wave = np.asarray(wave, dtype=np.float32)
    if not np.isfinite(wave).all():
        raise AudioError(f"{p.name}: refusing to write NaN or infinite samples")
    subtype = "FLOAT" if p.suffix.lower() in (".wav", "") else None
    if subtype is None:
        wave = np.clip(wave, -1.0, 1.0)
    sf.write(str(p), wave, sample_rate, subtype=subtype, format=_format_for(p))


def _format_for(p: Path) -> str:
    suffix = p.suffix.lower().lstrip(".")
    return {"": "WAV", "wav": "WAV", "flac": "FLAC", "ogg": "OGG", "oga": "OGG"}.get(
        suffix, suffix.upper()
    )

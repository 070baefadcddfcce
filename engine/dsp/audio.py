"""Audio files in and out: anything libsndfile reads, to mono float32 at a given rate."""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

from engine.dsp import shards
from engine.dsp.formats import AUDIO_EXTENSIONS  # noqa: F401 - imported from here too
from engine.runtime.errors import AudioError, shown

# Samples beyond this are not sound but garbage (a float file of 1e30s): their squares
# overflow float32 in the spectrogram. +80 dB over full scale leaves room for any overs.
MAX_ABS_SAMPLE = 1e4
# What one clip may decode to: 2 hours, and at most 1e9 samples over all channels (4 GB
# of float32, e.g. 1 h of 8 channels at 48 kHz is 1.4e9). An hour of mono through the
# paper's model needs about 4.3 GB at the peak (RELIABILITY.md); beyond these limits
# the user gets one line instead of a machine that swaps or an out-of-memory kill.
MAX_CLIP_SECONDS = 2 * 3600
MAX_DECODED_SAMPLES = 1_000_000_000


def resample(wave: np.ndarray, rate_in: int, rate_out: int) -> np.ndarray:
    """Band-limited resampling (soxr, high quality) of a 1-D signal."""
    if rate_in == rate_out or wave.size == 0:
        return wave.astype(np.float32, copy=False)
    out = soxr.resample(wave, rate_in, rate_out, quality="HQ").astype(np.float32, copy=False)
    if out.size == 0:  # one sample at 192 kHz is under one at 44.1 kHz: keep a (silent) one
        out = np.zeros(1, np.float32)
    return out


def _reason(exc: BaseException) -> str:
    reason = str(exc).split("\n")[0].strip() or type(exc).__name__
    reason = re.sub(r"^Error opening .*?: (?=\S)", "", reason, count=1)
    if "does not exist or is not a regular file" in reason:  # libsndfile's MP3 probe
        reason = "format not recognised"
    return "".join(c if c.isprintable() else " " for c in reason)


def read_audio(path: str | os.PathLike,
               max_seconds: float = MAX_CLIP_SECONDS) -> tuple[np.ndarray, int]:
    """Read a file as (samples x channels float32, native sample rate).

    Raises AudioError with one line for missing, unreadable, empty, non-finite or
    over-long input. Never decodes more than the limits allow, whatever a header claims.
    A path through a tar shard, ``SHARD.tar/KEY.EXT``, reads that clip (engine/dsp/shards).
    """
    p = Path(path)
    if shards.split_member(p) is not None:
        source = shards.open_clip(p)
    elif not p.exists():
        raise AudioError(f"{shown(p, full=True)}: no such file")
    elif p.is_dir():
        raise AudioError(f"{shown(p, full=True)}: is a folder, not an audio file")
    elif not p.is_file():  # a FIFO would block the reader forever, a device never ends
        raise AudioError(f"{shown(p, full=True)}: not a regular file (a pipe or a device?)")
    else:
        source = str(p)
    try:
        with sf.SoundFile(source) as f:
            rate, channels = int(f.samplerate), int(f.channels)
            limit = int(min(max_seconds * rate, MAX_DECODED_SAMPLES // channels))
            data = f.read(limit + 1, dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError, TypeError, ValueError, OSError,
            MemoryError) as exc:
        raise AudioError(f"{shown(p, full=True)}: not a readable audio file "
                         f"({_reason(exc)})") from None
    if data.shape[0] > limit:
        raise AudioError(f"{shown(p, full=True)}: longer than this version analyses at once "
                         f"({limit / rate / 60:.0f} min at {rate} Hz with {channels} "
                         "channels); cut it into parts")
    if data.shape[0] == 0:
        raise AudioError(f"{shown(p, full=True)}: the file holds no audio samples")
    if not np.isfinite(data).all():
        raise AudioError(f"{shown(p, full=True)}: the audio contains NaN or infinite samples")
    peak = float(np.abs(data).max())
    if peak > MAX_ABS_SAMPLE:
        raise AudioError(f"{shown(p, full=True)}: samples reach {peak:.3g}, far beyond full scale "
                         "(1.0): not usable audio")
    return data, int(rate)


def load_audio(path: str | os.PathLike, sample_rate: int) -> np.ndarray:
    """Load a file as mono float32 at ``sample_rate`` (channels averaged)."""
    data, rate = read_audio(path)
    mono = data.mean(axis=1) if data.shape[1] > 1 else data[:, 0]
    return resample(np.ascontiguousarray(mono), rate, sample_rate)


def save_audio(path: str | os.PathLike, wave: np.ndarray, sample_rate: int) -> None:
    """Write a mono float signal; WAV (32-bit float) unless the suffix says otherwise.

    Samples beyond full scale are kept in float WAV; for integer formats they are clipped.
    """
    p = Path(path)
    wave = np.asarray(wave, dtype=np.float32)
    if not np.isfinite(wave).all():
        raise AudioError(f"{shown(p, full=True)}: refusing to write NaN or infinite samples")
    subtype = "FLOAT" if p.suffix.lower() in (".wav", "") else None
    if subtype is None:
        wave = np.clip(wave, -1.0, 1.0)
    sf.write(str(p), wave, sample_rate, subtype=subtype, format=_format_for(p))


def _format_for(p: Path) -> str:
    suffix = p.suffix.lower().lstrip(".")
    return {"": "WAV", "wav": "WAV", "flac": "FLAC", "ogg": "OGG", "oga": "OGG"}.get(
        suffix, suffix.upper()
    )

"""A deterministic corpus of hostile audio inputs, written into a folder on demand.

Every case says what a correct program must do with it:
- ``ok``: it is audio (however odd) and must be analysed, with finite results;
- ``error``: it is not usable audio and must be refused with one clear line;
- ``either``: both are legitimate (a truncated file may still hold readable frames), but
  whichever happens must be clean: a full result or one line, never a traceback or hang.

Run ``python tests/hostile_corpus.py FOLDER`` to write the corpus for manual checks.
"""

from __future__ import annotations

import os
import struct
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

EXTENSIONS = (".wav", ".flac", ".ogg", ".oga", ".mp3", ".aiff", ".aif", ".opus", ".au")


@dataclass(frozen=True)
class Case:
    name: str  # a pytest id: unique, ASCII
    path: Path
    expect: str  # "ok", "error" or "either"
    category: str
    words: tuple[str, ...] = ()  # words the error line must contain (expect == "error")


def _signal(n: int, rate: int, channels: int = 1, seed: int = 0) -> np.ndarray:
    """A tone plus a little noise per channel, (n, channels) float32, peak about 0.6."""
    t = np.arange(n) / rate
    rng = np.random.default_rng(seed)
    cols = [0.5 * np.sin(2 * np.pi * (220 + 110 * c) * t) + 0.05 * rng.standard_normal(n)
            for c in range(channels)]
    return np.stack(cols, axis=1).astype(np.float32)


class _Writer:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.cases: list[Case] = []
        self.rng = np.random.default_rng(1234)

    def add(self, name: str, filename: str, expect: str, category: str,
            make: Callable[[Path], None], words: tuple[str, ...] = ()) -> None:
        folder = self.root / category
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / filename
        make(path)
        self.cases.append(Case(name, path, expect, category, words))

    def audio(self, data: np.ndarray, rate: int, fmt: str | None = None,
              subtype: str | None = None) -> Callable[[Path], None]:
        return lambda p: sf.write(str(p), data, rate, format=fmt, subtype=subtype)

    def raw(self, content: bytes) -> Callable[[Path], None]:
        return lambda p: p.write_bytes(content)

    def encoded(self, fmt: str, subtype: str, seconds: float = 0.5, rate: int = 44100,
                channels: int = 1) -> bytes:
        rate = 48000 if subtype == "OPUS" else rate  # Opus has no 44.1 kHz mode
        tmp = self.root / f".encode{len(self.cases)}.{fmt.lower()}"
        sf.write(str(tmp), _signal(int(seconds * rate), rate, channels), rate,
                 format=fmt, subtype=subtype)
        data = tmp.read_bytes()
        tmp.unlink()
        return data


# the formats every broken-file family is built from: (tag, extension, format, subtype)
VALID_FORMATS = [
    ("wav16", ".wav", "WAV", "PCM_16"), ("wavfloat", ".wav", "WAV", "FLOAT"),
    ("flac", ".flac", "FLAC", "PCM_16"), ("vorbis", ".ogg", "OGG", "VORBIS"),
    ("opus", ".opus", "OGG", "OPUS"), ("mp3", ".mp3", "MP3", "MPEG_LAYER_III"),
    ("aiff", ".aiff", "AIFF", "PCM_16"), ("au", ".au", "AU", "PCM_16"),
]


def _broken_files(w: _Writer) -> None:
    for ext in EXTENSIONS:
        w.add(f"empty{ext}", f"empty{ext}", "error", "empty", w.raw(b""))
    for size in (1, 7, 44, 512, 4096, 65537):
        for ext in EXTENSIONS:
            # libsndfile decodes any bytes named .au as headerless 8-bit mu-law: audio
            expect, words = ("either", ()) if ext == ".au" else \
                ("error", ("not a readable audio file",))
            w.add(f"random{size}{ext}", f"random_{size}{ext}", expect, "random",
                  w.raw(w.rng.bytes(size)), words)
    lookalikes = {
        "text": b"this is not audio\n" * 20, "png": b"\x89PNG\r\n\x1a\n" + bytes(200),
        "zip": b"PK\x03\x04" + bytes(200), "pdf": b"%PDF-1.7\n" + bytes(200),
        "elf": b"\x7fELF\x02\x01\x01" + bytes(200), "json": b'{"samples": [1, 2, 3]}',
        "riff": b"RIFF" + w.rng.bytes(300), "riffwave": b"RIFF\x00\x01\x00\x00WAVE" + bytes(64),
        "flacmagic": b"fLaC" + w.rng.bytes(300), "oggs": b"OggS" + w.rng.bytes(300),
        "id3": b"ID3\x03\x00\x00\x00\x00\x00\x00" + w.rng.bytes(300),
        "form": b"FORM\x00\x00\x01\x00AIFF" + w.rng.bytes(300),
        "snd": b".snd\x00\x00\x00\x18" + w.rng.bytes(300), "utf16": "音".encode("utf-16") * 50,
    }
    for tag, content in lookalikes.items():
        for ext in (".wav", ".mp3"):
            w.add(f"lookalike-{tag}{ext}", f"{tag}{ext}", "either", "lookalike", w.raw(content))


def _truncated_and_corrupt(w: _Writer) -> None:
    for tag, ext, fmt, subtype in VALID_FORMATS:
        full = w.encoded(fmt, subtype)
        for cut in (4, 12, 44, 100):
            w.add(f"truncated-{tag}-{cut}B", f"{tag}_{cut}B{ext}", "either", "truncated",
                  w.raw(full[:cut]))
        for frac in (0.25, 0.5, 0.9):
            w.add(f"truncated-{tag}-{int(frac * 100)}pct", f"{tag}_{int(frac * 100)}pct{ext}",
                  "either", "truncated", w.raw(full[: int(len(full) * frac)]))
        corrupt = bytearray(full)
        lo, hi = len(full) // 3, 2 * len(full) // 3
        corrupt[lo:hi] = w.rng.bytes(hi - lo)
        w.add(f"corrupt-middle-{tag}", f"{tag}_corrupt{ext}", "either", "corrupt",
              w.raw(bytes(corrupt)))
        header = bytearray(full)
        header[8:40] = w.rng.bytes(32)
        w.add(f"corrupt-header-{tag}", f"{tag}_badheader{ext}", "either", "corrupt",
              w.raw(bytes(header)))
    # WAV headers whose fields lie: offsets of the canonical 44-byte header
    base = w.encoded("WAV", "PCM_16")
    edits = {"channels0": (22, "<H", 0), "rate0": (24, "<I", 0), "bits7": (34, "<H", 7),
             "format0x1234": (20, "<H", 0x1234), "blockalign0": (32, "<H", 0),
             "datasize-huge": (40, "<I", 0xFFFFFFF0), "riffsize0": (4, "<I", 0),
             "fmtsize-huge": (16, "<I", 0x7FFFFFFF), "channels65535": (22, "<H", 65535)}
    for tag, (offset, form, value) in edits.items():
        data = bytearray(base)
        struct.pack_into(form, data, offset, value)
        w.add(f"wavheader-{tag}", f"hdr_{tag}.wav", "either", "wavheader", w.raw(bytes(data)))


def _lengths_and_content(w: _Writer) -> None:
    for tag, fmt, subtype, ext in (("wav16", "WAV", "PCM_16", ".wav"),
                                   ("wavfloat", "WAV", "FLOAT", ".wav"),
                                   ("flac", "FLAC", "PCM_16", ".flac"),
                                   ("aiff", "AIFF", "PCM_16", ".aiff"),
                                   ("au", "AU", "PCM_16", ".au")):
        # (libsndfile cannot reopen a FLAC stream without frames: a different line)
        w.add(f"zero-samples-{tag}", f"zero{ext}", "error", "length",
              w.audio(np.zeros((0, 1), np.float32), 44100, fmt, subtype),
              () if tag == "flac" else ("no audio samples",))
    for n in (1, 2, 3, 100, 511, 512, 513, 1023, 1024, 1025, 2048):
        w.add(f"samples-{n}", f"n{n}.wav", "ok", "length",
              w.audio(_signal(n, 44100), 44100, "WAV", "FLOAT"))
    for rate in (8000, 192000):
        w.add(f"one-sample-at-{rate}", f"one_{rate}.wav", "ok", "length",
              w.audio(np.full((1, 1), 0.5, np.float32), rate, "WAV", "FLOAT"))
    r = 44100
    n = r // 2
    t = np.arange(n) / r
    square = np.sign(np.sin(2 * np.pi * 100 * t))[:, None]
    content = {
        "silence16": (np.zeros((n, 1)), "PCM_16"), "silencefloat": (np.zeros((n, 1)), "FLOAT"),
        "silence-long": (np.zeros((5 * r, 1)), "PCM_16"),
        "fullscale-square": (square, "PCM_16"), "clipped-float-x100": (100 * square, "FLOAT"),
        "float-1e30": (1e30 * square, "FLOAT"), "float-max": (3.4e38 * square, "FLOAT"),
        "double-1e300": (1e300 * square, "DOUBLE"), "dc-plus-half": (np.full((n, 1), 0.5),
                                                                     "PCM_16"),
        "dc-minus-one": (np.full((n, 1), -1.0), "FLOAT"),
        "dc-on-tone": (0.7 + 0.2 * _signal(n, r), "FLOAT"),
        "denormals": (np.full((n, 1), 1e-40), "FLOAT"),
        "nyquist": (np.resize([1.0, -1.0], n)[:, None], "FLOAT"),
        "impulse": (np.eye(n, 1), "FLOAT"), "noise": (w.rng.uniform(-1, 1, (n, 1)), "FLOAT"),
    }
    for tag, (data, subtype) in content.items():
        # finite but astronomically loud samples are garbage, refused
        absurd = tag in ("float-1e30", "float-max", "double-1e300")
        w.add(f"content-{tag}", f"{tag}.wav", "error" if absurd else "ok", "content",
              w.audio(data.astype(np.float64), r, "WAV", subtype),
              ("far beyond full scale",) if tag != "double-1e300" else ())
    for subtype in ("FLOAT", "DOUBLE"):
        for tag, value, where in (("nan-start", np.nan, 0), ("nan-middle", np.nan, n // 2),
                                  ("nan-end", np.nan, n - 1), ("inf", np.inf, n // 3),
                                  ("minus-inf", -np.inf, n // 3)):
            data = _signal(n, r).astype(np.float64)
            data[where] = value
            w.add(f"{tag}-{subtype.lower()}", f"{tag}_{subtype.lower()}.wav", "error",
                  "nonfinite", w.audio(data, r, "WAV", subtype), ("nan or infinite",))
    w.add("all-nan", "all_nan.wav", "error", "nonfinite",
          w.audio(np.full((n, 2), np.nan), r, "WAV", "FLOAT"), ("nan or infinite",))


def _layouts(w: _Writer) -> None:
    for ch in range(1, 9):
        for fmt, subtype, ext in (("WAV", "PCM_16", ".wav"), ("FLAC", "PCM_24", ".flac")):
            w.add(f"channels-{ch}{ext}", f"ch{ch}{ext}", "ok", "channels",
                  w.audio(_signal(11025, 44100, ch), 44100, fmt, subtype))
    for rate in (8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000, 88200, 96000,
                 176400, 192000):
        w.add(f"rate-{rate}", f"rate{rate}.wav", "ok", "rate",
              w.audio(_signal(rate // 3, rate), rate, "WAV", "PCM_16"))
    for rate in (7, 100, 1000, 384000, 768000):  # 1 Hz works but soxr takes 7 s
        w.add(f"odd-rate-{rate}", f"oddrate{rate}.wav", "either", "rate",
              w.audio(_signal(max(rate // 4, 8), max(rate, 8)), rate, "WAV", "FLOAT"))
    depths = [("WAV", s) for s in ("PCM_U8", "PCM_16", "PCM_24", "PCM_32", "FLOAT", "DOUBLE",
                                   "ULAW", "ALAW", "IMA_ADPCM", "MS_ADPCM")] + \
        [("AIFF", s) for s in ("PCM_S8", "PCM_U8", "PCM_16", "PCM_24", "PCM_32", "FLOAT",
                               "DOUBLE", "ULAW")] + \
        [("AU", s) for s in ("PCM_S8", "PCM_16", "PCM_24", "FLOAT", "DOUBLE", "ULAW")] + \
        [("FLAC", s) for s in ("PCM_S8", "PCM_16", "PCM_24")] + \
        [("W64", "FLOAT"), ("CAF", "ALAC_16"), ("RF64", "PCM_16")]
    for fmt, subtype in depths:
        ext = {"WAV": ".wav", "AIFF": ".aiff", "AU": ".au", "FLAC": ".flac", "W64": ".w64",
               "CAF": ".caf", "RF64": ".wav"}[fmt]
        w.add(f"depth-{fmt.lower()}-{subtype.lower()}", f"{subtype.lower()}{ext}", "ok",
              "depth", w.audio(_signal(8000, 44100), 44100, fmt, subtype))
    w.add("depth-wav-gsm610", "gsm.wav", "ok", "depth",
          w.audio(_signal(4000, 8000), 8000, "WAV", "GSM610"))
    for tag, ext, fmt, subtype in VALID_FORMATS:
        w.add(f"codec-{tag}", f"codec_{tag}{ext}", "ok", "codec",
              w.raw(w.encoded(fmt, subtype, seconds=0.4)))
    w.add("codec-oga", "vorbis.oga", "ok", "codec", w.raw(w.encoded("OGG", "VORBIS", 0.4)))


HOSTILE_NAMES = ["with spaces.wav", "café crème.wav", "日本語の音.wav", "собака.flac",
                 "🐶 bark.wav", "e\u0301cole.wav", "\u202eevil\u202c.wav", "-starts-dash.wav",
                 "quote's \"double\".wav", "semi;colon $(x) `y`.wav", "x" * 200 + ".wav",
                 "UPPER.WAV", "two.ext.wav.flac", "no_extension", "tab\there.wav",
                 "new\nline.wav", "carriage\rreturn.wav", "percent %s %n.wav"]


def _names(w: _Writer) -> None:
    good = _signal(11025, 44100)
    for i, name in enumerate(HOSTILE_NAMES):
        fmt = "FLAC" if name.endswith(".flac") else "WAV"
        w.add(f"name-ok-{i}", name, "ok", "names", w.audio(good, 44100, fmt, "PCM_16"))
        w.add(f"name-bad-{i}", "bad " + name, "error", "badnames",
              w.raw(b"not audio at all" * 4), ("not a readable audio file",))


def _special_files(w: _Writer) -> None:
    w.add("folder-named-wav", "folder.wav", "error", "special",
          lambda p: p.mkdir(), ("folder",))
    w.add("missing-file", "missing.wav", "error", "special", lambda p: None,
          ("no such file",))
    w.add("broken-symlink", "dangling.wav", "error", "special",
          lambda p: p.symlink_to(p.parent / "nowhere.wav"), ("no such file",))
    w.add("symlink-loop", "loop.wav", "error", "special",
          lambda p: p.symlink_to(p), ())
    w.add("fifo", "pipe.wav", "error", "special", lambda p: os.mkfifo(p), ("not a regular",))
    w.add("dev-zero", "zero_device.wav", "error", "special",
          lambda p: p.symlink_to("/dev/zero"), ("not a regular",))
    w.add("dev-urandom", "urandom.mp3", "error", "special",
          lambda p: p.symlink_to("/dev/urandom"), ("not a regular",))


def build_corpus(root: Path) -> list[Case]:
    """Write every case under ``root`` and return them (about 350, a few MB)."""
    root.mkdir(parents=True, exist_ok=True)
    w = _Writer(root)
    for family in (_broken_files, _truncated_and_corrupt, _lengths_and_content, _layouts,
                   _names, _special_files):
        family(w)
    names = [c.name for c in w.cases]
    assert len(set(names)) == len(names), "case names must be unique"
    return w.cases


def long_clip(path: Path, seconds: float, rate: int = 44100) -> Path:
    """A long 16-bit WAV written a minute at a time (one hour is 318 MB, never in RAM):
    the same minute of tone and noise repeated (440 Hz fits a minute in whole cycles)."""
    n = rate * 60
    t = np.arange(n) / rate
    minute = (0.3 * np.sin(2 * np.pi * 440 * t)
              + 0.05 * np.random.default_rng(7).standard_normal(n)).astype(np.float32)
    total = int(seconds * rate)
    with sf.SoundFile(str(path), "w", rate, 1, "PCM_16", format="WAV") as f:
        for start in range(0, total, n):
            f.write(minute[: min(n, total - start)])
    return path


if __name__ == "__main__":
    cases = build_corpus(Path(sys.argv[1]))
    for expect in ("ok", "error", "either"):
        print(expect, sum(c.expect == expect for c in cases))
    print("total", len(cases))

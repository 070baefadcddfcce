"""The report's PNG encoder and spectrogram pictures, checked by decoding them again."""

from __future__ import annotations

import struct
import zlib

import numpy as np
import pytest

from engine.tools.report.png import RAMP, encode_png, spectrogram_rgb


def decode(data: bytes) -> np.ndarray:
    """Enough of a PNG reader for what encode_png writes (8 bit, filter 0)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, chunks = 8, {}
    while pos < len(data):
        (n,) = struct.unpack(">I", data[pos:pos + 4])
        kind, body = data[pos + 4:pos + 8], data[pos + 8:pos + 8 + n]
        (crc,) = struct.unpack(">I", data[pos + 8 + n:pos + 12 + n])
        assert crc == zlib.crc32(kind + body) & 0xFFFFFFFF
        chunks[kind] = chunks.get(kind, b"") + body
        pos += 12 + n
    w, h, depth, colour = struct.unpack(">IIBB", chunks[b"IHDR"][:10])
    channels = {0: 1, 2: 3}[colour]
    raw = np.frombuffer(zlib.decompress(chunks[b"IDAT"]), np.uint8).reshape(h, -1)
    assert depth == 8 and (raw[:, 0] == 0).all()
    return raw[:, 1:].reshape(h, w, channels).squeeze()


@pytest.mark.parametrize("shape", [(7, 5, 3), (4, 9)])
def test_encode_png_round_trips(shape):
    pixels = np.random.default_rng(0).integers(0, 256, shape, dtype=np.uint8)
    assert np.array_equal(decode(encode_png(pixels)), pixels)


def test_qt_reads_it_too():
    from PySide6.QtGui import QColor, QImage

    pixels = np.zeros((3, 4, 3), np.uint8)
    pixels[2, 1] = (10, 200, 30)
    img = QImage.fromData(encode_png(pixels))
    assert (img.width(), img.height()) == (4, 3)
    assert img.pixelColor(1, 2) == QColor(10, 200, 30)


def test_low_frequencies_are_at_the_bottom_and_loud_is_light():
    values = np.zeros((513, 40), np.float32)
    values[0] = 1.0  # energy in the lowest bin only
    rgb = spectrogram_rgb(values, (0.0, 1.0))
    assert rgb.shape == (257, 40, 3)
    assert (rgb[-1] == RAMP[255]).all() and (rgb[0] == RAMP[0]).all()
    assert RAMP.astype(int).sum(axis=1).tolist() == sorted(RAMP.astype(int).sum(axis=1))


def test_long_clips_are_pooled_to_a_bounded_width():
    values = np.zeros((513, 20_000), np.float32)
    values[:, 12_345] = 1.0  # one loud frame must survive the pooling
    rgb = spectrogram_rgb(values, (0.0, 1.0))
    assert rgb.shape[1] <= 1600 and (rgb.max(axis=(0, 2)) == RAMP[255].max()).sum() == 1


def test_an_empty_picture_is_refused():
    with pytest.raises(ValueError):
        encode_png(np.zeros((0, 3, 3), np.uint8))

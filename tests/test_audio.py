"""engine.dsp.audio: reading any libsndfile format as mono float32 at a requested rate."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from engine.dsp.audio import load_audio, read_audio, resample, save_audio
from engine.runtime.errors import AudioError

RATE = 44100


def _sine(n: int, rate: int, freq: float = 440.0, amp: float = 0.5) -> np.ndarray:
    return amp * np.sin(2 * np.pi * freq * np.arange(n) / rate)


# --- real data -------------------------------------------------------------------------


def test_real_esc10_ogg_loads_as_mono_float32(esc10_clip):
    data, rate = read_audio(esc10_clip)
    assert rate == 44100
    assert data.ndim == 2 and data.shape[1] == 1 and data.dtype == np.float32
    wave = load_audio(esc10_clip, RATE)
    assert wave.ndim == 1 and wave.dtype == np.float32
    assert wave.shape[0] == data.shape[0]  # same rate: no resampling, no length change
    assert abs(wave.shape[0] - 5 * RATE) <= RATE // 10  # ESC-10 clips last 5 s
    assert np.isfinite(wave).all()
    assert 0.0 < np.abs(wave).max() <= 1.0
    np.testing.assert_array_equal(wave, data[:, 0])


def test_real_esc10_ogg_resampled_on_load(esc10_clip):
    native = load_audio(esc10_clip, RATE)
    half = load_audio(esc10_clip, 22050)
    assert half.dtype == np.float32 and half.ndim == 1
    assert abs(half.shape[0] - native.shape[0] / 2) <= 1
    # a band-limited resampler keeps the energy of content below the new Nyquist frequency
    assert 0.5 < np.sqrt(np.mean(half ** 2)) / np.sqrt(np.mean(native ** 2)) < 1.1


def test_real_esc10_classes_all_readable(esc10):
    clips = [sorted(d.glob("*.ogg"))[0] for d in sorted(esc10.iterdir()) if d.is_dir()]
    assert len(clips) == 10
    for clip in clips:
        wave = load_audio(clip, RATE)
        assert wave.ndim == 1 and wave.dtype == np.float32 and wave.size > RATE
        assert read_audio(clip)[1] == 44100


# --- other rates, channel counts and sample formats --------------------------------------

FORMATS = [("wav", "PCM_16"), ("wav", "PCM_24"), ("wav", "FLOAT"),
           ("flac", "PCM_16"), ("flac", "PCM_24")]


@pytest.mark.parametrize("rate", [8000, 48000, 96000])
@pytest.mark.parametrize("channels", [1, 2, 3, 4, 5, 6])
@pytest.mark.parametrize(("ext", "subtype"), FORMATS)
def test_file_loads_as_mono_at_requested_rate(tmp_path, rate, channels, ext, subtype):
    n = rate // 4 + 7  # not a whole number of output samples
    s = _sine(n, rate)
    # channel c carries (c + 1) / channels of the tone: the mono mix is a known multiple
    data = np.stack([s * (c + 1) / channels for c in range(channels)], axis=1)
    path = tmp_path / f"clip.{ext}"
    sf.write(path, data, rate, subtype=subtype)
    assert sf.info(str(path)).channels == channels

    wave = load_audio(path, RATE)
    assert wave.dtype == np.float32 and wave.ndim == 1
    assert abs(wave.shape[0] - n * RATE / rate) <= 1
    gain = (channels + 1) / (2 * channels)
    ref = gain * _sine(wave.shape[0], RATE)
    # away from the resampler's edges, the mono mix is the tone at the new rate
    tol = 1e-3 if subtype == "PCM_16" else 5e-4
    assert np.abs(wave - ref)[300:-300].max() < tol


@pytest.mark.parametrize("rate", [8000, 48000, 96000])
def test_load_at_native_rate_is_untouched(tmp_path, rate):
    s = _sine(1000, rate).astype(np.float32)
    path = tmp_path / "x.wav"
    sf.write(path, s, rate, subtype="FLOAT")
    np.testing.assert_array_equal(load_audio(path, rate), s)
    assert read_audio(path)[1] == rate


def test_resample_lengths_and_dtype():
    x = _sine(4410, RATE)
    for out in (8000, 16000, 48000, 96000):
        y = resample(x, RATE, out)
        assert y.dtype == np.float32
        assert abs(y.shape[0] - 4410 * out / RATE) <= 1
    same = resample(x.astype(np.float64), RATE, RATE)
    assert same.dtype == np.float32 and same.shape == x.shape
    assert resample(np.zeros(0, np.float32), RATE, 8000).shape == (0,)


# --- bad files -------------------------------------------------------------------------


def _one_line_audio_error(path) -> str:
    with pytest.raises(AudioError) as info:
        load_audio(path, RATE)
    msg = str(info.value)
    assert msg and "\n" not in msg, msg
    return msg


def test_missing_file(tmp_path):
    msg = _one_line_audio_error(tmp_path / "nope.wav")
    assert "no such file" in msg


def test_folder_is_not_audio(tmp_path):
    (tmp_path / "d.wav").mkdir()
    assert "folder" in _one_line_audio_error(tmp_path / "d.wav")


def test_text_file_named_wav(tmp_path):
    p = tmp_path / "text.wav"
    p.write_text("this is not audio\nsecond line\n")
    assert "not a readable audio file" in _one_line_audio_error(p)


def test_zero_byte_file(tmp_path):
    p = tmp_path / "empty.flac"
    p.write_bytes(b"")
    msg = _one_line_audio_error(p)
    # the path as the caller gave it (issue 18: one way to name a file everywhere)
    assert msg.startswith(f"{p}:") and "not a readable audio file" in msg


def test_truncated_header(tmp_path):
    p = tmp_path / "trunc.wav"
    sf.write(p, _sine(1000, RATE), RATE)
    p.write_bytes(p.read_bytes()[:20])
    _one_line_audio_error(p)


def test_wav_with_zero_frames(tmp_path):
    p = tmp_path / "zero.wav"
    sf.write(p, np.zeros((0, 1), np.float32), RATE, subtype="PCM_16")
    assert sf.info(str(p)).frames == 0
    assert "no audio samples" in _one_line_audio_error(p)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_float_wav_with_non_finite_samples(tmp_path, bad):
    p = tmp_path / "nan.wav"
    x = _sine(1000, RATE).astype(np.float32)
    x[500] = bad
    sf.write(p, x, RATE, subtype="FLOAT")
    assert "NaN or infinite" in _one_line_audio_error(p)


# --- save_audio ------------------------------------------------------------------------


def test_save_wav_round_trip_is_exact_and_keeps_overs(tmp_path):
    x = _sine(2000, 48000, amp=1.5).astype(np.float32)  # beyond full scale on purpose
    p = tmp_path / "out.wav"
    save_audio(p, x, 48000)
    info = sf.info(str(p))
    assert (info.samplerate, info.channels, info.subtype) == (48000, 1, "FLOAT")
    data, rate = read_audio(p)
    assert rate == 48000
    np.testing.assert_array_equal(data[:, 0], x)


def test_save_without_suffix_writes_float_wav(tmp_path):
    x = _sine(500, 8000).astype(np.float32)
    p = tmp_path / "noext"
    save_audio(p, x, 8000)
    info = sf.info(str(p))
    assert info.format == "WAV" and info.subtype == "FLOAT"
    np.testing.assert_array_equal(read_audio(p)[0][:, 0], x)


def test_save_flac_clips_and_quantises(tmp_path):
    x = _sine(2000, RATE, amp=1.5).astype(np.float32)
    p = tmp_path / "out.flac"
    save_audio(p, x, RATE)
    assert sf.info(str(p)).format == "FLAC"
    y = load_audio(p, RATE)
    assert y.shape == x.shape
    np.testing.assert_allclose(y, np.clip(x, -1, 1), atol=2 / 32768)


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_save_refuses_non_finite(tmp_path, bad):
    x = np.zeros(100, np.float32)
    x[3] = bad
    p = tmp_path / "bad.wav"
    with pytest.raises(AudioError) as info:
        save_audio(p, x, RATE)
    assert "\n" not in str(info.value)
    assert not p.exists()


@pytest.mark.parametrize(("ext", "fmt", "subtype"), [
    (".mp3", "MP3", None), (".ogg", "OGG", "VORBIS"), (".ogg", "OGG", "OPUS"),
])
def test_lossy_formats_load_with_the_right_length(tmp_path, ext, fmt, subtype):
    rate = 48000 if subtype == "OPUS" else 44100  # Opus supports 48 kHz, not 44.1
    path = tmp_path / f"tone{ext}"
    sf.write(str(path), _sine(rate, rate), rate, format=fmt, subtype=subtype)
    wave = load_audio(path, 22050)
    assert wave.dtype == np.float32 and wave.ndim == 1
    assert abs(len(wave) - 22050) <= 1200  # lossy codecs add up to a frame of padding
    assert 0.2 < np.abs(wave).max() < 0.8

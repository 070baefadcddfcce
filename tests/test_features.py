"""engine.dsp.features: one STFT feeds X = log(1 + |STFT|), its phase, and the log-mel input."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from engine.dsp.audio import load_audio
from engine.dsp.features import (
    FrontEndConfig,
    analyse,
    log_mel,
    log_mel_from_log_mag,
    resynthesise,
)

CFG = FrontEndConfig()



def _noise(n: int, seed: int = 0, amp: float = 0.3) -> np.ndarray:
    return (amp * np.random.default_rng(seed).standard_normal(n)).astype(np.float32)


def test_config_defaults_and_round_trip():
    assert CFG.n_freqs == 513
    # 5 s is padded to a whole number of hops (431 hops), hence 432 centred frames
    assert CFG.n_frames(5 * 44100) == 432
    assert CFG.n_frames(512 * 10) == 11
    assert FrontEndConfig.from_dict(CFG.to_dict()) == CFG
    # unknown keys from a newer manifest are ignored, missing keys take defaults
    assert FrontEndConfig.from_dict({"n_fft": 2048, "future": 1}) == FrontEndConfig(n_fft=2048)


def test_five_seconds_shapes():
    s = analyse(_noise(5 * 44100), CFG)
    assert tuple(s.log_mag.shape) == (513, 432)
    assert tuple(s.phase.shape) == (513, 432)
    assert tuple(s.log_mel.shape) == (128, 432)
    assert s.log_mag.dtype == s.phase.dtype == s.log_mel.dtype == torch.float32
    assert (s.log_mag >= 0).all()
    assert (s.phase.abs() <= np.pi + 1e-6).all()


def test_real_clip_shapes(esc10_clip):
    wave = load_audio(esc10_clip, 44100)
    s = analyse(wave, CFG)
    t = CFG.n_frames(wave.shape[0])
    assert tuple(s.log_mag.shape) == (513, t)
    assert tuple(s.log_mel.shape) == (128, t)
    assert torch.isfinite(s.log_mag).all() and torch.isfinite(s.log_mel).all()


def test_log_mel_floor_is_80_db_below_peak():
    # a loud tone followed by digital silence spans far more than 80 dB
    x = np.zeros(44100, np.float32)
    x[:22050] = 0.9 * np.sin(2 * np.pi * 1000 * np.arange(22050) / 44100)
    mel = analyse(x, CFG).log_mel
    peak = float(mel.max())
    assert float(mel.min()) == pytest.approx(peak - 80.0, abs=1e-4)
    # the floor is reached (silent frames) and values above it are kept
    assert (mel <= peak - 80.0 + 1e-4).any()
    assert (mel > peak - 60.0).any()


def test_log_mel_floor_is_per_clip_in_a_batch():
    loud = _noise(8000, seed=1, amp=0.5)
    quiet = loud * 1e-3  # 60 dB lower
    mel = analyse(np.stack([loud, quiet]), CFG).log_mel
    assert tuple(mel.shape) == (2, 128, CFG.n_frames(8000))
    peaks = mel.amax(dim=(-2, -1))
    assert float(peaks[0] - peaks[1]) == pytest.approx(60.0, abs=0.1)
    for b in range(2):
        assert float(mel[b].min()) >= float(peaks[b]) - 80.0 - 1e-4


def test_silence_gives_finite_constant_mel():
    mel = analyse(np.zeros(2048, np.float32), CFG).log_mel
    assert torch.isfinite(mel).all()
    assert float(mel.max()) == float(mel.min()) == pytest.approx(-100.0)


@pytest.mark.parametrize("n", [1, 2, 100, 511, 512, 513, 1000, 4410, 44100])
def test_x_and_mel_share_frames(n):
    s = analyse(_noise(n, seed=n), CFG)
    t = CFG.n_frames(n)
    assert s.log_mag.shape[-1] == s.log_mel.shape[-1] == s.phase.shape[-1] == t
    # the mel really is computed from the frames of X, not from a second analysis
    torch.testing.assert_close(log_mel_from_log_mag(s.log_mag, CFG), s.log_mel,
                               atol=1e-3, rtol=0)
    torch.testing.assert_close(log_mel(_noise(n, seed=n), CFG), s.log_mel)


def test_an_impulse_lands_in_the_same_frame_of_x_and_mel():
    x = np.zeros(44100, np.float32)
    x[512 * 40] = 1.0
    s = analyse(x, CFG)
    assert int(s.log_mag.sum(0).argmax()) == 40
    assert int(s.log_mel.sum(0).argmax()) == 40


def test_resynthesis_reconstructs_the_waveform():
    x = _noise(5 * 44100)
    s = analyse(x, CFG)
    y = resynthesise(s.log_mag, s.phase, CFG, x.shape[0]).numpy()
    assert y.shape == x.shape
    np.testing.assert_allclose(y, x, atol=1e-5)


def test_resynthesis_of_a_real_clip(esc10_clip):
    x = load_audio(esc10_clip, 44100)
    s = analyse(x, CFG)
    y = resynthesise(s.log_mag, s.phase, CFG, x.shape[0]).numpy()
    np.testing.assert_allclose(y, x, atol=1e-5)


@pytest.mark.parametrize("n", [1, 2, 100, 512, 1000, 1024, 3000])
def test_short_signals_round_trip(n):
    x = _noise(n, seed=n)
    s = analyse(x, CFG)
    assert tuple(s.log_mag.shape) == (513, CFG.n_frames(n))
    y = resynthesise(s.log_mag, s.phase, CFG, n).numpy()
    assert y.shape == (n,) and np.isfinite(y).all()
    np.testing.assert_allclose(y, x, atol=1e-4)


def test_batched_resynthesis_matches_single():
    x = np.stack([_noise(3000, 1), _noise(3000, 2)])
    s = analyse(x, CFG)
    y = resynthesise(s.log_mag, s.phase, CFG, 3000)
    assert tuple(y.shape) == (2, 3000)
    single = resynthesise(s.log_mag[1], s.phase[1], CFG, 3000)
    torch.testing.assert_close(y[1], single, atol=1e-6, rtol=0)


def test_resynthesis_ignores_negative_log_magnitudes():
    s = analyse(_noise(2000), CFG)
    neg = resynthesise(-torch.ones_like(s.log_mag), s.phase, CFG, 2000)
    assert torch.count_nonzero(neg) == 0


@pytest.mark.parametrize("n", [512 * 86 + 256, 512 * 86 + 400, 512 * 86 + 500, 512 * 86 + 511])
def test_resynthesis_of_an_attenuated_spectrum_has_no_spike_at_the_end(n):
    """A mask that only attenuates |STFT| (what every explanation does) must not blow up
    the last samples, whatever the clip length."""
    x = _noise(n, seed=n)
    s = analyse(x, CFG)
    y = resynthesise(0.5 * s.log_mag, s.phase, CFG, n).numpy()
    assert np.isfinite(y).all()
    assert np.abs(y).max() <= 2.0 * np.abs(x).max(), (
        f"peak {np.abs(y).max():.2f} at sample {int(np.abs(y).argmax())} of {n}; "
        f"input peak {np.abs(x).max():.2f}")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_matches_cpu():
    x = _noise(3 * 44100)
    cpu = analyse(x, CFG, "cpu")
    gpu = analyse(x, CFG, "cuda")
    assert gpu.log_mag.device.type == "cuda"
    torch.testing.assert_close(gpu.log_mag.cpu(), cpu.log_mag, atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(gpu.log_mel.cpu(), cpu.log_mel, atol=1e-2, rtol=1e-4)
    y = resynthesise(gpu.log_mag, gpu.phase, CFG, x.shape[0]).cpu().numpy()
    np.testing.assert_allclose(y, x, atol=1e-4)

"""The display model without Qt: frequency scales, rows on a scale, the settings."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from l2i_desktop.model.display import (
    Display,
    DisplaySettings,
    FrequencyScale,
    mel_band_centres,
    to_rows,
)


@pytest.mark.parametrize("kind", ["linear", "log", "mel"])
def test_scales_go_there_and_back(kind):
    s = FrequencyScale(kind, 22050.0)
    hz = np.array([20.0, 100.0, 999.0, 1000.0, 1001.0, 8000.0, 22050.0])
    np.testing.assert_allclose(s.to_hz(s.to_pos(hz)), hz, rtol=1e-9)
    lo, hi = s.span
    assert s.to_hz(hi) == pytest.approx(22050.0)
    ticks = s.ticks()
    assert all(lo - 1e-9 <= p <= hi + 1e-9 for p, _ in ticks)
    assert [p for p, _ in ticks] == sorted(p for p, _ in ticks)


def test_mel_centres_are_the_classifiers_band_peaks():
    import torchaudio.functional as AF

    fb = AF.melscale_fbanks(513, 0.0, 22050.0, 128, 44100, norm="slaney",
                            mel_scale="slaney")  # (F, M), as engine/dsp/features.py
    peaks = np.linspace(0, 22050, 513)[torch.argmax(fb, dim=0).numpy()]
    centres = mel_band_centres(128, 0.0, 22050.0)
    assert np.all(np.abs(centres - peaks) <= 22050 / 512)  # within one STFT bin


def test_rows_keep_narrow_peaks_and_interpolate_between_bins():
    hz = np.linspace(0, 22050, 513)
    values = np.zeros((513, 3), np.float32)
    values[300, 1] = 5.0  # one loud bin
    rows = to_rows(values, hz, FrequencyScale("linear", 22050.0), 64)
    assert rows.shape == (64, 3)
    assert rows[:, 1].max() == 5.0 and rows[:, 0].max() == 0.0  # max, not averaged away
    assert np.argmax(rows[:, 1]) == int(hz[300] / 22050 * 64)
    # on a log axis, low rows are narrower than a bin: interpolated, never out of range
    ramp = np.repeat(hz[:, None], 2, axis=1).astype(np.float32)
    low = to_rows(ramp, hz, FrequencyScale("log", 22050.0), 256)
    assert np.all(np.diff(low[:, 0]) >= -1e-3) and low[0, 0] == pytest.approx(20.0, abs=1.0)


def test_display_refuses_an_impossible_range_and_unknown_names():
    d = Display(DisplaySettings(floor_db=-80.0, ceiling_db=-20.0))
    seen = []
    d.changed.connect(seen.append)
    d.set(floor_db=-10.0, ceiling_db=-30.0)  # upside down: the range stays
    assert (d.settings.floor_db, d.settings.ceiling_db) == (-80.0, -20.0) and not seen
    d.set(scale="bark", colormap="jet")  # unknown: the defaults
    assert (d.settings.scale, d.settings.colormap) == ("linear", "magma")
    d.set(scale="log")
    assert seen[-1].scale == "log"
    assert DisplaySettings(floor_db=float("nan")).checked().floor_db == -90.0

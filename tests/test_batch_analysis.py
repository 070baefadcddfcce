"""Analysing clips of one length together (Explainer.analyse_batch, used by `l2i
report`) gives what analysing each alone gives, to float tolerance."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from engine.bundles.bundle import load_bundle
from engine.dsp.audio import load_audio
from engine.explanation.explain import Explainer
from resources import default_bundle_path, examples


@pytest.fixture(scope="module")
def explainer():
    with Explainer(load_bundle(default_bundle_path()), "cpu") as ex:
        yield ex


def _waves(ex: Explainer, n: int, seconds: float) -> list[np.ndarray]:
    rate = ex.cfg.sample_rate
    return [load_audio(path, rate)[: int(seconds * rate)] for _, path in examples()[:n]]


def _close(a, b, what: str, rtol: float = 1e-4, atol: float = 1e-5) -> None:
    a = a.detach().cpu().numpy() if isinstance(a, torch.Tensor) else np.asarray(a)
    b = b.detach().cpu().numpy() if isinstance(b, torch.Tensor) else np.asarray(b)
    np.testing.assert_allclose(a, b, rtol=rtol, atol=atol, err_msg=what)


def test_a_batch_equals_each_clip_alone(explainer):
    waves = _waves(explainer, 4, 4.0)
    together = explainer.analyse_batch(waves)
    assert len(together) == 4
    for wave, got in zip(waves, together):
        alone = explainer.analyse(wave)
        assert got.n_samples == alone.n_samples and np.array_equal(got.wave, wave)
        _close(got.log_mag, alone.log_mag, "log_mag")
        _close(got.log_mel, alone.log_mel, "log_mel", atol=1e-3)  # dB
        _close(got.probabilities, alone.probabilities, "probabilities")
        _close(got.interpreter_probabilities, alone.interpreter_probabilities, "theta")
        _close(got.z, alone.z, "z")
        _close(got.H, alone.H, "H", atol=1e-4)
        assert got.predicted == alone.predicted
        a = explainer.explain(got, None, 0.1, with_components=False)
        b = explainer.explain(alone, None, 0.1, with_components=False)
        assert list(a.selected) == list(b.selected)
        _close(a.interpretation, b.interpretation, "interpretation", atol=1e-4)
    # the clips differ from each other: a batch that mixed them up would fail above
    assert len({int(x.predicted) for x in together}) > 1 or \
        not np.allclose(together[0].probabilities, together[1].probabilities)


def test_clips_of_other_lengths_are_refused_and_bad_audio_is_said(explainer):
    waves = _waves(explainer, 2, 3.0)
    with pytest.raises(ValueError, match="one length"):
        explainer.analyse_batch([waves[0], waves[1][:-100]])
    bad = waves[1].copy()
    bad[10] = np.nan
    with pytest.raises(Exception, match="NaN"):
        explainer.analyse_batch([waves[0], bad])

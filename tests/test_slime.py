"""SLIME (engine/tools/slime.py) on real ESC-10 clips: the surrogate finds a planted relevant
segment, is seeded, its audio adds up to the clip, its faithfulness is L2I's measurement,
and it can be cancelled and resumed."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import random_bundle
from torch import nn

from engine.bundles.bundle import load_bundle
from engine.dsp import features
from engine.dsp.audio import load_audio
from engine.explanation.explain import Analysis, Explainer
from engine.explanation.quality import explain_terms
from engine.runtime.errors import Cancelled, L2IError
from engine.runtime.progress import TaskState
from engine.tools import slime
from resources import default_bundle_path

SMALL = dict(n_samples=8, batch_size=4)


def fold1_clip(esc10, folder: str):
    return sorted((esc10 / folder).glob("1-*.ogg"))[0]


@pytest.fixture(scope="module")
def shipped():
    path = default_bundle_path()
    if path is None:
        pytest.skip("no default bundle in resources/")
    with Explainer(load_bundle(path)) as ex:
        yield ex


@pytest.fixture(scope="module")
def rooster(shipped, esc10):
    return shipped.analyse(load_audio(fold1_clip(esc10, "009 - Rooster"), 44100))


# --- segments and the surrogate -------------------------------------------------------

@pytest.mark.parametrize("seg,count", [("time", 10), ("freq", 8), ("patches", 20)])
def test_segments_tile_the_spectrogram(seg, count):
    fe = features.FrontEndConfig()
    segs = slime.segments(slime.SlimeConfig(segmentation=seg), fe, 431)
    assert len(segs) == count
    masks = slime.segment_masks(segs, fe.n_freqs, 431)
    assert torch.equal(masks.sum(0), torch.ones(fe.n_freqs, 431))  # each cell exactly once
    edges = slime.band_edges(fe, 8)
    assert edges[0] == 0 and edges[-1] == fe.n_freqs and np.all(np.diff(edges) > 0)
    assert np.all(np.diff(np.diff(edges)) >= 0)  # mel-spaced: wider bands higher up
    assert segs[0].label(fe).startswith("0.00-")


def test_surrogate_recovers_an_exact_linear_model():
    rng = np.random.default_rng(3)
    z = rng.integers(0, 2, size=(200, 12))
    w = rng.normal(size=12)
    fit = slime.fit_surrogate(z, 0.3 + z @ w, width=0.25, ridge=0.0)
    np.testing.assert_allclose(fit.weights, w, atol=1e-9)
    assert fit.intercept == pytest.approx(0.3) and fit.score == pytest.approx(1.0)
    assert slime.select_segments(w, top=3, threshold=0.0) == list(np.argsort(-w)[:3])
    assert slime.select_segments(-np.abs(w), top=3) == []  # nothing positive: nothing


# --- a classifier whose answer depends on one region only ------------------------------

class RegionEnergy(nn.Module):
    """Class 0 when the mean log-mel (dB) over some mel rows and frames is high, class 2
    when it is low, class 1 never: the one relevant region is known."""

    def __init__(self, rows: list[int], frames: slice, threshold: float, scale: float):
        super().__init__()
        self.tap = nn.Identity()
        self.rows, self.frames, self.threshold, self.scale = rows, frames, threshold, scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        e = self.tap(x)[:, self.rows, self.frames].mean(dim=(-2, -1))
        logit = (e - self.threshold) * self.scale
        return torch.stack([logit, torch.zeros_like(logit), -logit], dim=-1)


def planted_explainer(wave: np.ndarray, seg: slime.Segment) -> Explainer:
    fe = features.FrontEndConfig()
    fb = features._mel_matrix(fe, "cpu")  # (mels, F): rows wholly inside the segment
    inside = [r for r in range(fe.n_mels)
              if fb[r].sum() > 0 and fb[r, :seg.f0 + 2].sum() == 0
              and fb[r, seg.f1 - 2:].sum() == 0]
    assert inside, "no mel row inside the planted band"
    frames = slice(seg.t0 + 2, seg.t1 - 2)
    spec = features.analyse(wave, fe)
    mask = torch.zeros_like(spec.log_mag)
    mask[seg.f0:seg.f1, seg.t0:seg.t1] = 1
    off = features.resynthesise(spec.log_mag * (1 - mask), spec.phase, fe, len(wave))

    def energy(w):
        return float(features.log_mel(w, fe)[inside, frames].mean())

    e_on, e_off = energy(wave), energy(off)
    assert e_on - e_off > 10, "the clip has too little energy in the planted region"
    bundle = random_bundle(n_classes=3)
    bundle.classifier = RegionEnergy(inside, frames, (e_on + e_off) / 2, 10 / (e_on - e_off))
    bundle.manifest["layers"] = ["tap"]
    return Explainer(bundle)


def plain_analysis(ex: Explainer, wave: np.ndarray) -> Analysis:
    """What SLIME reads of an analysis, without an interpreter."""
    spec = features.analyse(wave, ex.cfg)
    p = ex.classify_waves(torch.as_tensor(wave)[None])[0].numpy()
    T = spec.log_mag.shape[-1]
    return Analysis(wave, ex.cfg.sample_rate, spec.log_mag, spec.phase, spec.log_mel, p, p,
                    torch.zeros(3, T), torch.zeros(3), ["loud", "never", "quiet"])


@pytest.mark.parametrize("seg,planted", [("time", 6), ("freq", 4), ("patches", 9)])
def test_weights_find_a_planted_relevant_segment(esc10, seg, planted):
    wave = load_audio(fold1_clip(esc10, "007 - Helicopter"), 44100)[:5 * 44100]
    config = slime.SlimeConfig(segmentation=seg, n_samples=48, batch_size=16, seed=1)
    segs = slime.segments(config, features.FrontEndConfig(), 431)
    with planted_explainer(wave, segs[planted]) as ex:
        a = plain_analysis(ex, wave)
        assert a.predicted == 0 and a.probabilities[0] > 0.95
        exp = slime.explain(ex, a, 0, config)
        others = np.delete(exp.weights, planted)
        assert int(np.argmax(exp.weights)) == planted
        assert exp.weights[planted] > 0.5 and np.abs(others).max() < 0.1 * exp.weights[planted]
        assert exp.selected == [planted]  # the rest is below tau x the largest weight
        inverse = slime.explain(ex, a, 2, config, perturbations=exp.perturbations)
        assert int(np.argmin(inverse.weights)) == planted and inverse.selected == []


# --- the shipped bundle on a real clip ------------------------------------------------

def test_same_seed_same_explanation_other_seed_differs(shipped, rooster):
    cfg = slime.SlimeConfig(segmentation="time", seed=5, **SMALL)
    a, b = slime.explain(shipped, rooster, None, cfg), slime.explain(shipped, rooster, None, cfg)
    assert np.array_equal(a.perturbations.z, b.perturbations.z)
    assert np.array_equal(a.weights, b.weights) and a.selected == b.selected
    c = slime.explain(shipped, rooster, None, slime.SlimeConfig(segmentation="time", seed=6,
                                                                **SMALL))
    assert not np.array_equal(a.perturbations.z, c.perturbations.z)
    assert not np.allclose(a.weights, c.weights)


def test_explanation_and_residual_add_up_to_the_clip(shipped, rooster):
    exp = slime.explain(shipped, rooster, None,
                        slime.SlimeConfig(segmentation="patches", top=3, threshold=0.0,
                                          **SMALL))
    assert 1 <= len(exp.selected) <= 3 and all(exp.weights[j] > 0 for j in exp.selected)
    union = slime.segment_masks([exp.segments[j] for j in exp.selected],
                                *rooster.log_mag.shape).sum(0).numpy()
    assert set(np.unique(exp.mask)) <= {0.0, 1.0}
    np.testing.assert_array_equal(exp.mask, union)
    X = rooster.log_mag.numpy()
    # a 0/1 mask keeps or removes each cell in either mask domain (the shipped bundle's
    # is linear: log1p(expm1(x)) rounds at 1e-7)
    np.testing.assert_allclose(exp.interpretation_log_mag, X * exp.mask, rtol=1e-5, atol=1e-7)
    assert exp.interpretation.shape == exp.residual.shape == rooster.wave.shape
    err = np.abs(exp.interpretation + exp.residual - rooster.wave).max()
    assert err < 1e-4 * np.abs(rooster.wave).max()
    assert np.linalg.norm(exp.interpretation) > 0.05 * np.linalg.norm(rooster.wave)


def test_faithfulness_is_measured_as_for_l2i(shipped, rooster):
    c, tau = rooster.predicted, 0.1
    l2i = shipped.explain(rooster, c, tau, with_components=False)
    exp = slime.explain(shipped, rooster, c, slime.SlimeConfig(segmentation="freq", **SMALL))
    got = slime.compare(shipped, rooster, c, {"l2i": slime.l2i_mask(shipped, rooster,
                                                                    l2i.selected),
                                              "slime": torch.as_tensor(exp.mask)})
    ref = explain_terms(shipped, rooster, tau)  # L2I's own measurement (quality.py)
    assert got["l2i"].ff == pytest.approx(ref.faithfulness, abs=1e-6)
    assert got["l2i"].fidelity_in == bool(ref.fidelity_in)
    # SLIME's masked-out input is the residual it plays: classify that audio directly
    q = shipped.classify_waves(torch.as_tensor(exp.residual)[None])[0].numpy()
    o = shipped.classify_waves(torch.as_tensor(exp.interpretation)[None])[0].numpy()
    p = rooster.probabilities
    assert got["slime"].ff == pytest.approx(p[c] - q[c], abs=1e-5)
    assert got["slime"].kept == pytest.approx(o[c], abs=1e-5)
    assert got["slime"].fraction == pytest.approx(float(exp.mask.mean()))


def test_another_class_reuses_the_classifications(shipped, rooster, monkeypatch):
    cfg = slime.SlimeConfig(segmentation="time", **SMALL)
    first = slime.explain(shipped, rooster, None, cfg)
    other = (rooster.predicted + 1) % len(rooster.classes)
    calls = []
    real = shipped.classify_waves
    monkeypatch.setattr(shipped, "classify_waves", lambda w: calls.append(1) or real(w))
    again = slime.explain(shipped, rooster, other, cfg, perturbations=first.perturbations)
    assert calls == []  # no new classification for the other class
    monkeypatch.undo()
    fresh = slime.explain(shipped, rooster, other, cfg)
    np.testing.assert_allclose(again.weights, fresh.weights, atol=1e-9)


def test_cancel_stops_between_batches_and_resume_finishes(shipped, rooster):
    cfg = slime.SlimeConfig(segmentation="patches", n_samples=12, batch_size=4)
    reports = []
    task = TaskState(on_report=lambda r: (reports.append(r.done), task.cancel()))
    pert = slime.plan(shipped, rooster, cfg)
    with pytest.raises(Cancelled):
        slime.perturb(shipped, rooster, cfg, task, pert)
    assert reports == [4] and pert.done == 4 and not pert.complete
    assert not pert.probabilities[4:].any()
    done = slime.perturb(shipped, rooster, cfg, None, pert)
    assert done is pert and pert.complete
    whole = slime.perturb(shipped, rooster, cfg)
    np.testing.assert_allclose(pert.probabilities, whole.probabilities, atol=1e-6)
    other_clip = slime.plan(shipped, rooster, slime.SlimeConfig(segmentation="time",
                                                                n_samples=12))
    assert not other_clip.fits(cfg)


def test_bad_settings_and_long_clips_are_one_line_errors(shipped, rooster):
    bad = [slime.SlimeConfig(segmentation="bands"), slime.SlimeConfig(n_samples=1),
           slime.SlimeConfig(top=0), slime.SlimeConfig(threshold=1.0),
           slime.SlimeConfig(segmentation="time", time_segments=10_000)]
    for cfg in bad:
        with pytest.raises(L2IError) as err:
            slime.explain(shipped, rooster, None, cfg)
        assert "\n" not in str(err.value)
    n = 61 * 44100
    long = Analysis(np.zeros(n, np.float32), 44100, torch.zeros(513, 5), torch.zeros(513, 5),
                    torch.zeros(128, 5), rooster.probabilities, rooster.probabilities,
                    rooster.H, rooster.z, rooster.classes)
    with pytest.raises(L2IError, match="up to 60 s"):
        slime.perturb(shipped, long, slime.SlimeConfig(**SMALL))
    with pytest.raises(L2IError, match="out of range"):
        slime.explain(shipped, rooster, 99, slime.SlimeConfig(**SMALL))

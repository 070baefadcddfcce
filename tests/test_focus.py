"""The focus metric: SI-SDR, 0 dB mixtures, the ceilings, the seeded mixture set, and the
evaluation on real mixtures with the shipped bundle."""

from __future__ import annotations

import json

import numpy as np
import pytest

from engine.dsp.features import FrontEndConfig
from engine.explanation.focus import (
    SubsetScorer,
    gain_db,
    ideal_ratio_mask_wave,
    mix_pair,
    mixture_pairs,
    si_sdr,
)

RNG = np.random.default_rng(0)


def _orthogonal_to(s: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A centred signal orthogonal to the centred ``s``."""
    s = s - s.mean()
    e = rng.standard_normal(len(s))
    e -= e.mean()
    e -= (e @ s) / (s @ s) * s
    return e


@pytest.mark.parametrize("snr_db", [-10.0, 0.0, 7.5, 30.0])
def test_si_sdr_of_a_known_distortion(snr_db):
    s = RNG.standard_normal(8000)
    s -= s.mean()
    e = _orthogonal_to(s, RNG)
    e *= np.sqrt((s @ s) / (e @ e) / 10 ** (snr_db / 10))
    assert si_sdr(s + e, s) == pytest.approx(snr_db, abs=1e-6)
    # scale and offset do not matter; the reference's scale neither
    assert si_sdr(-3.0 * (s + e) + 0.7, 2.0 * s) == pytest.approx(snr_db, abs=1e-6)


def test_si_sdr_edge_cases():
    s = RNG.standard_normal(1000)
    assert si_sdr(np.zeros(1000), s) == float("-inf")  # nothing of s is there
    assert si_sdr(s, s) > 100
    with pytest.raises(ValueError, match="differ in length"):
        si_sdr(s[:10], s)


def test_gain_is_exactly_zero_for_the_mixture_itself():
    a, b = RNG.standard_normal(4000), RNG.standard_normal(4000)
    m, a, b = mix_pair(a, b)
    assert gain_db(m, m, a) == 0.0
    assert gain_db(a, m, a) > 100 and gain_db(b, m, a) < -20


def test_mix_pair_is_0_db_with_a_peak_of_0_9():
    a = 5.0 * RNG.standard_normal(3000)
    b = 0.01 * np.sin(np.arange(3000) / 7.0)
    m, a2, b2 = mix_pair(a, b)
    assert np.array_equal(m, a2 + b2)
    assert float(np.abs(m).max()) == pytest.approx(0.9, rel=1e-6)
    assert 10 * np.log10((a2.astype(np.float64) ** 2).sum() / (b2.astype(np.float64) ** 2)
                         .sum()) == pytest.approx(0.0, abs=1e-5)
    with pytest.raises(ValueError, match="silent"):
        mix_pair(a, np.zeros(3000))


def test_mixture_pairs_are_seeded_distinct_and_of_different_classes():
    labels = np.repeat(np.arange(5), 8)
    rows = np.arange(40)
    first = mixture_pairs(labels, rows, 200, seed=3)
    assert first == mixture_pairs(labels, rows, 200, seed=3)
    assert first != mixture_pairs(labels, rows, 200, seed=4)
    assert len(first) == 200
    assert all(labels[a] != labels[b] for a, b in first)
    assert len({frozenset(p) for p in first}) == 200
    # both orders occur: neither source is always "a"
    assert 40 < sum(a < b for a, b in first) < 160
    # asking for more than exist gives them all, once
    small = mixture_pairs(np.array([0, 0, 1, 1]), [0, 1, 2, 3], 50)
    assert sorted(tuple(sorted(p)) for p in small) == [(0, 2), (0, 3), (1, 2), (1, 3)]


def test_ideal_ratio_mask_separates_sources_that_do_not_overlap():
    cfg = FrontEndConfig()
    t = np.arange(cfg.sample_rate) / cfg.sample_rate
    low = np.sin(2 * np.pi * 220 * t) * (1 + 0.3 * np.sin(2 * np.pi * 2 * t))
    high = np.sin(2 * np.pi * 6000 * t + 1.0)
    m, a, b = mix_pair(low, high)
    irm = ideal_ratio_mask_wave(a, b, cfg)
    assert si_sdr(m, a) == pytest.approx(0.0, abs=0.1)
    assert gain_db(irm, m, a) > 25
    # the mask of the other source gives the other one
    assert gain_db(ideal_ratio_mask_wave(b, a, cfg), m, b) > 25


def test_subset_scorer_equals_si_sdr_of_the_summed_waves():
    waves = RNG.standard_normal((6, 2000))
    ref = waves[[1, 4]].sum(axis=0) + 0.3 * RNG.standard_normal(2000)
    sc = SubsetScorer.of(waves, ref)
    for subset in ([0], [1, 4], [0, 2, 3, 5], list(range(6))):
        assert sc.score(subset) == pytest.approx(si_sdr(waves[subset].sum(axis=0), ref),
                                                 abs=1e-9)
    w = np.array([0.2, 1.0, 0.0, 0.5, 0.9, 0.1])
    assert sc.score_weighted(w) == pytest.approx(si_sdr(w @ waves, ref), abs=1e-9)
    assert sc.score([]) == float("-inf")


def test_greedy_subset_finds_the_components_of_a_synthetic_source():
    """Source = components 1, 3 and 6 of eight; the rest belong to another source."""
    waves = RNG.standard_normal((8, 3000))
    source = waves[[1, 3, 6]].sum(axis=0)
    chosen, best = SubsetScorer.of(waves, source).greedy()
    assert sorted(chosen) == [1, 3, 6] and best > 100
    chosen, _ = SubsetScorer.of(waves, source).greedy(candidates=[0, 1, 2], max_size=1)
    assert chosen == [1]


# --- real mixtures, the shipped bundle ------------------------------------------------


@pytest.fixture(scope="module")
def shipped_explainer():
    from engine.bundles.bundle import load_bundle
    from engine.explanation.explain import Explainer
    from resources import default_bundle_path

    with Explainer(load_bundle(default_bundle_path())) as ex:
        yield ex


def test_focus_evaluation_on_real_mixtures(esc10, shipped_explainer):
    from trainer.datasets import load_dataset
    from trainer.focus_eval import evaluate_focus

    ds = load_dataset(esc10)
    _, rows = ds.split(1)
    first = evaluate_focus(shipped_explainer, ds, rows, 4, seed=5)
    again = evaluate_focus(shipped_explainer, ds, rows, 4, seed=5)
    assert first == again  # the whole set and every number are reproducible
    assert first["mixtures"] == 4 and len(first["rows"]) == 4
    for r in first["rows"]:
        assert r["explained_class"] != r["other_class"]
        assert r["case"] in ("top", "missed")
        # the ceilings are ceilings: the oracle mask beats the explanation
        assert r["irm_db"] > r["gain_db"] and r["irm_db"] > 5
        assert r["subset_db"] >= r["gain_db"] - 0.5  # greedy, not exhaustive
    top = [r["gain_db"] for r in first["rows"] if r["case"] == "top"]
    assert first["median_gain_db"] == (float(np.median(top)) if top else None)
    json.dumps(first, allow_nan=False)  # plain JSON: no infinities


def test_evaluate_cli_writes_the_focus_section(esc10, cache_dir, tmp_path, capsys):
    from resources import default_bundle_path
    from trainer.cli import main

    out = tmp_path / "eval.json"
    rc = main(["evaluate", "--bundle", str(default_bundle_path()), "--data", str(esc10),
               "--test-fold", "1", "--focus", "3", "--focus-only", "--json", str(out),
               "--cache", str(cache_dir), "--device", "cpu"])
    assert rc == 0
    doc = json.loads(out.read_text())
    assert set(doc) == {"evaluated_on", "focus"}
    focus = doc["focus"]
    assert {"median_gain_db", "median_gain_other_db", "ceiling_irm_db",
            "ceiling_subset_db", "random_db", "mixtures"} <= set(focus)
    assert focus["mixtures"] == 3
    assert "focus on 3 mixtures" in capsys.readouterr().out
    assert main(["evaluate", "--bundle", str(default_bundle_path()), "--data", str(esc10),
                 "--test-fold", "1", "--focus-only", "--cache", str(cache_dir)]) == 2

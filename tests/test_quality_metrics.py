"""AI, AD, AG, FF, Fid-In, SPS and COMP against hand-computed values, and the
contaminated-input generators (their signal-to-contaminant ratios, their sources)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from conftest import DATA, need

from engine.explanation.quality import clip_terms, gini, mask_entropy, summarise
from trainer.contaminate import WEIGHTS, Contaminator, mix, other_class_picker


def test_gini_by_hand():
    assert gini(np.ones(4)) == pytest.approx(0.0)
    assert gini(np.array([0, 0, 0, 1.0])) == pytest.approx(0.75)  # 1 - 1/N
    # sorted shares .1 .2 .3 .4, weights 3.5 2.5 1.5 .5 (/4): 1 - 2 * 0.375
    assert gini(np.array([[4.0, 1.0], [3.0, 2.0]])) == pytest.approx(0.25)
    assert gini(np.array([-4.0, 1, 3, 2])) == pytest.approx(0.25)  # of |mask|
    assert gini(np.zeros(5)) == 0.0


def test_mask_entropy_by_hand():
    assert mask_entropy(np.array([1.0, 1.0, 0.0, 0.0])) == pytest.approx(math.log(2))
    assert mask_entropy(np.array([1.0, 3.0])) == pytest.approx(
        -(0.25 * math.log(0.25) + 0.75 * math.log(0.75)))
    assert mask_entropy(np.zeros(3)) == 0.0


def test_clip_terms_by_hand():
    p = np.array([0.6, 0.3, 0.1])
    kept = clip_terms(p, np.array([0.7, 0.2, 0.1]), np.array([0.2, 0.5, 0.3]), np.eye(2))
    assert kept.increase == 1 and kept.drop == 0
    assert kept.gain == pytest.approx(0.1 / 0.4)
    assert kept.faithfulness == pytest.approx(0.4)
    assert kept.fidelity_in == 1
    assert kept.sparseness == pytest.approx(gini(np.eye(2)))
    lost = clip_terms(p, np.array([0.3, 0.6, 0.1]), np.array([0.7, 0.2, 0.1]), np.ones(3))
    assert lost.increase == 0 and lost.gain == 0
    assert lost.drop == pytest.approx(0.3 / 0.6)
    assert lost.faithfulness == pytest.approx(-0.1)  # removing it made class 0 likelier
    assert lost.fidelity_in == 0


def test_summarise_scales_ai_ad_ag_to_percent():
    p = np.array([0.6, 0.4])
    a = clip_terms(p, np.array([0.8, 0.2]), np.array([0.1, 0.9]), np.array([1.0, 0.0]))
    b = clip_terms(p, np.array([0.3, 0.7]), np.array([0.5, 0.5]), np.array([1.0, 1.0]))
    s = summarise([a, b])
    assert s["AI"] == pytest.approx(50.0)
    assert s["AD"] == pytest.approx(100 * (0 + 0.3 / 0.6) / 2)
    assert s["AG"] == pytest.approx(100 * (0.2 / 0.4 + 0) / 2)
    assert s["FF"] == pytest.approx((0.5 + 0.1) / 2)
    assert s["Fid-In"] == pytest.approx(0.5)
    assert s["SPS"] == pytest.approx(0.25) and s["COMP"] == pytest.approx(math.log(2) / 2)


def _weights_of(out: np.ndarray, s: np.ndarray, n: np.ndarray) -> tuple[float, float]:
    """Least-squares a, b with out = a s + b n."""
    (a, b), *_ = np.linalg.lstsq(np.stack([s, n], 1).astype(np.float64), out, rcond=None)
    return a, b


def test_mix_keeps_the_level_and_sets_the_ratio():
    rng = np.random.default_rng(0)
    s = np.sin(np.linspace(0, 300, 20000)).astype(np.float32) * 0.3
    n = rng.standard_normal(20000).astype(np.float32) * 5
    for kind, (ws, wn) in WEIGHTS.items():
        out = mix(s, n, ws, wn)
        assert np.linalg.norm(out) == pytest.approx(np.linalg.norm(s), rel=1e-5), kind
        a, b = _weights_of(out, s, n)
        snr_db = 20 * np.log10(abs(a) * np.linalg.norm(s) / (abs(b) * np.linalg.norm(n)))
        assert snr_db == pytest.approx(20 * np.log10(ws / wn), abs=1e-3), kind
    assert np.array_equal(mix(np.zeros(10), n[:10], 0.8, 0.2), np.zeros(10))


def test_white_copies_are_seeded_distinct_and_at_6_db():
    s = np.sin(np.linspace(0, 900, 44100)).astype(np.float32)
    one = Contaminator("white", 44100, seed=1).copies(s, 0)
    again = Contaminator("white", 44100, seed=1).copies(s, 0)
    other = Contaminator("white", 44100, seed=2).copies(s, 0)
    assert len(one) == 2 and not np.allclose(one[0], one[1])
    assert all(np.array_equal(x, y) for x, y in zip(one, again))
    assert not np.allclose(one[0], other[0])
    for c in one:
        a = float(c @ s) / float(s @ s)
        noise = c - a * s
        snr_db = 10 * np.log10(float((a * s) @ (a * s)) / float(noise @ noise))
        assert snr_db == pytest.approx(20 * np.log10(2.0), abs=0.2)


def test_mixtures_take_a_clip_of_another_class():
    labels = np.array([0, 0, 1, 2, 2])
    clips = {r: np.full(100, float(r + 1), dtype=np.float32) for r in range(5)}
    pick = other_class_picker(lambda r: clips[r], labels, range(5))
    cont = Contaminator("mixture", 44100, seed=0, others=pick)
    s = np.random.default_rng(3).standard_normal(100).astype(np.float32)
    rng = np.random.default_rng(0)
    for _ in range(30):
        assert pick(1, rng)[0] != 3.0  # label 1 is row 2 alone: never picked for 1
        assert pick(0, rng)[0] not in (1.0, 2.0)
    for c in cont.copies(s, 0):
        a, b = _weights_of(c, s, np.ones(100))
        assert b != pytest.approx(0.0) and a > 0


def test_speech_places_a_spoken_digit_at_12_db():
    fsdd = need(DATA / "fsdd")
    s = np.sin(np.linspace(0, 3000, 5 * 44100)).astype(np.float32)
    copies = Contaminator("speech", 44100, seed=0, speech_dir=fsdd).copies(s, 0)
    for c in copies:
        a = float(c @ s) / float(s @ s)
        noise = c - a * s
        # the digit is shorter than the clip: silence around it
        assert (np.abs(noise) < 1e-3).mean() > 0.4
        snr_db = 10 * np.log10(float((a * s) @ (a * s)) / float(noise @ noise))
        assert snr_db == pytest.approx(20 * np.log10(4.0), abs=0.5)


def test_unknown_kind_and_missing_speech_are_clear_errors(tmp_path):
    from engine.runtime.errors import L2IError
    with pytest.raises(L2IError, match="unknown contamination"):
        Contaminator("pink", 44100)
    with pytest.raises(L2IError, match="no spoken-digit"):
        Contaminator("speech", 44100, speech_dir=tmp_path)
    with pytest.raises(L2IError, match="need other clips"):
        Contaminator("mixture", 44100)

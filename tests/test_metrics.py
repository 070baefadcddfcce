"""engine.explanation.metrics against values worked out by hand on small fixtures."""

from __future__ import annotations

import math

import numpy as np
import pytest

from engine.explanation.metrics import (
    accuracy,
    auprc,
    binarise,
    faithfulness,
    max_micro_f1,
    median_or_nan,
    multilabel_fidelity,
    topk_fidelity,
)

# four clips, four classes
CLF = np.array([
    [0.7, 0.1, 0.1, 0.1],  # argmax 0
    [0.1, 0.6, 0.2, 0.1],  # argmax 1
    [0.2, 0.2, 0.5, 0.1],  # argmax 2
    [0.1, 0.1, 0.1, 0.7],  # argmax 3
])
INT = np.array([
    [0.6, 0.2, 0.1, 0.1],  # class 0 ranked 1st
    [0.5, 0.3, 0.15, 0.05],  # class 1 ranked 2nd
    [0.4, 0.3, 0.2, 0.1],  # class 2 ranked 3rd
    [0.4, 0.3, 0.2, 0.1],  # class 3 ranked 4th
])


def test_accuracy():
    assert accuracy(CLF, np.array([0, 1, 2, 3])) == 1.0
    assert accuracy(CLF, np.array([0, 1, 0, 0])) == 0.5
    assert accuracy(INT, [0, 0, 0, 0]) == 1.0
    assert accuracy(INT, [1, 1, 1, 1]) == 0.0


def test_topk_fidelity():
    assert topk_fidelity(CLF, INT, ks=(1, 2, 3, 4)) == {
        "top1": 0.25, "top2": 0.5, "top3": 0.75, "top4": 1.0}
    # the default keys, and k beyond the number of classes counts every class
    assert topk_fidelity(CLF, INT) == {"top1": 0.25, "top3": 0.75, "top5": 1.0}
    assert topk_fidelity(CLF, CLF, ks=(1,)) == {"top1": 1.0}


def test_topk_fidelity_ties_are_broken_by_class_order():
    clf = np.array([[0.0, 1.0]])
    tie = np.array([[0.5, 0.5]])
    assert topk_fidelity(clf, tie, ks=(1, 2)) == {"top1": 0.0, "top2": 1.0}


TRUTH = np.array([[1, 0], [0, 1], [1, 0], [0, 0]])
SCORES = np.array([[0.9, 0.2], [0.8, 0.7], [0.3, 0.1], [0.1, 0.6]])


def test_auprc_by_hand():
    # class 0: ranking 1 0 1 0  -> AP = 1/2 * 1 + 1/2 * 2/3 = 5/6
    # class 1: its only positive ranks first -> AP = 1
    # micro: ranking 1 0 1 0 1 0 0 0 -> AP = (1 + 2/3 + 3/5) / 3
    out = auprc(TRUTH, SCORES)
    assert out["macro_auprc"] == pytest.approx((5 / 6 + 1) / 2)
    assert out["micro_auprc"] == pytest.approx((1 + 2 / 3 + 3 / 5) / 3)


def test_auprc_skips_absent_classes_and_empty_truth():
    truth = np.array([[1, 0], [0, 0]])
    scores = np.array([[0.4, 0.9], [0.6, 0.1]])
    out = auprc(truth, scores)
    assert out["macro_auprc"] == pytest.approx(0.5)  # only class 0 counts: 0 1 ranking
    assert auprc(np.zeros((2, 2)), scores) == {"macro_auprc": 0.0, "micro_auprc": 0.0}


def test_max_micro_f1_by_hand():
    # cut after the 5th score: precision 3/5, recall 1 -> F1 = 0.75 (the best cut)
    assert max_micro_f1(TRUTH, SCORES) == pytest.approx(0.75)
    assert max_micro_f1(TRUTH, TRUTH.astype(float)) == pytest.approx(1.0)
    assert max_micro_f1(np.zeros((3, 2)), SCORES[:3]) == 0.0


def test_binarise():
    np.testing.assert_array_equal(binarise(np.array([0.2, 0.5, 0.7])), [0, 1, 1])
    np.testing.assert_array_equal(binarise(np.array([0.2, 0.5, 0.7]), 0.6), [0, 0, 1])


def test_multilabel_fidelity():
    clf = np.array([[0.9, 0.1, 0.6], [0.2, 0.6, 0.4], [0.7, 0.3, 0.1]])
    # classifier decisions at 0.5: [[1,0,1],[0,1,0],[1,0,0]]
    perfect = np.array([[0.8, 0.1, 0.7], [0.1, 0.9, 0.2], [0.9, 0.2, 0.3]])
    out = multilabel_fidelity(clf, perfect)
    assert out == pytest.approx({"macro_auprc": 1.0, "micro_auprc": 1.0, "max_f1": 1.0})
    # the interpreter swaps its scores for class 2
    swapped = perfect.copy()
    swapped[:, 2] = [0.2, 0.7, 0.3]
    out = multilabel_fidelity(clf, swapped)
    # class 2: positive (clip 0) ranks last of 3 -> AP 1/3; classes 0, 1 perfect
    assert out["macro_auprc"] == pytest.approx((1 + 1 + 1 / 3) / 3)
    # flattened: 0.9 1, 0.9 1, 0.8 1, 0.7 0, 0.3 0, then a tie at 0.2 (one positive, one
    # negative) taken as one cut: recall steps 1/2, 1/4, 1/4 at precision 1, 1, 4/7
    assert out["micro_auprc"] == pytest.approx(0.5 + 0.25 + 0.25 * 4 / 7)
    # best cut: after the first three (P 1, R 3/4) -> F1 = 6/7
    assert out["max_f1"] == pytest.approx(6 / 7)
    # another threshold changes the decisions that are the target
    assert multilabel_fidelity(clf, perfect, threshold=0.95)["max_f1"] == 0.0


def test_faithfulness():
    ff = faithfulness([0.9, 0.5, 0.2], np.array([0.1, 0.5, 0.4]))
    np.testing.assert_allclose(ff, [0.8, 0.0, -0.2])
    assert ff.dtype == np.float64


def test_median_or_nan():
    assert median_or_nan([3.0, 1.0, 2.0]) == 2.0
    assert median_or_nan([1.0, 2.0]) == 1.5
    assert math.isnan(median_or_nan([]))

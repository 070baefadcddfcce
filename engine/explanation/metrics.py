"""Agreement and faithfulness metrics of the paper (pure functions on arrays)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sklearn.metrics import average_precision_score, precision_recall_curve


def accuracy(probabilities: np.ndarray, labels: np.ndarray) -> float:
    """Share of rows whose argmax equals the integer label."""
    return float(np.mean(np.argmax(probabilities, axis=1) == np.asarray(labels)))


def topk_fidelity(classifier_probs: np.ndarray, interpreter_probs: np.ndarray,
                  ks: Sequence[int] = (1, 3, 5)) -> dict[str, float]:
    """Share of clips whose classifier argmax is among the interpreter's top-k classes."""
    target = np.argmax(classifier_probs, axis=1)
    order = np.argsort(-interpreter_probs, axis=1, kind="stable")
    out = {}
    for k in ks:
        k_eff = min(k, interpreter_probs.shape[1])
        out[f"top{k}"] = float(np.mean((order[:, :k_eff] == target[:, None]).any(axis=1)))
    return out


def binarise(probabilities: np.ndarray, threshold: float = 0.5) -> np.ndarray:
    return (np.asarray(probabilities) >= threshold).astype(int)


def auprc(truth: np.ndarray, scores: np.ndarray) -> dict[str, float]:
    """Macro (over classes that occur) and micro average precision."""
    truth = np.asarray(truth).astype(int)
    present = truth.sum(axis=0) > 0
    macro = float(np.mean([average_precision_score(truth[:, c], scores[:, c])
                           for c in np.flatnonzero(present)])) if present.any() else 0.0
    micro = float(average_precision_score(truth.ravel(), scores.ravel())) \
        if truth.any() else 0.0
    return {"macro_auprc": macro, "micro_auprc": micro}


def max_micro_f1(truth: np.ndarray, scores: np.ndarray) -> float:
    """Best micro F1 over every threshold on the scores."""
    truth = np.asarray(truth).astype(int).ravel()
    if not truth.any():
        return 0.0
    precision, recall, _ = precision_recall_curve(truth, np.asarray(scores).ravel())
    f1 = 2 * precision * recall / np.maximum(precision + recall, 1e-12)
    return float(f1.max())


def multilabel_fidelity(classifier_probs: np.ndarray, interpreter_probs: np.ndarray,
                        threshold: float = 0.5) -> dict[str, float]:
    """The interpreter's scores against the classifier's thresholded decisions."""
    truth = binarise(classifier_probs, threshold)
    out = auprc(truth, interpreter_probs)
    out["max_f1"] = max_micro_f1(truth, interpreter_probs)
    return out


def faithfulness(p_original: np.ndarray, p_removed: np.ndarray) -> np.ndarray:
    """FF_x = f(x)_c - f(x_residual)_c per clip (inputs: the class-c probabilities)."""
    return np.asarray(p_original, dtype=float) - np.asarray(p_removed, dtype=float)


def median_or_nan(values: Sequence[float]) -> float:
    return float(np.median(values)) if len(values) else float("nan")

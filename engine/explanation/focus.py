"""Focus: how isolated an explanation is, measured on mixtures of known sources.

Faithfulness asks whether the classifier still hears its class in an interpretation; focus
asks whether the interpretation is *only* that sound. Two held-out clips a and b of
different classes are mixed at 0 dB, one class is explained on the mixture m, and the
interpretation x is compared with the source s of that class by the scale-invariant
signal-to-distortion ratio (SI-SDR, Le Roux et al. 2019):

    gain = SI-SDR(x, s) - SI-SDR(m, s)      (0 for an interpretation equal to m)

and toward the other source o, which a focused explanation makes negative. The ceilings on
the same STFT: the ideal ratio mask |S| / (|S| + |O|), and the best subset of the
components the method selects from (greedy, knowing s).

All of it needs only sums of the waveforms, so a subset's SI-SDR comes from a Gram matrix
of the per-component waveforms (``SubsetScorer``): the greedy search never resynthesises.

>>> import numpy as np
>>> s = np.sin(np.linspace(0, 100, 4000)); o = np.cos(np.linspace(0, 37, 4000))
>>> round(si_sdr(s + 1e-3 * o, s), 1) > 50
True
>>> m, a, b = mix_pair(s, o)
>>> bool(np.allclose(m, a + b)) and round(float(np.abs(m).max()), 3) == 0.9
True
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from engine.dsp.features import FrontEndConfig, istft, stft

PEAK = 0.9  # the mixture's peak after the common gain
_TINY = 1e-20


def _centred(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    return x - x.mean(axis=-1, keepdims=True)


def _ratio_db(xs: np.ndarray, xx: np.ndarray, ss: float) -> np.ndarray:
    """SI-SDR from <x, s>, ||x||^2 and ||s||^2 (centred signals):
    10 log10(<x,s>^2 / (||x||^2 ||s||^2 - <x,s>^2)). A silent estimate or source gives
    -inf (nothing of s is there); a perfect one is capped at +inf by the float range."""
    xs, xx = np.asarray(xs, dtype=np.float64), np.asarray(xx, dtype=np.float64)
    target = xs * xs
    noise = np.maximum(xx * ss - target, 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = 10.0 * np.log10(target / np.maximum(noise, _TINY * max(ss, _TINY)))
    return np.where((xx <= 0) | (ss <= 0) | (target <= 0), -np.inf, out)


def si_sdr(estimate: np.ndarray, reference: np.ndarray) -> float:
    """Scale-invariant SDR in dB of ``estimate`` against ``reference`` (means removed).

    >>> import numpy as np
    >>> r = np.random.default_rng(0).standard_normal(1000)
    >>> round(si_sdr(3 * r, r), 6) > 100, round(si_sdr(r + r[::-1], r), 0)
    (True, 0.0)
    """
    x, s = _centred(estimate), _centred(reference)
    if x.shape != s.shape:
        raise ValueError(f"estimate {x.shape} and reference {s.shape} differ in length")
    return float(_ratio_db(np.dot(x, s), np.dot(x, x), float(np.dot(s, s))))


def mix_pair(a: np.ndarray, b: np.ndarray, peak: float = PEAK
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(m, a', b') with a' and b' at equal energy (0 dB) and one common gain so that
    max |m| = ``peak``; m = a' + b' exactly (float64 sums, returned as float32)."""
    a64, b64 = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a64.shape != b64.shape:
        raise ValueError("the two sources must have the same length")
    na, nb = np.linalg.norm(a64), np.linalg.norm(b64)
    if na == 0 or nb == 0:
        raise ValueError("a silent source cannot be mixed at 0 dB")
    a64, b64 = a64 / na, b64 / nb
    gain = peak / float(np.abs(a64 + b64).max())
    a32, b32 = (a64 * gain).astype(np.float32), (b64 * gain).astype(np.float32)
    return a32 + b32, a32, b32


def mixture_pairs(labels: Sequence[int], rows: Sequence[int], n: int, seed: int = 0
                  ) -> list[tuple[int, int]]:
    """``n`` distinct unordered pairs (row a, row b) of clips of different classes among
    ``rows``, drawn with a seeded generator: the same arguments give the same pairs.
    Fewer when the rows do not hold that many pairs."""
    rows = [int(r) for r in rows]
    labels = np.asarray(labels)
    candidates = [(p, q) for i, p in enumerate(rows) for q in rows[i + 1:]
                  if labels[p] != labels[q]]
    rng = np.random.default_rng([seed, 20])
    take = rng.permutation(len(candidates))[:n]
    out = []
    for j in take:  # which of the two is "a" is drawn too, so neither order dominates
        p, q = candidates[int(j)]
        out.append((p, q) if rng.random() < 0.5 else (q, p))
    return out


def ideal_ratio_mask_wave(source: np.ndarray, other: np.ndarray, cfg: FrontEndConfig
                          ) -> np.ndarray:
    """The mixture source + other through the mask |S| / (|S| + |O|) on the same STFT
    (the oracle ceiling of any magnitude mask on this front-end)."""
    n = len(source)
    spec = stft(torch.as_tensor(np.stack([source, other]), dtype=torch.float32), cfg)
    mag = spec.abs()
    den = mag.sum(dim=0)
    mask = torch.where(den > 0, mag[0] / den.clamp_min(1e-12), torch.zeros_like(den))
    return istft(mask * spec.sum(dim=0), cfg, n).numpy()


@dataclass
class SubsetScorer:
    """SI-SDR of any sum of given waveforms against a reference, from their Gram matrix.

    ``waves`` (K, N): e.g. each component's audio on a mixture (with linear masks the
    interpretation of a set of components is the sum of their waves)."""

    gram: np.ndarray  # (K, K) of centred waves
    cross: np.ndarray  # (K,) <x_k, s>
    ss: float

    @classmethod
    def of(cls, waves: np.ndarray, reference: np.ndarray) -> SubsetScorer:
        X = _centred(np.atleast_2d(waves))
        s = _centred(reference)
        return cls(X @ X.T, X @ s, float(s @ s))

    def score(self, indices: Sequence[int] | np.ndarray) -> float:
        """SI-SDR (dB) of the sum of the waves ``indices`` (-inf for none)."""
        idx = np.asarray(list(indices), dtype=int)
        if idx.size == 0:
            return float("-inf")
        return float(_ratio_db(self.cross[idx].sum(), self.gram[np.ix_(idx, idx)].sum(),
                               self.ss))

    def score_weighted(self, weights: np.ndarray) -> float:
        """SI-SDR of sum_k weights_k x_k."""
        w = np.asarray(weights, dtype=np.float64)
        return float(_ratio_db(w @ self.cross, w @ self.gram @ w, self.ss))

    def greedy(self, candidates: Sequence[int] | None = None, max_size: int | None = None
               ) -> tuple[list[int], float]:
        """Forward selection: add the wave that raises SI-SDR most while one does.
        Returns the subset (in the order taken) and its SI-SDR."""
        pool = list(range(len(self.cross)) if candidates is None else candidates)
        chosen: list[int] = []
        best = float("-inf")
        xs, xx = 0.0, 0.0
        limit = len(pool) if max_size is None else max_size
        while pool and len(chosen) < limit:
            p = np.asarray(pool)
            col = self.gram[np.ix_(p, chosen)].sum(axis=1) if chosen else 0.0
            trial = _ratio_db(xs + self.cross[p], xx + 2 * col + self.gram[p, p], self.ss)
            j = int(np.argmax(trial))
            if not trial[j] > best:
                break
            best = float(trial[j])
            k = pool.pop(j)
            xx += 2 * (float(self.gram[k, chosen].sum()) if chosen else 0.0) + self.gram[k, k]
            xs += float(self.cross[k])
            chosen.append(k)
        return chosen, best


def gain_db(estimate: np.ndarray, mixture: np.ndarray, reference: np.ndarray) -> float:
    """SI-SDR(estimate, reference) - SI-SDR(mixture, reference): 0 when estimate = m."""
    return si_sdr(estimate, reference) - si_sdr(mixture, reference)

"""Corrupted inputs and how stable an explanation stays under them (issue #9).

The paper's illustration: the explanation of a class should stay on the sound of that
class when the input is corrupted. Two corruptions, both *added* to the clip (the clip
itself is left as it is, so the clean interpretation is still inside the corrupted input):

- white noise at an exact signal-to-noise ratio (by energy over the whole clip, seeded);
- a second clip at an exact level relative to the first (looped or cut to its length).

The signal helpers of ``l2i evaluate --contaminate`` (``mix``, ``place``, ``fit_length``)
live here too, so that the engine has them without importing the trainer.

Stability of the explanation of one class, clean against corrupted: see ``stability``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from engine.dsp.audio import load_audio, shown
from engine.explanation.explain import Analysis, Explainer, Explanation
from engine.runtime.errors import Cancelled, L2IError
from engine.runtime.progress import TaskState, check, report

KINDS = ("white", "mix")


# ---- signals --------------------------------------------------------------------------


def mix(signal: np.ndarray, noise: np.ndarray, w_signal: float, w_noise: float
        ) -> np.ndarray:
    """w_s s/||s|| + w_n n/||n|| at the energy of s (silence stays silence)."""
    s = np.asarray(signal, dtype=np.float64)
    n = np.asarray(noise, dtype=np.float64)
    ns, nn = np.linalg.norm(s), np.linalg.norm(n)
    if ns == 0:
        return np.asarray(signal, dtype=np.float32).copy()
    out = w_signal * s / ns + (w_noise * n / nn if nn > 0 else 0.0)
    return (out * (ns / np.linalg.norm(out))).astype(np.float32)


def place(short: np.ndarray, length: int, rng: np.random.Generator) -> np.ndarray:
    """A short sound at a random offset inside silence of ``length`` samples."""
    out = np.zeros(length, dtype=np.float32)
    short = short[:length]
    start = int(rng.integers(0, length - len(short) + 1))
    out[start:start + len(short)] = short
    return out


def fit_length(other: np.ndarray, length: int) -> np.ndarray:
    """``other`` looped (when shorter) or cut (when longer) to ``length`` samples."""
    other = np.asarray(other)
    if other.size == 0:
        raise L2IError("the second clip holds no samples")
    return np.resize(other, length)


def _energy(x: np.ndarray) -> float:
    return float(np.sum(np.square(x, dtype=np.float64)))


def add_at_ratio(wave: np.ndarray, extra: np.ndarray, ratio_db: float) -> np.ndarray:
    """wave + g * extra with 10 log10(E(g extra) / E(wave)) = ratio_db exactly (E: energy
    over the whole clip). Computed in float64; the clip itself is not rescaled."""
    s = np.asarray(wave, dtype=np.float64)
    n = np.asarray(extra, dtype=np.float64)
    es, en = _energy(s), _energy(n)
    if not np.isfinite(ratio_db):
        raise L2IError(f"a level in dB must be a finite number, not {ratio_db}")
    if es == 0:
        raise L2IError("the clip is silent: a ratio to its energy is undefined")
    if en == 0:
        raise L2IError("the added signal is silent: it cannot be brought to a level")
    gain = np.sqrt(es * 10.0 ** (ratio_db / 10.0) / en)
    return (s + gain * n).astype(np.float32)


def white_noise(wave: np.ndarray, snr_db: float,
                seed: int | Sequence[int] | np.random.Generator = 0) -> np.ndarray:
    """``wave`` plus Gaussian white noise at signal-to-noise ratio ``snr_db`` (energy of
    the clip over energy of the noise, whole clip). The same seed gives the same noise."""
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    noise = rng.standard_normal(np.asarray(wave).shape[0])
    return add_at_ratio(wave, noise, -float(snr_db))


def mix_clip(wave: np.ndarray, other: np.ndarray, level_db: float) -> np.ndarray:
    """``wave`` plus ``other`` (same sample rate; looped or cut to the length of ``wave``)
    whose energy is ``level_db`` dB relative to the energy of ``wave``."""
    return add_at_ratio(wave, fit_length(other, np.asarray(wave).shape[0]), float(level_db))


@dataclass(frozen=True)
class Corruption:
    """One condition: white noise at ``db`` dB SNR, or ``other`` mixed in at ``db`` dB
    (``other`` at the bundle's sample rate; ``other_name`` for display)."""

    kind: str
    db: float
    other: np.ndarray | None = field(default=None, compare=False, repr=False)
    other_name: str = ""

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise L2IError(f"unknown corruption '{self.kind}' (choose from {', '.join(KINDS)})")
        if not np.isfinite(self.db):
            raise L2IError(f"a level in dB must be a finite number, not {self.db}")
        if self.kind == "mix" and self.other is None:
            raise L2IError("a mix needs a second clip")

    @property
    def name(self) -> str:
        if self.kind == "white":
            return f"white noise, SNR {self.db:g} dB"
        return f"{self.other_name or 'second clip'} at {self.db:+g} dB"

    def apply(self, wave: np.ndarray, seed: int | Sequence[int] = 0) -> np.ndarray:
        if self.kind == "white":
            return white_noise(wave, self.db, seed)
        return mix_clip(wave, self.other, self.db)


# ---- stability ------------------------------------------------------------------------


def jaccard(a: Sequence[int], b: Sequence[int]) -> float:
    """|A & B| / |A | B| of two selected sets; two empty selections agree: 1."""
    sa, sb = set(a), set(b)
    return 1.0 if not sa | sb else len(sa & sb) / len(sa | sb)


def _ranks(x: np.ndarray) -> np.ndarray:
    """Ranks 1..n, ties sharing their average rank (what Spearman's rho needs)."""
    _, inverse, counts = np.unique(x, return_inverse=True, return_counts=True)
    ends = np.cumsum(counts)
    return (ends - (counts - 1) / 2.0)[inverse.ravel()]


def rank_correlation(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman's rho of two relevance vectors (all K components); NaN when either is
    constant (no order to compare)."""
    ra, rb = _ranks(np.asarray(a, np.float64)), _ranks(np.asarray(b, np.float64))
    ra, rb = ra - ra.mean(), rb - rb.mean()
    den = np.sqrt(np.sum(ra * ra) * np.sum(rb * rb))
    return float(np.sum(ra * rb) / den) if den > 0 else float("nan")


def energy_overlap(clean_log_mag: np.ndarray, corrupted_log_mag: np.ndarray
                   ) -> tuple[float, float]:
    """(kept, on_clean) from the interpretations' power spectrograms P = (exp(X) - 1)^2:
    kept = sum min(P_clean, P_corr) / sum P_clean, on_clean = the same over sum P_corr.
    NaN where the denominator is 0 (an empty interpretation)."""
    pc = np.square(np.expm1(np.asarray(clean_log_mag, np.float64)))
    pd = np.square(np.expm1(np.asarray(corrupted_log_mag, np.float64)))
    common = float(np.minimum(pc, pd).sum())
    ec, ed = float(pc.sum()), float(pd.sum())
    return (common / ec if ec > 0 else float("nan"), common / ed if ed > 0 else float("nan"))


@dataclass
class Stability:
    """How much the explanation of one class changed when the input was corrupted.

    - jaccard: overlap of the selected components (r_k > tau). The set is what is
      played as the interpretation, so it is the first thing that should not move.
    - top1_kept: the classifier's top class is the same on both inputs (if not, the
      explanation of the clean class explains a class the model no longer predicts).
    - rank_correlation: Spearman's rho of all K relevances. Ranks, not values: relevance
      is divided by its maximum, which noise moves, and a few components dominate;
      the order below tau also says whether the runners-up stayed the same.
    - energy_kept: the share of the clean interpretation's time-frequency energy that
      the corrupted interpretation also holds, cell by cell (sum of the minimum of the
      two power spectrograms over the clean one's sum). Spectrograms, not waveforms:
      added noise changes the phase, which the ear hardly hears but a waveform
      difference counts in full; the minimum keeps added noise from raising the score.
      With the paper's log-domain masks (M X on X = log(1 + |S|)) a mask of 1/2 on a
      loud cell keeps far less than half of its energy, so this reacts strongly to
      small changes of the masks: it measures what the two interpretations let you hear.
    - energy_on_clean: the same common energy over the corrupted interpretation's own;
      low when the corrupted interpretation is mostly something else (the noise, or
      the second clip). Keeping everything scores 1 on energy_kept but not on this.
    """

    jaccard: float
    top1_kept: bool
    rank_correlation: float
    energy_kept: float
    energy_on_clean: float

    def as_dict(self) -> dict[str, float]:
        return {k: float(v) for k, v in asdict(self).items()}


MEASURES = ("jaccard", "top1_kept", "rank_correlation", "energy_kept", "energy_on_clean")


def stability(clean: Analysis, clean_exp: Explanation, corrupted: Analysis,
              corrupted_exp: Explanation) -> Stability:
    if clean_exp.target != corrupted_exp.target:
        raise ValueError("compare explanations of the same class")
    kept, on_clean = energy_overlap(clean_exp.interpretation_log_mag,
                                    corrupted_exp.interpretation_log_mag)
    return Stability(jaccard=jaccard(clean_exp.selected, corrupted_exp.selected),
                     top1_kept=clean.predicted == corrupted.predicted,
                     rank_correlation=rank_correlation(clean_exp.relevance,
                                                       corrupted_exp.relevance),
                     energy_kept=kept, energy_on_clean=on_clean)


@dataclass
class Comparison:
    clean: Analysis
    clean_explanation: Explanation
    corrupted: Analysis
    corrupted_explanation: Explanation
    stability: Stability


def compare(explainer: Explainer, clean: Analysis, corrupted_wave: np.ndarray,
            target: int | None = None, tau: float = 0.1,
            task: TaskState | None = None) -> Comparison:
    """Explain ``corrupted_wave`` for the same class as the clean clip (``target``, or the
    clean clip's top class) at the same tau, and measure the change."""
    target = clean.predicted if target is None else int(target)
    clean_exp = explainer.explain(clean, target, tau, with_components=False)
    check(task)
    corrupted = explainer.analyse(np.asarray(corrupted_wave, np.float32), task)
    corrupted_exp = explainer.explain(corrupted, target, tau, with_components=False)
    return Comparison(clean, clean_exp, corrupted, corrupted_exp,
                      stability(clean, clean_exp, corrupted, corrupted_exp))


# ---- a folder of clips under several conditions ------------------------------------------


def summarise(rows: Sequence[dict]) -> dict[str, float]:
    """Means of each measure over clips, ignoring clips where a measure is undefined."""
    out: dict[str, float] = {}
    for m in MEASURES:
        values = [r[m] for r in rows if r.get(m) is not None and np.isfinite(r[m])]
        out[m] = float(np.mean(values)) if values else float("nan")
    return out


def _json_number(x: float) -> float | None:
    return float(x) if np.isfinite(x) else None


def study(explainer: Explainer, clips: Sequence[Path], conditions: Sequence[Corruption],
          tau: float = 0.1, seed: int = 0, task: TaskState | None = None) -> dict:
    """Each clip explained clean (its top class) and under each condition (that class).
    White noise for clip i comes from seed [seed, i]: every SNR scales the same noise.
    Unreadable or silent clips are skipped and listed with the reason."""
    if not clips:
        raise L2IError("no clips to corrupt")
    if not conditions:
        raise L2IError("no corruption given (white noise SNRs or a clip to mix in)")
    if not 0.0 <= tau < 1.0:
        raise L2IError(f"the threshold must lie in [0, 1), not {tau}")
    rate = explainer.cfg.sample_rate
    per_condition: list[list[dict]] = [[] for _ in conditions]
    skipped: list[dict] = []
    for i, path in enumerate(clips):
        report(task, "corrupt", i, len(clips), shown(path))
        try:
            wave = load_audio(path, rate)
            clean = explainer.analyse(wave, task)
            rows = [_row(path, compare(explainer, clean, cond.apply(wave, [seed, i]), None,
                                       tau, task)) for cond in conditions]
        except Cancelled:
            raise
        except L2IError as exc:  # all conditions or none for a clip
            skipped.append({"clip": str(path), "reason": str(exc)})
            continue
        for kept, row in zip(per_condition, rows):
            kept.append(row)
    report(task, "corrupt", len(clips), len(clips))
    return {
        "bundle": explainer.bundle.name, "threshold": float(tau), "seed": int(seed),
        "clips": len(clips) - len(skipped), "skipped": skipped,
        "conditions": [{"name": c.name, "kind": c.kind, "db": float(c.db),
                        "other": c.other_name or None,
                        "mean": {k: _json_number(v) for k, v in summarise(rows).items()},
                        "per_clip": rows}
                       for c, rows in zip(conditions, per_condition)],
    }


def _row(path: Path, comp: Comparison) -> dict:
    c = comp.clean_explanation.target
    s = comp.stability.as_dict()
    classes = comp.clean.classes
    return {"clip": str(path), "class": classes[c],
            "corrupted_top": classes[comp.corrupted.predicted],
            "p_clean": float(comp.clean.probabilities[c]),
            "p_corrupted": float(comp.corrupted.probabilities[c]),
            "selected_clean": [int(k) for k in comp.clean_explanation.selected],
            "selected_corrupted": [int(k) for k in comp.corrupted_explanation.selected],
            **{k: _json_number(v) for k, v in s.items()}}


def format_table(result: dict) -> str:
    """Mean stability per condition, one row each."""
    head = (f"{'condition':<32} {'clips':>5} {'Jaccard':>8} {'top-1 kept':>10} "
            f"{'Spearman':>8} {'energy kept':>11} {'on clean':>8}")
    lines = [f"{result['clips']} clips, tau {result['threshold']:g}, bundle "
             f"{result['bundle']}" + (f" ({len(result['skipped'])} skipped)"
                                      if result["skipped"] else ""), head]

    def cell(v: float | None, width: int, pct: bool = False) -> str:
        if v is None:
            return f"{'n/a':>{width}}"
        return f"{100 * v:>{width - 1}.0f}%" if pct else f"{v:>{width}.3f}"

    for c in result["conditions"]:
        m = c["mean"]
        lines.append(f"{c['name'][:32]:<32} {len(c['per_clip']):>5} {cell(m['jaccard'], 8)} "
                     f"{cell(m['top1_kept'], 10, True)} {cell(m['rank_correlation'], 8)} "
                     f"{cell(m['energy_kept'], 11)} {cell(m['energy_on_clean'], 8)}")
    return "\n".join(lines)


def load_other(path: str | Path, sample_rate: int) -> tuple[np.ndarray, str]:
    """A second clip at ``sample_rate`` and the name to show for it."""
    wave = load_audio(path, sample_rate)
    if _energy(wave) == 0:
        raise L2IError(f"{shown(path, full=True)}: the second clip is silent")
    return wave, shown(path)

"""SLIME: LIME over segments of the input spectrogram (Mishra et al., ISMIR 2017), the
perturbation baseline that L2I is compared against, made listenable.

The STFT magnitude of a clip is cut into rectangles (time segments, frequency bands or
time-frequency patches). Random on/off patterns of those rectangles are applied to the
magnitude (the phase is kept), each perturbed spectrogram is resynthesised and classified
through the bundle's normal front-end, and a locally weighted ridge regression of the
class probability on the on/off pattern gives one weight per segment. The top positive
segments form a binary mask; the masked-in and masked-out spectrograms are resynthesised
with the original phase, exactly as L2I's interpretation and residual are.

``perturb`` (the expensive part: n_samples forward passes) does not depend on the class:
``explain`` for another class, given the earlier ``perturbations``, only refits.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from engine.dsp.features import FrontEndConfig, resynthesise
from engine.explanation.explain import Analysis, Explainer
from engine.explanation.masks import apply_mask, group_mask
from engine.runtime.errors import L2IError
from engine.runtime.progress import TaskState, check, report
from engine.tools.slime_config import MAX_SECONDS, SlimeConfig

DEFAULTS = SlimeConfig()  # frozen: one shared default is safe


@dataclass(frozen=True)
class Segment:
    """Frames [t0, t1) x frequency bins [f0, f1) of the STFT."""

    t0: int
    t1: int
    f0: int
    f1: int

    def label(self, cfg: FrontEndConfig) -> str:
        sec, hz = cfg.hop_length / cfg.sample_rate, cfg.sample_rate / cfg.n_fft
        return (f"{self.t0 * sec:.2f}-{self.t1 * sec:.2f} s, "
                f"{self.f0 * hz:.0f}-{self.f1 * hz:.0f} Hz")


def _even_edges(n: int, parts: int) -> list[int]:
    if parts > n:
        raise L2IError(f"cannot cut {n} frames into {parts} time segments")
    return [int(round(i * n / parts)) for i in range(parts + 1)]


def band_edges(cfg: FrontEndConfig, bands: int) -> list[int]:
    """Bin edges of ``bands`` bands equally spaced on the mel scale: equal-Hz bands would
    put nearly everything a classifier of mel spectrograms sees into the lowest band."""
    top = cfg.sample_rate / 2
    mels = np.linspace(_mel(cfg.f_min), _mel(top), bands + 1)
    edges = np.round(700.0 * (10.0 ** (mels / 2595.0) - 1.0) * cfg.n_fft / cfg.sample_rate)
    edges = edges.astype(int).tolist()
    edges[0], edges[-1] = int(round(cfg.f_min * cfg.n_fft / cfg.sample_rate)), cfg.n_freqs
    for i in range(1, len(edges)):  # at least one bin per band, even at low frequencies
        edges[i] = max(edges[i], edges[i - 1] + 1)
    if edges[-2] >= cfg.n_freqs or bands > cfg.n_freqs:
        raise L2IError(f"cannot cut {cfg.n_freqs} frequency bins into {bands} bands")
    edges[-1] = cfg.n_freqs
    return edges


def _mel(hz: float) -> float:
    return 2595.0 * float(np.log10(1.0 + hz / 700.0))


def segments(config: SlimeConfig, cfg: FrontEndConfig, n_frames: int) -> list[Segment]:
    """The rectangles of a segmentation, time-major; together they tile the STFT."""
    if config.segmentation == "time":
        t, f = _even_edges(n_frames, config.time_segments), [0, cfg.n_freqs]
    elif config.segmentation == "freq":
        t, f = [0, n_frames], band_edges(cfg, config.freq_bands)
    else:
        t, f = _even_edges(n_frames, config.patches[0]), band_edges(cfg, config.patches[1])
    return [Segment(t[i], t[i + 1], f[j], f[j + 1])
            for i in range(len(t) - 1) for j in range(len(f) - 1)]


def segment_masks(segs: list[Segment], n_freqs: int, n_frames: int,
                  device: str | torch.device = "cpu") -> torch.Tensor:
    """(d, F, T) 0/1 masks, one per segment."""
    out = torch.zeros(len(segs), n_freqs, n_frames, device=device)
    for i, s in enumerate(segs):
        out[i, s.f0:s.f1, s.t0:s.t1] = 1.0
    return out


def mask_of(z: np.ndarray | torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
    """Spectrogram masks (..., F, T) of on/off patterns z (..., d)."""
    zt = torch.as_tensor(np.asarray(z), dtype=masks.dtype, device=masks.device)
    d, F, T = masks.shape
    return (zt @ masks.reshape(d, F * T)).clamp_(max=1.0).reshape(*zt.shape[:-1], F, T)


@dataclass(eq=False)  # a large, mutable record: compared by identity
class Perturbations:
    """The class-independent part: on/off patterns and the classifier's answers. Filled
    in batches; a cancelled ``perturb`` leaves the rows done so far, and passing the
    object back to ``perturb`` continues from there."""

    config: SlimeConfig
    segments: list[Segment]
    z: np.ndarray  # (N, d) 0/1, row 0 all on (the clip itself)
    probabilities: np.ndarray  # (N, C); rows from ``done`` on are not computed yet
    clip: tuple = ()  # which clip (see _fingerprint): never reused for another
    done: int = 0

    @property
    def complete(self) -> bool:
        return self.done >= len(self.z)

    def fits(self, config: SlimeConfig, analysis: Analysis | None = None) -> bool:
        same_clip = analysis is None or _fingerprint(analysis) == self.clip
        return same_clip and _sampling(self.config) == _sampling(config)


def _fingerprint(analysis: Analysis) -> tuple:
    return (analysis.n_samples, tuple(analysis.log_mag.shape),
            float(analysis.log_mag.double().sum()))


def _check_clip(analysis: Analysis) -> None:
    seconds = analysis.n_samples / analysis.sample_rate
    if seconds > MAX_SECONDS:
        raise L2IError(f"SLIME explains clips of up to {MAX_SECONDS:.0f} s (this one is "
                       f"{seconds:.0f} s): it classifies hundreds of perturbed copies; "
                       "cut the clip")


def plan(ex: Explainer, analysis: Analysis, config: SlimeConfig = DEFAULTS
         ) -> Perturbations:
    """The segments and the seeded on/off patterns, nothing classified yet: a caller that
    may cancel ``perturb`` keeps this object to resume it."""
    config.validate()
    _check_clip(analysis)
    segs = segments(config, ex.cfg, analysis.log_mag.shape[-1])
    rng = np.random.default_rng(config.seed)
    z = rng.integers(0, 2, size=(config.n_samples, len(segs))).astype(np.uint8)
    z[0] = 1
    return Perturbations(config, segs, z, np.zeros((config.n_samples, len(analysis.classes))),
                         _fingerprint(analysis))


@torch.no_grad()
def perturb(ex: Explainer, analysis: Analysis, config: SlimeConfig = DEFAULTS,
            task: TaskState | None = None, resume: Perturbations | None = None
            ) -> Perturbations:
    """Classify ``n_samples`` copies of the clip with random segments switched off (each
    on with probability 1/2, as LIME does for image super-pixels), in batches. ``resume``:
    an unfinished result of the same clip and sampling settings, completed in place."""
    config.validate()
    pert = resume if resume is not None and resume.fits(config, analysis) else \
        plan(ex, analysis, config)
    X, phase = analysis.log_mag.to(ex.device), analysis.phase.to(ex.device)
    masks = segment_masks(pert.segments, X.shape[0], X.shape[-1], ex.device)
    # batches start where they would have in one run: resuming gives the same numbers
    for start in range(pert.done, config.n_samples, config.batch_size):
        check(task)
        zb = pert.z[start:start + config.batch_size]
        spectra = apply_mask(X, mask_of(zb, masks), ex.mask_domain)
        waves = resynthesise(spectra, phase.expand_as(spectra), ex.cfg, analysis.n_samples)
        pert.probabilities[start:start + len(zb)] = ex.classify_waves(waves).cpu().numpy()
        pert.done = start + len(zb)
        report(task, "SLIME", pert.done, config.n_samples)
    return pert


@dataclass
class Surrogate:
    weights: np.ndarray  # (d,)
    intercept: float
    score: float  # weighted R^2 of the linear fit


def kernel_weights(z: np.ndarray, width: float) -> np.ndarray:
    """exp(-D^2 / width^2), D the cosine distance of each pattern to the all-on one."""
    z = np.asarray(z, dtype=np.float64)
    on = z.sum(axis=1)
    similarity = np.where(on > 0, on / np.sqrt(np.maximum(on, 1) * z.shape[1]), 0.0)
    return np.exp(-((1.0 - similarity) ** 2) / width ** 2)


def fit_surrogate(z: np.ndarray, y: np.ndarray, width: float = 0.25,
                  ridge: float = 1.0) -> Surrogate:
    """Kernel-weighted ridge regression y ~ b + z w (intercept not penalised)."""
    Z, y = np.asarray(z, dtype=np.float64), np.asarray(y, dtype=np.float64)
    pi = kernel_weights(Z, width)
    pi = pi / pi.sum()  # the penalty then means the same for any n_samples
    zm, ym = pi @ Z, float(pi @ y)
    Zc, yc = Z - zm, y - ym
    A = Zc.T @ (pi[:, None] * Zc) + (ridge / len(y)) * np.eye(Z.shape[1])
    w = np.linalg.solve(A, Zc.T @ (pi * yc))
    resid = yc - Zc @ w
    total = float(pi @ yc ** 2)
    score = 1.0 - float(pi @ resid ** 2) / total if total > 0 else 0.0
    return Surrogate(w, ym - float(zm @ w), score)


def select_segments(weights: np.ndarray, top: int = 3, threshold: float = 0.0) -> list[int]:
    """Up to ``top`` segments with positive weight above ``threshold`` x the largest
    |weight|, most relevant first."""
    w = np.asarray(weights, dtype=np.float64)
    peak = float(np.abs(w).max()) if w.size else 0.0
    if peak <= 0:
        return []
    order = np.argsort(-w, kind="stable")
    return [int(i) for i in order[:top] if w[i] > 0 and w[i] / peak > threshold]


@dataclass
class SlimeExplanation:
    target: int
    segments: list[Segment]
    weights: np.ndarray  # (d,) for the target class
    intercept: float
    score: float
    selected: list[int]  # segment indices, most relevant first
    mask: np.ndarray  # F x T, 0/1
    interpretation: np.ndarray  # waveform of the selected segments
    residual: np.ndarray  # waveform of everything else
    interpretation_log_mag: np.ndarray  # F x T
    perturbations: Perturbations | None = field(default=None, repr=False)


@torch.no_grad()
def explain(ex: Explainer, analysis: Analysis, target: int | None = None,
            config: SlimeConfig = DEFAULTS, task: TaskState | None = None,
            perturbations: Perturbations | None = None) -> SlimeExplanation:
    """SLIME for ``target`` (default: the classifier's top class). Pass the
    ``perturbations`` of an earlier call on the same clip to explain another class
    (or select differently) without classifying again, or to finish a cancelled one."""
    config.validate()
    target = analysis.predicted if target is None else int(target)
    if not 0 <= target < len(analysis.classes):
        raise L2IError(f"class index {target} is out of range")
    if perturbations is None or not (perturbations.fits(config, analysis)
                                     and perturbations.complete):
        perturbations = perturb(ex, analysis, config, task, perturbations)
    fit = fit_surrogate(perturbations.z, perturbations.probabilities[:, target],
                        config.kernel_width, config.ridge)
    chosen = select_segments(fit.weights, config.top, config.threshold)
    X = analysis.log_mag
    masks = segment_masks(perturbations.segments, X.shape[0], X.shape[-1], X.device)
    z = np.zeros(len(perturbations.segments), np.uint8)
    z[chosen] = 1
    mask = mask_of(z, masks)
    X_int = apply_mask(X, mask, ex.mask_domain)
    pair = resynthesise(torch.stack([X_int, apply_mask(X, 1 - mask, ex.mask_domain)]),
                        analysis.phase, ex.cfg, analysis.n_samples).cpu().numpy()
    return SlimeExplanation(target, perturbations.segments, fit.weights, fit.intercept,
                            fit.score, chosen, mask.cpu().numpy(), pair[0], pair[1],
                            X_int.cpu().numpy(), perturbations)


def _sampling(config: SlimeConfig) -> tuple:
    """What the perturbations depend on (not the surrogate or the selection)."""
    c = config
    return (c.segmentation, c.time_segments, c.freq_bands, c.patches, c.n_samples, c.seed)


# ---- faithfulness, measured as for L2I (engine/explanation/quality.py) ---------------------------

@torch.no_grad()
def masked_probabilities(ex: Explainer, analysis: Analysis,
                         masks: list[torch.Tensor]) -> list[tuple[np.ndarray, np.ndarray]]:
    """(o, q) for each F x T mask: the classifier's probabilities on the masked-in and on
    the masked-out audio, resynthesised with the clip's phase and classified through the
    normal front-end, the steps of ``quality.explain_terms``, in one batch."""
    X = analysis.log_mag
    spectra = []
    for m in masks:
        m = torch.as_tensor(m, dtype=X.dtype, device=X.device)
        spectra += [apply_mask(X, m, ex.mask_domain), apply_mask(X, 1 - m, ex.mask_domain)]
    waves = resynthesise(torch.stack(spectra), analysis.phase, ex.cfg, analysis.n_samples)
    p = ex.classify_waves(waves).cpu().numpy()
    return [(p[2 * i], p[2 * i + 1]) for i in range(len(masks))]


def l2i_mask(ex: Explainer, analysis: Analysis, selected: list[int]) -> torch.Tensor:
    """L2I's mask: the sum of the selected components' soft masks."""
    return group_mask(ex.bundle.W, analysis.H, selected)


@dataclass
class Faithfulness:
    ff: float  # p_t - q_t: the class probability lost when the explanation is removed
    kept: float  # o_t: the class probability on the explanation alone
    fidelity_in: bool  # argmax o == t
    fraction: float  # mean of the mask over the spectrogram


def compare(ex: Explainer, analysis: Analysis, target: int,
            masks: dict[str, torch.Tensor]) -> dict[str, Faithfulness]:
    """The same measurements for several explanations (e.g. L2I's and SLIME's masks)."""
    names = list(masks)
    pairs = masked_probabilities(ex, analysis, [masks[n] for n in names])
    p = analysis.probabilities
    return {n: Faithfulness(float(p[target] - q[target]), float(o[target]),
                            int(np.argmax(o)) == target,
                            float(torch.as_tensor(masks[n]).float().mean()))
            for n, (o, q) in zip(names, pairs)}

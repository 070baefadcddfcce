"""Explaining one clip with a bundle: predictions, activations, relevance, and audio.

``analyse`` does the class-independent work once (front-end, classifier, interpreter);
``explain`` then picks a class and a threshold and resynthesises, cheaply, so changing
tau or the class never reruns the networks.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from engine.bundles.bundle import Bundle
from engine.dsp.features import FrontEndConfig, Spectra, istft, resynthesise
from engine.dsp.features import analyse as frontend_analyse
from engine.dsp.nmf import refine
from engine.explanation import long_clips
from engine.explanation.masks import group_mask, relevance, select, split
from engine.explanation.sparse_synthesis import component_waves
from engine.models.taps import LayerTaps
from engine.models.user_classifier import classifier_input
from engine.runtime.devices import resolve_device
from engine.runtime.errors import AudioError, L2IError
from engine.runtime.progress import TaskState, check


@dataclass
class Analysis:
    """Everything about one clip that does not depend on the class or tau."""

    wave: np.ndarray  # mono, at the bundle's sample rate
    sample_rate: int
    log_mag: torch.Tensor  # F x T
    phase: torch.Tensor  # F x T
    log_mel: torch.Tensor  # M x T
    probabilities: np.ndarray  # classifier, C
    interpreter_probabilities: np.ndarray  # C
    H: torch.Tensor  # K x T
    z: torch.Tensor  # K
    classes: list[str]
    # what resynthesis derives once per clip (see Explainer._linear_parts)
    _memo: dict = field(default_factory=dict, repr=False, compare=False)

    def memo(self, key: str, make: Callable[[], Any]) -> Any:
        if key not in self._memo:
            self._memo[key] = make()
        return self._memo[key]

    @property
    def n_samples(self) -> int:
        return int(self.wave.shape[0])

    @property
    def predicted(self) -> int:
        return int(np.argmax(self.probabilities))


@dataclass
class Explanation:
    target: int
    threshold: float
    relevance: np.ndarray  # K, in [-1, 1]
    selected: list[int]  # most relevant first
    interpretation: np.ndarray  # waveform, bundle rate
    residual: np.ndarray
    components: dict[int, np.ndarray] = field(default_factory=dict)  # selected k -> wave
    interpretation_log_mag: np.ndarray | None = None  # F x T, what the selection explains


@dataclass
class Rendering:
    indices: list[int]
    log_mag: np.ndarray  # F x T of the chosen components together
    interpretation: np.ndarray  # waveform of those components
    residual: np.ndarray  # waveform of everything else


def _probabilities(logits: torch.Tensor, multilabel: bool) -> torch.Tensor:
    return torch.sigmoid(logits) if multilabel else torch.softmax(logits, dim=-1)


class Explainer:
    """Runs a bundle on clips. Not thread-safe: give each worker thread its own."""

    def __init__(self, bundle: Bundle, device: str | torch.device = "cpu") -> None:
        self.device = resolve_device(device)
        self.bundle = bundle.to(self.device)
        self.cfg: FrontEndConfig = bundle.frontend
        self.taps = LayerTaps(bundle.classifier, bundle.layers)
        self.mask_domain: str = bundle.interpreter.config.mask_domain

    def close(self) -> None:
        """Detach the hooks from the bundle's classifier."""
        self.taps.remove()

    def __enter__(self) -> Explainer:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @torch.no_grad()
    def classify(self, log_mel: torch.Tensor) -> torch.Tensor:
        """Classifier probabilities for a batch (B, M, T) of log-mel inputs."""
        logits = self.bundle.classifier(log_mel.to(self.device))
        return _probabilities(logits, self.bundle.multilabel)

    @torch.no_grad()
    def classify_waves(self, waves: torch.Tensor) -> torch.Tensor:
        """Classifier probabilities for a batch (B, N) of waveforms at the bundle's rate,
        through whatever input the classifier reads (log-mel or the waveform itself)."""
        x = classifier_input(self.bundle.classifier_input, waves.to(self.device), self.cfg)
        return _probabilities(self.bundle.classifier(x), self.bundle.multilabel)

    @staticmethod
    def _checked(wave: np.ndarray) -> np.ndarray:
        wave = np.asarray(wave, dtype=np.float32)
        if wave.ndim != 1 or wave.size == 0:
            raise AudioError("expected a non-empty mono signal")
        if not np.isfinite(wave).all():
            raise AudioError("the audio contains NaN or infinite samples")
        return wave

    @torch.no_grad()
    def analyse(self, wave: np.ndarray, task: TaskState | None = None) -> Analysis:
        """``task`` is checked between stages (and between blocks of a long clip)."""
        wave = self._checked(wave)
        check(task)
        long = self.cfg.n_frames(wave.size) > long_clips.LONG_FRAMES  # see long_clips
        spec = long_clips.frontend(wave, self.cfg, self.device, task) if long else \
            frontend_analyse(wave, self.cfg, self.device)
        check(task)
        blocks = long_clips.vgg_in_blocks(self.bundle.classifier, self.taps.names,
                                          spec.log_mel.to(self.device), task) \
            if long and self.bundle.classifier_input == "log_mel" else None
        if blocks is None:
            blocks = self.taps(self._classifier_input(spec.log_mel.unsqueeze(0), wave[None]))
        check(task)
        one = Spectra(spec.log_mag[None], spec.phase[None], spec.log_mel[None],
                      None if spec.spectrum is None else spec.spectrum[None])  # a batch of 1
        return self._analyses([wave], one, *blocks)[0]

    @torch.no_grad()
    def analyse_batch(self, waves: list[np.ndarray],
                      task: TaskState | None = None) -> list[Analysis]:
        """``analyse`` of clips of one length in one pass of the front end, the classifier
        and the interpreter (fewer, larger forward passes: for a GPU; on the 2-core CPU
        measured, 23 ms per 5-s clip alone and 22 ms in tens, BENCHMARKS.md). Each result
        equals ``analyse``'s to float tolerance. Raises ValueError for clips of different
        lengths or long ones (``analyse`` takes those)."""
        waves = [self._checked(w) for w in waves]
        n = waves[0].size
        if any(w.size != n for w in waves) or \
                self.cfg.n_frames(n) > long_clips.LONG_FRAMES:
            raise ValueError("analyse_batch takes clips of one length, none of them long")
        check(task)
        batch = np.stack(waves)
        spec = frontend_analyse(batch, self.cfg, self.device)
        check(task)
        blocks = self.taps(self._classifier_input(spec.log_mel, batch))
        check(task)
        return self._analyses(waves, spec, *blocks)

    def _classifier_input(self, log_mel: torch.Tensor, waves: np.ndarray) -> torch.Tensor:
        """What the classifier reads for a batch: (B, M, T) log-mel or (B, N) samples."""
        if self.bundle.classifier_input == "log_mel":
            return log_mel.to(self.device)
        return torch.as_tensor(waves, device=self.device)

    def _analyses(self, waves: list[np.ndarray], spec: Spectra, logits: torch.Tensor,
                  maps: list[torch.Tensor]) -> list[Analysis]:
        """The interpreter on the classifier's maps, and one Analysis per clip of the
        batch ``spec`` (B x F x T)."""
        H, ilogits, z = self.bundle.interpreter(maps, spec.log_mag.shape[-1])
        icfg = self.bundle.interpreter.config
        if icfg.refine_iterations:  # relevance stays the interpreter's (z is not refined)
            H = refine(spec.log_mag.to(self.device), self.bundle.W, H,
                       icfg.refine_iterations, icfg.refine_sparsity)
        if not (torch.isfinite(logits).all() and torch.isfinite(ilogits).all()
                and torch.isfinite(H).all()):
            raise L2IError("the model produced non-finite outputs for this clip")
        ml = self.bundle.multilabel
        p, ip = (_probabilities(x, ml).cpu().numpy() for x in (logits, ilogits))
        out = []
        for i, wave in enumerate(waves):
            analysis = Analysis(
                wave=wave, sample_rate=self.cfg.sample_rate, log_mag=spec.log_mag[i],
                phase=spec.phase[i], log_mel=spec.log_mel[i], probabilities=p[i],
                interpreter_probabilities=ip[i], H=H[i], z=z[i], classes=self.bundle.classes)
            if spec.spectrum is not None and self.mask_domain == "linear":
                spectrum = spec.spectrum[i]
                analysis.memo("spectrum", lambda s=spectrum: s)  # saves rebuilding it
            out.append(analysis)
        return out

    def relevance(self, analysis: Analysis, target: int) -> torch.Tensor:
        theta_c = self.bundle.interpreter.class_weights[target].detach()
        return relevance(analysis.z, theta_c)

    @torch.no_grad()
    def explain(self, analysis: Analysis, target: int | None = None, threshold: float = 0.1,
                with_components: bool = True) -> Explanation:
        target = analysis.predicted if target is None else int(target)
        if not 0 <= target < len(analysis.classes):
            raise ValueError(f"class index {target} is out of range")
        r = self.relevance(analysis, target)
        chosen = select(r, threshold)
        rendering = self.render(analysis, chosen)
        comps: dict[int, np.ndarray] = {}
        if with_components and chosen:
            comps = self.component_audio(analysis, chosen)
        return Explanation(target=target, threshold=float(threshold),
                           relevance=r.cpu().numpy(), selected=chosen,
                           interpretation=rendering.interpretation,
                           residual=rendering.residual, components=comps,
                           interpretation_log_mag=rendering.log_mag)

    @torch.no_grad()
    def render(self, analysis: Analysis, indices: list[int]) -> Rendering:
        """Spectrogram and audio of any set of components (what mute/solo toggles need),
        and of the residual: one F x T product and one two-signal inverse STFT."""
        if analysis.log_mag.shape[-1] > long_clips.LONG_FRAMES:
            return Rendering(list(indices), *long_clips.render(
                analysis.log_mag, analysis.phase, self.bundle.W, analysis.H, list(indices),
                self.mask_domain, self.cfg, analysis.n_samples))
        if self.mask_domain == "linear":
            return self._render_linear(analysis, list(indices))
        X_int, X_res = split(analysis.log_mag, self.bundle.W, analysis.H, list(indices),
                             self.mask_domain)
        pair = resynthesise(torch.stack([X_int, X_res]), analysis.phase, self.cfg,
                            analysis.n_samples).cpu().numpy()
        return Rendering(list(indices), X_int.cpu().numpy(), pair[0], pair[1])

    def _linear_parts(self, analysis: Analysis) -> tuple[torch.Tensor, ...]:
        """Per clip, once: |S|, the complex S and W H."""
        def make() -> tuple[torch.Tensor, ...]:
            mag = torch.expm1(analysis.log_mag.clamp_min(0.0))
            S = analysis.memo("spectrum", lambda: torch.polar(mag, analysis.phase))
            return mag, S.to(self.device), self.bundle.W @ analysis.H
        return analysis.memo("linear", make)

    def _render_linear(self, analysis: Analysis, indices: list[int]) -> Rendering:
        """With linear masks the interpretation is ISTFT(M S) and, the inverse STFT being
        linear and exact, the residual ISTFT((1 - M) S) is the clip less it: one inverse
        STFT."""
        mag, S, WH = self._linear_parts(analysis)
        mask = group_mask(self.bundle.W, analysis.H, indices, WH)
        interpretation = istft(mask * S, self.cfg, analysis.n_samples).cpu().numpy()
        return Rendering(indices, torch.log1p(mask * mag).cpu().numpy(), interpretation,
                         analysis.wave - interpretation)

    @torch.no_grad()
    def component_audio(self, analysis: Analysis, indices: list[int]) -> dict[int, np.ndarray]:
        if analysis.log_mag.shape[-1] > long_clips.LONG_FRAMES:
            waves = long_clips.component_audio(
                analysis.log_mag, analysis.phase, self.bundle.W, analysis.H, list(indices),
                self.mask_domain, self.cfg, analysis.n_samples)
            return {k: w for k, w in zip(indices, waves)}
        # only the frames where each component is active: H is mostly exact zeros
        extra = {}
        if self.mask_domain == "linear":
            _, S, WH = self._linear_parts(analysis)
            extra = {"WH": WH, "spectrum": S}
        waves = component_waves(analysis.log_mag, analysis.phase, self.bundle.W, analysis.H,
                                indices, self.cfg, analysis.n_samples, self.mask_domain,
                                **extra)
        return {k: w for k, w in zip(indices, waves.cpu().numpy())}

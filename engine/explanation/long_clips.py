"""Long recordings in bounded memory: the front-end, the built-in classifier and the
resynthesis run over blocks of STFT frames with enough overlap that every kept value
sees exactly the data it would see in one piece.

Clips up to ``LONG_FRAMES`` frames (about 95 s at 44.1 kHz) never come here, so their
results stay bit for bit what the one-piece code gives. Beyond that, one piece would
hold several F x T temporaries at once (about 17 GB at the peak for an hour through
the paper's classifier); in blocks the extra memory is a few tens of MB, whatever the
length, and the work can be cancelled between blocks.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from engine.dsp.features import FrontEndConfig, Spectra, _mel_matrix, _window, resynthesise
from engine.explanation.masks import split
from engine.explanation.sparse_synthesis import component_waves
from engine.models.classifier import VGGClassifier
from engine.runtime.progress import TaskState, report

LONG_FRAMES = 8192
BLOCK_FRAMES = 4096


def spans(n_frames: int, block: int, margin: int) -> list[tuple[int, int, int, int]]:
    """(s, a, b, e): frames [a, b) are kept from the piece [s, e) computed with
    ``margin`` frames of real context on each side (fewer only at the clip's ends)."""
    out = []
    for a in range(0, n_frames, block):
        b = min(a + block, n_frames)
        out.append((max(0, a - margin), a, b, min(n_frames, b + margin)))
    return out


def _samples(wave: np.ndarray, start: int, stop: int) -> np.ndarray:
    """wave[start:stop] with zeros wherever the range leaves the signal."""
    piece = np.zeros(stop - start, np.float32)
    lo, hi = max(start, 0), min(stop, len(wave))
    if hi > lo:
        piece[lo - start:hi - start] = wave[lo:hi]
    return piece


def frontend(wave: np.ndarray, cfg: FrontEndConfig, device: str | torch.device,
             task: TaskState | None = None) -> Spectra:
    """``features.analyse`` frame block by frame block. Frame t covers samples
    [t hop - n_fft/2, t hop + n_fft/2) of the clip zero-padded to whole hops."""
    n_frames, hop, half = cfg.n_frames(len(wave)), cfg.hop_length, cfg.n_fft // 2
    log_mag = torch.empty(cfg.n_freqs, n_frames)
    phase = torch.empty(cfg.n_freqs, n_frames)
    log_mel = torch.empty(cfg.n_mels, n_frames)
    window, mel_fb = _window(cfg.n_fft, str(device)), _mel_matrix(cfg, str(device))
    for i, (_, a, b, _) in enumerate(spans(n_frames, BLOCK_FRAMES, 0)):
        piece = torch.from_numpy(_samples(wave, a * hop - half, (b - 1) * hop - half + cfg.n_fft))
        spec = torch.stft(piece.to(device), cfg.n_fft, hop, window=window, center=False,
                          return_complex=True)
        mag = spec.abs()
        log_mag[:, a:b] = torch.log1p(mag).cpu()
        phase[:, a:b] = torch.angle(spec).cpu()
        log_mel[:, a:b] = (10.0 * torch.log10(torch.clamp(mel_fb @ mag.square(), min=1e-10))
                           ).cpu()
        report(task, "analysis", i + 1, -(-n_frames // BLOCK_FRAMES), "spectrogram")
    log_mel.clamp_(min=float(log_mel.max()) - cfg.top_db)  # the clip-wide floor
    return Spectra(log_mag=log_mag, phase=phase, log_mel=log_mel)


def vgg_in_blocks(clf: torch.nn.Module, names: Sequence[str], log_mel: torch.Tensor,
                  task: TaskState | None = None
                  ) -> tuple[torch.Tensor, list[torch.Tensor]] | None:
    """Logits (1, C) and the maps of the tapped blocks of the built-in CNN for a
    (M, T) log-mel, computed over time blocks; None for any other model or taps.

    Blocks start on multiples of 2^depth frames, so every pooling grid lines up with
    the one-piece grid, and carry (convs per block + 2) * 2^depth frames of context:
    more than the zero padding at a block's cut can reach through the convolutions."""
    if not isinstance(clf, VGGClassifier) or not set(names) <= set(clf.block_names()):
        return None
    depth = len(clf.blocks)
    unit = 2 ** depth
    margin = unit * (clf.config.convs_per_block + 2)
    wanted = {clf.block_names().index(n) for n in names} | {depth - 1}
    pieces: dict[int, list[torch.Tensor]] = {i: [] for i in wanted}
    n_frames = log_mel.shape[-1]
    parts = spans(n_frames, -(-BLOCK_FRAMES // unit) * unit, margin)
    for j, (s, a, b, e) in enumerate(parts):
        x = clf.input_norm(log_mel[:, s:e].unsqueeze(0).unsqueeze(1))
        for i, block in enumerate(clf.blocks):
            x = block(x)
            if i in wanted:
                f = 2 ** (i + 1)  # input frames per output cell after block i
                pieces[i].append(x[..., (a - s) // f:-(-(b - s) // f)].clone())
        report(task, "analysis", j + 1, len(parts), "classifier")
    maps = {i: torch.cat(p, dim=-1) for i, p in pieces.items()}
    pooled_f = maps[depth - 1].mean(dim=2)
    logits = clf.head(clf.dropout(torch.cat([pooled_f.mean(dim=2), pooled_f.amax(dim=2)],
                                            dim=1)))
    return logits, [maps[clf.block_names().index(n)] for n in names]


def _resynthesis_spans(cfg: FrontEndConfig, n_frames: int):
    # a sample hears the frames within n_fft/2 of it: one more frame of context than that
    return spans(n_frames, BLOCK_FRAMES, -(-cfg.n_fft // cfg.hop_length) + 1)


def _place(out: np.ndarray, piece: np.ndarray, cfg: FrontEndConfig, s: int, a: int, b: int,
           n_frames: int) -> None:
    """Copy the exact samples of a piece that starts at frame s into ``out``."""
    hop = cfg.hop_length
    stop = out.shape[-1] if b == n_frames else b * hop
    out[..., a * hop:stop] = piece[..., (a - s) * hop:stop - s * hop]


def _piece_length(cfg: FrontEndConfig, s: int, b: int, n_frames: int, n: int) -> int:
    return n - s * cfg.hop_length if b == n_frames else (b - s) * cfg.hop_length


def render(X: torch.Tensor, phase: torch.Tensor, W: torch.Tensor, H: torch.Tensor,
           indices: Sequence[int], domain: str, cfg: FrontEndConfig, n: int
           ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(X_int F x T, interpretation, residual) as ``Explainer.render`` makes them."""
    n_frames = X.shape[-1]
    X_int = np.empty(tuple(X.shape), np.float32)
    waves = np.empty((2, n), np.float32)
    for s, a, b, e in _resynthesis_spans(cfg, n_frames):
        xi, xr = split(X[:, s:e].to(W.device), W, H[:, s:e], list(indices), domain)
        X_int[:, a:b] = xi[:, a - s:b - s].cpu().numpy()
        pair = resynthesise(torch.stack([xi, xr]), phase[:, s:e].to(W.device), cfg,
                            _piece_length(cfg, s, b, n_frames, n))
        _place(waves, pair.cpu().numpy(), cfg, s, a, b, n_frames)
    return X_int, waves[0], waves[1]


def component_audio(X: torch.Tensor, phase: torch.Tensor, W: torch.Tensor, H: torch.Tensor,
                    indices: Sequence[int], domain: str, cfg: FrontEndConfig, n: int
                    ) -> np.ndarray:
    """Waveforms (len(indices), n) of single components, as ``component_audio``."""
    n_frames = X.shape[-1]
    waves = np.zeros((len(indices), n), np.float32)
    if not len(indices):
        return waves
    for s, a, b, e in _resynthesis_spans(cfg, n_frames):  # only the active frames
        out = component_waves(X[:, s:e].to(W.device), phase[:, s:e].to(W.device), W,
                              H[:, s:e], indices, cfg, _piece_length(cfg, s, b, n_frames, n),
                              domain)
        _place(waves, out.cpu().numpy(), cfg, s, a, b, n_frames)
    return waves

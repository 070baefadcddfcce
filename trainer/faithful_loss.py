"""Faithfulness-aware loss terms for interpreter training (issue: interpretation quality).

The paper's loss only asks the interpreter to agree with the classifier and to
reconstruct X. These terms also ask the frozen classifier, run on what the explanation
keeps (masked-in) to keep its decision, and on what it removes (masked-out) to lose it.
The explanation is made differentiable: instead of the hard selection r_k > tau, every
component is weighted by relu(r_k) (its relevance for the classifier's class, in [0, 1]),
so the mask W diag(s) H / (W H) is a smooth function of H and z, and the gradients
reach Psi and Theta through the fixed W and the frozen classifier.

Both terms are satisfied by the trivial explanation "everything" (a mask of ones keeps
the decision and leaves silence behind), so, as in L-MAC, the mean of the mask is
penalised too (``size``).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from engine.dsp.features import FrontEndConfig, log_mel_from_log_mag
from engine.explanation.masks import apply_mask


def soft_relevance(z: torch.Tensor, theta: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
    """relu(r_k) for each clip's class c: (B, K) in [0, 1]."""
    contrib = z * theta[c]
    peak = contrib.abs().amax(dim=-1, keepdim=True).clamp_min(1e-12)
    return torch.relu(contrib / peak)


def soft_mask(W: torch.Tensor, H: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """(B, F, T) mask W diag(w) H / (W H), 0 where W H = 0."""
    WH = torch.matmul(W, H)
    part = torch.matmul(W, weights.unsqueeze(-1) * H)
    return torch.where(WH > 0, part / WH.clamp_min(1e-12), torch.zeros_like(WH)).clamp(0, 1)


def faithfulness_terms(classifier: nn.Module, H: torch.Tensor, z: torch.Tensor,
                       theta: torch.Tensor, W: torch.Tensor, X: torch.Tensor,
                       target: torch.Tensor, frontend: FrontEndConfig, domain: str,
                       multilabel: bool) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(L_in, L_out, size). L_in: the classifier's loss on the masked-in input against its
    own decision on the clip; L_out: -log(1 - p_c) of the masked-out input (pushes the
    probability of the explained class c down); size: the mask's mean, in [0, 1]."""
    c = target.argmax(dim=-1)
    mask = soft_mask(W, H, soft_relevance(z, theta, c))
    x_in = log_mel_from_log_mag(apply_mask(X, mask, domain), frontend)
    x_out = log_mel_from_log_mag(apply_mask(X, 1 - mask, domain), frontend)
    logits = classifier(torch.cat([x_in, x_out])).float()
    l_in, l_out = logits[: len(X)], logits[len(X):]
    if multilabel:
        keep = F.binary_cross_entropy_with_logits(l_in, target)
        p_out = torch.sigmoid(l_out)
    else:
        keep = -(target * F.log_softmax(l_in, dim=-1)).sum(dim=-1).mean()
        p_out = torch.softmax(l_out, dim=-1)
    p_c = p_out.gather(1, c.unsqueeze(1)).squeeze(1)
    lose = -torch.log1p(-p_c.clamp(max=1 - 1e-6)).mean()
    return keep, lose, mask.mean()

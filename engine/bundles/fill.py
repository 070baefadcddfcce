"""Loading one module's weights from a bundle's tensors, checked first: the same names,
shapes and kinds as the module built from the manifest, and finite values; anything
else is one ``BundleError`` that says what is wrong."""

from __future__ import annotations

import torch
from torch import nn

from engine.runtime.errors import BundleError


def fill_module(module: nn.Module, state: dict[str, torch.Tensor], what: str, where: str,
          load: bool = True) -> None:
    expected = module.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    if missing or unexpected:
        parts = []
        if missing:
            parts.append(f"missing {len(missing)} tensors (e.g. {missing[0]})")
        if unexpected:
            parts.append(f"{len(unexpected)} unexpected tensors (e.g. {unexpected[0]})")
        raise BundleError(f"{where}: the {what} weights do not match the manifest: "
                          + ", ".join(parts))
    for k, v in expected.items():
        got = state[k]
        if tuple(got.shape) != tuple(v.shape):
            raise BundleError(f"{where}: {what} tensor {k} has shape {tuple(got.shape)}, "
                              f"the manifest implies {tuple(v.shape)}")
        if got.is_floating_point() != v.is_floating_point():
            raise BundleError(f"{where}: {what} tensor {k} has dtype {got.dtype}, "
                              f"expected {v.dtype}")
        if load and got.is_floating_point() and not torch.isfinite(got).all():
            raise BundleError(f"{where}: {what} tensor {k} contains NaN or Inf")
    if load:
        module.load_state_dict({k: state[k].to(expected[k].dtype) for k in expected})

"""Read hidden layers of any nn.Module through forward hooks."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

TOKENS = ":tokens"  # a tapped name's suffix: the layer gives (batch, tokens, channels)
# a tapped name's suffix: (batch, tokens, channels) whose tokens are a grid of frequency x
# time patches (AST), laid out as the model's ``patch_grid`` says
PATCHES = ":patches"


def layer_of(name: str) -> tuple[str, bool]:
    """The module a tapped name reads, and whether its output is a token sequence (of
    time steps, or of patches).

    >>> layer_of("encoder.layers.0:tokens"), layer_of("blocks.2")
    (('encoder.layers.0', True), ('blocks.2', False))
    """
    for suffix in (TOKENS, PATCHES):
        if name.endswith(suffix):
            return name[:-len(suffix)], True
    return name, False


@dataclass(frozen=True)
class PatchGrid:
    """How a transformer that cuts the spectrogram into patches, as images are (AST),
    lays them in its one sequence: ``special`` tokens first (class, distillation), then
    ``freq`` x ``time`` patches, frequency-major (the flattened conv output)."""

    special: int
    freq: int
    time: int

    @property
    def tokens(self) -> int:
        return self.special + self.freq * self.time

    def over_time(self, seq: torch.Tensor, valid: int | None = None) -> torch.Tensor:
        """(batch, tokens, channels) -> (batch, channels, time): the patches put back on
        their grid and averaged over frequency, a map over time; only the first ``valid``
        time steps (those the clip covers: the rest is padding to the model's length)."""
        b, n, c = seq.shape
        if n != self.tokens:
            raise ValueError(f"{n} tokens do not make {self.special} special tokens and a "
                             f"{self.freq} x {self.time} patch grid")
        grid = seq[:, self.special:].reshape(b, self.freq, self.time, c)
        return grid.mean(dim=1)[:, :valid or self.time].transpose(1, 2)


class LayerTaps:
    """Captures the outputs of named submodules during a forward pass.

    A transformer block gives (batch, tokens, channels), tokens in time order: named
    ``"layer:tokens"`` it is read as (batch, channels, tokens), a map over time like a
    1-D convolution's, so the interpreter reads it the same way. Named ``"layer:patches"``
    its tokens are the model's ``patch_grid`` (a ``PatchGrid``), pooled over frequency to
    (batch, channels, time), cut to the model's ``valid_time_patches`` of the last input.

    >>> taps = LayerTaps(model, ["blocks.3", "blocks.4"])
    >>> logits, maps = taps(x)   # maps: list of tensors in the order given
    """

    def __init__(self, model: nn.Module, names: Sequence[str]) -> None:
        modules = dict(model.named_modules())
        missing = [n for n in names if layer_of(n)[0] not in modules]
        if missing:
            raise ValueError(f"the model has no layer named {', '.join(missing)}")
        if not names:
            raise ValueError("at least one layer must be tapped")
        self.grid: PatchGrid | None = getattr(model, "patch_grid", None)
        if self.grid is None and any(n.endswith(PATCHES) for n in names):
            raise ValueError(f"the model has no patch grid to read {PATCHES} layers by")
        self.model = model
        self.names = list(names)
        self._captured: dict[str, torch.Tensor] = {}
        self._handles = [modules[layer_of(n)[0]].register_forward_hook(self._hook(n))
                         for n in self.names]

    def _hook(self, name: str):
        tokens = layer_of(name)[1]
        patches = name.endswith(PATCHES)

        def hook(_module, _inputs, output):
            if isinstance(output, (tuple, list)):
                output = output[0]
            if tokens:
                if output.ndim != 3:
                    raise ValueError(f"layer {name} gives {tuple(output.shape)}, not "
                                     "(batch, tokens, channels)")
                output = self.grid.over_time(output, getattr(
                    self.model, "valid_time_patches", None)) if patches \
                    else output.transpose(1, 2)
            # a copy: an in-place op after this layer (ReLU(inplace=True)) would
            # otherwise overwrite what was captured
            self._captured[name] = output.clone()
        return hook

    def __call__(self, *args, **kwargs) -> tuple[torch.Tensor, list[torch.Tensor]]:
        self._captured.clear()
        out = self.model(*args, **kwargs)
        maps = [self._captured[n] for n in self.names]
        self._captured.clear()
        return out, maps

    def remove(self) -> None:
        for h in self._handles:
            h.remove()
        self._handles = []

    def __enter__(self) -> LayerTaps:
        return self

    def __exit__(self, *exc) -> None:
        self.remove()


def named_layer_shapes(model: nn.Module, example: torch.Tensor) -> list[tuple[str, tuple]]:
    """Every named submodule whose output is a tensor, with that output's shape (no batch)."""
    return run_with_layer_shapes(model, example)[0]


def run_with_layer_shapes(model: nn.Module, example: torch.Tensor,
                          each_layer: Callable[[], None] | None = None
                          ) -> tuple[list[tuple[str, tuple]], Any]:
    """One forward pass (no gradients): ``named_layer_shapes``' answer and the model's
    output. ``each_layer`` runs after every layer: raising there (a cancelled task) stops
    the pass early."""
    shapes: dict[str, tuple] = {}
    handles = []
    for name, module in model.named_modules():
        if not name:
            continue

        def hook(_m, _i, out, name=name):
            if torch.is_tensor(out):
                shapes[name] = tuple(out.shape[1:])
            if each_layer is not None:
                each_layer()
        handles.append(module.register_forward_hook(hook))
    try:
        with torch.no_grad():
            out = model(example)
    finally:
        for h in handles:
            h.remove()
    return list(shapes.items()), out


def suggest_taps(model: nn.Module, shapes: list[tuple[str, tuple]], n: int = 3) -> list[str]:
    """The last ``n`` conv blocks, where the model has them: modules holding a
    convolution whose output is a feature map (C x T or C x F x T), at the shallowest
    nesting level that has at least ``n`` of them; else the last ``n`` conv layers.
    ``shapes`` is ``named_layer_shapes``' answer (in the order the layers ran)."""
    modules = dict(model.named_modules())
    convs = (nn.Conv1d, nn.Conv2d)

    def holds_conv(m: nn.Module) -> bool:
        return any(isinstance(s, convs) for s in m.modules())

    maps = [name for name, s in shapes if len(s) in (2, 3) and name in modules]
    blocks = [x for x in maps
              if len(list(modules[x].children())) and holds_conv(modules[x])]
    by_depth: dict[int, list[str]] = {}
    for name in blocks:
        by_depth.setdefault(name.count("."), []).append(name)
    for depth in sorted(by_depth):
        if len(by_depth[depth]) >= n:
            return by_depth[depth][-n:]
    leaves = [x for x in maps if isinstance(modules[x], convs)]
    return leaves[-n:]

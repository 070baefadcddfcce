"""Check a classifier before any feature or dictionary work: it runs on a real clip of
the data (and on it twice as long), so that a wrong output width, a layer that does not
exist or maps that do not follow time are said in one line at once, not after minutes.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from engine.dsp.audio import load_audio
from engine.dsp.features import FrontEndConfig
from engine.models.classifier import default_taps
from engine.models.taps import PATCHES, TOKENS, layer_of, suggest_taps
from engine.models.user_classifier import classifier_input, logits_of
from engine.runtime.errors import Cancelled, L2IError, shown
from trainer.features_cache import fix_length

log = logging.getLogger(__name__)
Shapes = dict[str, tuple | None]  # layer -> its output's shape without the batch (None: no tensor)


def first_clip(paths: Sequence[Path], rate: int, tries: int = 20) -> tuple[np.ndarray, str]:
    """The first readable clip among the data's first ``tries`` (a seeded noise when none
    is: the data's own checks say what is wrong with it later)."""
    for path in list(paths)[:tries]:
        try:
            return load_audio(path, rate), shown(path)
        except L2IError:
            continue
    return np.random.default_rng(0).standard_normal(rate).astype(np.float32) * 0.1, "noise"


def _run(model: nn.Module, x: torch.Tensor, each_layer: Callable[[], None] | None = None
         ) -> tuple[Shapes, object]:
    """One pass without gradients: every named layer's output shape, and the output.
    ``each_layer`` runs after every layer: raising there (a cancelled look) stops it."""
    shapes: Shapes = {}

    def hook(name: str):
        def record(_m, _i, out) -> None:
            if isinstance(out, (tuple, list)) and out:  # as LayerTaps reads them
                out = out[0]
            shapes[name] = tuple(out.shape[1:]) if torch.is_tensor(out) else None
            if each_layer is not None:
                each_layer()
        return record
    handles = [m.register_forward_hook(hook(n)) for n, m in model.named_modules() if n]
    try:
        with torch.no_grad():
            return shapes, model(x)
    finally:
        for h in handles:
            h.remove()


def _run_on(model: nn.Module, input_kind: str, frontend: FrontEndConfig, wave: np.ndarray,
            clip_name: str, each_layer: Callable[[], None] | None = None
            ) -> tuple[Shapes, object]:
    try:
        return _run(model, classifier_input(input_kind, torch.from_numpy(wave)[None],
                                            frontend), each_layer)
    except Cancelled:
        raise
    except Exception as exc:  # noqa: BLE001 - whatever the user's model raises
        first = str(exc).strip().splitlines()[0][:160] if str(exc).strip() else ""
        seconds = len(wave) / frontend.sample_rate
        raise L2IError(f"the classifier fails on {clip_name} ({seconds:g} s as {input_kind}): "
                       f"{type(exc).__name__}: {first}; check its input kind and sample "
                       "rate") from None


def _shape(s: tuple) -> str:
    return " x ".join(map(str, s))


def _offer(names: list[str], shapes: Shapes) -> str:
    shown_ = [f"{n} ({_shape(shapes[layer_of(n)[0]])})" for n in names[-6:]]
    return ", ".join(shown_) if shown_ else "none"


@dataclass
class Survey:
    """One look at a model at two clip lengths: each named layer's output shape (at the
    data's clip length), how each usable layer is tapped, and why the others are not."""

    shapes: Shapes
    output: object  # what the model returned for the clip
    taps: dict[str, str]  # usable layer -> its tapped name (":tokens" or ":patches" added)
    unusable: dict[str, str]  # layer -> why it cannot be tapped, in a few words
    suggested: list[str]  # tapped names
    seconds: tuple[float, float | None]  # the two lengths (None: it ran at one alone)

    def maps(self) -> list[str]:
        """The layers that give 2-D or 3-D maps, usable or not, shown as tapped."""
        return [self.taps.get(n, n) for n, s in self.shapes.items()
                if s is not None and len(s) in (2, 3)]


def survey_layers(model: nn.Module, input_kind: str, frontend: FrontEndConfig,
                  wave: np.ndarray, clip_name: str, clip_seconds: float,
                  each_layer: Callable[[], None] | None = None) -> Survey:
    """Run ``model`` on the clip cut to ``clip_seconds`` and on it twice as long (else
    half as long): a map whose length does not change with the clip's is pooled over
    time, not a map in time. Raises L2IError when the model fails on the clip."""
    model.eval()
    rate = frontend.sample_rate
    n = int(round(clip_seconds * rate))
    shapes, out = _run_on(model, input_kind, frontend, fix_length(wave, n), clip_name,
                          each_layer)
    other, other_n = None, None
    for length in (2 * n, max(n // 2, frontend.hop_length * 8)):
        try:
            other = _run(model, classifier_input(
                input_kind, torch.from_numpy(np.resize(wave, length))[None], frontend),
                each_layer)[0]
            other_n = length
            break
        except Cancelled:
            raise
        except Exception:  # noqa: BLE001 - a model made for one length: judged on it alone
            log.info("the classifier does not run on %.2f s clips: its maps are not "
                     "checked against the clip's length", length / rate, exc_info=True)
    seconds = (n / rate, other_n / rate if other_n else None)
    maps = [name for name, s in shapes.items() if s is not None and len(s) in (2, 3)]
    timed, tokens = _follow_time(maps, shapes, other)
    # AST: sequences of the model's patch grid, whose length is fixed (its input is
    # padded), read over time by the grid (engine.models.taps.PatchGrid)
    grid = getattr(model, "patch_grid", None)
    patches = [m for m in maps if grid is not None and m not in timed + tokens
               and len(shapes[m]) == 2 and shapes[m][0] == grid.tokens]
    taps = {m: m + TOKENS if m in tokens else m + PATCHES if m in patches else m
            for m in maps if m in timed + tokens + patches}
    unusable = {name: _why(s, seconds) for name, s in shapes.items() if name not in taps}
    try:
        suggested = default_taps(model)  # the built-in CNN's own
    except ValueError:
        # a transformer's blocks first (its convolutions, if any, are only its front end)
        listed = [(k, s) for k, s in shapes.items() if s is not None]
        suggested = [taps[x] for x in _blocks(model, tokens + patches)
                     or [x for x in suggest_taps(model, listed) if x in timed]]
    return Survey(shapes, out, taps, unusable, suggested, seconds)


def _why(s: tuple | None, seconds: tuple[float, float | None]) -> str:
    if s is None:
        return "gives no tensor"
    if len(s) < 2:
        return (f"gives a vector of {s[0]} per clip" if s else "gives one number per clip") \
            + ": nothing over time"
    if len(s) > 3:
        return f"gives {len(s)}-axis maps, not channels x time or tokens x channels"
    return (f"keeps its size whatever the clip's length ({seconds[0]:g} s and "
            f"{seconds[1]:g} s): it does not follow time")


def check_classifier(model: nn.Module, input_kind: str, frontend: FrontEndConfig,
                     wave: np.ndarray, clip_name: str, clip_seconds: float,
                     classes: list[str], layers: list[str] | None, labelled: bool = True
                     ) -> list[str]:
    """The layers to tap (``layers``, or the suggested ones when None), once the model is
    known to give (batch, classes) logits and usable maps there; else one L2IError that
    says what to change. ``labelled``: the classes are the data's (else --classes')."""
    survey = survey_layers(model, input_kind, frontend, wave, clip_name, clip_seconds)
    _check_output(logits_of(survey.output), classes, labelled)
    shapes = survey.shapes
    offer = _offer(survey.suggested or list(survey.taps.values()), shapes)
    if layers is None:
        layers = survey.suggested
        if not layers:
            raise L2IError("found no layers to tap (feature maps that follow time): name "
                           f"some with --layers; layers with maps: "
                           f"{_offer(survey.maps(), shapes)}")
        log.info("tapping the suggested layers %s", ",".join(layers))
    known = dict(model.named_modules())
    chosen = []
    for given in layers:
        name, _said_tokens = layer_of(given)
        if name not in known or not name:
            raise L2IError(f"the classifier has no layer named {name!r}: choose among "
                           f"{offer} (--layers)")
        s = shapes.get(name)
        if s is None or len(s) not in (2, 3):
            got = "no tensor" if s is None else f"maps of shape {_shape(s)}"
            raise L2IError(f"layer {name} gives {got}, not channels x time or channels x "
                           f"frequency x time: choose among {offer} (--layers)")
        if name not in survey.taps:
            a, b = survey.seconds
            raise L2IError(f"layer {name} gives maps of length {s[-1]} whatever the clip's "
                           f"length ({a:g} s and {b:g} s), so they do not "
                           f"follow time: choose an earlier layer among {offer} (--layers)")
        chosen.append(survey.taps[name])  # a token sequence is read as such, said or not
    return chosen


def _follow_time(maps: list[str], shapes: Shapes, other: Shapes | None
                 ) -> tuple[list[str], list[str]]:
    """The maps whose last axis follows the clip's length (channels x time), and the
    (tokens, channels) sequences whose first axis does (a transformer's blocks)."""
    if other is None:
        return maps, []
    timed = [m for m in maps if other.get(m) is not None and other[m][-1] != shapes[m][-1]]
    tokens = [m for m in maps if m not in timed and len(shapes[m]) == 2
              and other.get(m) is not None and other[m][0] != shapes[m][0]]
    return timed, tokens


def _blocks(model: nn.Module, tokens: list[str], n: int = 3) -> list[str]:
    """For a transformer: up to ``n`` of its attention blocks' outputs, spread over its
    depth (the last one included)."""
    modules = dict(model.named_modules())

    def attention(m: nn.Module) -> bool:
        return isinstance(m, nn.MultiheadAttention) or "attention" in type(m).__name__.lower()

    # blocks that hold an attention, not the attention itself, nor a stack of blocks
    held = [t for t in tokens if not attention(modules[t])
            and any(attention(m) for m in modules[t].modules())]
    blocks = [t for t in held if not any(o.startswith(t + ".") for o in held)]
    if len(blocks) > n:
        picks = np.linspace(0, len(blocks) - 1, n).round().astype(int)
        blocks = [blocks[i] for i in dict.fromkeys(picks.tolist())]
    return blocks


def _check_output(out: object, classes: list[str], labelled: bool = True) -> None:
    if not torch.is_tensor(out):
        raise L2IError(f"the classifier returns {type(out).__name__}, not a tensor of "
                       "logits (batch, classes) nor an object with a .logits tensor: make "
                       "its forward return the logits")
    if out.ndim != 2 or out.shape[0] != 1:
        raise L2IError(f"the classifier returns a tensor of shape {tuple(out.shape)} for one"
                       " clip, not (1, classes): make its forward return logits of shape "
                       "(batch, classes)")
    if out.shape[1] != len(classes):
        names = ", ".join(classes[:3]) + (", ..." if len(classes) > 3 else "")
        n = out.shape[1]
        if not labelled:  # the classes are the ones --classes names
            raise L2IError(f"the classifier gives {n} outputs but --classes names "
                           f"{len(classes)} ({names}): name its {n} classes in its output "
                           "order")
        # the data's labels are other classes than the model's: it can still be explained
        raise L2IError(f"the classifier gives {n} outputs but there are {len(classes)} "
                       f"classes ({names}): name its {n} classes in its output order "
                       f"(--classes) and add --unlabelled to use these clips without their "
                       f"labels, or use a model with {len(classes)} outputs")


def check_on_data(model: nn.Module, input_kind: str, frontend: FrontEndConfig,
                  paths: Sequence[Path], clip_seconds: float, classes: list[str],
                  layers: list[str] | None, labelled: bool = True) -> list[str]:
    """``check_classifier`` on the first readable clip of a dataset's ``paths``."""
    wave, name = first_clip(paths, frontend.sample_rate)
    return check_classifier(model, input_kind, frontend, wave, name, clip_seconds, classes,
                            layers, labelled)

"""A bundle's optional L-MAC decoder: the manifest's ``lmac`` section (config, the layers
it taps, training provenance) and the tensors under ``lmac.`` in weights.safetensors.

A bundle without the section loads as before; versions that do not know it ignore both
the section and the tensors, so its presence needs no newer schema. Loading checks it as
strictly as the interpreter: the section field by field, the decoder built on the meta
device and matched tensor by tensor before any weight is read, and the tapped layers
run on a silent input to compare their shapes with the decoder's.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from engine.bundles.fill import fill_module
from engine.dsp.features import FrontEndConfig
from engine.models.lmac_decoder import LMACConfig, LMACDecoder
from engine.models.taps import LayerTaps
from engine.models.user_classifier import example_input
from engine.runtime.errors import BundleError

SECTION = "lmac"
PREFIX = "lmac."


def validate_section(m: dict) -> None:
    """The ``lmac`` section's fields (BundleError naming the first that is wrong)."""
    if SECTION not in m:
        return
    sec = m[SECTION]
    if not isinstance(sec, dict):
        raise BundleError("manifest.json: 'lmac' must be an object")
    config, layers = sec.get("config"), sec.get("layers")
    if not isinstance(config, dict):
        raise BundleError("manifest.json: 'lmac.config' must be an object")
    if not (isinstance(layers, list) and layers
            and all(isinstance(x, str) and x for x in layers)):
        raise BundleError("manifest.json: 'lmac.layers' must list at least one layer name")
    for key in ("provenance", "metrics"):
        if not isinstance(sec.get(key, {}), dict):
            raise BundleError(f"manifest.json: 'lmac.{key}' must be an object")
    try:
        cfg = LMACConfig(**config)
    except (TypeError, ValueError) as exc:
        raise BundleError(f"manifest.json: 'lmac.config' is not valid "
                          f"({str(exc).splitlines()[0]})") from None
    if len(cfg.map_shapes) != len(layers):
        raise BundleError(f"manifest.json: the L-MAC decoder taps {len(layers)} layers but "
                          f"has {len(cfg.map_shapes)} map shapes")


def section(decoder: LMACDecoder, layers: list[str], provenance: dict[str, Any]) -> dict:
    return {"config": decoder.config.to_dict(), "layers": list(layers),
            "provenance": dict(provenance)}


def build(manifest: dict, tensors: dict[str, torch.Tensor], fe: FrontEndConfig,
          clf: nn.Module, where: str) -> LMACDecoder | None:
    """The decoder the manifest declares, filled from the tensors and checked against the
    classifier's maps; None when the bundle has none (and then no ``lmac.`` tensors)."""
    state = {k[len(PREFIX):]: v for k, v in tensors.items() if k.startswith(PREFIX)}
    if SECTION not in manifest:
        if state:
            raise BundleError(f"{where}: weights.safetensors holds L-MAC tensors that the "
                              "manifest does not declare")
        return None
    sec = manifest[SECTION]
    cfg = LMACConfig(**sec["config"])
    for device in ("meta", "cpu"):
        try:
            with torch.device(device):
                decoder = LMACDecoder(LMACConfig(**sec["config"]), fe)
        except (TypeError, ValueError, RuntimeError) as exc:
            raise BundleError(f"{where}: the manifest describes an impossible L-MAC decoder "
                              f"({str(exc).splitlines()[0]})") from None
        fill_module(decoder, state, "L-MAC decoder", where, load=device != "meta")
    decoder.eval()
    _check_taps(clf, manifest, sec["layers"], cfg, fe, where)
    return decoder


def _check_taps(clf: nn.Module, manifest: dict, layers: list[str], cfg: LMACConfig,
                fe: FrontEndConfig, where: str) -> None:
    try:
        taps = LayerTaps(clf, layers)
    except ValueError as exc:
        raise BundleError(f"{where}: L-MAC: {exc}") from None
    kind = manifest["classifier"].get("input", "log_mel")
    try:
        with taps, torch.no_grad():
            _, maps = taps(example_input(kind, fe))
    except Exception as exc:  # user code may fail on silence in any way it likes
        raise BundleError(f"{where}: the classifier fails on a silent test input "
                          f"({type(exc).__name__}: {str(exc).splitlines()[0][:160]})"
                          ) from None
    for name, m, shape in zip(layers, maps, cfg.map_shapes):
        if m.ndim - 1 != len(shape) or m.shape[1] != shape[0] or \
                (len(shape) == 3 and m.shape[2] != shape[1]):
            raise BundleError(f"{where}: layer {name} gives maps of shape "
                              f"{tuple(m.shape[1:])}, the L-MAC decoder expects "
                              f"{tuple(shape)}")

"""The manifest's schema: what a bundle must declare, checked field by field."""

from __future__ import annotations

import math
from typing import Any

from engine.bundles.lmac_part import validate_section as validate_lmac
from engine.models.hf_classifier import HF_ARCHITECTURE, config_problem
from engine.models.user_classifier import (
    ARCHITECTURE,
    IDENTIFIER,
    INPUT_KINDS,
    validate_code_entry,
)
from engine.runtime.errors import BundleError

# 2: the interpreter may refine its activations on the input (refine_iterations)
SCHEMA_VERSION = 2
MAX_CLASSES = 10_000
MAX_K = 4096


def _need(d: dict, key: str, kind: type | tuple[type, ...], where: str) -> Any:
    if key not in d:
        raise BundleError(f"manifest.json has no '{where}{key}'")
    value = d[key]
    if not isinstance(value, kind) or (kind in (int, (int, float)) and isinstance(value, bool)):
        names = kind.__name__ if isinstance(kind, type) else "/".join(k.__name__ for k in kind)
        raise BundleError(f"manifest.json: '{where}{key}' must be {names}, "
                          f"not {type(value).__name__}")
    return value


def _number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _positive_int(d: dict, key: str, where: str, upper: int) -> int:
    v = _need(d, key, int, where)
    if not 0 < v <= upper:
        raise BundleError(f"manifest.json: '{where}{key}' = {v} is out of range (1..{upper})")
    return v


def validate_manifest(m: Any) -> None:
    """Raise BundleError naming the first thing that is wrong with a manifest."""
    if not isinstance(m, dict):
        raise BundleError("manifest.json must hold a JSON object")
    if m.get("format") != "l2i-bundle":
        raise BundleError("manifest.json is not an L2I bundle manifest (format tag missing)")
    version = _need(m, "schema_version", int, "")
    if version > SCHEMA_VERSION:
        raise BundleError(f"the bundle was written by a newer L2I Desktop (schema {version}; "
                          f"this version reads up to {SCHEMA_VERSION}): please upgrade")
    if version < 1:
        raise BundleError(f"manifest.json: schema_version {version} is not valid")
    _need(m, "name", str, "")

    fe = _need(m, "frontend", dict, "")
    _positive_int(fe, "sample_rate", "frontend.", 768_000)
    n_fft = _positive_int(fe, "n_fft", "frontend.", 1 << 16)
    _positive_int(fe, "hop_length", "frontend.", n_fft)
    _positive_int(fe, "n_mels", "frontend.", 1024)
    rate = fe["sample_rate"]
    top_db = _need(fe, "top_db", (int, float), "frontend.")
    if not math.isfinite(top_db) or top_db <= 0:
        raise BundleError(f"manifest.json: 'frontend.top_db' must be a positive number: {top_db}")
    f_min = fe.get("f_min", 0.0)
    f_max = fe.get("f_max")
    if not _number(f_min) or not 0 <= f_min < rate / 2:
        raise BundleError(f"manifest.json: 'frontend.f_min' = {f_min!r} is not a frequency "
                          f"in [0, {rate / 2:g})")
    if f_max is not None and (not _number(f_max) or not f_min < f_max <= rate / 2):
        raise BundleError(f"manifest.json: 'frontend.f_max' = {f_max!r} is not a frequency "
                          f"in ({f_min:g}, {rate / 2:g}]")

    classes = _need(m, "classes", list, "")
    if not 1 <= len(classes) <= MAX_CLASSES:
        raise BundleError(f"manifest.json: {len(classes)} classes is out of range")
    if not all(isinstance(c, str) and c for c in classes):
        raise BundleError("manifest.json: every class name must be a non-empty string")
    if len(set(classes)) != len(classes):
        raise BundleError("manifest.json: class names must be unique")
    _need(m, "multilabel", bool, "")

    clf = _need(m, "classifier", dict, "")
    arch = _need(clf, "architecture", str, "classifier.")
    _need(clf, "config", dict, "classifier.")
    if clf.get("input", "log_mel") not in INPUT_KINDS:
        raise BundleError(f"manifest.json: classifier input {clf.get('input')!r} "
                          "is not supported by this version")
    if arch == ARCHITECTURE:
        problem = validate_code_entry(clf.get("code"))
        if problem:
            raise BundleError(f"manifest.json: {problem}")
        requires = clf.get("requires", [])
        if not (isinstance(requires, list) and len(requires) <= 1000 and all(
                isinstance(r, str) and IDENTIFIER.match(r) for r in requires)):
            raise BundleError("manifest.json: 'classifier.requires' must list module names")
    else:
        if "code" in clf:
            raise BundleError(f"manifest.json: only a '{ARCHITECTURE}' classifier has code")
        if arch == HF_ARCHITECTURE:  # its feature extractor is part of it: it reads audio
            problem = config_problem(clf["config"])
            if problem:
                raise BundleError(f"manifest.json: {problem}")
            if clf.get("input") != "waveform":
                raise BundleError("manifest.json: an hf classifier reads the waveform")
        elif clf.get("input", "log_mel") != "log_mel":
            raise BundleError(f"manifest.json: the '{arch}' classifier reads log-mel, "
                              f"not {clf['input']!r}")

    layers = _need(m, "layers", list, "")
    if not layers or not all(isinstance(x, str) and x for x in layers):
        raise BundleError("manifest.json: 'layers' must list at least one layer name")

    k = _positive_int(_need(m, "dictionary", dict, ""), "k", "dictionary.", MAX_K)

    interp = _need(m, "interpreter", dict, "")
    ik = _positive_int(interp, "k", "interpreter.", MAX_K)
    nc = _positive_int(interp, "n_classes", "interpreter.", MAX_CLASSES)
    shapes = _need(interp, "map_shapes", list, "interpreter.")
    if ik != k:
        raise BundleError(f"manifest.json: the interpreter has K = {ik} but the dictionary "
                          f"has K = {k}")
    if nc != len(classes):
        raise BundleError(f"manifest.json: the interpreter predicts {nc} classes but "
                          f"{len(classes)} class names are listed")
    if len(shapes) != len(layers):
        raise BundleError(f"manifest.json: {len(layers)} tapped layers but "
                          f"{len(shapes)} map shapes in the interpreter")
    for s in shapes:
        if not (isinstance(s, list) and len(s) in (2, 3)
                and all(isinstance(v, int) and not isinstance(v, bool) and 0 < v <= 65536
                        for v in s)):
            raise BundleError(f"manifest.json: interpreter map shape {s!r} is not valid")
    clip = m.get("clip_seconds", 5.0)
    if not _number(clip) or not 0 < clip <= 3600:
        raise BundleError(f"manifest.json: 'clip_seconds' = {clip!r} is out of range")
    for key in ("provenance", "metrics"):
        if key in m and not isinstance(m[key], dict):
            raise BundleError(f"manifest.json: '{key}' must be an object")
    validate_lmac(m)

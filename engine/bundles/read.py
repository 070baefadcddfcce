"""Reading a bundle's files without trusting them: the `.l2i` zip with size and
compression-ratio limits checked before anything is inflated, the manifest as JSON with
no constants (NaN, Infinity) and validated, the weights as safetensors (never pickle).
Every failure is one ``BundleError`` naming the file and what is wrong.
"""

from __future__ import annotations

import json
import zipfile
import zlib
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import load as load_safetensors_bytes

from engine.bundles.manifest import validate_manifest
from engine.models.user_classifier import MAX_SOURCE_BYTES, SOURCE_FILE
from engine.runtime.errors import BundleError, shown

MANIFEST = "manifest.json"
WEIGHTS = "weights.safetensors"
MAX_MANIFEST_BYTES = 1 << 20
MAX_WEIGHTS_BYTES = 2 << 30
MAX_RATIO = 50  # deflated float weights shrink by about 1.1; zeros by 1000


def read_zip(path: Path) -> tuple[bytes, bytes, bytes | None]:
    try:
        with zipfile.ZipFile(path) as zf:
            names = {i.filename: i for i in zf.infolist()}
            for member, limit in ((MANIFEST, MAX_MANIFEST_BYTES), (WEIGHTS, MAX_WEIGHTS_BYTES)):
                if member not in names:
                    raise BundleError(f"{shown(path, full=True)}: the archive has no {member}")
                info = names[member]
                if info.file_size > limit:
                    raise BundleError(f"{shown(path, full=True)}: {member} is implausibly large "
                                      f"({info.file_size} bytes)")
                # trained weights barely compress: a high ratio is a zip bomb, refused
                # before gigabytes are inflated into memory
                if info.file_size > MAX_RATIO * max(info.compress_size, 1) + (1 << 20):
                    raise BundleError(f"{shown(path, full=True)}: {member} inflates "
                                      f"{info.file_size} bytes from {info.compress_size}: "
                                      "refused")
            with zf.open(MANIFEST) as f:
                manifest = f.read(MAX_MANIFEST_BYTES + 1)
            with zf.open(WEIGHTS) as f:
                weights = f.read(MAX_WEIGHTS_BYTES + 1)
            source = None
            if SOURCE_FILE in names:
                with zf.open(SOURCE_FILE) as f:
                    source = f.read(MAX_SOURCE_BYTES + 1)
            return manifest, weights, source
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, ValueError,
            NotImplementedError, RuntimeError, zlib.error) as exc:  # zlib: a damaged member
        raise BundleError(f"{shown(path, full=True)}: not a readable bundle archive "
                          f"({exc})") from None


def _no_constants(name: str):
    raise ValueError(f"{name} is not a valid JSON value")


def parse_manifest(raw: bytes, where: str) -> dict:
    if len(raw) > MAX_MANIFEST_BYTES:
        raise BundleError(f"{where}: manifest.json is implausibly large")
    try:
        manifest = json.loads(raw.decode("utf-8"), parse_constant=_no_constants)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError, ValueError) as exc:
        raise BundleError(f"{where}: manifest.json is not valid JSON ({exc})") from None
    try:
        validate_manifest(manifest)
    except BundleError as exc:
        raise BundleError(f"{where}: {exc}") from None
    return manifest


def load_tensors(weights: bytes | Path, where: str) -> dict[str, torch.Tensor]:
    try:
        if isinstance(weights, Path):
            if weights.stat().st_size > MAX_WEIGHTS_BYTES:
                raise BundleError(f"{where}: weights.safetensors is implausibly large")
            with safe_open(str(weights), framework="pt") as f:
                return {k: f.get_tensor(k) for k in f.keys()}
        return load_safetensors_bytes(weights)
    except BundleError:
        raise
    except Exception as exc:  # safetensors raises its own error types for malformed files
        raise BundleError(f"{where}: weights.safetensors is not a valid safetensors file "
                          f"({str(exc).splitlines()[0] if str(exc) else type(exc).__name__})"
                          ) from None


def decode_source(raw: bytes | None, where: str) -> str | None:
    if raw is None:
        return None
    if len(raw) > MAX_SOURCE_BYTES:
        raise BundleError(f"{where}: {SOURCE_FILE} is implausibly large")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise BundleError(f"{where}: {SOURCE_FILE} is not UTF-8 text") from None

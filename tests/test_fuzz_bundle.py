"""Fuzzing bundle loading (hypothesis): manifests with any field removed or replaced,
weights with other dtypes, shapes and names, flipped bytes, hostile zip members, code
that would run. Loading gives a usable bundle or one BundleError line; it never raises
anything else, never runs code and never writes a file. (tests/test_bundle.py has the
hand-written cases; these are drawn at random.)

Examples per test: 20 here (10 for flipped bytes); ``L2I_FUZZ_SCALE=N`` multiplies them
(scripts/fuzz_long.py).
"""

from __future__ import annotations

import json
import os
import pickle
import tempfile
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import random_bundle
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from safetensors.torch import load as load_bytes
from safetensors.torch import save as save_bytes

from engine.bundles.bundle import MANIFEST, WEIGHTS, load_bundle, save_bundle
from engine.explanation.explain import Explainer
from engine.runtime.errors import BundleError, L2IError

SCALE = float(os.environ.get("L2I_FUZZ_SCALE", "1"))
_SETTINGS = settings(max_examples=max(1, int(20 * SCALE)), deadline=None,
                     suppress_health_check=[HealthCheck.too_slow,
                                            HealthCheck.function_scoped_fixture])
MARKER = "L2I_FUZZ_EXECUTED"


class _Good(tuple):
    def __repr__(self) -> str:  # hypothesis prints it with every failing example
        return "<a valid manifest and its 8 MB of weights>"


@pytest.fixture(scope="module")
def good(tmp_path_factory) -> tuple[dict, bytes]:
    path = save_bundle(random_bundle(n_classes=3, k=8, seed=4),
                       tmp_path_factory.mktemp("fuzz") / "good")
    return _Good((json.loads((path / MANIFEST).read_text()), (path / WEIGHTS).read_bytes()))


def _files(root: Path) -> set[Path]:
    return {p for p in root.rglob("*")}


def _load_checked(path: Path, sandbox: Path) -> None:
    """The property: a usable bundle, or one BundleError line; no code, no new files."""
    before = _files(sandbox)
    try:
        bundle = load_bundle(path)
    except BundleError as exc:
        msg = str(exc)
        assert msg and "\n" not in msg and "Traceback" not in msg, msg
    else:  # what loads works: finite numbers, or (weights of 1e38) one line at analysis
        with Explainer(bundle) as ex:
            try:
                a = ex.analyse(np.sin(np.arange(8000, dtype=np.float32) / 9))
            except L2IError as exc:
                assert "non-finite" in str(exc) and "\n" not in str(exc), exc
            else:
                assert np.isfinite(a.probabilities).all() and torch.isfinite(a.H).all()
    assert _files(sandbox) == before
    assert not list(sandbox.rglob(MARKER)) and not Path("/tmp", MARKER).exists()


_json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2 ** 63), 2 ** 63) | st.text(max_size=8)
    | st.floats(allow_nan=False, allow_infinity=False) | st.sampled_from(
        [0, -1, 1 << 31, 10 ** 12, "vgg", "custom", "../../etc/passwd", [1 << 20] * 3]),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner,
                                                                max_size=4),
    max_leaves=8)


def _paths(obj, prefix=()) -> list[tuple]:
    out = [prefix] if prefix else []
    if isinstance(obj, dict):
        for k, v in obj.items():
            out += _paths(v, prefix + (k,))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            out += _paths(v, prefix + (i,))
    return out


@st.composite
def _mutated_manifest(draw, manifest: dict) -> dict:
    m = json.loads(json.dumps(manifest))
    for _ in range(draw(st.integers(1, 3))):
        paths = _paths(m)
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        parent = m
        for key in path[:-1]:
            parent = parent[key]
        if draw(st.booleans()) and isinstance(parent, dict):
            del parent[path[-1]]
        else:
            parent[path[-1]] = draw(_json_values)
    return m


@_SETTINGS
@given(data=st.data())
def test_any_mutated_manifest_loads_cleanly_or_is_refused(good, tmp_path, data):
    manifest, weights = good
    folder = Path(tempfile.mkdtemp(dir=tmp_path))  # hypothesis replays examples
    (folder / MANIFEST).write_text(json.dumps(data.draw(_mutated_manifest(manifest))))
    (folder / WEIGHTS).write_bytes(weights)
    _load_checked(folder, tmp_path)


_DTYPES = [torch.float16, torch.bfloat16, torch.float64, torch.int8, torch.int64, torch.bool,
           torch.uint8]


@st.composite
def _mutated_tensors(draw, tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    t = dict(tensors)
    for _ in range(draw(st.integers(1, 3))):
        name = draw(st.sampled_from(sorted(t)))
        how = draw(st.sampled_from(["dtype", "shape", "drop", "rename", "extra", "values"]))
        if how == "dtype":
            t[name] = t[name].to(draw(st.sampled_from(_DTYPES)))
        elif how == "shape":
            dims = draw(st.lists(st.integers(0, 40), min_size=0, max_size=4))
            t[name] = torch.zeros(dims)
        elif how == "drop" and len(t) > 1:
            del t[name]
        elif how == "rename":
            t[draw(st.sampled_from(["../evil", "dictionary.W.x", "classifier.", "", "é"]))] = \
                t.pop(name)
        elif how == "extra":
            t[f"classifier.extra{draw(st.integers(0, 9))}"] = torch.ones(3)
        elif t[name].is_floating_point() and t[name].numel():
            bad = draw(st.sampled_from([float("nan"), float("inf"), -1.0, 1e38]))
            t[name] = t[name].clone().flatten()
            t[name][0] = bad
            t[name] = t[name].reshape(tensors[name].shape) if name in tensors and \
                t[name].numel() == tensors[name].numel() else t[name]
    return t


@_SETTINGS
@given(data=st.data(), zipped=st.booleans())
def test_any_mutated_weights_load_cleanly_or_are_refused(good, tmp_path, data, zipped):
    manifest, weights = good
    tensors = data.draw(_mutated_tensors(load_bytes(weights)))
    raw = save_bytes({k: v.contiguous() for k, v in tensors.items()})
    fresh = Path(tempfile.mkdtemp(dir=tmp_path))
    if zipped:
        path = fresh / "b.l2i"
        with zipfile.ZipFile(path, "w") as zf:
            zf.writestr(MANIFEST, json.dumps(manifest))
            zf.writestr(WEIGHTS, raw)
    else:
        path = fresh
        (path / MANIFEST).write_text(json.dumps(manifest))
        (path / WEIGHTS).write_bytes(raw)
    _load_checked(path, tmp_path)


@settings(_SETTINGS, max_examples=max(1, int(10 * SCALE)))  # each loads 8 MB: fewer
@given(data=st.data(), target=st.sampled_from([MANIFEST, WEIGHTS, "zip"]))
def test_flipped_bytes_anywhere_load_cleanly_or_are_refused(good, tmp_path, data, target):
    manifest, weights = good
    files = {MANIFEST: json.dumps(manifest).encode(), WEIGHTS: weights}
    path = Path(tempfile.mkdtemp(dir=tmp_path)) / "b.l2i"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, content in files.items():
            zf.writestr(name, content)
    raw = bytearray(path.read_bytes() if target == "zip" else files[target])
    limit = min(len(raw), 4096) if target == WEIGHTS else len(raw)  # header and first rows
    for _ in range(data.draw(st.integers(1, 8))):
        raw[data.draw(st.integers(0, limit - 1))] = data.draw(st.integers(0, 255))
    if data.draw(st.booleans()):
        raw = raw[: data.draw(st.integers(0, len(raw)))]
    if target == "zip":
        path.write_bytes(bytes(raw))
    else:
        files[target] = bytes(raw)
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
            for name, content in files.items():
                zf.writestr(name, content)
    _load_checked(path, tmp_path)


class _Boom:
    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):  # unpickling this creates a folder: proof of execution
        return (os.mkdir, (self.marker,))


_MEMBER_NAMES = st.sampled_from(["../" + MARKER, "../../" + MARKER, "/tmp/" + MARKER,
                                 "a/../../" + MARKER, "..\\..\\" + MARKER, MARKER,
                                 "classifier.py", "./manifest.json", "weights.safetensors/x"])
_CODE = f"import os\nos.mkdir({MARKER!r})\ndef build_model():\n    return None\n"


@_SETTINGS
@given(data=st.data())
def test_hostile_archives_never_run_code_or_write_files(good, tmp_path, data, monkeypatch):
    manifest, weights = good
    work = Path(tempfile.mkdtemp(dir=tmp_path)) / "deep"
    work.mkdir()
    monkeypatch.chdir(work)  # relative members would land here if anything extracted
    m = json.loads(json.dumps(manifest))
    code = data.draw(st.sampled_from([None, {"entry_point": "os:getcwd"},
                                      {"file": "classifier.py", "function": "build_model"}]))
    if code is not None:
        m["classifier"]["architecture"] = "custom"
        m["classifier"]["code"] = code
    members = {MANIFEST: json.dumps(m).encode(), WEIGHTS: weights, "classifier.py": _CODE.encode()}
    if data.draw(st.booleans()):
        members[WEIGHTS] = pickle.dumps({"dictionary.W": _Boom(str(work / MARKER))})
    for name in data.draw(st.lists(_MEMBER_NAMES, max_size=4)):
        members[name] = _CODE.encode()
    path = work / "evil.l2i"
    with zipfile.ZipFile(path, "w") as zf:
        for name, content in members.items():
            zf.writestr(zipfile.ZipInfo(name), content)
    _load_checked(path, tmp_path)
    if code is not None:  # code is refused before anything else is looked at
        with pytest.raises(BundleError, match="trust"):
            load_bundle(path)

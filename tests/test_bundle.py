"""engine.bundles.bundle: save/load round trips and refusal of anything malformed or hostile."""

from __future__ import annotations

import json
import os
import pickle
import time
import zipfile
from pathlib import Path

import pytest
import torch
from conftest import random_bundle
from safetensors.torch import load_file, save_file

from engine.bundles.bundle import MANIFEST, WEIGHTS, load_bundle, save_bundle
from engine.bundles.manifest import SCHEMA_VERSION
from engine.runtime.errors import BundleError


@pytest.fixture(scope="module")
def bundle():
    return random_bundle(n_classes=3, k=12, seed=1)


@pytest.fixture
def folder(bundle, tmp_path) -> Path:
    return save_bundle(bundle, tmp_path / "b")


def _assert_same_state(a: torch.nn.Module, b: torch.nn.Module, exact: bool = True) -> None:
    sa, sb = a.state_dict(), b.state_dict()
    assert sa.keys() == sb.keys()
    for k in sa:
        assert sa[k].dtype == sb[k].dtype, k
        if exact:
            assert torch.equal(sa[k], sb[k]), k
        else:
            torch.testing.assert_close(sb[k], sa[k], atol=2e-3, rtol=2e-3)


def _refused(path, *words: str) -> str:
    with pytest.raises(BundleError) as info:
        load_bundle(path)
    msg = str(info.value)
    assert "\n" not in msg
    for w in words:
        assert w.lower() in msg.lower(), msg
    return msg


def _edit_manifest(folder: Path, edit) -> None:
    m = json.loads((folder / MANIFEST).read_text())
    edit(m)
    (folder / MANIFEST).write_text(json.dumps(m))


def _edit_tensors(folder: Path, edit) -> None:
    t = load_file(str(folder / WEIGHTS))
    edit(t)
    save_file(t, str(folder / WEIGHTS))


def _zip(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members.items():
            zf.writestr(zipfile.ZipInfo(name), data)
    return path


# --- round trips -----------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["bundle_dir", "bundle.l2i"])
def test_round_trip_is_exact(bundle, tmp_path, name):
    path = save_bundle(bundle, tmp_path / name)
    assert path.is_dir() == (name == "bundle_dir")
    if path.is_file():
        assert sorted(zipfile.ZipFile(path).namelist()) == [MANIFEST, WEIGHTS]
    loaded = load_bundle(path)
    assert loaded.manifest == bundle.manifest
    _assert_same_state(bundle.classifier, loaded.classifier)
    _assert_same_state(bundle.interpreter, loaded.interpreter)
    assert torch.equal(loaded.W, bundle.W)
    assert loaded.path == path
    assert not loaded.classifier.training and not loaded.interpreter.training
    assert (loaded.k, loaded.classes, loaded.layers) == (12, bundle.classes, bundle.layers)
    assert loaded.frontend == bundle.frontend
    # nothing but the bundle itself is left next to it (no temporary folders)
    assert sorted(p.name for p in tmp_path.iterdir()) == [name]


def test_round_trip_keeps_extra_tensors(tmp_path):
    b = random_bundle(k=4)
    b.extra = {"mean": torch.arange(5, dtype=torch.float32)}
    loaded = load_bundle(save_bundle(b, tmp_path / "e.l2i"))
    assert torch.equal(loaded.extra["mean"], torch.arange(5, dtype=torch.float32))


@pytest.mark.parametrize("name", ["half_dir", "half.l2i"])
def test_half_precision_loads_as_float32(bundle, tmp_path, name):
    path = save_bundle(bundle, tmp_path / name, half=True)
    full = save_bundle(bundle, tmp_path / ("full.l2i" if name.endswith(".l2i") else "full"))
    size = (lambda p: p.stat().st_size) if path.is_file() else \
        (lambda p: (p / WEIGHTS).stat().st_size)
    assert size(path) < 0.7 * size(full)
    loaded = load_bundle(path)
    _assert_same_state(bundle.classifier, loaded.classifier, exact=False)
    _assert_same_state(bundle.interpreter, loaded.interpreter, exact=False)
    assert loaded.W.dtype == torch.float32
    torch.testing.assert_close(loaded.W, bundle.W, atol=1e-3, rtol=1e-3)


def test_saving_over_an_existing_folder_replaces_it(bundle, tmp_path):
    path = save_bundle(random_bundle(k=5), tmp_path / "b")
    (path / "stale.txt").write_text("old")
    save_bundle(bundle, path)
    assert sorted(p.name for p in path.iterdir()) == [MANIFEST, WEIGHTS]
    assert load_bundle(path).k == 12
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b"]


# --- refusals --------------------------------------------------------------------------------


def test_missing_path(tmp_path):
    _refused(tmp_path / "nope.l2i", "no such bundle")


def test_newer_schema(folder):
    _edit_manifest(folder, lambda m: m.update(schema_version=SCHEMA_VERSION + 1))
    _refused(folder, "newer", "upgrade")


def test_k_mismatch_between_dictionary_and_interpreter(folder):
    _edit_manifest(folder, lambda m: m["dictionary"].update(k=13))
    _refused(folder, "K = 12", "K = 13")


def test_k_mismatch_between_manifest_and_tensors(folder):
    def edit(m):
        m["dictionary"]["k"] = 13
        m["interpreter"]["k"] = 13
    _edit_manifest(folder, edit)
    _refused(folder, "dictionary.W", "(513, 13)")


def test_class_count_mismatch(folder):
    _edit_manifest(folder, lambda m: m["classes"].append("extra class"))
    _refused(folder, "3 classes", "4 class names")


def test_class_count_mismatch_with_tensors(folder):
    def edit(m):
        m["classes"].append("extra class")
        m["interpreter"]["n_classes"] = 4
    _edit_manifest(folder, edit)
    _refused(folder, "shape")


def test_missing_tensor(folder):
    _edit_tensors(folder, lambda t: t.pop("interpreter.theta.fc.weight"))
    _refused(folder, "missing", "theta.fc.weight")


def test_missing_dictionary(folder):
    _edit_tensors(folder, lambda t: t.pop("dictionary.W"))
    _refused(folder, "dictionary.W")


def test_unexpected_tensor(folder):
    _edit_tensors(folder, lambda t: t.update({"classifier.intruder": torch.zeros(2)}))
    _refused(folder, "unexpected", "intruder")


def test_wrong_tensor_shape(folder):
    def edit(t):
        t["classifier.head.weight"] = torch.zeros(3, 7)
    _edit_tensors(folder, edit)
    _refused(folder, "classifier.head.weight".split(".", 1)[1], "shape")


@pytest.mark.parametrize("key", ["classifier.head.weight", "interpreter.theta.fc.weight",
                                 "dictionary.W"])
@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_non_finite_weights(folder, key, bad):
    def edit(t):
        t[key] = t[key].clone()
        t[key].view(-1)[3] = bad
    _edit_tensors(folder, edit)
    _refused(folder, key.split(".", 1)[1], "finite" if key == "dictionary.W" else "NaN")


def test_negative_dictionary(folder):
    _edit_tensors(folder, lambda t: t.update({"dictionary.W": -t["dictionary.W"]}))
    _refused(folder, "non-negative")


def test_manifest_not_json(folder):
    (folder / MANIFEST).write_text("{not json")
    _refused(folder, "not valid JSON")


def test_manifest_not_utf8(folder):
    (folder / MANIFEST).write_bytes(b"\xff\xfe\x00garbage")
    _refused(folder, "not valid JSON")


def test_manifest_not_an_object(folder):
    (folder / MANIFEST).write_text("[1, 2, 3]")
    _refused(folder, "JSON object")


def test_manifest_without_format_tag(folder):
    _edit_manifest(folder, lambda m: m.pop("format"))
    _refused(folder, "format")


@pytest.mark.parametrize("field", ["schema_version", "name", "frontend", "classes",
                                   "multilabel", "classifier", "layers", "dictionary",
                                   "interpreter"])
def test_manifest_missing_field(folder, field):
    _edit_manifest(folder, lambda m: m.pop(field))
    _refused(folder, f"'{field}'")


@pytest.mark.parametrize(("section", "field"), [("frontend", "sample_rate"),
                                                ("frontend", "n_fft"),
                                                ("classifier", "architecture"),
                                                ("dictionary", "k"),
                                                ("interpreter", "map_shapes")])
def test_manifest_missing_nested_field(folder, section, field):
    _edit_manifest(folder, lambda m: m[section].pop(field))
    _refused(folder, f"'{section}.{field}'")


@pytest.mark.parametrize(("edit", "words"), [
    (lambda m: m.update(classes=["a", "a", "b"]), ["unique"]),
    (lambda m: m.update(classes=[]), ["out of range"]),
    (lambda m: m.update(multilabel="yes"), ["multilabel", "bool"]),
    (lambda m: m["frontend"].update(n_fft=True), ["n_fft", "int"]),
    (lambda m: m["frontend"].update(sample_rate=-1), ["sample_rate", "out of range"]),
    (lambda m: m.update(layers=[]), ["layers"]),
    (lambda m: m.update(layers=["blocks.1", "blocks.2", "blocks.99"]), ["blocks.99"]),
    (lambda m: m["classifier"].update(architecture="resnet"), ["resnet"]),
    (lambda m: m["classifier"].update(input="waveform"), ["waveform"]),
    (lambda m: m["interpreter"].update(pooling="mean"), ["pooling"]),
    (lambda m: m["interpreter"].update(surprise=1), ["impossible"]),
    (lambda m: m["interpreter"]["map_shapes"].pop(), ["map shapes"]),
])
def test_manifest_inconsistent(folder, edit, words):
    _edit_manifest(folder, edit)
    _refused(folder, *words)


def test_folder_without_files(folder):
    (folder / WEIGHTS).unlink()
    _refused(folder, WEIGHTS)
    (folder / MANIFEST).unlink()
    _refused(folder, MANIFEST)


class _Boom:
    """Unpickling this would create a folder: proof that something was executed."""

    def __init__(self, marker: Path) -> None:
        self.marker = str(marker)

    def __reduce__(self):
        return (os.mkdir, (self.marker,))


@pytest.mark.parametrize("how", ["pickle", "torch.save"])
@pytest.mark.parametrize("container", ["folder", "l2i"])
def test_pickle_in_place_of_weights_is_never_executed(bundle, tmp_path, how, container):
    marker = tmp_path / "EXECUTED"
    payload = tmp_path / "payload.bin"
    if how == "pickle":
        payload.write_bytes(pickle.dumps({"dictionary.W": _Boom(marker)}))
    else:
        torch.save({"dictionary.W": _Boom(marker)}, payload)
    # sanity: the payload really does execute when unpickled
    probe = tmp_path / "probe"
    pickle.loads(pickle.dumps(_Boom(probe)))
    assert probe.is_dir()

    folder = save_bundle(bundle, tmp_path / "b")
    (folder / WEIGHTS).write_bytes(payload.read_bytes())
    if container == "folder":
        target = folder
    else:
        target = _zip(tmp_path / "evil.l2i", {MANIFEST: (folder / MANIFEST).read_bytes(),
                                              WEIGHTS: payload.read_bytes()})
    _refused(target, "safetensors")
    assert not marker.exists()


def test_zip_with_path_traversal_members_writes_nothing_outside(bundle, tmp_path,
                                                                 monkeypatch):
    good = save_bundle(bundle, tmp_path / "good.l2i")
    with zipfile.ZipFile(good) as zf:
        members = {n: zf.read(n) for n in zf.namelist()}
    work = tmp_path / "deep" / "er"
    work.mkdir(parents=True)
    monkeypatch.chdir(work)
    evil = _zip(work / "evil.l2i", {"../evil": b"x", "../../evil2": b"x",
                                    "../" * 12 + "tmp/l2i_evil3": b"x",
                                    **members, "sub/../../evil4": b"x"})
    before = {p for p in tmp_path.rglob("*")}
    try:
        loaded = load_bundle(evil)
    except BundleError as exc:
        assert "\n" not in str(exc)
    else:
        assert loaded.manifest == bundle.manifest
        assert torch.equal(loaded.W, bundle.W)
    assert {p for p in tmp_path.rglob("*")} == before
    assert not Path("/tmp/l2i_evil3").exists()


def test_zip_without_manifest(bundle, tmp_path):
    good = save_bundle(bundle, tmp_path / "good.l2i")
    with zipfile.ZipFile(good) as zf:
        weights = zf.read(WEIGHTS)
    _refused(_zip(tmp_path / "nomanifest.l2i", {WEIGHTS: weights}), "no manifest.json")
    _refused(_zip(tmp_path / "noweights.l2i", {MANIFEST: b"{}"}), "no weights.safetensors")
    _refused(_zip(tmp_path / "nested.l2i", {"bundle/" + WEIGHTS: weights,
                                            "bundle/" + MANIFEST: b"{}"}), "no manifest")


def test_not_a_zip(tmp_path):
    p = tmp_path / "x.l2i"
    p.write_text("hello")
    _refused(p, "not a readable bundle archive")
    p.write_bytes(b"")
    _refused(p, "not a readable bundle archive")


def test_truncated_archive(bundle, tmp_path):
    p = save_bundle(bundle, tmp_path / "t.l2i")
    p.write_bytes(p.read_bytes()[:-100])
    _refused(p)


def test_garbage_weights(folder):
    (folder / WEIGHTS).write_bytes(os.urandom(4096))
    _refused(folder, "safetensors")


@pytest.mark.parametrize(("section", "key", "value"), [
    ("classifier", "widths", [100000]),
    ("classifier", "widths", [100000, 100000, 100000, 100000]),
    ("classifier", "widths", [8, 16, 16, 100000]),
    ("interpreter", "hidden", 1_000_000),
    ("interpreter", "adapter_channels", 1_000_000),
])
def test_huge_shapes_are_refused_quickly_without_allocating(folder, section, key, value):
    """A 100000 x 100000 x 3 x 3 convolution would need 360 GB: building it on the CPU
    would fail or take minutes; the bundle must be refused from shapes alone."""
    def edit(m):
        (m[section]["config"] if section == "classifier" else m[section])[key] = value
    _edit_manifest(folder, edit)
    start = time.perf_counter()
    msg = _refused(folder, "manifest")
    # refused either by the range check of the setting or by the shape comparison
    assert key in msg or "shape" in msg or "do not match" in msg, msg
    assert time.perf_counter() - start < 3.0


def test_huge_manifest_is_refused(folder):
    (folder / MANIFEST).write_bytes(b" " * (2 << 20) + b"{}")
    _refused(folder, "manifest.json", "implausibly large")


@pytest.mark.parametrize(("section", "key", "value"), [
    ("interpreter", "hidden", -1),
    ("interpreter", "adapter_channels", -3),
    ("classifier", "widths", [-8, 16, 16, 32]),
    ("frontend", "f_min", "low"),
    ("frontend", "f_max", "high"),
    ("frontend", "top_db", float("nan")),
])
def test_nonsense_values_are_refused_with_a_bundle_error(folder, section, key, value):
    """Every manifest value the engine uses must be checked at load time: a bundle that
    loads must not fail later (a crash with a traceback, or NaN probabilities)."""
    def edit(m):
        (m[section]["config"] if section == "classifier" else m[section])[key] = value
    _edit_manifest(folder, edit)
    _refused(folder)

"""Bring-your-own classifiers in the engine: code recorded in the manifest, a Python file
stored inside the bundle, loading only with trust_code=True, state dicts without pickles."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest
import torch
from byo_models import MelNet, build_mel_model
from conftest import random_bundle
from safetensors.torch import save_file

from engine.bundles.bundle import (
    MANIFEST,
    Bundle,
    load_bundle,
    make_manifest,
    read_manifest,
    save_bundle,
)
from engine.dsp.features import FrontEndConfig
from engine.explanation.explain import Explainer
from engine.models.classifier import VGGClassifier, VGGConfig, default_taps
from engine.models.interpreter import Interpreter, InterpreterConfig
from engine.models.taps import LayerTaps, named_layer_shapes, suggest_taps
from engine.models.user_classifier import (
    ClassifierCode,
    UntrustedCodeError,
    build_user_model,
    load_state_dict,
    validate_code_entry,
)
from engine.runtime.errors import BundleError, L2IError

BYO_FILE = Path(__file__).with_name("byo_models.py")


def custom_bundle(code: ClassifierCode, k: int = 8) -> Bundle:
    torch.manual_seed(0)
    fe = FrontEndConfig()
    clf = MelNet(3).eval()
    layers = ["layer3", "layer4"]
    with LayerTaps(clf, layers) as taps, torch.no_grad():
        _, maps = taps(torch.zeros(1, fe.n_mels, 100))
    icfg = InterpreterConfig(k=k, n_classes=3, map_shapes=[list(m.shape[1:]) for m in maps])
    W = torch.rand(fe.n_freqs, k)
    manifest = make_manifest(name="byo", frontend=fe, classes=["a", "b", "c"],
                             multilabel=False, classifier_arch="custom", classifier_config={},
                             layers=layers, dictionary={"k": k}, interpreter=icfg,
                             classifier_code=code.to_manifest())
    return Bundle(manifest, clf, Interpreter(icfg).eval(), W / W.norm(dim=0),
                  classifier_source=code.source)


@pytest.mark.parametrize("suffix", ["", ".l2i"])
def test_a_bundle_with_its_own_python_file_opens_only_when_trusted(tmp_path, suffix, tone):
    code = ClassifierCode.from_file(BYO_FILE, "build_mel_model")
    b = custom_bundle(code)
    path = save_bundle(b, tmp_path / f"byo{suffix}")
    with pytest.raises(UntrustedCodeError) as info:
        load_bundle(path)
    msg = str(info.value)
    assert "\n" not in msg and "Python code" in msg and "trust_code=True" in msg
    assert read_manifest(path)["classifier"]["code"] == {"file": "classifier.py",
                                                         "function": "build_mel_model"}
    loaded = load_bundle(path, trust_code=True)
    assert loaded.classifier_source == BYO_FILE.read_text()
    assert type(loaded.classifier).__name__ == "MelNet"
    for k, v in b.classifier.state_dict().items():
        assert torch.equal(loaded.classifier.state_dict()[k], v), k
    with Explainer(loaded) as ex:
        a = ex.analyse(tone)
    assert a.H.shape[0] == 8 and abs(a.probabilities.sum() - 1) < 1e-5


def test_a_bundle_naming_an_entry_point_imports_it_only_when_trusted(tmp_path):
    path = save_bundle(custom_bundle(ClassifierCode(entry_point="byo_models:build_mel_model")),
                       tmp_path / "ep")
    assert not (path / "classifier.py").exists()
    with pytest.raises(UntrustedCodeError, match="entry point byo_models:build_mel_model"):
        load_bundle(path)
    assert type(load_bundle(path, trust_code=True).classifier).__name__ == "MelNet"


def _edit(path: Path, edit) -> None:
    m = json.loads((path / MANIFEST).read_text())
    edit(m)
    (path / MANIFEST).write_text(json.dumps(m))


@pytest.mark.parametrize("edit, words", [
    (lambda c: c.update(code={"file": "../../evil.py", "function": "f"}), "must be classifier"),
    (lambda c: c.update(code={"entry_point": "os.system"}), "package.module:function"),
    (lambda c: c.update(code={"file": "classifier.py", "function": "f()"}), "function name"),
    (lambda c: c.pop("code"), "'classifier.code' must be an object"),
    (lambda c: c.update(input="spikes"), "not supported"),
])
def test_bad_code_entries_are_refused_before_anything_runs(tmp_path, edit, words):
    path = save_bundle(custom_bundle(ClassifierCode.from_file(BYO_FILE, "build_mel_model")),
                       tmp_path / "b")
    _edit(path, lambda m: edit(m["classifier"]))
    with pytest.raises(BundleError, match=words):
        load_bundle(path, trust_code=True)


def test_builtin_classifiers_carry_no_code_and_read_log_mel(tmp_path):
    path = save_bundle(random_bundle(), tmp_path / "r")
    _edit(path, lambda m: m["classifier"].update(code={"entry_point": "a:b"}))
    with pytest.raises(BundleError, match="only a 'custom' classifier has code"):
        load_bundle(path, trust_code=True)
    _edit(path, lambda m: (m["classifier"].pop("code"),
                           m["classifier"].update(input="waveform")))
    with pytest.raises(BundleError, match="reads log-mel, not 'waveform'"):
        load_bundle(path)


def test_the_source_file_must_travel_with_the_bundle(tmp_path):
    path = save_bundle(custom_bundle(ClassifierCode.from_file(BYO_FILE, "build_mel_model")),
                       tmp_path / "b.l2i")
    stripped = tmp_path / "stripped.l2i"
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(stripped, "w") as dst:
        for name in src.namelist():
            if name != "classifier.py":
                dst.writestr(name, src.read(name))
    with pytest.raises(BundleError, match="does not contain it"):
        load_bundle(stripped, trust_code=True)


class Thing:
    pass


def test_state_dicts_are_read_without_unpickling_objects(tmp_path):
    model = build_mel_model()
    good = tmp_path / "good.pt"
    torch.save({"state_dict": model.state_dict()}, good)  # a common checkpoint layout
    assert load_state_dict(good).keys() == model.state_dict().keys()
    st = tmp_path / "good.safetensors"
    save_file(model.state_dict(), str(st))
    assert load_state_dict(st).keys() == model.state_dict().keys()
    evil = tmp_path / "evil.pt"
    torch.save({"w": torch.zeros(1), "payload": Thing()}, evil)
    with pytest.raises(L2IError, match="not a safetensors file or a plain state dict"):
        load_state_dict(evil)
    torch.save([torch.zeros(1)], tmp_path / "list.pt")
    with pytest.raises(L2IError, match="dict of named tensors"):
        load_state_dict(tmp_path / "list.pt")


def test_user_functions_that_misbehave_give_one_line(tmp_path):
    bad = ClassifierCode(source="def build_model():\n    return 42\n")
    with pytest.raises(L2IError, match="returned int, not a torch.nn.Module"):
        build_user_model(bad, 3)
    boom = ClassifierCode(source="def build_model(n):\n    raise KeyError('no')\n")
    with pytest.raises(L2IError, match="failed: KeyError"):
        build_user_model(boom, 3)
    with pytest.raises(L2IError, match="no function 'nope'"):
        build_user_model(ClassifierCode(source="x = 1\n", function="nope"), 3)
    with pytest.raises(ValueError):
        ClassifierCode(source="x = 1", entry_point="a:b")
    assert validate_code_entry({"entry_point": "pkg.mod:fn"}) is None


def test_suggested_taps_are_the_last_conv_blocks():
    vgg = VGGClassifier(3, VGGConfig(widths=[8, 16, 16, 32])).eval()
    shapes = named_layer_shapes(vgg, torch.zeros(1, 128, 64))
    assert suggest_taps(vgg, shapes) == default_taps(vgg)
    mel = build_mel_model().eval()
    assert suggest_taps(mel, named_layer_shapes(mel, torch.zeros(1, 128, 64))) == \
        ["layer2", "layer3", "layer4"]
    flat = torch.nn.Sequential(torch.nn.Conv1d(128, 8, 3), torch.nn.ReLU(),
                               torch.nn.Conv1d(8, 8, 3), torch.nn.Flatten())
    assert suggest_taps(flat, named_layer_shapes(flat, torch.zeros(1, 128, 64))) == ["0", "2"]

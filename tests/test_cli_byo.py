"""Bring your own classifier on the command line (#27 items 1, 2, 6): `l2i train
interpreter|all --model FILE.py ...` on real clips, `--trust-code` to explain the bundle,
and every mistake said in one line before any feature is computed."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from byo_models import WaveNet, build_mel_model
from conftest import one_error_line as _line
from torch import nn

from engine.bundles.bundle import load_bundle
from engine.dsp.features import FrontEndConfig
from engine.models.user_classifier import ClassifierCode, build_user_model
from trainer.cli import main
from trainer.model_check import check_classifier

BYO_FILE = Path(__file__).with_name("byo_models.py")

# a user's model file: it imports a module of their own, beside it
USER_MODEL = """import l2i_user_helper
from byo_models import WaveNet


def build_model(n_classes):
    return WaveNet(l2i_user_helper.classes(n_classes))
"""

ODD_MODELS = """import torch
from byo_models import WaveNet
from torch import nn


class Pooled(nn.Module):
    \"\"\"Its maps are pooled to a fixed size: they do not follow the clip's length.\"\"\"

    def __init__(self, n_classes):
        super().__init__()
        self.conv = nn.Conv2d(1, 4, 3, padding=1)
        self.pooled = nn.AdaptiveAvgPool2d((4, 4))
        self.head = nn.Linear(64, n_classes)

    def forward(self, mel):
        return self.head(self.pooled(torch.relu(self.conv(mel.unsqueeze(1)))).flatten(1))


def build_pooled(n_classes):
    return Pooled(n_classes)


def build_twelve():
    return WaveNet(12)


def build_missing(n_classes):
    import not_installed_l2i_pkg  # noqa: F401
"""


@pytest.fixture(scope="module")
def odd(tmp_path_factory) -> SimpleNamespace:
    """The odd models' file and each one's weights."""
    root = tmp_path_factory.mktemp("odd")
    (root / "odd_models.py").write_text(ODD_MODELS)
    torch.manual_seed(0)
    weights = {}
    for name, model in (("twelve", WaveNet(12)), ("pooled", _pooled(root, 3)),
                        ("wave", WaveNet(3)), ("mel", build_mel_model())):
        weights[name] = root / f"{name}.pt"
        torch.save(model.state_dict(), weights[name])
    return SimpleNamespace(file=root / "odd_models.py", **weights)


def _pooled(root: Path, n: int) -> nn.Module:
    code = ClassifierCode.from_file(root / "odd_models.py", "build_pooled")
    return build_user_model(code, n)


def test_train_an_interpreter_for_my_model_and_explain_with_trust(
        tiny_esc10, cache_dir, dictionary, odd, tmp_path, monkeypatch, capsys):
    user = tmp_path / "user"
    user.mkdir()
    (user / "l2i_user_helper.py").write_text("def classes(n):\n    return n\n")
    (user / "my_model.py").write_text(USER_MODEL)
    monkeypatch.syspath_prepend(str(user))
    out = tmp_path / "mine.l2i"
    assert main(["train", "interpreter", "--data", str(tiny_esc10), "--test-fold", "1",
                 "--model", str(user / "my_model.py"), "--weights", str(odd.wave),
                 "--input", "waveform", "--trust-code", "--dictionary", str(dictionary),
                 "--out", str(out), "--epochs", "1", "--hidden", "16",
                 "--adapter-channels", "8", "--cache", str(cache_dir),
                 "--device", "cpu"]) == 0
    b = load_bundle(out, trust_code=True)
    assert b.layers == ["blocks.0", "blocks.1", "blocks.2"]  # suggested: none were named
    assert b.classifier_input == "waveform"
    assert b.manifest["classifier"]["requires"] == ["byo_models", "l2i_user_helper"]
    assert b.classifier_source == USER_MODEL
    capsys.readouterr()

    clip = sorted(tiny_esc10.rglob("1-*"))[0]
    explain = ["explain", str(clip), "--bundle", str(out), "--out", str(tmp_path / "ex"),
               "--device", "cpu"]
    assert main(explain) == 2
    line = _line(capsys)
    assert line.startswith("l2i: error: mine.l2i contains Python code (its own classifier.py)")
    assert line.endswith("add --trust-code if you trust it")
    assert not (tmp_path / "ex").exists()
    assert main([*explain, "--trust-code"]) == 0
    assert (tmp_path / "ex" / "explanation.json").is_file()
    capsys.readouterr()

    # the helper goes away: opening the bundle names the package to install
    (user / "l2i_user_helper.py").unlink()
    monkeypatch.delitem(sys.modules, "l2i_user_helper")
    importlib.invalidate_caches()
    assert main([*explain, "--trust-code"]) == 2
    assert _line(capsys) == (
        "l2i: error: mine.l2i: the bundle's classifier code needs the Python package "
        "l2i_user_helper: install it (pip install l2i_user_helper)")


def _model_flags(odd, model: str, weights: Path, kind: str, *more: str) -> list[str]:
    return ["--model", model, "--weights", str(weights), "--input", kind, *more]


CASES = {
    "wrong width": (lambda o: _model_flags(o, f"{o.file}:build_twelve", o.twelve,
                                           "waveform", "--trust-code"),
                    "l2i: error: the classifier gives 12 outputs but there are 3 classes"),
    "missing layer": (lambda o: _model_flags(o, str(BYO_FILE), o.wave, "waveform",
                                             "--trust-code", "--layers", "blocks.1,nope"),
                      "l2i: error: the classifier has no layer named 'nope': choose among "
                      "blocks.0 (8 x 8 x 215), blocks.1 (8 x 4 x 107), blocks.2 (16 x 2 x 53) "
                      "(--layers)"),
    "maps that ignore time": (lambda o: _model_flags(o, f"{o.file}:build_pooled", o.pooled,
                                                     "logmel", "--trust-code", "--layers",
                                                     "pooled"),
                              "l2i: error: layer pooled gives maps of length 4 whatever the "
                              "clip's length (5 s and 10 s), so they do not follow time"),
    "missing module": (lambda o: _model_flags(o, f"{o.file}:build_missing", o.wave,
                                              "waveform", "--trust-code"),
                       "l2i: error: the Python file classifier.py (function build_missing) "
                       "needs the Python package not_installed_l2i_pkg: install it (pip "
                       "install not_installed_l2i_pkg)"),
    "no trust": (lambda o: _model_flags(o, str(BYO_FILE), o.wave, "waveform"),
                 "is Python code that runs with your permissions: add --trust-code if you "
                 "trust it"),
    "wrong input": (lambda o: _model_flags(o, str(BYO_FILE), o.wave, "logmel",
                                           "--trust-code"),
                    "l2i: error: the classifier fails on "),
    "code as --classifier": (lambda o: ["--classifier", str(o.file)],
                             "odd_models.py is Python code, not a classifier folder or "
                             "bundle: give it as --model"),
}


# train all has no --classifier: its classifier comes with --model only
PAIRS = [(case, command) for case in sorted(CASES) for command in ("interpreter", "all")
         if not (command == "all" and case == "code as --classifier")]


@pytest.mark.parametrize(("case", "command"), PAIRS)
def test_each_mistake_is_one_line_before_any_feature(case, command, tiny_esc10, odd,
                                                     tmp_path, capsys):
    flags, says = CASES[case]
    cache = tmp_path / "cache"
    extra = ["--dictionary", str(tmp_path / "none.safetensors")] if command == "interpreter" \
        else ["--k", "4"]
    rc = main(["train", command, "--data", str(tiny_esc10), "--test-fold", "1",
               *flags(odd), *extra, "--out", str(tmp_path / "b.l2i"), "--cache", str(cache),
               "--device", "cpu"])
    assert rc == 2
    assert says in _line(capsys)
    assert not cache.exists() and not (tmp_path / "b.l2i.work").exists()  # nothing spent


def test_a_wrapper_with_logits_is_unwrapped(tmp_path):
    source = ("import torch\nfrom types import SimpleNamespace\nfrom byo_models import MelNet\n"
              "class Wrapped(MelNet):\n    def forward(self, mel):\n"
              "        return SimpleNamespace(logits=super().forward(mel), loss=None)\n"
              "def build_model():\n    return Wrapped(3)\n")
    model = build_user_model(ClassifierCode(source=source), 3).eval()
    with torch.no_grad():
        assert model(torch.zeros(2, 128, 50)).shape == (2, 3)  # every caller sees logits
    wave = np.random.default_rng(0).standard_normal(44100).astype(np.float32)
    assert check_classifier(model, "log_mel", FrontEndConfig(), wave, "noise", 1.0,
                            ["a", "b", "c"], None) == ["layer2", "layer3", "layer4"]


def test_the_imports_recorded_are_third_party_top_level_modules():
    code = ClassifierCode(source="import os, json.decoder\nimport numpy as np\n"
                                 "from torch import nn\nfrom . import sibling\n"
                                 "from __future__ import annotations\nimport hf_models.x\n")
    assert code.requirements() == ["hf_models", "numpy", "torch"]
    entry = ClassifierCode(entry_point="byo_models:build_mel_model")
    assert entry.requirements() == ["byo_models", "torch"]


def test_frontend_flags_make_the_plans_front_end_or_one_line(tmp_path, capsys):
    from trainer.cli import build_parser
    from trainer.commands import plan_from_args

    base = ["train", "all", "--data", str(tmp_path), "--out", str(tmp_path / "o.l2i"),
            "--model", str(BYO_FILE), "--weights", "w.pt", "--input", "logmel",
            "--trust-code", "--sample-rate", "16000"]
    args = build_parser().parse_args([*base, "--frontend", "n_fft=512, hop_length=160,"
                                      "n_mels=64,f_max=7600", "--classes", "dog,rain"])
    plan = plan_from_args(args)
    assert plan.frontend() == FrontEndConfig(sample_rate=16000, n_fft=512, hop_length=160,
                                             n_mels=64, f_max=7600.0)
    assert plan.classifier.input == "log_mel" and plan.classifier.classes == ["dog", "rain"]
    for bad, says in (("n_fft=1024,f_max=9000", "the mel band must lie in [0, 8000]"),
                      ("hop=3", "unknown setting 'hop'"), ("n_mels=x", "n_mels takes ints")):
        assert main([*base, "--frontend", bad]) == 2
        assert says in _line(capsys)
    assert main(["train", "all", "--data", str(tmp_path), "--out", str(tmp_path / "o.l2i"),
                 "--weights", "w.pt"]) == 2
    assert _line(capsys).endswith("--weights only apply with --model")

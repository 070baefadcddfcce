"""Labels optional (#27 item 5): an interpreter trained and evaluated from the command
line on real clips whose labels are not read (a folder of files with neutral names, or
labelled data of other classes), against a user's model whose classes are its own."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from byo_models import WaveNet
from conftest import ESC10, examples_subset, link_subset, random_bundle, without_labels
from conftest import one_error_line as _line

from engine.bundles.bundle import load_bundle, save_bundle
from engine.explanation.explain import Explainer
from trainer.cli import main
from trainer.datasets import load_dataset
from trainer.features_cache import fix_length

BYO_FILE = Path(__file__).with_name("byo_models.py")
MINE = ["low", "mid", "high"]  # the model's classes: no folder has these names
TWELVE = [f"pitch {i}" for i in range(12)]
TINY = ["--epochs", "1", "--hidden", "16", "--adapter-channels", "8", "--device", "cpu"]


@pytest.fixture(scope="module")
def flat(tiny_esc10, tmp_path_factory) -> Path:
    """Twelve real clips under neutral names; a few in subfolders (any layout is read)."""
    return without_labels(tiny_esc10, tmp_path_factory.mktemp("unlabelled"))


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> SimpleNamespace:
    root = tmp_path_factory.mktemp("unlabelled_models")
    (root / "twelve.py").write_text("from byo_models import WaveNet\n\n\n"
                                    "def build_twelve():\n    return WaveNet(12)\n")
    torch.manual_seed(0)
    torch.save(WaveNet(3).state_dict(), root / "wave.pt")
    torch.save(WaveNet(12).state_dict(), root / "twelve.pt")
    return SimpleNamespace(file=root / "twelve.py", wave=root / "wave.pt",
                           twelve=root / "twelve.pt")


@pytest.fixture(scope="module")
def dictionary(flat, cache_dir, tmp_path_factory) -> Path:
    """Learnt on the unlabelled clips themselves: the dictionary needs no label either."""
    out = tmp_path_factory.mktemp("unlabelled_dict") / "W.safetensors"
    assert main(["train", "dictionary", "--data", str(flat), "--unlabelled", "--out",
                 str(out), "--k", "8", "--iterations", "5", "--cache", str(cache_dir),
                 "--device", "cpu"]) == 0
    return out


def _mine(models) -> list[str]:
    return ["--model", str(BYO_FILE), "--weights", str(models.wave), "--input", "waveform",
            "--classes", ",".join(MINE), "--trust-code"]


def test_the_split_is_seeded_by_file_and_reads_no_label(flat, tiny_esc10, tmp_path, capsys):
    ds = load_dataset(flat, "unlabelled", seed=0)
    assert len(ds) == 12 and ds.classes == [] and not ds.labelled
    assert (ds.labels == -1).all()
    assert {p.parent.name for p in ds.paths} == {flat.name, "day1", "morning"}
    assert sorted(np.bincount(ds.folds)[1:]) == [2, 2, 2, 3, 3]
    assert ds.notes == ["no labels read: 5 folds split by file from seed 0"]
    np.testing.assert_array_equal(ds.folds, load_dataset(flat, "unlabelled", seed=0).folds)
    assert not np.array_equal(ds.folds, load_dataset(flat, "unlabelled", seed=1).folds)

    # class folders are not read as labels; ESC names keep each recording in one fold
    esc = load_dataset(tiny_esc10, "unlabelled", seed=0)
    assert len(esc) == 24 and esc.classes == []
    assert esc.notes == ["no labels read: 5 folds split by recording from seed 0"]
    for g in np.unique(esc.groups):
        assert len(np.unique(esc.folds[esc.groups == g])) == 1

    base = ["train", "dictionary", "--data", str(flat), "--out", str(tmp_path / "W.st")]
    for extra, says in ((["--split-seed", "2"], "--split-seed only applies with --unlabelled"),
                        (["--unlabelled", "--layout", "folder"],
                         "give --layout or --unlabelled, not both")):
        assert main([*base, *extra]) == 2
        assert _line(capsys) == f"l2i: error: {says}"


def test_train_and_evaluate_on_unlabelled_clips_against_the_classifiers_decisions(
        flat, dictionary, models, cache_dir, tmp_path, capsys):
    out = tmp_path / "mine.l2i"
    assert main(["train", "interpreter", "--data", str(flat), "--unlabelled", "--split-seed",
                 "5", "--test-fold", "1", *_mine(models), "--dictionary", str(dictionary),
                 "--out", str(out), "--cache", str(cache_dir), *TINY]) == 0
    assert "data: 12 clips, no labels read: 5 folds split by file from seed 5; 9 for " \
        "training" in capsys.readouterr().err
    b = load_bundle(out, trust_code=True)
    assert b.classes == MINE  # the classifier's, not any folder's
    prov = b.manifest["provenance"]
    assert (prov["labels"], prov["split_seed"], prov["test_fold"]) == ("not used", 5, 1)
    split = load_dataset(flat, "unlabelled", seed=5)
    assert prov["train_clips"] == int((split.folds != 1).sum())

    report = tmp_path / "eval.json"
    # no --split-seed: the one the bundle was trained with
    assert main(["evaluate", "--bundle", str(out), "--data", str(flat), "--unlabelled",
                 "--test-fold", "1", "--taus", "0.1,0.5", "--json", str(report),
                 "--trust-code", "--cache", str(cache_dir), "--device", "cpu"]) == 0
    printed = capsys.readouterr().out
    assert "no labels: scored against the classifier's decisions" in printed
    m = json.loads(report.read_text())
    assert (m["labels"], m["split_seed"], m["evaluated_on"]) == ("not used", 5, "test fold")
    assert "classifier" not in m and "accuracy" not in report.read_text()
    assert set(m["faithfulness"]) == {"0.1", "0.5"}
    assert {"AI", "AD", "AG", "FF", "Fid-In"} <= set(m["quality"]["clean"])

    # the fidelity is the interpreter agreeing with the classifier on the test fold's clips
    test = [split.paths[i] for i in np.flatnonzero(split.folds == 1)]
    n = int(round(b.manifest["clip_seconds"] * b.frontend.sample_rate))
    from engine.dsp.audio import load_audio

    with Explainer(b, "cpu") as ex:
        found = [ex.analyse(fix_length(load_audio(p, b.frontend.sample_rate), n))
                 for p in test]
    said = [int(a.probabilities.argmax()) for a in found]
    agree = [said[i] == int(a.interpreter_probabilities.argmax()) for i, a in enumerate(found)]
    assert m["clips"] == len(test)
    assert m["fidelity"]["top1"] == pytest.approx(np.mean(agree))
    assert m["classifier_decisions"] == {MINE[c]: said.count(c) for c in sorted(set(said))}


def _ten_classes(tmp_path: Path) -> Path:
    """Ten classes of real clips, one each: labelled data of other classes than the model's."""
    if ESC10.exists():
        return link_subset(ESC10, tmp_path / "ten", classes=10, per_fold={1: 1})
    return examples_subset(tmp_path / "ten", classes=10, per_fold={1: 1})


def test_a_twelve_output_model_on_ten_class_data_needs_unlabelled(
        dictionary, models, cache_dir, tmp_path, capsys):
    ten = _ten_classes(tmp_path)
    cache = tmp_path / "cache"
    base = ["train", "interpreter", "--data", str(ten), "--model", f"{models.file}:build_twelve",
            "--weights", str(models.twelve), "--input", "waveform", "--trust-code",
            "--dictionary", str(dictionary), "--out", str(tmp_path / "twelve.l2i")]
    refused = [
        ([], "l2i: error: the classifier gives 12 outputs but there are 10 classes (Dog bark, "
             "Rain, Sea waves, ...): name its 12 classes in its output order (--classes) and "
             "add --unlabelled to use these clips without their labels, or use a model with "
             "10 outputs"),
        (["--classes", ",".join(TWELVE)],
         "l2i: error: the classifier's classes are not the data's: not in the classifier: "
         "Baby cry, Chainsaw, Clock tick, Dog bark, Fire crackling; not in the data: pitch 0, "
         "pitch 1, pitch 10, pitch 11, pitch 2; add --unlabelled to use these clips without "
         "their labels"),
        (["--unlabelled"], "l2i: error: the clips have no labels (--unlabelled), so name the "
                           "model's classes in its output order: --classes FILE|a,b,c"),
        (["--unlabelled", "--classes", ",".join(TWELVE[:10])],
         "l2i: error: the classifier gives 12 outputs but --classes names 10 (pitch 0, "
         "pitch 1, pitch 2, ...): name its 12 classes in its output order"),
    ]
    for extra, says in refused:
        assert main([*base, *extra, "--cache", str(cache), "--device", "cpu"]) == 2
        assert _line(capsys) == says
        assert not cache.exists()  # said before any feature was computed

    assert main([*base, "--unlabelled", "--classes", ",".join(TWELVE), "--cache",
                 str(cache_dir), *TINY]) == 0
    b = load_bundle(tmp_path / "twelve.l2i", trust_code=True)
    assert b.classes == TWELVE and b.manifest["provenance"]["clips"] == 10


def test_train_all_on_unlabelled_clips_and_what_needs_labels(
        flat, models, cache_dir, tmp_path, capsys):
    out = tmp_path / "all.l2i"
    common = ["--data", str(flat), "--unlabelled", "--cache", str(tmp_path / "unused")]
    refused = [
        (["train", "all", *common, "--out", str(out), "--k", "4"],
         "training a classifier needs labelled data: with --unlabelled, bring a trained one "
         "(--classifier FOLDER|BUNDLE or --model)"),
        (["train", "classifier", *common, "--out", str(tmp_path / "clf")],
         "training a classifier needs labelled data"),
        (["train", "all", *common, "--out", str(out), *_mine(models), "--focus", "1"],
         "--focus mixes clips of different classes, which needs labelled data"),
        (["evaluate", *common, "--bundle", str(out), "--focus", "4"],
         "evaluate --focus mixes clips of different classes, which needs labelled data"),
    ]
    for argv, says in refused:
        assert main(argv) == 2
        assert _line(capsys).startswith(f"l2i: error: {says}")
    assert not (tmp_path / "unused").exists() and not out.exists()

    assert main(["train", "all", "--data", str(flat), "--unlabelled", "--test-fold", "2",
                 *_mine(models), "--out", str(out), "--k", "4", "--iterations", "3",
                 "--interpreter-epochs", "1", "--hidden", "16", "--adapter-channels", "8",
                 "--cache", str(cache_dir), "--device", "cpu"]) == 0
    printed = capsys.readouterr().out
    assert "no labels: scored against the classifier's decisions" in printed
    assert "classifier accuracy" not in printed
    plan = json.loads((tmp_path / "all.l2i.work" / "plan.json").read_text())
    assert (plan["layout"], plan["split_seed"], plan["test_fold"]) == ("unlabelled", 0, 2)
    b = load_bundle(out, trust_code=True)
    m = b.manifest["metrics"]
    assert (m["labels"], m["split_seed"], b.classes) == ("not used", 0, MINE)
    assert "classifier" not in m and 0 <= m["fidelity"]["top1"] <= 1
    assert m["clips"] == int((load_dataset(flat, "unlabelled", seed=0).folds == 2).sum())


def test_the_shipped_classifier_on_unlabelled_recordings(
        flat, tiny_esc10, dictionary, cache_dir, tmp_path, capsys):
    """The built-in classifier that ships, explained on clips without labels; on data
    labelled with other classes (three of its ten) it is refused before any work."""
    from resources import default_bundle_path

    shipped = default_bundle_path()
    if shipped is None:
        pytest.skip("no default bundle ships with this checkout")
    out = tmp_path / "shipped.l2i"
    cache = tmp_path / "cache"
    base = ["train", "interpreter", "--classifier", str(shipped), "--dictionary",
            str(dictionary), "--out", str(out), "--test-fold", "1"]
    assert main([*base, "--data", str(tiny_esc10), "--cache", str(cache), *TINY]) == 2
    line = _line(capsys)
    assert line.startswith("l2i: error: the classifier's classes are not the data's: not in "
                           "the data: ")
    assert line.endswith("; add --unlabelled to use these clips without their labels")
    assert not cache.exists()

    assert main([*base, "--data", str(flat), "--unlabelled", "--cache", str(cache_dir),
                 *TINY]) == 0
    b = load_bundle(out)
    assert b.classes == load_bundle(shipped).classes and len(b.classes) == 10
    assert b.manifest["provenance"]["labels"] == "not used"
    report = tmp_path / "eval.json"
    assert main(["evaluate", "--bundle", str(out), "--data", str(flat), "--unlabelled",
                 "--test-fold", "1", "--taus", "0.1", "--json", str(report), "--cache",
                 str(cache_dir), "--device", "cpu"]) == 0
    m = json.loads(report.read_text())
    assert m["labels"] == "not used" and "classifier" not in m
    assert sum(m["classifier_decisions"].values()) == m["clips"] == 3


def test_a_multilabel_classifier_keeps_its_kind_on_unlabelled_clips(
        flat, dictionary, cache_dir, tmp_path):
    """Unlabelled data says nothing of whether the classes exclude each other: the
    classifier does (sigmoid outputs, multi-label fidelity)."""
    save_bundle(random_bundle(n_classes=4, multilabel=True), tmp_path / "tags.l2i")
    out = tmp_path / "tags-explained.l2i"
    assert main(["train", "interpreter", "--classifier", str(tmp_path / "tags.l2i"),
                 "--data", str(flat), "--unlabelled", "--dictionary", str(dictionary),
                 "--out", str(out), "--cache", str(cache_dir), *TINY]) == 0
    b = load_bundle(out)
    assert b.multilabel and b.classes == [f"class {i}" for i in range(4)]
    report = tmp_path / "eval.json"
    assert main(["evaluate", "--bundle", str(out), "--data", str(flat), "--unlabelled",
                 "--taus", "0.1", "--json", str(report), "--cache", str(cache_dir),
                 "--device", "cpu"]) == 0
    m = json.loads(report.read_text())
    assert m["task"] == "multilabel" and "micro_auprc" in m["fidelity"]
    assert (m["labels"], m["clips"], m["evaluated_on"]) == ("not used", 12, "training clips")

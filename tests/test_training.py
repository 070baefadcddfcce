"""Training on real clips: loss terms, `l2i train all`, evaluation, resume, bad arguments.

Everything is tiny (a few clips of three ESC-10 classes, narrow networks, few epochs) so
that the whole file runs in about a minute and a half on two busy CPU cores.
"""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import TINY_WIDTHS, link_subset

from engine.bundles.bundle import load_bundle, save_bundle
from engine.dsp import nmf
from engine.dsp.audio import load_audio
from engine.dsp.features import log_mel, resynthesise
from engine.explanation.explain import Explainer
from engine.explanation.masks import select, split
from engine.explanation.metrics import accuracy, topk_fidelity
from engine.models.classifier import VGGConfig, default_taps
from trainer import pipeline
from trainer.augment import AugmentConfig
from trainer.cli import main
from trainer.datasets import load_dataset
from trainer.evaluate import DEFAULT_TAUS, evaluate_bundle, format_table
from trainer.features_cache import fix_length
from trainer.train_classifier import ClassifierTrainConfig
from trainer.train_interpreter import InterpreterTrainConfig, train_interpreter

ROOT = Path(__file__).resolve().parents[1]
CLASSES = ["Dog bark", "Rain", "Sea waves"]
TAU_KEYS = [f"{t:g}" for t in DEFAULT_TAUS]
WIDTHS = ",".join(map(str, TINY_WIDTHS))
NO_AUGMENT = AugmentConfig(gain_db=0, shift=False, freq_mask=0, time_mask=0,
                           mix_probability=0)



def _l2i_lines(stderr: str) -> list[str]:
    """The lines of the CLI's own messages (progress bars use carriage returns)."""
    return [ln for ln in stderr.replace("\r", "\n").splitlines() if ln.startswith("l2i:")]


def _flat(d: dict, prefix: str = "") -> dict:
    out = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out |= _flat(v, f"{prefix}{k}.")
        else:
            out[prefix + k] = v
    return out


# --- (a) the interpreter's loss terms go down ---------------------------------------------

@pytest.fixture(scope="module")
def small_trained(esc10, tmp_path_factory):
    """Three classes, 16 training clips each (1 s), a classifier confident enough to
    give the fidelity term something to learn, and a 16-component dictionary.

    tiny_esc10 is too small for this: with one validation clip per class, model
    selection keeps the first epoch's nearly uniform classifier, whose soft targets
    leave the fidelity loss no room below log(3).
    """
    tmp = tmp_path_factory.mktemp("small")
    data = link_subset(esc10, tmp / "data", classes=3, per_fold={1: 2, 2: 8, 3: 8})
    p = pipeline.prepare(data, test_fold=1, clip_seconds=1.0, cache_dir=tmp / "cache")
    clf = pipeline.classifier_stage(
        p, ClassifierTrainConfig(epochs=10, batch_size=8, augment=NO_AUGMENT,
                                 model=VGGConfig(widths=list(TINY_WIDTHS))), tmp / "clf")
    W, info = pipeline.dictionary_stage(p, nmf.NMFConfig(k=16, iterations=10),
                                        tmp / "dictionary.safetensors")
    return p, clf, W, info


def _train(small, **cfg):
    p, clf, W, _ = small
    return train_interpreter(clf.model, default_taps(clf.model), W,
                             p.features.log_mag[p.train_rows], p.features.log_mel[p.train_rows],
                             p.dataset.labels[p.train_rows], len(p.dataset.classes), False,
                             InterpreterTrainConfig(**cfg))


def test_small_setup_is_what_the_loss_test_needs(small_trained):
    p, clf, W, info = small_trained
    assert len(p.train_rows) == 48 and len(p.test_rows) == 6
    assert W.shape == (p.frontend.n_freqs, 16)
    assert info["k"] == 16
    assert clf.info["validation_clips"] > 3
    assert clf.info["best_epoch"] > 1  # not the untrained first epoch


def test_interpreter_training_lowers_fidelity_nmf_and_l1(small_trained):
    """All three terms fall with a sparsity weight beta = 7 (alpha = 10).

    With the paper's beta = 0.8 the L1 term rises instead (see the next test): Psi ends
    in a ReLU and starts with H well below the scale that reconstructs X, so the NMF term
    pushes H up. Around beta = 6-7 the two pulls balance at the initial H, and what is
    left is the learning: both terms end lower than they began.
    """
    interp, info = _train(small_trained, epochs=10, beta=7.0, lr=1e-3, batch_size=16)
    h = info["history"]
    assert [r["epoch"] for r in h] == list(range(1, 11))
    first, last = h[0], h[-1]
    trace = {t: [round(r[t], 4) for r in h] for t in ("fidelity", "nmf", "l1")}
    for term in ("fidelity", "nmf", "l1"):
        assert math.isfinite(first[term]) and math.isfinite(last[term])
        assert last[term] < first[term], trace
    assert last["fidelity"] < first["fidelity"] - 0.01, trace
    assert last["l1"] < 0.9 * first["l1"], trace
    assert interp.config.k == 16 and interp.config.n_classes == 3
    assert 1 <= info["best_epoch"] <= 10


def test_paper_settings_lower_fidelity_nmf_and_the_total(small_trained):
    """alpha = 10, beta = 0.8: fidelity and reconstruction improve and so does the total,
    while the L1 term grows from its near-zero start (about 0.18 to 0.65 here)."""
    interp, info = _train(small_trained, epochs=6)  # alpha 10, beta 0.8, lr 2e-4
    h = info["history"]
    first, last = h[0], h[-1]
    assert last["fidelity"] < first["fidelity"] - 0.01
    assert last["nmf"] < 0.6 * first["nmf"]
    assert last["loss"] < first["loss"]
    assert last["val_nmf"] < first["val_nmf"]


# --- (b) `l2i train all` end to end -------------------------------------------------------

def test_train_all_bundle_loads_with_provenance_and_metrics(tiny_bundle, tiny_esc10):
    b = load_bundle(tiny_bundle)
    assert b.classes == CLASSES
    assert b.k == 16 and not b.multilabel
    assert b.manifest["classifier"]["config"]["widths"] == TINY_WIDTHS
    prov = b.manifest["provenance"]
    assert prov["data"] == str(tiny_esc10)
    assert prov["test_fold"] == 1
    assert prov["layout"] == "folder"
    assert prov["clips"] == 24 and prov["train_clips"] == 18 and prov["skipped_files"] == 0
    assert prov["classifier"]["validation_clips"] == 3  # one of each class's six
    assert len(prov["interpreter"]["history"]) == 2
    assert b.manifest["dictionary"]["iterations"] == 10

    m = b.manifest["metrics"]
    assert m["task"] == "multiclass" and m["evaluated_on"] == "test fold"
    assert m["clips"] == 6 and m["skipped"] == 0  # fold 1: two clips of each class
    assert set(m["fidelity"]) == {"top1", "top3", "top5"}
    assert all(0.0 <= v <= 1.0 for v in m["fidelity"].values())
    assert m["fidelity"]["top1"] <= m["fidelity"]["top3"] == m["fidelity"]["top5"] == 1.0
    assert 0.0 <= m["classifier"]["accuracy"] <= 1.0
    assert list(m["faithfulness"]) == TAU_KEYS
    selected = []
    for key in TAU_KEYS:
        row = m["faithfulness"][key]
        assert math.isfinite(row["median"]) and math.isfinite(row["random_median"])
        assert -1.0 <= row["median"] <= 1.0
        selected.append(row["mean_selected"])
    assert selected == sorted(selected, reverse=True)  # a higher tau selects fewer
    assert selected[0] >= 1.0  # the top component has relevance 1 > every tau

    work = tiny_bundle.with_name(tiny_bundle.name + ".work")
    assert json.loads((work / "evaluation.json").read_text()) == m
    assert (work / "classifier" / "classifier.json").is_file()
    assert (work / "dictionary.safetensors").is_file()


def test_train_all_bundle_is_accepted_by_explain(tiny_bundle, tiny_esc10, tmp_path, capsys):
    clip = sorted((tiny_esc10 / "002 - Rain").iterdir())[0]
    out = tmp_path / "explained"
    rc = main(["explain", str(clip), "--bundle", str(tiny_bundle), "--out", str(out),
               "--threshold", "0.3"])
    assert rc == 0
    assert str(out) in capsys.readouterr().out
    doc = json.loads((out / "explanation.json").read_text())
    assert doc["explained_class"] in CLASSES
    assert sorted(p["label"] for p in doc["predictions"]) == sorted(CLASSES)
    assert sum(p["probability"] for p in doc["predictions"]) == pytest.approx(1.0, abs=1e-5)
    assert len(doc["components"]) == 16
    chosen = [c for c in doc["components"] if c["selected"]]
    assert chosen and all(c["relevance"] > 0.3 for c in chosen)
    for c in chosen:
        assert (out / c["file"]).is_file()
    assert (out / "interpretation.wav").is_file() and (out / "residual.wav").is_file()


# --- (c) `l2i evaluate --json` ------------------------------------------------------------

def test_evaluate_cli_writes_json(tiny_bundle, tiny_esc10, cache_dir, tmp_path, capsys):
    out = tmp_path / "eval.json"
    rc = main(["evaluate", "--bundle", str(tiny_bundle), "--data", str(tiny_esc10),
               "--test-fold", "1", "--json", str(out), "--cache", str(cache_dir),
               "--device", "cpu"])
    assert rc == 0
    printed = capsys.readouterr().out
    doc = json.loads(out.read_text())
    assert doc["task"] == "multiclass"
    assert doc["clips"] == 6
    assert 0.0 <= doc["classifier"]["accuracy"] <= 1.0
    assert set(doc["fidelity"]) == {"top1", "top3", "top5"}
    assert list(doc["faithfulness"]) == TAU_KEYS
    for key in TAU_KEYS:
        assert {"median", "random_median"} <= set(doc["faithfulness"][key])
        assert f"  {key:>5}  " in printed
    # the same bundle, clips and seed as the evaluation `train all` stored in the bundle
    stored = dict(load_bundle(tiny_bundle).manifest["metrics"])
    assert stored.pop("evaluated_on") == doc.pop("evaluated_on") == "test fold"
    assert _flat(doc).keys() == _flat(stored).keys()
    assert _flat(doc) == pytest.approx(_flat(stored), abs=1e-5)


def test_evaluate_into_bundle_stores_the_metrics(tiny_bundle, tiny_esc10, cache_dir,
                                                tmp_path, capsys):
    copy = tmp_path / "copy.l2i"
    shutil.copyfile(tiny_bundle, copy)
    before = load_bundle(copy)
    before.manifest["metrics"] = {}
    save_bundle(before, copy)
    rc = main(["evaluate", "--bundle", str(copy), "--data", str(tiny_esc10),
               "--test-fold", "1", "--json", str(tmp_path / "e.json"), "--cache",
               str(cache_dir), "--device", "cpu", "--into-bundle"])
    assert rc == 0 and "metrics stored in" in capsys.readouterr().out
    after = load_bundle(copy)
    assert after.manifest["metrics"] == json.loads((tmp_path / "e.json").read_text())
    # the weights are untouched
    for a, b in zip(before.interpreter.state_dict().values(),
                    after.interpreter.state_dict().values()):
        assert torch.equal(a, b)


def test_evaluate_cli_refuses_bad_taus(tiny_bundle, tiny_esc10, capsys):
    rc = main(["evaluate", "--bundle", str(tiny_bundle), "--data", str(tiny_esc10),
               "--taus", "0.1,1.5", "--device", "cpu"])
    assert rc == 2
    assert _l2i_lines(capsys.readouterr().err) == [
        "l2i: error: --taus must be numbers in [0, 1), e.g. 0.1,0.3,0.5"]


# --- (e) evaluation against the engine's own pieces ---------------------------------------

def test_format_table_renders_every_tau():
    result = {
        "task": "multiclass", "clips": 7, "skipped": 2,
        "classifier": {"accuracy": 0.5},
        "fidelity": {"top1": 0.25, "top3": 0.75, "top5": 1.0},
        "faithfulness": {f"{t:g}": {"median": t / 10, "random_median": -t / 100,
                                    "mean_selected": 10 * (1 - t)} for t in DEFAULT_TAUS},
    }
    text = format_table(result)
    lines = text.splitlines()
    assert lines[0] == "multiclass: 7 clips (2 unreadable, skipped)"
    assert "  classifier accuracy: 0.5000" in lines
    assert "  fidelity top1: 0.2500" in lines and "  fidelity top5: 1.0000" in lines
    rows = [ln.split() for ln in lines if ln.split() and ln.split()[0] in TAU_KEYS]
    assert [r[0] for r in rows] == TAU_KEYS
    for r, t in zip(rows, DEFAULT_TAUS):
        assert float(r[1]) == pytest.approx(t / 10, abs=1e-4)
        assert float(r[2]) == pytest.approx(-t / 100, abs=1e-4)
        assert float(r[3]) == pytest.approx(10 * (1 - t), abs=0.05)
    result["skipped"] = 0
    assert format_table(result).splitlines()[0] == "multiclass: 7 clips"


def _by_hand(ex: Explainer, ds, rows, taus):
    """Probabilities and faithfulness of each clip from the engine's own pieces."""
    cfg = ex.cfg
    n = int(round(5.0 * cfg.sample_rate))
    P, Q, ff = [], [], {t: [] for t in taus}
    selected = {t: [] for t in taus}
    for row in rows:
        a = ex.analyse(fix_length(load_audio(ds.paths[row], cfg.sample_rate), n))
        P.append(a.probabilities)
        Q.append(a.interpreter_probabilities)
        c = a.predicted
        r = ex.relevance(a, c)
        for t in taus:
            chosen = select(r, t)
            selected[t].append(len(chosen))
            residual = split(a.log_mag, ex.bundle.W, a.H, chosen)[1]
            with torch.no_grad():
                wave = resynthesise(residual, a.phase, cfg, a.n_samples)
                p = ex.classify(log_mel(wave.unsqueeze(0), cfg))[0, c].item()
            ff[t].append(a.probabilities[c] - p)
    return P, Q, ff, selected


def test_evaluate_bundle_agrees_with_the_explainer(tiny_bundle, tiny_esc10):
    bundle = load_bundle(tiny_bundle)
    ds = load_dataset(tiny_esc10)
    _, rows = ds.split(1)
    taus = (0.2, 0.6)
    result = evaluate_bundle(bundle, ds, rows, taus)
    # header, accuracy, 3 fidelities, tau header, taus, quality header and clean row
    assert len(format_table(result).splitlines()) == 1 + 1 + 3 + 1 + len(taus) + 2

    with Explainer(load_bundle(tiny_bundle)) as ex:
        P, Q, ff, selected = _by_hand(ex, ds, rows, taus)
    P, Q = np.stack(P), np.stack(Q)
    assert result["clips"] == len(rows) == 6 and result["skipped"] == 0
    assert result["fidelity"] == pytest.approx(topk_fidelity(P, Q))
    assert result["classifier"]["accuracy"] == pytest.approx(accuracy(P, ds.labels[rows]))
    assert list(result["faithfulness"]) == ["0.2", "0.6"]
    for t in taus:
        got = result["faithfulness"][f"{t:g}"]
        assert got["median"] == pytest.approx(float(np.median(ff[t])), abs=1e-4)
        assert got["mean_selected"] == pytest.approx(float(np.mean(selected[t])))
        assert math.isfinite(got["random_median"])


def test_evaluate_bundle_counts_unreadable_clips(tiny_bundle, tiny_esc10, tmp_path):
    ds = load_dataset(tiny_esc10)
    junk = tmp_path / "junk.wav"
    junk.write_bytes(np.random.default_rng(0).bytes(1000))
    sub = ds.subset(np.array([0, 8]))
    sub.paths.append(junk)
    sub.labels = np.append(sub.labels, 0)
    sub.folds = np.append(sub.folds, 1)
    result = evaluate_bundle(load_bundle(tiny_bundle), sub, [0, 1, 2], taus=(0.5,))
    assert result["clips"] == 2 and result["skipped"] == 1
    assert "(1 unreadable, skipped)" in format_table(result)


# --- (f) bad arguments --------------------------------------------------------------------

def test_train_all_with_missing_data_folder_fails_with_one_line(tmp_path, capsys):
    rc = main(["train", "all", "--data", "/nonexistent", "--out", str(tmp_path / "x.l2i"),
               "--device", "cpu"])
    assert rc == 2
    err = capsys.readouterr().err
    assert _l2i_lines(err) == ["l2i: error: /nonexistent: no such folder"]
    assert len(err.strip().splitlines()) == 1
    assert not (tmp_path / "x.l2i").exists()


def test_train_all_with_unknown_test_fold_fails_with_one_line(tiny_esc10, cache_dir, tmp_path,
                                                              capsys):
    rc = main(["train", "all", "--data", str(tiny_esc10), "--out", str(tmp_path / "x.l2i"),
               "--test-fold", "9", "--cache", str(cache_dir), "--device", "cpu"])
    assert rc == 2
    err = capsys.readouterr().err
    assert _l2i_lines(err) == ["l2i: error: there is no fold 9; folds: [1, 2, 3]"]
    assert len(err.strip().splitlines()) == 1
    assert not (tmp_path / "x.l2i").exists()

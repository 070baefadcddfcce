"""L-MAC on the command line: `l2i train lmac`, `l2i explain --method lmac`,
`l2i evaluate --method lmac`, end to end on real clips with a tiny trained bundle."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from conftest import one_error_line

from engine.bundles.bundle import load_bundle
from engine.dsp.audio import load_audio
from engine.explanation.quality import METRICS
from trainer.cli import build_parser, main
from trainer.commands import plan_from_args

ROOT = Path(__file__).resolve().parents[1]
TOP_KEYS = {"clip", "method", "sample_rate", "duration_s", "bundle", "predictions",
            "masked_in_predictions", "masked_out_predictions", "explained_class", "mask",
            "faithfulness", "files"}


@pytest.fixture(scope="module")
def lmac_bundle(tiny_esc10, tiny_bundle, cache_dir, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("lmac") / "with_lmac.l2i"
    rc = main(["train", "lmac", "--data", str(tiny_esc10), "--classifier", str(tiny_bundle),
               "--out", str(out), "--test-fold", "1", "--epochs", "2", "--clip-seconds", "2",
               "--cache", str(cache_dir), "--device", "cpu"])
    assert rc == 0
    return out


def test_train_lmac_writes_a_new_bundle_beside_the_interpreter(lmac_bundle, tiny_bundle):
    b = load_bundle(lmac_bundle)
    base = load_bundle(tiny_bundle)
    assert b.lmac is not None and b.lmac_layers == base.layers
    sec = b.manifest["lmac"]
    assert sec["provenance"]["test_fold"] == 1
    assert sec["provenance"]["training"]["l_in"] == 4.0  # the recipe's weights
    assert len(sec["provenance"]["history"]) == 2
    assert 1 <= sec["provenance"]["best_epoch"] <= 2
    # the interpreter and the dictionary are the classifier bundle's, untouched
    assert b.k == base.k and b.manifest["interpreter"] == base.manifest["interpreter"]
    assert load_bundle(tiny_bundle).lmac is None  # --out leaves the source alone


def test_explain_lmac_writes_the_document_and_audio_at_the_input_rate(
        lmac_bundle, esc10_clip, tmp_path, capsys):
    # a 16 kHz clip of 1.3 s (where the bark is: the clip starts silent): the output
    # keeps its rate and length
    wave = load_audio(esc10_clip, 16000)
    start = int(np.argmax(np.abs(wave) > 0.01))
    wave = wave[start:start + 20800]
    assert len(wave) == 20800
    clip = tmp_path / "short.wav"
    sf.write(clip, wave, 16000)
    out = tmp_path / "out"
    assert main(["explain", str(clip), "--bundle", str(lmac_bundle), "--method", "lmac",
                 "--out", str(out), "--device", "cpu"]) == 0
    assert "L-MAC mask mean" in capsys.readouterr().out
    doc = json.loads((out / "explanation.json").read_text())
    assert set(doc) == TOP_KEYS and doc["method"] == "lmac"
    assert doc["sample_rate"] == 16000 and doc["duration_s"] == pytest.approx(1.3)
    assert doc["explained_class"] == doc["predictions"][0]["label"]
    assert 0 <= doc["mask"]["mean"] <= 1 and 0 <= doc["mask"]["share_above_half"] <= 1
    probs = [p["probability"] for p in doc["predictions"]]
    assert probs == sorted(probs, reverse=True) and sum(probs) == pytest.approx(1, abs=1e-4)
    for name in ("interpretation.wav", "residual.wav"):
        info = sf.info(str(out / name))
        assert (info.frames, info.samplerate, info.channels) == (20800, 16000, 1)
    a, _ = sf.read(str(out / "interpretation.wav"), dtype="float32")
    r, _ = sf.read(str(out / "residual.wav"), dtype="float32")
    assert np.isfinite(a).all() and np.abs(a).max() > 0
    # masked-in and masked-out add up to the clip (to resampling and 16-bit tolerance)
    assert np.abs(a + r - wave).max() < 0.02 * np.abs(wave).max() + 1e-3


def test_explain_lmac_without_a_decoder_is_one_line(tiny_bundle, esc10_clip, tmp_path,
                                                    capsys):
    out = tmp_path / "out"
    assert main(["explain", str(esc10_clip), "--bundle", str(tiny_bundle), "--method",
                 "lmac", "--out", str(out)]) == 2
    assert "no L-MAC decoder" in one_error_line(capsys)
    assert not out.exists()


def test_explain_lmac_bad_input_is_one_line_and_writes_nothing(lmac_bundle, tmp_path,
                                                              capsys):
    bad = tmp_path / "noise.wav"
    bad.write_bytes(b"not audio at all" * 10)
    out = tmp_path / "out"
    assert main(["explain", str(bad), "--bundle", str(lmac_bundle), "--method", "lmac",
                 "--out", str(out)]) == 2
    one_error_line(capsys)
    assert not out.exists()
    assert main(["explain", str(bad), "--bundle", str(lmac_bundle), "--method", "lmac",
                 "--target", "0", "--out", str(out)]) == 2
    assert "--target" in one_error_line(capsys)


def test_evaluate_lmac_reports_the_same_metrics(lmac_bundle, tiny_esc10, cache_dir,
                                                tmp_path, capsys):
    js = tmp_path / "lmac.json"
    assert main(["evaluate", "--bundle", str(lmac_bundle), "--data", str(tiny_esc10),
                 "--test-fold", "1", "--method", "lmac", "--contaminate", "white,mixture",
                 "--clip-seconds", "2", "--cache", str(cache_dir), "--json", str(js),
                 "--device", "cpu"]) == 0
    assert "L-MAC" in capsys.readouterr().out
    r = json.loads(js.read_text())
    assert r["method"] == "lmac" and r["fidelity"] == "not applicable: L-MAC has no Theta"
    assert r["clips"] == 6 and r["evaluated_on"] == "test fold"
    for kind in ("clean", "white", "mixture"):
        assert set(r["quality"][kind]) == set(METRICS)
        assert 0 <= r["quality"][kind]["Fid-In"] <= 1
        assert 0 <= r["quality"][kind]["SPS"] <= 1
    ff = r["faithfulness"]["mask"]
    assert -1 <= ff["median"] <= 1 and -1 <= ff["random_median"] <= 1
    assert 0 < ff["mean_mask"] < 1


def test_evaluate_lmac_without_a_decoder_is_one_line(tiny_bundle, tiny_esc10, capsys):
    assert main(["evaluate", "--bundle", str(tiny_bundle), "--data", str(tiny_esc10),
                 "--method", "lmac", "--device", "cpu"]) == 2
    assert "no L-MAC decoder" in one_error_line(capsys)


def test_train_lmac_flag_mistakes_are_one_line(tiny_bundle, tiny_esc10, tmp_path, capsys):
    base = ["train", "lmac", "--data", str(tiny_esc10), "--device", "cpu"]
    assert main(base + ["--classifier", str(tiny_bundle), "--out", str(tmp_path / "a"),
                        "--into", str(tiny_bundle)]) == 2
    assert "exactly one of" in one_error_line(capsys)
    assert main(base + ["--out", str(tmp_path / "b")]) == 2
    assert "--classifier" in one_error_line(capsys)
    assert main(base + ["--into", str(tiny_bundle), "--l-out", "-1"]) == 2
    assert "must be >= 0" in one_error_line(capsys)
    clf = tmp_path / "clf"
    clf.mkdir()
    (clf / "classifier.json").write_text("{}")
    assert main(base + ["--classifier", str(clf), "--out", str(tmp_path / "c")]) == 2
    assert "classifier folder" in one_error_line(capsys)


def test_train_all_with_lmac_plans_the_decoder(tmp_path):
    args = build_parser().parse_args(
        ["train", "all", "--data", str(tmp_path), "--out", str(tmp_path / "b.l2i"),
         "--with-lmac", "--lmac-epochs", "3", "--l-out", "0.5", "--lmac-layers", "blocks.3"])
    plan = plan_from_args(args)
    assert plan.lmac["epochs"] == 3 and plan.lmac["l_out"] == 0.5
    assert plan.lmac["l_in"] == 4.0 and plan.lmac["batch_size"] == 16
    assert plan.lmac_layers == ["blocks.3"]
    args = build_parser().parse_args(["train", "all", "--data", str(tmp_path), "--out",
                                      str(tmp_path / "b.l2i")])
    assert plan_from_args(args).lmac is None


def test_focus_is_measured_for_lmac_too(lmac_bundle, tiny_esc10, cache_dir, tmp_path,
                                        capsys):
    js = tmp_path / "focus.json"
    assert main(["evaluate", "--bundle", str(lmac_bundle), "--data", str(tiny_esc10),
                 "--test-fold", "1", "--method", "lmac", "--focus", "4", "--focus-only",
                 "--clip-seconds", "2", "--cache", str(cache_dir), "--json", str(js),
                 "--device", "cpu"]) == 0
    assert "L-MAC focus on 4 mixtures" in capsys.readouterr().out
    f = json.loads(js.read_text())["focus"]
    assert f["mixtures"] == len(f["rows"]) == 4
    assert sum(f["by_case"][c]["mixtures"] for c in ("top", "missed")) == 4
    for row in f["rows"]:
        assert row["case"] in ("top", "missed")
        for k in ("gain_db", "gain_other_db", "irm_db", "random_db"):
            assert -100 <= row[k] <= 100
        assert row["second_gain_db"] is None and row["subset_db"] is None
        assert row["irm_db"] > row["random_db"]  # the oracle mask beats a shuffled one
    assert f["by_case"]["all"]["median_subset_db"] is None


def test_train_lmac_under_torchrun_two_gloo_processes(tiny_esc10, tiny_bundle, cache_dir,
                                                      tmp_path):
    torchrun = Path(sys.executable).parent / "torchrun"
    assert torchrun.is_file(), f"torchrun not found at {torchrun}"
    out = tmp_path / "ddp_lmac.l2i"
    cmd = [str(torchrun), "--standalone", "--nproc_per_node=2", "-m", "trainer.cli",
           "train", "lmac", "--data", str(tiny_esc10), "--classifier", str(tiny_bundle),
           "--out", str(out), "--test-fold", "1", "--epochs", "2", "--batch-size", "4",
           "--clip-seconds", "2", "--cache", str(cache_dir), "--device", "cpu"]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
    env.pop("WORLD_SIZE", None)
    run = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=400)
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.stdout.count(f"-> {out}") == 1, run.stdout  # rank 0 alone writes
    b = load_bundle(out)
    assert b.lmac is not None
    assert len(b.manifest["lmac"]["provenance"]["history"]) == 2


def test_guided_fine_tuning_into_a_bundle_starts_from_its_decoder(lmac_bundle, tiny_esc10,
                                                                  cache_dir, tmp_path):
    import shutil

    into = tmp_path / "copy.l2i"
    shutil.copyfile(lmac_bundle, into)
    assert main(["train", "lmac", "--data", str(tiny_esc10), "--into", str(into),
                 "--test-fold", "1", "--epochs", "1", "--guided", "4", "--clip-seconds", "2",
                 "--cache", str(cache_dir), "--device", "cpu"]) == 0
    b = load_bundle(into)
    prov = b.manifest["lmac"]["provenance"]
    assert prov["training"]["guided"] == 4.0
    assert prov["started_from"] == load_bundle(lmac_bundle).name
    assert len(prov["history"]) == 1 and "guided" in prov["history"][0]


def test_train_all_with_lmac_puts_both_in_the_bundle(tiny_esc10, cache_dir, tmp_path):
    from conftest import TINY_WIDTHS

    out = tmp_path / "both.l2i"
    assert main(["train", "all", "--data", str(tiny_esc10), "--out", str(out),
                 "--test-fold", "1", "--epochs", "1", "--widths",
                 ",".join(map(str, TINY_WIDTHS)), "--k", "8", "--iterations", "3",
                 "--interpreter-epochs", "1", "--with-lmac", "--lmac-epochs", "1",
                 "--clip-seconds", "2", "--cache", str(cache_dir), "--device", "cpu"]) == 0
    b = load_bundle(out)
    assert b.lmac is not None and b.lmac_layers == b.layers
    assert b.manifest["metrics"]["clips"] == 6  # the L2I evaluation is kept
    assert len(b.manifest["lmac"]["provenance"]["history"]) == 1
    assert (out.with_name(out.name + ".work") / "lmac.pt").is_file()

"""`l2i explain --method slime` on a real ESC-10 clip with the shipped bundle."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
import soundfile as sf

from engine.bundles.bundle import load_bundle
from engine.dsp.audio import load_audio
from engine.explanation.explain import Explainer
from resources import default_bundle_path
from trainer.cli import main


@pytest.fixture(scope="module")
def clip(esc10):
    if default_bundle_path() is None:
        pytest.skip("no default bundle in resources/")
    return sorted((esc10 / "009 - Rooster").glob("1-*.ogg"))[0]


def test_slime_explain_writes_audio_weights_and_prints_ff(clip, tmp_path, capsys):
    out = tmp_path / "slime"
    rc = main(["explain", str(clip), "--method", "slime", "--segments", "time",
               "--samples", "8", "--top", "2", "--out", str(out)])
    printed = capsys.readouterr()
    assert rc == 0, printed.err
    doc = json.loads((out / "explanation.json").read_text())
    assert doc["method"] == "slime" and doc["segmentation"] == "time"
    assert doc["n_samples"] == 8 and 1 <= len(doc["selected"]) <= 2
    ff = doc["faithfulness"]["ff"]
    assert f"FF {ff:.3f}" in printed.out and doc["explained_class"] in printed.out

    original, rate = sf.read(str(clip), dtype="float32")
    interp, r1 = sf.read(str(out / "interpretation.wav"), dtype="float32")
    resid, r2 = sf.read(str(out / "residual.wav"), dtype="float32")
    assert r1 == r2 == rate and interp.shape == resid.shape == original.shape
    assert np.abs(interp + resid - original).max() < 1e-4  # together: the clip itself

    with open(out / "segments.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 10
    assert all(float(rows[i]["end_s"]) == float(rows[i + 1]["start_s"]) for i in range(9))
    ranked = sorted((r for r in rows if int(r["selected"])), key=lambda r: int(r["selected"]))
    assert [int(r["segment"]) for r in ranked] == [s["segment"] for s in doc["selected"]]
    weights = np.array([float(r["weight"]) for r in rows])
    assert weights[[s["segment"] for s in doc["selected"]]].min() > 0

    # FF, measured again from the files: the class probability lost on the residual
    with Explainer(load_bundle(default_bundle_path())) as ex:
        c = ex.bundle.classes.index(doc["explained_class"])
        p = ex.classify_waves(_wave(clip, ex))[0, c].item()
        q = ex.classify_waves(_wave(out / "residual.wav", ex))[0, c].item()
    assert ff == pytest.approx(p - q, abs=1e-3)


def _wave(path, ex):
    import torch

    return torch.as_tensor(load_audio(path, ex.cfg.sample_rate))[None]


@pytest.mark.parametrize("args,message", [
    (["--segments", "time"], "--segments only apply to --method slime"),
    (["--samples", "50", "--top", "2"], "--samples, --top only apply to --method slime"),
    (["--method", "slime", "--samples", "1"], "at least 2 samples"),
    (["--method", "slime", "--segments", "bands"], "invalid choice: 'bands'"),
    (["--method", "slime", "--top", "0"], "top must be >= 1"),
    (["--method", "slime", "--target", "Unicorn", "--samples", "4"], "unknown class 'Unicorn'"),
])
def test_bad_arguments_end_in_one_line(clip, tmp_path, capsys, args, message):
    out = tmp_path / "never"
    try:
        rc = main(["explain", str(clip), "--out", str(out), *args])
    except SystemExit as exc:  # argparse's own refusals exit from the parser
        rc = exc.code
    err = capsys.readouterr().err
    assert rc == 2
    assert err.count("\n") == 1 and err.startswith("l2i") and message in err, err
    assert not out.exists()

"""`l2i evaluate` with the field's metrics on clean and contaminated clips (real ESC-10)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from engine.bundles.bundle import load_bundle
from engine.dsp.audio import load_audio
from engine.explanation.explain import Explainer
from engine.explanation.quality import METRICS
from trainer.cli import main
from trainer.datasets import load_dataset
from trainer.evaluate import evaluate_bundle
from trainer.features_cache import fix_length


def _by_hand(ex: Explainer, ds, rows, tau: float) -> dict[str, float]:
    """AI, AD, FF and Fid-In from the explanation the app shows (Explainer.explain)."""
    n = int(round(5.0 * ex.cfg.sample_rate))
    inc, drop, ff, fid = [], [], [], []
    for row in rows:
        a = ex.analyse(fix_length(load_audio(ds.paths[row], ex.cfg.sample_rate), n))
        e = ex.explain(a, None, tau, with_components=False)
        o, q = ex.classify_waves(torch.as_tensor(np.stack([e.interpretation, e.residual])))
        c, p = a.predicted, a.probabilities
        inc.append(float(o[c] > p[c]))
        drop.append(max(0.0, p[c] - float(o[c])) / p[c])
        ff.append(p[c] - float(q[c]))
        fid.append(float(int(o.argmax()) == c))
    return {"AI": 100 * np.mean(inc), "AD": 100 * np.mean(drop), "FF": np.mean(ff),
            "Fid-In": np.mean(fid)}


def test_clean_metrics_agree_with_the_explanation_the_app_shows(tiny_bundle, tiny_esc10):
    ds = load_dataset(tiny_esc10)
    _, rows = ds.split(1)
    result = evaluate_bundle(load_bundle(tiny_bundle), ds, rows, taus=(0.5,),
                             quality_tau=0.3)
    q = result["quality"]
    assert q["tau"] == 0.3 and set(q) == {"tau", "clean"}
    with Explainer(load_bundle(tiny_bundle)) as ex:
        expected = _by_hand(ex, ds, rows, 0.3)
    for key, value in expected.items():
        assert q["clean"][key] == pytest.approx(value, abs=2e-3), key
    assert 0 <= q["clean"]["SPS"] <= 1 and q["clean"]["COMP"] > 0


def test_evaluate_cli_reports_contaminated_metrics(tiny_bundle, tiny_esc10, cache_dir,
                                                   tmp_path, capsys):
    out = tmp_path / "eval.json"
    rc = main(["evaluate", "--bundle", str(tiny_bundle), "--data", str(tiny_esc10),
               "--test-fold", "1", "--taus", "0.1", "--contaminate", "white,mixture",
               "--json", str(out), "--cache", str(cache_dir), "--device", "cpu"])
    assert rc == 0
    doc = json.loads(out.read_text())["quality"]
    assert set(doc) == {"tau", "clean", "white", "mixture"}
    for kind in ("clean", "white", "mixture"):
        assert set(doc[kind]) == set(METRICS)
        assert all(np.isfinite(v) for v in doc[kind].values())
        assert 0 <= doc[kind]["AI"] <= 100 and 0 <= doc[kind]["Fid-In"] <= 1
    # contamination changes what the classifier hears, so the numbers move
    assert doc["white"] != doc["clean"]
    printed = capsys.readouterr().out
    assert "mixture:" in printed and "Fid-In" in printed


def test_evaluate_refuses_an_unknown_contamination(tiny_bundle, tiny_esc10, capsys):
    rc = main(["evaluate", "--bundle", str(tiny_bundle), "--data", str(tiny_esc10),
               "--contaminate", "pink"])
    assert rc == 2
    err = capsys.readouterr().err
    assert "--contaminate takes mixture,white,speech" in err and "Traceback" not in err

"""The shipped ESC-10 bundle: present, small, loadable, explaining real clips with no
--bundle, packaged in the wheel, and carrying exactly the metrics EVALUATION.md states."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from engine.bundles.bundle import load_bundle
from resources import default_bundle_path
from trainer.cli import main
from trainer.datasets import load_dataset

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def shipped():
    path = default_bundle_path()
    assert path is not None, "resources/default.l2i is missing"
    return path, load_bundle(path)


def test_the_default_bundle_is_a_small_esc10_attention_model(shipped):
    path, bundle = shipped
    assert path.stat().st_size < 20 * 1024 * 1024
    assert len(bundle.classes) == 10 and "Dog bark" in bundle.classes
    assert bundle.k == 100
    assert bundle.manifest["interpreter"]["pooling"] == "attention"
    prov = bundle.manifest["provenance"]
    assert Path(prov["data"]).name == "esc10"  # only CC BY 3.0 data goes into shipped weights
    metrics = bundle.manifest["metrics"]
    assert metrics["evaluated_on"] == "test fold" and prov["test_fold"] == 1


def test_explain_without_bundle_works_on_one_clip_of_every_class(esc10, shipped, tmp_path,
                                                                 capsys):
    ds = load_dataset(esc10)
    _, bundle = shipped
    assert ds.classes == bundle.classes
    for c in range(len(ds.classes)):
        clip = ds.paths[int((ds.labels == c).nonzero()[0][0])]
        out = tmp_path / f"out{c}"
        assert main(["explain", str(clip), "--out", str(out)]) == 0, capsys.readouterr().err
        doc = json.loads((out / "explanation.json").read_text())
        assert doc["explained_class"] == doc["predictions"][0]["label"]
        assert any(comp["selected"] for comp in doc["components"])
        assert (out / "interpretation.wav").is_file()
    assert "components ->" in capsys.readouterr().out


def _stated_metrics() -> dict[str, float]:
    text = (ROOT / "EVALUATION.md").read_text()
    block = re.search(r"<!-- generated:shipped -->\n(.*?)<!-- /generated:shipped -->",
                      text, re.S)
    assert block, "EVALUATION.md lost its shipped-bundle table"
    rows = {}
    for line in block.group(1).splitlines():
        cells = [c.strip() for c in line.strip("|").split("|")]
        if len(cells) == 2 and re.fullmatch(r"-?\d+\.\d+", cells[1]):
            rows[cells[0]] = float(cells[1])
    return rows


def test_evaluation_md_states_the_shipped_bundles_metrics(shipped):
    m = shipped[1].manifest["metrics"]
    stated = _stated_metrics()
    expected = {"classifier accuracy": m["classifier"]["accuracy"]}
    expected |= {f"fidelity {k}": v for k, v in m["fidelity"].items()}
    for tau, ff in m["faithfulness"].items():
        expected[f"FF_median τ={tau}"] = ff["median"]
        expected[f"random FF_median τ={tau}"] = ff["random_median"]
    assert stated.keys() == expected.keys()
    for key, value in expected.items():
        assert stated[key] == pytest.approx(value, abs=5e-5), key


@pytest.mark.slow
def test_the_wheel_ships_the_default_bundle(tmp_path):
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                    "-q", "-w", str(tmp_path), str(ROOT)], check=True, timeout=300)
    wheel = next(tmp_path.glob("l2i_desktop-*.whl"))
    with zipfile.ZipFile(wheel) as z:
        info = z.getinfo("resources/default.l2i")
    assert info.file_size == default_bundle_path().stat().st_size

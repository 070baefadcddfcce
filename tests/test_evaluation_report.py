"""scripts/evaluation_report.py: the tables it writes into EVALUATION.md."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def report():
    spec = importlib.util.spec_from_file_location("evaluation_report",
                                                  ROOT / "scripts" / "evaluation_report.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _rep(acc: float, top1: float, ff: float, rnd: float, low: float) -> dict:
    taus = {"0.1": {"median": ff, "random_median": rnd}}
    taus |= {t: {"median": low if t == "0.9" else ff / 2, "random_median": 0.0}
             for t in ("0.3", "0.5", "0.7", "0.9")}
    return {"classifier": {"accuracy": acc}, "clips": 80,
            "fidelity": {"top1": top1, "top3": 1.0, "top5": 1.0}, "faithfulness": taus}


def test_variations_table_gives_each_run_and_pooling_one_row(report):
    runs = {1: {"attention": _rep(0.8, 0.9, 0.4, 0.001, 0.02),
                "max": _rep(0.8, 0.95, 0.3, 0.03, 0.0)},
            2: {"attention": _rep(0.9, 0.85, 0.5, 0.004, 0.01)}}  # max missing on fold 2
    rows = report.variations_table([("run A", runs)]).strip().splitlines()[2:]
    assert rows == ["| run A | attention | 85.00 ± 5.00 | 90.00 / 85.00 | **87.50 ± 2.50** "
                    "| 0.450 (0.400) | 0.0040 | 0.010 |"]


def test_every_generated_block_has_its_markers(report):
    text = (ROOT / "EVALUATION.md").read_text()
    for name in ("esc10-fidelity", "esc10-ff-attention", "esc10-ff-max", "esc10-variations",
                 "esc50-fidelity", "esc50-ff-attention", "esc50-ff-max", "shipped", "quality"):
        assert report.replace_block(text, name, "x\n").count("x\n") >= 1

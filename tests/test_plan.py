"""The wizard's headless run (trainer.plan): a whole tiny training on real clips, cancel
and resume from checkpoints, changed settings refused on resume, and bring-your-own
classifiers (a Python file, an entry point) that run only when trusted."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from byo_models import build_mel_model, build_model
from conftest import TINY_WIDTHS
from safetensors.torch import save_file

from engine.bundles.bundle import load_bundle
from engine.explanation.explain import Explainer
from engine.models.user_classifier import UntrustedCodeError
from engine.runtime.errors import Cancelled, L2IError
from engine.runtime.progress import TaskState
from trainer.plan import ClassifierChoice, TrainingPlan, run_plan

BYO_FILE = Path(__file__).with_name("byo_models.py")


def tiny_plan(data: Path, work: Path, cache: Path, **classifier) -> TrainingPlan:
    choice = ClassifierChoice(**{"widths": list(TINY_WIDTHS), "epochs": 2, **classifier})
    return TrainingPlan(data=str(data), work=str(work), test_fold=1, classifier=choice,
                        nmf={"k": 12, "sparsity": 0.8, "beta": 2.0, "iterations": 8,
                             "inner": 1, "seed": 0},
                        interpreter={"epochs": 3, "batch_size": 8, "lr": 1e-3},
                        cache=str(cache), name="tiny")


def test_a_whole_run_gives_an_evaluated_bundle(tiny_esc10, cache_dir, tmp_path):
    stages = set()
    task = TaskState(lambda r: stages.add(r.stage))
    res = run_plan(tiny_plan(tiny_esc10, tmp_path / "run", cache_dir), task)
    b = load_bundle(res.bundle_path)
    assert b.k == 12 and len(b.classes) == 3 and b.name == "tiny"
    assert b.layers == ["blocks.1", "blocks.2", "blocks.3"]
    assert b.manifest["metrics"] == res.metrics
    assert res.metrics["evaluated_on"] == "test fold" and res.metrics["clips"] == 6
    assert set(res.metrics["faithfulness"]) == {"0.1", "0.3", "0.5", "0.7", "0.9"}
    assert {"classifier", "dictionary", "interpreter", "evaluation"} <= stages
    assert (tmp_path / "run" / "plan.json").is_file()


def test_cancel_then_resume_continues_from_the_checkpoint(tiny_esc10, cache_dir, tmp_path):
    plan = tiny_plan(tiny_esc10, tmp_path / "run", cache_dir)
    task = TaskState()

    def stop_after_first_interpreter_epoch(r) -> None:
        if r.stage == "interpreter epochs" and r.done >= 1:
            task.cancel()
    task._on_report = stop_after_first_interpreter_epoch
    with pytest.raises(Cancelled):
        run_plan(plan, task)
    work = tmp_path / "run"
    assert (work / "interpreter.pt").is_file() and not (work / "bundle").exists()
    clf_mtime = (work / "classifier" / "classifier.safetensors").stat().st_mtime_ns

    seen: list[tuple[str, float]] = []
    res = run_plan(plan, TaskState(lambda r: seen.append((r.stage, r.done))), resume=True)
    stages = {s for s, _ in seen}
    assert "classifier" not in stages and "dictionary" not in stages  # reused, not redone
    epochs = [d for s, d in seen if s == "interpreter epochs"]
    assert epochs == [2, 3]  # the first epoch came from the checkpoint
    assert (work / "classifier" / "classifier.safetensors").stat().st_mtime_ns == clf_mtime
    history = load_bundle(res.bundle_path).manifest["provenance"]["interpreter"]["history"]
    assert [h["epoch"] for h in history] == [1, 2, 3]


def test_resume_with_other_settings_is_refused(tiny_esc10, cache_dir, tmp_path):
    plan = tiny_plan(tiny_esc10, tmp_path / "run", cache_dir)
    task = TaskState()
    task._on_report = lambda r: task.cancel() if r.stage == "classifier" else None
    with pytest.raises(Cancelled):
        run_plan(plan, task)
    plan.nmf["k"] = 14
    with pytest.raises(L2IError, match="settings changed.*nmf"):
        run_plan(plan, resume=True)


def _weights(model: torch.nn.Module, path: Path) -> Path:
    state = {k: v.contiguous() for k, v in model.state_dict().items()}
    if path.suffix == ".safetensors":
        save_file(state, str(path))
    else:
        torch.save(state, path)
    return path


def test_bring_your_own_waveform_model_from_a_python_file(tiny_esc10, cache_dir, tmp_path):
    torch.manual_seed(0)
    weights = _weights(build_model(3), tmp_path / "wave.pt")
    plan = tiny_plan(tiny_esc10, tmp_path / "run", cache_dir, kind="custom",
                     code_file=str(BYO_FILE), function="build_model", weights=str(weights),
                     input="waveform", trust_code=True)
    plan.layers = ["blocks.0", "blocks.1", "blocks.2"]
    res = run_plan(plan)
    # the file travels inside the bundle, and opening it needs trust
    with pytest.raises(UntrustedCodeError, match="Python code.*trust_code=True"):
        load_bundle(res.bundle_path)
    b = load_bundle(res.bundle_path, trust_code=True)
    assert b.classifier_input == "waveform"
    assert (res.bundle_path / "classifier.py").read_text() == BYO_FILE.read_text()
    assert b.manifest["classifier"]["code"] == {"file": "classifier.py",
                                                "function": "build_model"}
    reference = build_model(3)
    reference.load_state_dict(torch.load(weights, weights_only=True))
    clip = sorted((tiny_esc10 / "001 - Dog bark").iterdir())[0]
    with Explainer(b) as ex:
        from engine.dsp.audio import load_audio
        wave = load_audio(clip, 44100)
        a = ex.analyse(wave)
        expect = torch.softmax(reference.eval()(torch.from_numpy(wave)[None]), -1)[0]
    assert torch.allclose(torch.from_numpy(a.probabilities), expect, atol=1e-5)
    assert a.H.shape[0] == 12


def test_bring_your_own_entry_point_and_class_order(tiny_esc10, cache_dir, tmp_path):
    torch.manual_seed(1)
    weights = _weights(build_mel_model(), tmp_path / "mel.safetensors")
    names = sorted(p.name.split(" - ")[1] for p in tiny_esc10.iterdir())
    reordered = [names[2], names[0], names[1]]  # the model's own output order
    plan = tiny_plan(tiny_esc10, tmp_path / "run", cache_dir, kind="custom",
                     entry_point="byo_models:build_mel_model", weights=str(weights),
                     classes=reordered)
    with pytest.raises(UntrustedCodeError, match="confirm that you trust"):
        run_plan(plan)  # not trusted yet: nothing ran, nothing was written
    assert not (tmp_path / "run" / "bundle").exists()
    plan.classifier.trust_code = True
    plan.layers = ["layer3", "layer4"]
    res = run_plan(plan)
    b = load_bundle(res.bundle_path, trust_code=True)
    assert b.classes == reordered and b.classifier_input == "log_mel"
    assert b.manifest["classifier"]["code"] == {"entry_point": "byo_models:build_mel_model"}
    assert not (res.bundle_path / "classifier.py").exists()


def test_bring_your_own_with_wrong_weights_or_classes(tiny_esc10, cache_dir, tmp_path):
    weights = _weights(build_model(5), tmp_path / "five.safetensors")
    plan = tiny_plan(tiny_esc10, tmp_path / "run", cache_dir, kind="custom",
                     code_file=str(BYO_FILE), weights=str(weights), input="waveform",
                     trust_code=True)
    plan.layers = ["blocks.2"]
    with pytest.raises(L2IError, match="does not fit the model"):
        run_plan(plan)
    plan.classifier.classes = ["dog", "rain", "sea"]
    with pytest.raises(L2IError, match="not the data's"):
        run_plan(plan)

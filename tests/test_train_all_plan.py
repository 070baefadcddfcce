"""`l2i train all` is the wizard's plan: the same work files, the same plan.json and the
same resume rules (trainer.work_folder); the command table covers every command.
Real clips, tiny networks (the tiny_bundle settings of conftest.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from conftest import TINY_WIDTHS, random_bundle

from engine.bundles.bundle import load_bundle, save_bundle
from engine.dsp.nmf import NMFConfig
from trainer import work_folder
from trainer.cli import build_parser, main
from trainer.dispatch import COMMANDS
from trainer.plan import ClassifierChoice, TrainingPlan, run_plan
from trainer.train_interpreter import InterpreterTrainConfig
from trainer.work_folder import WorkFiles

# every file a finished run keeps in its work folder, the bundle aside
WORK_FILES = {"plan.json", "dictionary.safetensors", "interpreter.pt", "evaluation.json",
              "classifier/classifier.json", "classifier/classifier.safetensors",
              "classifier/checkpoint.pt"}


def _flags(data: Path, cache: Path, work: Path, out: Path) -> list[str]:
    return ["train", "all", "--data", str(data), "--out", str(out), "--work", str(work),
            "--test-fold", "1", "--epochs", "2", "--widths", ",".join(map(str, TINY_WIDTHS)),
            "--k", "16", "--iterations", "10", "--interpreter-epochs", "2",
            "--cache", str(cache), "--device", "cpu"]


def _files(folder: Path) -> set[str]:
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}


@pytest.fixture(scope="module")
def cli_run(tiny_esc10, cache_dir, tmp_path_factory) -> tuple[list[str], Path, Path]:
    """(the flags, the work folder, the bundle) of one finished `l2i train all`."""
    root = tmp_path_factory.mktemp("cli_run")
    flags = _flags(tiny_esc10, cache_dir, root / "work", root / "tiny.l2i")
    assert main(flags) == 0
    return flags, root / "work", root / "tiny.l2i"


def test_the_cli_and_the_wizard_plan_make_the_same_work_files(cli_run, tiny_esc10, cache_dir,
                                                              tmp_path):
    _, cli_work, cli_out = cli_run
    plan = TrainingPlan(  # what the wizard's pages make of the same choices
        data=str(tiny_esc10), work=str(tmp_path / "wizard"), test_fold=1,
        classifier=ClassifierChoice(widths=list(TINY_WIDTHS), epochs=2),
        nmf=NMFConfig(k=16, iterations=10, inner=3, sparsity=0.8).to_dict(),
        interpreter=InterpreterTrainConfig(epochs=2).to_dict(), device="cpu",
        cache=str(cache_dir), name="tiny")
    result = run_plan(plan)
    wizard = _files(tmp_path / "wizard")
    assert {f for f in wizard if not f.startswith("bundle/")} == _files(cli_work) == WORK_FILES
    assert result.bundle_path == tmp_path / "wizard" / "bundle"  # the CLI's is its --out

    stored = [json.loads((w / "plan.json").read_text()) for w in (cli_work, tmp_path / "wizard")]
    for d in stored:
        d.pop("work"), d.pop("out")
    assert stored[0] == stored[1]
    # one pipeline: the same plan trains the same models on one CPU thread
    a, b = load_bundle(cli_out), load_bundle(result.bundle_path)
    assert a.manifest["metrics"] == b.manifest["metrics"]
    assert torch.equal(a.W, b.W)


def test_resume_of_a_finished_run_redoes_nothing(cli_run, capsys):
    flags, work, out = cli_run
    before = {p: p.stat().st_mtime_ns for p in [out, *work.rglob("*")] if p.name != "plan.json"}
    capsys.readouterr()
    assert main(["-vv", *flags, "--resume"]) == 0
    captured = capsys.readouterr()
    assert {p: p.stat().st_mtime_ns for p in before} == before
    assert f"bundle -> {out}" in captured.out and "multiclass: 6 clips" in captured.out
    for product in ("classifier", "dictionary", "bundle", "evaluation"):
        assert f"INFO trainer.plan: reusing the finished {product}" in captured.err
    assert "DEBUG trainer.dispatch: train runs trainer.commands:train_all" in captured.err


def test_resume_with_other_settings_is_one_line(cli_run, capsys):
    flags, work, _ = cli_run
    stored = (work / "plan.json").read_text()
    changed = [*flags, "--resume", "--k", "12", "--device", "cpu"]
    assert main(changed) == 2
    err = capsys.readouterr().err
    assert [ln for ln in err.splitlines() if ln.startswith("l2i:")] == [
        "l2i: error: the settings changed since this run stopped (nmf): "
        "start a new run instead of resuming"]
    assert (work / "plan.json").read_text() == stored
    assert "INFO" not in err  # no --verbose, no log lines


def test_a_bundle_at_the_output_from_elsewhere_is_not_taken_for_this_runs(cli_run, capsys):
    """The bundle's place may hold another bundle (an older run's, another command's):
    resuming makes this run's again from its finished checkpoint, then evaluates it."""
    flags, work, out = cli_run
    save_bundle(random_bundle(k=8), out)
    (work / "evaluation.json").unlink()
    assert main([*flags, "--resume"]) == 0
    b = load_bundle(out)
    history = torch.load(work / "interpreter.pt", weights_only=True)["history"]
    assert b.k == 16 and b.manifest["provenance"]["interpreter"]["history"] == history
    assert json.loads((work / "evaluation.json").read_text()) == b.manifest["metrics"]
    assert "interpreter epochs" not in capsys.readouterr().err  # no epoch was trained again


def test_a_fresh_start_clears_only_the_products_it_names(tmp_path):
    work, out = tmp_path / "work", tmp_path / "model.l2i"
    files = WorkFiles(work, out)
    for rel in [*WORK_FILES, "classifier/notes.txt", "mine.txt"]:
        (work / rel).parent.mkdir(parents=True, exist_ok=True)
        (work / rel).write_text("x")
    out.write_text("the user's bundle until this run replaces it")
    files.clear()
    assert _files(work) == {"plan.json", "classifier/notes.txt", "mine.txt"}
    assert out.is_file()

    in_work = WorkFiles(work)  # the wizard's: the bundle lives in the work folder
    in_work.bundle.mkdir()
    (in_work.bundle / "manifest.json").write_text("{}")
    in_work.clear()
    assert not in_work.bundle.exists()
    assert work_folder.default_work(out) == tmp_path / "model.l2i.work"


def test_every_command_of_the_parser_has_one_handler():
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    keys = set()
    for name, p in sub.choices.items():
        whats = [a for a in p._actions if a.dest == "what"]
        keys |= {(name, w) for w in whats[0].choices} if whats else {(name, None)}
    assert keys == set(COMMANDS)
    for command in COMMANDS.values():
        assert callable(command.load())

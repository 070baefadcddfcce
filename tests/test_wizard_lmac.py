"""The wizard offers L-MAC as a second explanation method to train (issue 21): the choice
reaches the plan (and leaving it off leaves the plan as it was), it is disabled with its
reason for a classifier L-MAC cannot serve, and a tiny real run with it on gives a bundle
that carries and loads an L-MAC decoder (real clips, offscreen)."""

from __future__ import annotations

import csv
from pathlib import Path

from conftest import TINY_WIDTHS, random_bundle
from wizard_steps import (
    TIMEOUT,
    advance,
    choose_data,
    make_wizard,
    tiny_dictionary_and_interpreter,
    wait_inspected,
    wait_run_ends,
)

from engine.bundles.bundle import load_bundle, save_bundle
from l2i_desktop.wizard.results_page import lmac_rows
from l2i_desktop.wizard.wizard import lmac_refusal
from trainer.plan import ClassifierChoice, TrainingPlan
from trainer.train_lmac import SINGLE_LABEL_ONLY, LMACTrainConfig


def _to_interpreter_page(qtbot, w, data: Path) -> None:
    """Data -> the built-in CNN (tiny) -> dictionary (tiny) -> the interpreter page."""
    choose_data(qtbot, w, data)
    assert w.data_page.summary is not None, w.data_page.error.text()
    advance(qtbot, w)
    cp = w.classifier_page
    cp.widths.setText(",".join(map(str, TINY_WIDTHS)))
    cp.epochs.setValue(2)
    cp.inspect()
    wait_inspected(qtbot, w)
    advance(qtbot, w)
    tiny_dictionary_and_interpreter(w)
    advance(qtbot, w)
    assert w.currentPage() is w.interpreter_page


def _settings(plan: TrainingPlan) -> dict:
    """The plan without its work folder (a new one is stamped per call)."""
    d = plan.to_dict()
    d.pop("work")
    return d


def test_the_choice_reaches_the_plan_and_off_leaves_it_as_before(qtbot, request, tmp_path,
                                                                cache_dir, tiny_esc10):
    w = make_wizard(qtbot, request, tmp_path, cache_dir)
    _to_interpreter_page(qtbot, w, tiny_esc10)
    ip = w.interpreter_page
    assert ip.lmac.isEnabled() and not ip.lmac.isChecked()  # off by default
    assert not ip.lmac_epochs.isEnabled()
    assert ip.lmac.toolTip() and "mask" in ip.lmac_note.text()
    before = w.plan()
    assert before.lmac is None and before.lmac_layers is None
    ip.lmac.setChecked(True)
    assert ip.lmac_epochs.isEnabled()
    ip.lmac_epochs.setValue(3)
    on = w.plan()
    assert on.lmac == LMACTrainConfig(epochs=3).to_dict()
    assert LMACTrainConfig(**on.lmac).epochs == 3  # what run_plan builds from it
    assert on.lmac_layers is None  # the interpreter's taps
    assert {k: v for k, v in _settings(on).items() if k != "lmac"} == \
        {k: v for k, v in _settings(before).items() if k != "lmac"}
    ip.lmac.setChecked(False)
    assert _settings(w.plan()) == _settings(before)


def _multilabel_folder(labelled: Path, root: Path) -> Path:
    """The tiny set's clips under a multi-label CSV (one clip with two labels)."""
    classes = sorted(p.name for p in labelled.iterdir() if p.is_dir())
    (root / "audio").mkdir(parents=True)
    rows = []
    for c, name in enumerate(classes):
        for clip in sorted((labelled / name).iterdir()):
            (root / "audio" / clip.name).symlink_to(clip.resolve())
            rows.append([clip.name] + [int(i == c) for i in range(len(classes))]
                        + [clip.name.split("-")[0]])
    rows[0][2] = 1  # a dog bark with the second class too
    with open(root / "labels.csv", "w", newline="") as f:
        out = csv.writer(f)
        out.writerow(["filename", *classes, "fold"])
        out.writerows(rows)
    return root


def test_multilabel_data_disables_the_choice_with_its_reason(qtbot, request, tmp_path,
                                                             cache_dir, tiny_esc10):
    w = make_wizard(qtbot, request, tmp_path, cache_dir)
    _to_interpreter_page(qtbot, w, _multilabel_folder(tiny_esc10, tmp_path / "mixes"))
    assert w.data_page.summary.multilabel
    ip = w.interpreter_page
    assert not ip.lmac.isEnabled() and not ip.lmac.isChecked()
    assert SINGLE_LABEL_ONLY in ip.lmac_note.text() and "multi-label" in ip.lmac_note.text()
    ip.lmac.setChecked(True)  # even ticked behind the page's back: the plan has no L-MAC
    assert w.plan().lmac is None


def test_a_multilabel_bundle_is_refused_and_a_single_label_one_is_not(tmp_path, tiny_esc10):
    from l2i_desktop.wizard.scan import scan_data

    data = scan_data(tiny_esc10)
    assert not data.multilabel
    for multilabel in (True, False):
        path = tmp_path / f"ml{multilabel}.l2i"
        save_bundle(random_bundle(multilabel=multilabel), path)
        reason = lmac_refusal(data, ClassifierChoice(kind="bundle", bundle=str(path)))
        assert (reason is not None) == multilabel, reason
        if reason:
            assert "bundle's classifier is multi-label" in reason
    assert lmac_refusal(data, ClassifierChoice()) is None  # the built-in CNN


def test_a_run_with_lmac_gives_a_bundle_that_carries_it(qtbot, request, tmp_path, cache_dir,
                                                         tiny_esc10):
    w = make_wizard(qtbot, request, tmp_path, cache_dir)
    rp = w.run_page
    stages: list[str] = []
    rp.runner.progress.connect(lambda r: stages.append(r.stage))
    _to_interpreter_page(qtbot, w, tiny_esc10)
    ip = w.interpreter_page
    ip.lmac.setChecked(True)
    ip.lmac_epochs.setValue(2)
    advance(qtbot, w)  # Train
    assert rp.bars["lmac"].isVisible() and rp.titles["lmac"].text() == "L-MAC decoder"
    assert wait_run_ends(qtbot, w) == "done", rp.message.text()
    assert "L-MAC" in stages and "L-MAC epochs" in stages
    assert stages.index("L-MAC") > stages.index("evaluation")  # after the interpreter's
    assert rp.bars["lmac"].value() == 1000 and rp.notes["lmac"].text().startswith("done")
    xs, ys = rp.points["L-MAC"]
    assert len(xs) >= 2 and 0 < xs[-1] <= 2.0 + 1e-9  # per batch, in epochs

    b = load_bundle(rp.result.bundle_path)  # what the run wrote, read back from disk
    assert b.lmac is not None and b.manifest["lmac"]["layers"] == b.layers
    prov = b.manifest["lmac"]["provenance"]
    assert prov["training"]["epochs"] == 2 and len(prov["history"]) == 2
    assert b.interpreter is not None and b.manifest["metrics"]["clips"] == 6

    advance(qtbot, w)
    res = w.results_page
    lines = dict(lmac_rows(b.manifest["lmac"]))
    assert lines["L-MAC decoder"].startswith(f"trained 2 epochs, best epoch "
                                             f"{prov['best_epoch']}")
    best = prov["history"][prov["best_epoch"] - 1]
    assert lines["L-MAC masked-in keeps the decision"].startswith(f"{best['val_keeps']:.3f}")
    assert "not evaluated here" in lines["L-MAC on the test fold"]
    assert res.lmac_label.isVisible()
    shown = res.lmac_label.text()
    assert all(f"<b>{k}</b>: {v}" in shown for k, v in lines.items())
    names = [res.table.item(i, 0).text() for i in range(res.table.rowCount())]
    assert "fidelity top1" in names  # L2I's numbers are all still there
    out = tmp_path / "saved.l2i"
    res.save_to(out)
    qtbot.waitUntil(lambda: res.saved == out, timeout=TIMEOUT)
    assert load_bundle(out).lmac is not None
    w.close()

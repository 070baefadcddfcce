"""Train > New interpreter...: every page walked with real ESC-10 clips (offscreen), a bad
folder refused with a clear message, the result saved and opened in the main window."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from conftest import ESC10, link_subset
from PySide6.QtWidgets import QWizard
from wizard_steps import (
    TIMEOUT,
    advance,
    choose_data,
    make_wizard,
    tiny_dictionary_and_interpreter,
    wait_run_ends,
)

from engine.bundles.bundle import load_bundle
from trainer.train_interpreter import InterpreterTrainConfig


def _next_enabled(w) -> bool:
    return w.button(QWizard.WizardButton.NextButton).isEnabled()


@pytest.mark.parametrize("make, words", [
    (lambda root: root, "no known layout"),
    (lambda root: root / "missing", "no such folder"),
    (lambda root: _one_class(root), "at least two classes"),
])
def test_a_bad_folder_is_explained_and_next_stays_disabled(qtbot, request, tmp_path,
                                                           cache_dir, esc10, make, words):
    w = make_wizard(qtbot, request, tmp_path, cache_dir)
    root = tmp_path / "data"
    root.mkdir()
    folder = make(root)
    choose_data(qtbot, w, folder)
    assert w.data_page.summary is None
    text = w.data_page.error.text()
    assert text.startswith("This folder cannot be used:") and words in text
    assert not w.data_page.isComplete() and not _next_enabled(w)
    w.data_page.folder.setText(str(folder))
    w.data_page.folder.editingFinished.emit()  # the same bad folder again: still refused
    assert not _next_enabled(w) and words in w.data_page.error.text()


def _one_class(root: Path) -> Path:
    src = sorted(p for p in ESC10.iterdir() if p.is_dir())[0]  # L2I_DATA is honoured
    (root / "dogs").mkdir()
    for f in sorted(src.glob("1-*"))[:2]:
        (root / "dogs" / f.name).symlink_to(f)
    return root


def test_the_data_page_summarises_real_clips(qtbot, request, tmp_path, cache_dir, esc10):
    data = link_subset(esc10, tmp_path / "data", classes=3, per_fold={1: 2, 2: 2})
    (data / sorted(p.name for p in data.iterdir())[0] / "2-broken.wav").write_bytes(
        b"RIFF not really a wave file")
    w = make_wizard(qtbot, request, tmp_path, cache_dir)
    choose_data(qtbot, w, data)
    s = w.data_page.summary
    assert s is not None, w.data_page.error.text()
    page = w.data_page
    assert page.classes.rowCount() == 3
    counts = [int(page.classes.item(i, 1).text()) for i in range(3)]
    assert counts == [5, 4, 4]  # the broken file is listed as a clip of its class ...
    assert "1 unreadable files" in page.unreadable.text()  # ... and named as unreadable
    assert "2-broken.wav" in page.unreadable.text()
    assert "3 classes, 13 clips, 1.0 min" in page.status.text()  # 12 readable x 5 s
    assert "folds 1, 2" in page.status.text()
    assert [page.test_fold.itemData(i) for i in range(page.test_fold.count())] == [1, 2, None]
    assert len(s.examples) == 3 and all(p.suffix == ".ogg" for p in s.examples)
    assert _next_enabled(w)


def test_walk_every_page_with_the_builtin_cnn(qtbot, request, tmp_path, cache_dir,
                                              tiny_esc10):
    w = make_wizard(qtbot, request, tmp_path, cache_dir)
    choose_data(qtbot, w, tiny_esc10)
    advance(qtbot, w)
    cp = w.classifier_page
    qtbot.waitUntil(lambda: cp.inspection is not None, timeout=TIMEOUT)  # listed at once
    assert cp.tapped() == ["blocks.3", "blocks.4", "blocks.5"]  # the default widths
    cp.widths.setText("8,16,16,32")
    cp.epochs.setValue(4)  # the walk, not the CNN's accuracy (60 epochs took 130 s)
    assert cp.inspection is None and not _next_enabled(w)  # stale until run again
    cp.inspect()
    qtbot.waitUntil(lambda: cp.inspection is not None, timeout=TIMEOUT)
    shapes = dict(cp.inspection.layers)
    assert cp.tapped() == ["blocks.1", "blocks.2", "blocks.3"]
    assert shapes["blocks.3"] == (32, 8, 27) and shapes["head"] == (3,)
    cp.set_tapped(["head"])  # logits are not a feature map: cannot be tapped
    assert not _next_enabled(w)
    cp.set_tapped(["blocks.2", "blocks.3"])
    advance(qtbot, w)
    tiny_dictionary_and_interpreter(w)
    advance(qtbot, w)
    ip = w.interpreter_page
    assert ip.device.itemData(0) == "cpu"
    ip.faith_in.setValue(1.0)  # the faithfulness options reach the plan, then go back
    ip.mask_domain.setCurrentIndex(ip.mask_domain.findData("linear"))
    cfg = InterpreterTrainConfig(**w.plan().interpreter)
    assert cfg.faithful and cfg.faith_in == 1.0 and cfg.mask_domain == "linear"
    ip.faith_in.setValue(0.0)
    ip.mask_domain.setCurrentIndex(ip.mask_domain.findData("log"))
    assert InterpreterTrainConfig(**w.plan().interpreter).hidden == 256  # the paper's
    ip.size.setCurrentIndex(ip.size.findData("fast"))  # and the run trains the fast one
    cfg = InterpreterTrainConfig(**w.plan().interpreter)
    assert (cfg.hidden, cfg.temporal_stride) == (128, 4)
    advance(qtbot, w)  # Train
    rp = w.run_page
    assert not _next_enabled(w)
    assert wait_run_ends(qtbot, w) == "done", rp.message.text()
    assert all(bar.value() == 1000 for bar in rp.bars.values())
    assert not rp.bars["lmac"].isVisible()  # L-MAC was not asked for: no row for it
    assert len(rp.points["classifier"][0]) >= 2 and len(rp.points["interpreter"][0]) >= 2
    assert len(rp.points["dictionary"][0]) == 8
    assert _next_enabled(w)
    advance(qtbot, w)

    res = w.results_page
    m = rp.result.metrics
    names = [res.table.item(i, 0).text() for i in range(res.table.rowCount())]
    assert names[:4] == ["evaluated on", "classifier accuracy", "fidelity top1",
                         "fidelity top3"]
    assert sum(n.startswith("faithfulness, tau") for n in names) == 5
    assert not res.lmac_label.isVisible() and not any("L-MAC" in n for n in names)
    ff = res.bars["faithfulness"].opts["height"]
    assert np.allclose(ff, [m["faithfulness"][t]["median"] for t in m["faithfulness"]])
    rnd = res.bars["random"].opts["height"]
    assert np.allclose(rnd, [m["faithfulness"][t]["random_median"]
                             for t in m["faithfulness"]])

    out = tmp_path / "saved.l2i"
    res.save_to(out)
    qtbot.waitUntil(lambda: res.saved == out, timeout=TIMEOUT)
    b = load_bundle(out)
    assert b.interpreter.config.temporal_stride == 4  # the size chosen reached the bundle
    assert b.layers == ["blocks.2", "blocks.3"] and b.k == 12 and b.name == "wizard-tiny"
    assert b.manifest["metrics"]["fidelity"] == m["fidelity"]
    with qtbot.waitSignal(w.open_bundle, timeout=5000) as sig:
        res.open_button.click()
    assert sig.args == [out]
    w.close()


def test_the_train_menu_opens_the_wizard_and_its_bundle_opens(qtbot, tmp_path, tiny_bundle):
    from PySide6.QtCore import QSettings

    from l2i_desktop.main_window import MainWindow
    from l2i_desktop.settings import Settings

    win = MainWindow(None, Settings(QSettings(str(tmp_path / "s.ini"),
                                              QSettings.Format.IniFormat)))
    qtbot.addWidget(win)
    win.show()
    menus = {a.text().replace("&", ""): a.menu() for a in win.menuBar().actions()}
    action = next(a for a in menus["Train"].actions() if a.objectName() == "train_new")
    assert action.text().replace("&", "") == "New interpreter..."
    action.trigger()
    wizard = win.findChild(QWizard)
    assert wizard is not None and wizard.isVisible()
    assert wizard.currentPage() is wizard.data_page
    wizard.open_bundle.emit(tiny_bundle)  # what "Open in the main window" sends
    qtbot.waitUntil(lambda: win.session.explainer is not None, timeout=TIMEOUT)
    assert win.session.explainer.bundle.path == tiny_bundle
    wizard.close()
    win.close()


def test_going_back_to_other_data_refreshes_the_classifier_page(qtbot, request, tmp_path,
                                                                 cache_dir, esc10, tiny_esc10):
    w = make_wizard(qtbot, request, tmp_path, cache_dir)
    choose_data(qtbot, w, tiny_esc10)
    advance(qtbot, w)
    cp = w.classifier_page
    qtbot.waitUntil(lambda: cp.inspection is not None, timeout=TIMEOUT)
    assert cp.inspection.output_shape == (3,)
    assert len(cp.class_names.toPlainText().splitlines()) == 3
    w.back()
    four = link_subset(esc10, tmp_path / "four", classes=4, per_fold={1: 1, 2: 1})
    choose_data(qtbot, w, four)
    advance(qtbot, w)
    qtbot.waitUntil(lambda: cp.inspection is not None, timeout=TIMEOUT)
    assert cp.inspection.output_shape == (4,)  # listed again, for the new classes
    assert cp.class_names.toPlainText().splitlines() == w.data_page.summary.classes

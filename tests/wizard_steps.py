"""Steps shared by the wizard tests: drive the pages as a user would, with a tiny
configuration so that a whole training takes seconds."""

from __future__ import annotations

from pathlib import Path

from conftest import TINY_WIDTHS
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QWizard

from l2i_desktop.wizard import TrainWizard

TIMEOUT = 180_000


def make_wizard(qtbot, request, tmp_path: Path, cache_dir: Path) -> TrainWizard:
    """A shown wizard, closed (its threads joined) before the thread-leak check runs."""
    w = TrainWizard(work_root=tmp_path / "runs", cache=cache_dir)
    qtbot.addWidget(w)
    request.addfinalizer(w.close)
    w.show()
    return w


def advance(qtbot, w: TrainWizard) -> None:
    """Click Next (or Train on the commit page), as a user would."""
    for which in (QWizard.WizardButton.NextButton, QWizard.WizardButton.CommitButton):
        button = w.button(which)
        if button.isVisible():
            assert button.isEnabled(), f"{button.text()} is disabled on {w.currentPage()}"
            before = w.currentPage()
            qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
            assert w.currentPage() is not before, "the page did not change"
            return
    raise AssertionError("neither Next nor Train is shown")


def choose_data(qtbot, w: TrainWizard, folder: Path) -> None:
    w.data_page.set_folder(folder)
    qtbot.waitUntil(lambda: w.data_page.summary is not None
                    or bool(w.data_page.error.text()), timeout=TIMEOUT)


def wait_inspected(qtbot, w: TrainWizard) -> None:
    page = w.classifier_page
    qtbot.waitUntil(lambda: page.inspection is not None or "color" in page.status.text(),
                    timeout=TIMEOUT)
    assert page.inspection is not None, page.status.text()


def inspect_entry_point(qtbot, w: TrainWizard, entry_point: str, weights: Path,
                        input_kind: str):
    """On the classifier page: bring your own code as package.module:function, trust it
    and list its layers. Returns the page."""
    cp = w.classifier_page
    cp.set_kind("custom")
    cp.entry_point.setText(entry_point)
    cp.weights.setText(str(weights))
    cp.input_kind.setCurrentIndex(cp.input_kind.findData(input_kind))
    cp.trust.setChecked(True)
    cp.inspect()
    wait_inspected(qtbot, w)
    return cp


def tiny_dictionary_and_interpreter(w: TrainWizard, epochs: int = 2) -> None:
    w.dictionary_page.k.setValue(12)
    w.dictionary_page.iterations.setValue(8)
    w.interpreter_page.epochs.setValue(epochs)
    w.interpreter_page.lr.setValue(1e-3)
    w.interpreter_page.name.setText("wizard-tiny")


def walk_to_run(qtbot, w: TrainWizard, data: Path, epochs: int = 2) -> None:
    """Data -> built-in CNN (tiny) -> dictionary -> interpreter -> Train."""
    choose_data(qtbot, w, data)
    advance(qtbot, w)
    page = w.classifier_page
    page.widths.setText(",".join(map(str, TINY_WIDTHS)))
    page.epochs.setValue(2)
    page.inspect()
    wait_inspected(qtbot, w)
    advance(qtbot, w)
    tiny_dictionary_and_interpreter(w, epochs)
    advance(qtbot, w)
    advance(qtbot, w)
    assert w.currentPage() is w.run_page


def wait_run_ends(qtbot, w: TrainWizard) -> str:
    qtbot.waitUntil(lambda: w.run_page.state != "running", timeout=TIMEOUT)
    qtbot.waitUntil(lambda: not w.run_page.runner.running, timeout=TIMEOUT)
    return w.run_page.state

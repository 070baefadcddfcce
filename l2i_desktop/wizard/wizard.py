"""The training wizard: six pages that build a ``TrainingPlan`` and run it."""

from __future__ import annotations

import itertools
import time
from pathlib import Path

import platformdirs
from PySide6.QtCore import Signal
from PySide6.QtWidgets import QMessageBox, QWidget, QWizard

from engine.bundles.bundle import read_manifest
from engine.runtime.errors import L2IError
from l2i_desktop.audio import Player
from l2i_desktop.wizard.classifier_page import ClassifierPage
from l2i_desktop.wizard.data_page import DataPage
from l2i_desktop.wizard.dictionary_page import DictionaryPage
from l2i_desktop.wizard.interpreter_page import InterpreterPage
from l2i_desktop.wizard.results_page import ResultsPage
from l2i_desktop.wizard.run_page import RunPage
from l2i_desktop.wizard.scan import DataSummary
from trainer.plan import ClassifierChoice, TrainingPlan
from trainer.train_lmac import SINGLE_LABEL_ONLY

_RUN_IDS = itertools.count()


def default_work_root() -> Path:
    return Path(platformdirs.user_data_dir("l2i-desktop")) / "training"


class TrainWizard(QWizard):
    open_bundle = Signal(Path)  # "Open in the main window" on the results page

    def __init__(self, parent: QWidget | None = None, work_root: Path | None = None,
                 cache: Path | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("New interpreter")
        self.setWizardStyle(QWizard.WizardStyle.ClassicStyle)
        self.setOption(QWizard.WizardOption.NoBackButtonOnLastPage, True)
        self.work_root = Path(work_root) if work_root else default_work_root()
        self.cache = cache
        self.player = Player()
        self.data_page = DataPage(self.player)
        self.classifier_page = ClassifierPage()
        self.dictionary_page = DictionaryPage()
        self.interpreter_page = InterpreterPage()
        self.run_page = RunPage()
        self.results_page = ResultsPage()
        self.pages = [self.data_page, self.classifier_page, self.dictionary_page,
                      self.interpreter_page, self.run_page, self.results_page]
        for page in self.pages:
            self.addPage(page)
        self.results_page.open_requested.connect(self.open_bundle)
        self.resize(980, 760)

    def initializePage(self, page_id: int) -> None:  # noqa: N802 - Qt's name
        if self.page(page_id) is self.classifier_page:
            s = self.data_page.summary
            self.classifier_page.set_data(s.classes, s.examples[0],
                                          self.data_page.clip_seconds.value(),
                                          self.data_page.labelled)
        elif self.page(page_id) is self.interpreter_page:
            self.interpreter_page.set_lmac_refusal(lmac_refusal(
                self.data_page.summary, self.classifier_page.choice()))
        super().initializePage(page_id)

    def validateCurrentPage(self) -> bool:  # noqa: N802 - Qt's name
        if self.currentPage() is self.classifier_page:
            try:
                self.classifier_page.choice()
            except L2IError as exc:
                QMessageBox.warning(self, "Classifier", str(exc))
                return False
        return super().validateCurrentPage()

    def plan(self) -> TrainingPlan:
        """Everything chosen on the pages, as the run records it in its work folder."""
        s = self.data_page.summary
        stamp = time.strftime("%Y%m%d-%H%M%S")
        work = self.work_root / f"{stamp}-{next(_RUN_IDS)}"
        ip = self.interpreter_page
        return TrainingPlan(
            data=str(s.root), work=str(work), layout=s.layout,
            test_fold=self.data_page.chosen_test_fold(),
            clip_seconds=self.data_page.clip_seconds.value(),
            classifier=self.classifier_page.choice(), layers=self.classifier_page.tapped(),
            nmf=self.dictionary_page.config(),
            dictionary_file=self.dictionary_page.dictionary_file(),
            interpreter=ip.config(), device=ip.device.currentData(),
            cache=str(self.cache) if self.cache else None,
            name=ip.name.text().strip() or "interpreter", lmac=ip.lmac_config())

    def done(self, result: int) -> None:
        """Closing stops every background job (training stops at its next batch)."""
        self.player.stop()
        for page in self.pages:
            for runner in (getattr(page, "runner", None), getattr(page, "saver", None)):
                if runner is not None:
                    runner.stop()
        super().done(result)


def lmac_refusal(data: DataSummary, choice: ClassifierChoice) -> str | None:
    """Why L-MAC cannot serve this run's classifier (trainer.train_lmac refuses the same
    cases when it starts), or None. A multi-label classifier is one trained on multi-label
    data, or a reused bundle's that is multi-label."""
    if data.multilabel:
        return f"{SINGLE_LABEL_ONLY}, and this data is multi-label"
    if choice.kind == "bundle" and read_manifest(Path(choice.bundle))["multilabel"]:
        return f"{SINGLE_LABEL_ONLY}, and this bundle's classifier is multi-label"
    return None

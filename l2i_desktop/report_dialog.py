"""File > Batch report...: explain every clip of a folder into an HTML report.

The work is ``engine.tools.report.batch_report`` on the TaskRunner thread the wizard uses
(progress and cancellation through its TaskState); the dialog only shows its reports.
A stopped run keeps every finished clip, and running again continues from there."""

from __future__ import annotations

import functools
from pathlib import Path

from PySide6.QtCore import Qt, QUrl
from PySide6.QtGui import QAction, QDesktopServices
from PySide6.QtWidgets import (
    QApplication,
    QDialog,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from engine.runtime.errors import L2IError
from l2i_desktop.host import Host


def _bundle_label(path: Path) -> str:
    from engine.bundles.bundle import read_manifest  # the dialog is open: not at start

    try:
        return f"{read_manifest(path)['name']}  ({path.name})"
    except (L2IError, KeyError, TypeError):  # the run itself will say what is wrong
        return path.name


class ReportDialog(QDialog):
    def __init__(self, bundle: Path, parent: QWidget | None = None, tau: float = 0.1,
                 trust_code: bool = False, folder: str = "") -> None:
        super().__init__(parent)
        from l2i_desktop.wizard.runner import TaskRunner  # the wizard's modules: on use

        self.setObjectName("report_dialog")
        self.setWindowTitle("Batch report")
        self.bundle, self.trust_code = Path(bundle), trust_code
        self.index: Path | None = None
        self.runner = TaskRunner("report", self)
        self.runner.progress.connect(self._on_progress)
        self.runner.finished.connect(self._on_finished)
        self.runner.failed.connect(self._on_failed)
        self.runner.cancelled.connect(self._on_cancelled)
        app = QApplication.instance()
        if app is not None:  # quitting must not wait for a whole folder
            app.aboutToQuit.connect(self.stop)

        self.folder_edit = QLineEdit(folder)
        self.folder_edit.setObjectName("report_folder")
        self.folder_edit.setPlaceholderText("folder of clips (searched recursively)")
        self.out_edit = QLineEdit()
        self.out_edit.setObjectName("report_out")
        self.out_edit.setPlaceholderText("folder for index.html, summary.csv and clips/")
        self.out_edit.textEdited.connect(lambda _t: self.out_edit.setProperty("suggested", False))
        self.folder_edit.textChanged.connect(self._suggest_out)
        self._suggest_out(folder)
        self.tau_spin = QDoubleSpinBox(decimals=2, minimum=0.0, maximum=0.99,
                                       singleStep=0.05, value=tau)
        self.tau_spin.setObjectName("report_tau")
        form = QFormLayout()
        form.addRow("Clips", self._with_browse(self.folder_edit, "Folder of clips"))
        form.addRow("Report", self._with_browse(self.out_edit, "Report folder"))
        form.addRow("Threshold τ", self.tau_spin)
        form.addRow("Bundle", QLabel(_bundle_label(self.bundle)))

        self.bar = QProgressBar()
        self.bar.setObjectName("report_progress")
        self.bar.setValue(0)
        self.status = QLabel("Each clip is explained for its top class; the report is one "
                             "page that works offline.")
        self.status.setObjectName("report_status")
        self.status.setWordWrap(True)
        self.run_button = QPushButton("Run")
        self.run_button.setObjectName("report_run")
        self.run_button.setDefault(True)
        self.run_button.clicked.connect(self.start)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setObjectName("report_cancel")
        self.cancel_button.setEnabled(False)
        self.cancel_button.clicked.connect(self.cancel)
        self.open_button = QPushButton("Open report")
        self.open_button.setObjectName("report_open")
        self.open_button.setEnabled(False)
        self.open_button.clicked.connect(self.open_report)
        close = QPushButton("Close")
        close.clicked.connect(self.reject)
        buttons = QHBoxLayout()
        for b in (self.run_button, self.cancel_button, self.open_button):
            buttons.addWidget(b)
        buttons.addStretch(1)
        buttons.addWidget(close)
        lay = QVBoxLayout(self)
        lay.addLayout(form)
        lay.addWidget(self.bar)
        lay.addWidget(self.status)
        lay.addLayout(buttons)
        self.resize(620, 230)

    def _with_browse(self, edit: QLineEdit, title: str) -> QWidget:
        box = QWidget()
        row = QHBoxLayout(box)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(edit, 1)
        browse = QPushButton("Browse...")
        browse.clicked.connect(lambda: self._browse(edit, title))
        row.addWidget(browse)
        return box

    def _browse(self, edit: QLineEdit, title: str) -> None:
        folder = QFileDialog.getExistingDirectory(self, title, edit.text())
        if folder:
            edit.setText(folder)

    def _suggest_out(self, folder: str) -> None:
        """A report folder beside the clips, until the user picks one."""
        if folder and (not self.out_edit.text() or self.out_edit.property("suggested")):
            p = Path(folder)
            self.out_edit.setText(str(p.with_name(p.name + "-report")))
            self.out_edit.setProperty("suggested", True)

    # ---- running ------------------------------------------------------------------
    def start(self) -> None:
        from engine.tools.report import batch_report

        folder, out = self.folder_edit.text().strip(), self.out_edit.text().strip()
        if not folder or not out:
            self._say("Choose the folder of clips and a folder for the report.", error=True)
            return
        self.index = None
        self.open_button.setEnabled(False)
        self._busy(True)
        self.bar.setRange(0, 0)  # busy until the first report says how many clips
        self._say("Looking for clips and loading the bundle...")
        self.runner.start(functools.partial(batch_report, trust_code=self.trust_code),
                          Path(folder), Path(out), self.bundle, self.tau_spin.value(), "cpu")

    def cancel(self) -> None:
        self.runner.cancel()
        self.cancel_button.setEnabled(False)
        self._say("Stopping...")

    def stop(self) -> None:
        self.runner.stop()

    def _busy(self, busy: bool) -> None:
        self.run_button.setEnabled(not busy)
        self.cancel_button.setEnabled(busy)
        for w in (self.folder_edit, self.out_edit, self.tau_spin):
            w.setEnabled(not busy)

    def _say(self, text: str, error: bool = False) -> None:
        self.status.setStyleSheet("color: #b00020" if error else "")
        self.status.setText(text)

    def _on_progress(self, rep) -> None:
        self.bar.setRange(0, max(1, int(rep.total)))
        self.bar.setValue(int(rep.done))
        if rep.message:
            self._say(f"{int(rep.done)} of {int(rep.total)}: {rep.message}")

    def _on_finished(self, result) -> None:
        self._busy(False)
        self.index = result.index
        self.open_button.setEnabled(True)
        self.open_button.setFocus()
        self._say(f"Done: {result.total} clips ({result.explained} explained now, "
                  f"{result.reused} from an earlier run, {result.failed} failed). "
                  f"Open the report? {result.index}")

    def _on_failed(self, message: str) -> None:
        self._busy(False)
        self.bar.setRange(0, 1)
        self._say(message, error=True)

    def _on_cancelled(self) -> None:
        self._busy(False)
        index = Path(self.out_edit.text().strip()) / "index.html"
        self.index = index if index.is_file() else None  # the pages of what is done
        self.open_button.setEnabled(self.index is not None)
        self._say("Stopped. Finished clips are kept: Run continues where this stopped.")

    def open_report(self) -> None:
        if self.index is not None:
            QDesktopServices.openUrl(QUrl.fromLocalFile(str(self.index)))

    def done(self, result: int) -> None:  # Close, Escape and the title bar all end here
        self.stop()
        super().done(result)


def show_report_dialog(host: Host) -> ReportDialog | None:
    """With the window's bundle (already trusted there), or the one that ships."""
    from resources import default_bundle_path

    explainer = host.session.explainer
    bundle = explainer.bundle.path if explainer is not None else None
    trust = explainer is not None and explainer.bundle.classifier_code is not None
    bundle = bundle or default_bundle_path()
    if bundle is None:
        host.show_error("Open a bundle first: the batch report explains with it.")
        return None
    dialog = ReportDialog(Path(bundle), host.window, tau=host.session.tau, trust_code=trust,
                          folder=host.settings.last_folder())
    dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    dialog.open()
    return dialog


def install(host: Host) -> QAction:
    """File > Batch report..., after Export."""
    act = QAction("Batch &report...", host.window)
    act.setObjectName("batch_report")
    act.triggered.connect(lambda: show_report_dialog(host))
    host.add_action("file", act, after="export")
    return act

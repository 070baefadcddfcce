"""How the analysis window asks for a clip or a bundle: file dialogs, and the consent a
bundle with Python code needs before it opens."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFileDialog, QMessageBox

from engine.runtime.errors import L2IError
from l2i_desktop.manifest_dialog import ManifestDialog

AUDIO_FILTER = "Audio (*.wav *.flac *.ogg *.mp3 *.aiff *.opus);;All files (*)"


class OpeningMixin:
    """Mixed into ``MainWindow``: needs ``open_clip``, ``open_bundle``, ``session`` and
    ``settings``; also takes files dropped on the window, and opens the training wizard
    and the manifest."""

    def open_bundle_asking(self, path: Path) -> None:
        """A bundle whose classifier is Python code opens only if the user agrees to run
        that code (anything else wrong with it is reported by the load itself). Reading
        the manifest imports torch here, on the UI thread, if the worker has not yet."""
        from engine.bundles.bundle import read_manifest

        try:
            code = read_manifest(path)["classifier"].get("code")
        except L2IError:
            code = None
        if code is not None:
            what = code.get("entry_point") or "its own classifier.py"
            answer = QMessageBox.question(
                self, "Bundle with Python code",
                f"{Path(path).name} builds its classifier with Python code ({what}), which "
                "runs on this computer with your permissions.\n\nOpen it only if you trust "
                "where it came from. Open it and run the code?")
            if answer != QMessageBox.StandardButton.Yes:
                return
        self.open_bundle(path, trust_code=code is not None)

    def ask_clip(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open clip", self.settings.last_folder(),
                                              AUDIO_FILTER)
        if path:
            self.open_clip(Path(path))

    def ask_bundle(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open bundle", "",
                                              "Bundles (*.l2i manifest.json);;All files (*)")
        if path:
            p = Path(path)
            self.open_bundle_asking(p.parent if p.name == "manifest.json" else p)

    def dragEnterEvent(self, event) -> None:  # noqa: N802 - Qt's name
        if any(u.isLocalFile() for u in event.mimeData().urls()):
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:  # noqa: N802 - Qt's name
        paths = [Path(u.toLocalFile()) for u in event.mimeData().urls() if u.isLocalFile()]
        if not paths:
            return
        p = paths[0]
        if p.suffix == ".l2i" or (p.is_dir() and (p / "manifest.json").is_file()):
            self.open_bundle_asking(p)
        else:
            self.open_clip(p)
        event.acceptProposedAction()

    def show_training_wizard(self):
        from l2i_desktop.wizard import TrainWizard  # loaded on first use only

        wizard = TrainWizard(self)
        # a bundle trained here runs only code the user already trusted in the wizard
        wizard.open_bundle.connect(lambda p: self.open_bundle(p, trust_code=True))
        wizard.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        wizard.open()
        return wizard

    def show_manifest(self) -> None:
        if self.session.explainer is None:
            self.show_error("No bundle is open.")
            return
        dialog = ManifestDialog(self.session.explainer.bundle, self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.open()

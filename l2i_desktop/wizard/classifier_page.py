"""Page 2, Classifier: train the built-in CNN, reuse a bundle's classifier, bring your
own (code + weights + input + class names) or a Hugging Face folder. The model is run on
a real clip at two lengths (off the UI thread, as the command line checks it) and its
named layers are listed with their output shapes and how each would be read, to tick
the taps."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QRadioButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
    QWizardPage,
)

from engine.bundles.bundle import read_manifest
from engine.dsp.features import FrontEndConfig
from engine.runtime.errors import L2IError
from l2i_desktop.wizard.hf_box import HFBox
from l2i_desktop.wizard.layer_table import LayerTable, summary
from l2i_desktop.wizard.runner import TaskRunner
from l2i_desktop.wizard.scan import Inspection, inspect_classifier
from trainer.plan import ClassifierChoice

KINDS = ("builtin", "bundle", "custom", "hf")  # the radio buttons' order
CODE_WARNING = ("A Python file or module:function runs code on this computer, with your "
                "permissions, when the model is built. Use only code you trust.")


def _path_row(edit: QLineEdit, caption: str, filt: str, parent: QWidget) -> QHBoxLayout:
    def browse() -> None:
        path, _ = QFileDialog.getOpenFileName(parent, caption, edit.text(), filt)
        if path:
            edit.setText(path)
    b = QPushButton("Browse...")
    b.clicked.connect(browse)
    row = QHBoxLayout()
    row.addWidget(edit, 1)
    row.addWidget(b)
    return row


class ClassifierPage(QWizardPage):
    def __init__(self) -> None:
        super().__init__()
        self.setTitle("2. Classifier")
        self.setSubTitle("The network to explain, and the hidden layers the interpreter "
                         "reads.")
        self.inspection: Inspection | None = None
        self.runner = TaskRunner("inspect", self, wait_for_previous=False)
        self.runner.finished.connect(self._inspected)
        self.runner.failed.connect(self._failed)
        self.classes: list[str] = []
        self.labelled = True  # False: the data has no labels, the classes are the model's
        self.clip: Path | None = None
        self.clip_seconds = 5.0

        self.kinds = QButtonGroup(self)
        radios = QHBoxLayout()
        for i, (kind, text) in enumerate((("builtin", "Train the built-in CNN"),
                                          ("bundle", "Use a bundle's classifier"),
                                          ("custom", "Bring your own code"),
                                          ("hf", "Hugging Face model"))):
            r = QRadioButton(text)
            r.setObjectName(f"kind_{kind}")
            r.setChecked(i == 0)
            self.kinds.addButton(r, i)
            radios.addWidget(r)
        self.kinds.idToggled.connect(lambda _i, on: on and self._kind_changed())

        # built-in
        self.widths = QLineEdit(",".join(map(str, ClassifierChoice().widths)))
        self.epochs = QSpinBox()
        self.epochs.setRange(1, 1000)
        self.epochs.setValue(60)
        self.builtin_box = QGroupBox("Built-in CNN (VGG-style, as in the paper)")
        f = QFormLayout(self.builtin_box)
        f.addRow("Channel widths per block", self.widths)
        f.addRow("Epochs", self.epochs)
        # bundle
        self.bundle = QLineEdit()
        self.bundle_box = QGroupBox("Existing bundle")
        f = QFormLayout(self.bundle_box)
        f.addRow("Bundle", _path_row(self.bundle, "Bundle", "Bundles (*.l2i manifest.json);;"
                                     "All files (*)", self))
        # bring your own
        self.custom_box = QGroupBox("Your classifier")
        self.code_file = QLineEdit()
        self.code_file.setPlaceholderText("model.py")
        self.function = QLineEdit("build_model")
        self.entry_point = QLineEdit()
        self.entry_point.setPlaceholderText("or package.module:function")
        self.weights = QLineEdit()
        self.weights.setPlaceholderText("weights.safetensors or a state dict (.pt)")
        self.sample_rate = QSpinBox()
        self.sample_rate.setRange(1000, 384000)
        self.sample_rate.setValue(44100)
        self.input_kind = QComboBox()
        self.input_kind.addItem("waveform (B, N)", "waveform")
        self.input_kind.addItem("log-mel in dB (B, mels, T)", "log_mel")
        self.n_fft, self.hop, self.n_mels = QSpinBox(), QSpinBox(), QSpinBox()
        for spin, lo, hi, v in ((self.n_fft, 64, 16384, 1024), (self.hop, 16, 16384, 512),
                                (self.n_mels, 8, 512, 128)):
            spin.setRange(lo, hi)
            spin.setValue(v)
        self.f_min, self.f_max, self.top_db = QDoubleSpinBox(), QDoubleSpinBox(), \
            QDoubleSpinBox()
        for spin, hi, v in ((self.f_min, 192000, 0.0), (self.f_max, 192000, 0.0),
                            (self.top_db, 200, 80.0)):
            spin.setRange(0, hi)
            spin.setValue(v)
        self.f_max.setSpecialValueText("Nyquist")
        self.class_names = QPlainTextEdit()
        self.class_names.setPlaceholderText("one class name per line, in the model's output "
                                            "order")
        self.class_names.setMaximumHeight(80)
        warning = QLabel(CODE_WARNING)
        warning.setObjectName("code_warning")
        warning.setWordWrap(True)
        warning.setStyleSheet("color: #8a4b00")
        f = QFormLayout(self.custom_box)
        f.addRow(warning)
        f.addRow("Python file", _path_row(self.code_file, "Python file", "Python (*.py)", self))
        f.addRow("Function in the file", self.function)
        f.addRow("Or entry point", self.entry_point)
        f.addRow("Weights", _path_row(self.weights, "Weights", "Weights (*.safetensors *.pt "
                                      "*.pth *.bin);;All files (*)", self))
        f.addRow("Sample rate (Hz)", self.sample_rate)
        f.addRow("Input", self.input_kind)
        f.addRow("STFT size / hop", self._pair(self.n_fft, self.hop))
        f.addRow("Mel bands / top dB", self._pair(self.n_mels, self.top_db))
        f.addRow("Mel f_min / f_max (Hz)", self._pair(self.f_min, self.f_max))
        f.addRow("Class names", self.class_names)
        self.hf_box = HFBox()
        self.hf_box.changed.connect(self._stale)
        self.trust = QCheckBox("I trust this code: run it")
        self.trust.setObjectName("trust")
        self.trust.toggled.connect(lambda _on: self._stale())

        self.inspect_button = QPushButton("Run the model on a clip and list its layers")
        self.inspect_button.clicked.connect(self.inspect)
        self.status = QLabel("")
        self.status.setWordWrap(True)
        self.layers = LayerTable()
        self.layers.itemChanged.connect(lambda _i: self.completeChanged.emit())
        self.show_unusable = QCheckBox("Show the layers that cannot be tapped")
        self.show_unusable.setChecked(True)
        self.show_unusable.toggled.connect(self.layers.show_unusable)

        lay = QVBoxLayout(self)
        lay.addLayout(radios)
        for box in (self.builtin_box, self.bundle_box, self.custom_box, self.hf_box):
            lay.addWidget(box)
        lay.addWidget(self.trust)
        row = QHBoxLayout()
        row.addWidget(self.inspect_button)
        row.addStretch(1)
        row.addWidget(self.show_unusable)
        lay.addLayout(row)
        lay.addWidget(self.status)
        lay.addWidget(self.layers, 1)
        for edit in (self.widths, self.bundle, self.code_file, self.function, self.entry_point,
                     self.weights):
            edit.textChanged.connect(lambda _t: self._stale())
        for spin in (self.sample_rate, self.n_fft, self.hop, self.n_mels, self.epochs):
            spin.valueChanged.connect(lambda _v: self._stale())
        self.input_kind.currentIndexChanged.connect(lambda _i: self._stale())
        self._kind_changed()

    @staticmethod
    def _pair(a: QWidget, b: QWidget) -> QHBoxLayout:
        row = QHBoxLayout()
        row.addWidget(a)
        row.addWidget(b)
        return row

    # ---- choices ------------------------------------------------------------------
    @property
    def kind(self) -> str:
        return KINDS[self.kinds.checkedId()]

    def set_kind(self, kind: str) -> None:
        self.kinds.button(KINDS.index(kind)).setChecked(True)

    def _kind_changed(self) -> None:
        self.builtin_box.setVisible(self.kind == "builtin")
        self.bundle_box.setVisible(self.kind == "bundle")
        self.custom_box.setVisible(self.kind == "custom")
        self.hf_box.setVisible(self.kind == "hf")
        self.trust.setVisible(self.kind in ("bundle", "custom"))  # a folder brings no code
        if self.kind == "hf":
            self.hf_box.refresh()  # says at once when transformers is missing
        self._stale()

    def _stale(self) -> None:
        """Any change makes the listed layers out of date (and a running look stale)."""
        self.runner.forget()
        self.inspect_button.setEnabled(True)
        self.inspection = None
        self.layers.setRowCount(0)
        self.status.setText("")
        self.completeChanged.emit()

    def set_data(self, classes: list[str], clip: Path, clip_seconds: float,
                 labelled: bool = True) -> None:
        """The data chosen on page 1 (again after Back: other data makes layers stale).
        Data without labels cannot train the built-in CNN: a trained classifier it is."""
        self.labelled = labelled
        builtin = self.kinds.button(0)
        builtin.setEnabled(labelled)
        builtin.setToolTip("" if labelled else "training a classifier needs labelled data")
        if not labelled and self.kind == "builtin":
            self.set_kind("bundle")
        names = self.class_names.toPlainText().strip()
        if not names or names.splitlines() == self.classes:  # not edited by the user
            self.class_names.setPlainText("\n".join(classes))
        if (list(classes), clip, clip_seconds) != (self.classes, self.clip, self.clip_seconds):
            self.classes, self.clip, self.clip_seconds = list(classes), clip, clip_seconds
            self._stale()

    def frontend(self) -> FrontEndConfig:
        return FrontEndConfig(sample_rate=self.sample_rate.value(), n_fft=self.n_fft.value(),
                              hop_length=self.hop.value(), n_mels=self.n_mels.value(),
                              f_min=self.f_min.value(),
                              f_max=self.f_max.value() or None, top_db=self.top_db.value())

    def choice(self) -> ClassifierChoice:
        """The choice as the plan records it (raises L2IError on unusable input)."""
        k = self.kind
        if k == "builtin":
            try:
                widths = [int(w) for w in self.widths.text().split(",") if w.strip()]
            except ValueError:
                raise L2IError("widths must be whole numbers separated by commas") from None
            if not widths or any(w < 1 for w in widths):
                raise L2IError("give at least one positive width")
            return ClassifierChoice(kind=k, widths=widths, epochs=self.epochs.value())
        if k == "bundle":
            path = self.bundle.text().strip()
            if not path:
                raise L2IError("choose a bundle")
            manifest = read_manifest(Path(path))  # also tells whether it holds code
            return ClassifierChoice(kind=k, bundle=path, frontend=manifest["frontend"],
                                    trust_code=self.trust.isChecked())
        if k == "hf":
            return self._hf_choice()
        code_file = self.code_file.text().strip() or None
        entry = self.entry_point.text().strip() or None
        if bool(code_file) == bool(entry):
            raise L2IError("give either a Python file or an entry point (module:function)")
        names = [n.strip() for n in self.class_names.toPlainText().splitlines() if n.strip()]
        if not names and not self.labelled:
            raise L2IError("the data has no labels: write the model's class names, one per "
                           "line, in its output order")
        return ClassifierChoice(kind=k, code_file=code_file, function=self.function.text()
                                .strip() or "build_model", entry_point=entry,
                                weights=self.weights.text().strip() or None,
                                input=self.input_kind.currentData(),
                                frontend=self.frontend().to_dict(), classes=names or None,
                                trust_code=self.trust.isChecked())

    def _hf_choice(self) -> ClassifierChoice:
        """A Hugging Face folder, as ``--model hf:FOLDER`` makes it: the mel settings are
        the defaults at the model's rate (the dictionary's; the model has its own)."""
        folder, info = self.hf_box.chosen()
        if self.labelled and sorted(info.classes) != sorted(self.classes):
            raise L2IError(f"the model's {len(info.classes)} classes are not the data's "
                           f"{len(self.classes)}: tick 'No labels' on the data page to "
                           "explain it on these clips without their labels")
        return ClassifierChoice(kind="hf", hf_folder=folder, input="waveform",
                                frontend=FrontEndConfig(sample_rate=info.rate).to_dict(),
                                classes=list(info.classes))

    # ---- inspection -------------------------------------------------------------------
    def inspect(self) -> None:
        self._stale()
        try:
            choice = self.choice()
            if choice.kind in ("custom", "bundle") and not choice.trust_code and (
                    choice.kind == "custom"
                    or "code" in read_manifest(Path(choice.bundle))["classifier"]):
                raise L2IError("this classifier is Python code: tick 'I trust this code' "
                               "to run it")
            if choice.kind == "custom" and not choice.weights:
                raise L2IError("choose the weights file")
        except L2IError as exc:
            self._failed(str(exc))
            return
        if self.clip is None:
            self._failed("choose the data first")
            return
        classes = choice.classes or self.classes
        if choice.kind == "bundle" and not self.labelled:  # the bundle's own, to name its top
            classes = read_manifest(Path(choice.bundle))["classes"]
        fe = FrontEndConfig.from_dict(choice.frontend) if choice.frontend else FrontEndConfig()
        self.status.setText(f"running the model on {self.clip.name}...")
        self.inspect_button.setEnabled(False)
        self.runner.start(inspect_classifier, choice, classes, self.clip, fe,
                          self.clip_seconds)

    def _failed(self, message: str) -> None:
        self.inspect_button.setEnabled(True)
        self.status.setText(f"<span style='color:#b00020'>{message}</span>")

    def _inspected(self, ins: Inspection) -> None:
        self.inspect_button.setEnabled(True)
        self.layers.show_inspection(ins)
        self.layers.show_unusable(self.show_unusable.isChecked())
        self.inspection = ins
        self.status.setText(summary(ins))
        self.completeChanged.emit()

    def tapped(self) -> list[str]:
        """The ticked layers as the plan records them, ':tokens' or ':patches' included."""
        return self.layers.tapped()

    def set_tapped(self, names: list[str]) -> None:
        self.layers.set_tapped(names)

    def _tappable(self) -> bool:
        return bool(self.tapped())  # only usable layers can be ticked

    # ---- QWizardPage ----------------------------------------------------------------
    def initializePage(self) -> None:  # noqa: N802 - Qt's name
        if self.inspection is None and self.kind == "builtin":
            self.inspect()  # the built-in CNN needs nothing else: list its layers at once

    def isComplete(self) -> bool:  # noqa: N802 - Qt's name
        return self.inspection is not None and self._tappable()

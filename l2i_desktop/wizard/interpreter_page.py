"""Page 4, Interpreter: how Psi and Theta are trained, and on which device; and whether
an L-MAC decoder (a mask explainer) is trained too, into the same bundle."""

from __future__ import annotations

from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QSpinBox,
    QVBoxLayout,
    QWidget,
    QWizard,
    QWizardPage,
)

from trainer.plan import cuda_devices
from trainer.train_interpreter import PSI_SIZES, InterpreterTrainConfig
from trainer.train_lmac import LMACTrainConfig

LMAC_HINT = ("A second explanation of the same classifier, in the same bundle: a "
             "time-frequency mask (Paissan et al., ICML 2024). Trained after the interpreter;"
             " compare with l2i evaluate --method lmac.")
LMAC_TIP = ("L-MAC trains a decoder that reads the same hidden layers and outputs a mask "
            "over the spectrogram: what it keeps should keep the classifier's decision, what "
            "it removes should lose it. It trains after the interpreter and its evaluation, "
            "on the same training clips mixed with clips of other classes; the interpreter "
            "is unchanged. Evaluate it with: l2i evaluate --method lmac.")


class InterpreterPage(QWizardPage):
    def __init__(self) -> None:
        super().__init__()
        self.setTitle("4. Interpreter")
        self.setSubTitle("The network that reads the hidden layers and says which "
                         "components were present and mattered.")
        d = InterpreterTrainConfig()
        self.pooling = QComboBox()
        self.pooling.addItem("attention", "attention")
        self.pooling.addItem("max", "max")
        self.size = QComboBox()
        self.size.addItem("paper: 256 channels on every frame", "paper")
        self.size.addItem("fast: 128 channels on every 4th frame", "fast")
        self.alpha = QDoubleSpinBox()
        self.alpha.setRange(0.0, 1000.0)
        self.alpha.setValue(d.alpha)
        self.beta = QDoubleSpinBox()
        self.beta.setRange(0.0, 100.0)
        self.beta.setSingleStep(0.1)
        self.beta.setValue(d.beta)
        self.epochs = QSpinBox()
        self.epochs.setRange(1, 1000)
        self.epochs.setValue(d.epochs)
        self.lr = QDoubleSpinBox()
        self.lr.setDecimals(6)
        self.lr.setRange(1e-6, 1.0)
        self.lr.setSingleStep(1e-4)
        self.lr.setValue(d.lr)
        self.faith_in, self.faith_out, self.faith_size = (
            _weight_box(d.faith_in), _weight_box(d.faith_out), _weight_box(d.faith_size))
        self.mask_domain = QComboBox()
        self.mask_domain.addItem("log-magnitude (the paper)", "log")
        self.mask_domain.addItem("linear magnitude", "linear")
        self.device = QComboBox()
        for name in cuda_devices():
            self.device.addItem(name, name)
        self.name = QLineEdit("my-interpreter")

        grid = QGridLayout()
        rows: list[tuple[str, QWidget, str]] = [
            ("Pooling", self.pooling, "How activations over time become one score per "
             "component: attention (paper) or max (more faithful in the paper)."),
            ("Size", self.size, "The paper's, or one about 4x quicker to train on a "
             "CPU, for trying settings (less faithful: see EVALUATION.md)."),
            ("alpha", self.alpha, "Weight of reconstructing the spectrogram from the "
             "dictionary (paper: 10)."),
            ("beta", self.beta, "Weight of sparse activations (paper: 0.8)."),
            ("Epochs", self.epochs, "Passes over the training clips (paper: 35)."),
            ("Learning rate", self.lr, "Adam's step size (paper: 2e-4)."),
            ("Faithfulness: keep", self.faith_in, "0 = the paper's loss. Weight of: the "
             "classifier, fed only what the explanation keeps, keeps its decision."),
            ("Faithfulness: remove", self.faith_out, "Weight of: the classifier, fed what "
             "the explanation removes, loses its decision."),
            ("Faithfulness: mask size", self.faith_size, "With either term: weight of the "
             "mask's mean, so that 'keep everything' is not an answer."),
            ("Masks scale", self.mask_domain, "What an explanation's mask multiplies, in "
             "training and when explaining."),
            ("Device", self.device, "Where to train: the CPU, or a CUDA GPU when one is "
             "found."),
            ("Bundle name", self.name, "Shown in the main window's title."),
        ]
        for i, (label, widget, hint) in enumerate(rows):
            grid.addWidget(QLabel(label), i, 0)
            grid.addWidget(widget, i, 1)
            h = QLabel(hint)
            h.setStyleSheet("color: #555")
            grid.addWidget(h, i, 2)
        grid.setColumnStretch(2, 1)
        lay = QVBoxLayout(self)
        lay.addLayout(grid)
        lay.addWidget(self._lmac_box())
        lay.addStretch(1)
        self.setCommitPage(True)  # training starts here: no way back into a running job
        self.setButtonText(QWizard.WizardButton.CommitButton, "Train")

    def config(self) -> dict:
        return {**InterpreterTrainConfig().to_dict(), "pooling": self.pooling.currentData(),
                "alpha": self.alpha.value(), "beta": self.beta.value(),
                "epochs": self.epochs.value(), "lr": self.lr.value(),
                "faith_in": self.faith_in.value(), "faith_out": self.faith_out.value(),
                "faith_size": self.faith_size.value(),
                "mask_domain": self.mask_domain.currentData(),
                **PSI_SIZES[self.size.currentData()]}

    # ---- L-MAC ------------------------------------------------------------------------
    def _lmac_box(self) -> QGroupBox:
        self.lmac = QCheckBox("Also train L-MAC (a mask explainer, for comparison)")
        self.lmac.setObjectName("train_lmac")
        self.lmac.setToolTip(LMAC_TIP)
        self.lmac_epochs = QSpinBox()
        self.lmac_epochs.setRange(1, 1000)
        self.lmac_epochs.setValue(LMACTrainConfig().epochs)
        self.lmac_epochs.setEnabled(False)
        self.lmac_epochs.setToolTip("Passes over the training clips for the L-MAC decoder.")
        self.lmac.toggled.connect(self.lmac_epochs.setEnabled)
        self.lmac_note = QLabel(LMAC_HINT)
        self.lmac_note.setWordWrap(True)
        self.lmac_note.setStyleSheet("color: #555")
        row = QHBoxLayout()
        row.addWidget(self.lmac)
        row.addSpacing(16)
        row.addWidget(QLabel("Epochs"))
        row.addWidget(self.lmac_epochs)
        row.addStretch(1)
        box = QGroupBox("Second explanation method (optional)")
        v = QVBoxLayout(box)
        v.addLayout(row)
        v.addWidget(self.lmac_note)
        return box

    def set_lmac_refusal(self, reason: str | None) -> None:
        """``reason``: why L-MAC cannot serve the chosen classifier (the choice is then
        off and disabled, the reason shown in its place); None: it can."""
        if reason:
            self.lmac.setChecked(False)
        self.lmac.setEnabled(reason is None)
        self.lmac_note.setText(f"Not available: {reason}." if reason else LMAC_HINT)
        self.lmac_note.setStyleSheet("color: #b00020" if reason else "color: #555")

    def lmac_config(self) -> dict | None:
        """The plan's ``lmac`` field: None unless L-MAC is chosen (and possible)."""
        if not (self.lmac.isEnabled() and self.lmac.isChecked()):
            return None
        return LMACTrainConfig(epochs=self.lmac_epochs.value()).to_dict()


def _weight_box(value: float) -> QDoubleSpinBox:
    box = QDoubleSpinBox()
    box.setRange(0.0, 100.0)
    box.setSingleStep(0.5)
    box.setValue(value)
    return box

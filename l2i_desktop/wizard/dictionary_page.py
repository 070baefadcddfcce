"""Page 3, Dictionary: the sparse NMF that the interpreter's components come from."""

from __future__ import annotations

from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QGridLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
    QWizardPage,
)

from engine.dsp import nmf


def _hint(text: str) -> QLabel:
    label = QLabel(text)
    label.setStyleSheet("color: #555")
    return label


class DictionaryPage(QWizardPage):
    def __init__(self) -> None:
        super().__init__()
        self.setTitle("3. Dictionary")
        self.setSubTitle("Spectral patterns learned once from the training clips (sparse "
                         "NMF); each explanation is a few of them, played back.")
        d = nmf.NMFConfig()
        self.k = QSpinBox()
        self.k.setRange(2, 1024)
        self.k.setValue(d.k)
        self.sparsity = QDoubleSpinBox()
        self.sparsity.setRange(0.0, 100.0)
        self.sparsity.setSingleStep(0.1)
        self.sparsity.setValue(d.sparsity)
        self.beta = QComboBox()
        self.beta.addItem("2: Euclidean (the paper)", 2.0)
        self.beta.addItem("1: Kullback-Leibler", 1.0)
        self.iterations = QSpinBox()
        self.iterations.setRange(1, 10000)
        self.iterations.setValue(d.iterations)
        self.reuse = QCheckBox("Reuse a dictionary learned before")
        self.reuse_path = QLineEdit()
        self.reuse_path.setPlaceholderText("dictionary.safetensors")
        self.reuse_path.setEnabled(False)
        browse = QPushButton("Browse...")
        browse.setEnabled(False)
        browse.clicked.connect(self._browse)
        self.reuse.toggled.connect(self.reuse_path.setEnabled)
        self.reuse.toggled.connect(browse.setEnabled)
        self.reuse.toggled.connect(lambda _on: self.completeChanged.emit())
        self.reuse_path.textChanged.connect(lambda _t: self.completeChanged.emit())

        grid = QGridLayout()
        rows: list[tuple[str, QWidget, str]] = [
            ("Components K", self.k, "How many spectral patterns; 100 for ESC-50 in the "
             "paper. More: finer explanations, slower training."),
            ("Sparsity mu", self.sparsity, "How few patterns each frame may use; higher "
             "gives sparser, more separable components (paper: about 0.8)."),
            ("Divergence beta", self.beta, "How the fit is measured: Euclidean as in the "
             "paper, or KL (the reference toolbox's default)."),
            ("Iterations", self.iterations, "Multiplicative-update passes over all frames; "
             "a few hundred converge."),
        ]
        for i, (name, widget, hint) in enumerate(rows):
            grid.addWidget(QLabel(name), i, 0)
            grid.addWidget(widget, i, 1)
            grid.addWidget(_hint(hint), i, 2)
        grid.setColumnStretch(2, 1)
        lay = QVBoxLayout(self)
        lay.addLayout(grid)
        lay.addWidget(self.reuse)
        lay.addWidget(self.reuse_path)
        lay.addWidget(browse)
        lay.addStretch(1)

    def _browse(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Dictionary", "",
                                              "Dictionary (*.safetensors);;All files (*)")
        if path:
            self.reuse_path.setText(path)

    def config(self) -> dict:
        return nmf.NMFConfig(k=self.k.value(), sparsity=self.sparsity.value(),
                             beta=float(self.beta.currentData()),
                             iterations=self.iterations.value()).to_dict()

    def dictionary_file(self) -> str | None:
        return self.reuse_path.text().strip() or None if self.reuse.isChecked() else None

    def isComplete(self) -> bool:  # noqa: N802 - Qt's name
        return not self.reuse.isChecked() or bool(self.reuse_path.text().strip())

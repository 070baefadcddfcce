"""What a bundle is: its classes, front-end, training provenance and evaluation, readably,
and its manifest.json as written."""

from __future__ import annotations

import json
import math
from html import escape
from typing import Any

from PySide6.QtGui import QFontDatabase
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QPlainTextEdit,
    QTabWidget,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

NO_METRICS = "This bundle has no evaluation metrics: it was not evaluated on held-out clips."
NO_PROVENANCE = "This bundle records no training provenance."


def _fmt(value: Any, digits: int | None = None) -> str:
    """A manifest value as escaped HTML text (manifests come from files: trust nothing)."""
    if value is None:
        return "&mdash;"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            return "n/a"
        return f"{value:g}" if digits is None else f"{value:.{digits}f}"
    if isinstance(value, str):
        return escape(value)
    return escape(json.dumps(value, ensure_ascii=False, default=str))


def _table(rows: list[tuple[str, Any]], digits: int | None = None) -> str:
    cells = "".join(f"<tr><th align='left'>{escape(label)}</th><td>{_fmt(value, digits)}</td>"
                    "</tr>"
                    for label, value in rows)
    return f"<table cellspacing='0' cellpadding='3'>{cells}</table>"


def _dict(d: Any) -> dict:
    return d if isinstance(d, dict) else {}


def _section(title: str, body: str) -> str:
    return f"<h3>{escape(title)}</h3>{body}"


def summary_html(manifest: dict) -> str:
    """The readable summary shown in the dialog's first tab."""
    m = _dict(manifest)
    fe = _dict(m.get("frontend"))
    dictionary = _dict(m.get("dictionary"))
    classes = m.get("classes") if isinstance(m.get("classes"), list) else []
    clf = _dict(m.get("classifier"))
    parts = [f"<h2>{escape(str(m.get('name', 'unnamed')))}</h2>"]
    parts.append(_table([
        ("K (components)", dictionary.get("k")),
        ("classes", len(classes)),
        ("labels", "multi-label" if m.get("multilabel") else "single-label (one per clip)"),
        ("classifier", clf.get("architecture")),
        ("tapped layers", ", ".join(map(str, m.get("layers") or []))),
        ("activations", _activations(_dict(m.get("interpreter")))),
        ("clip length (s)", m.get("clip_seconds")),
        ("schema version", m.get("schema_version")),
    ]))
    items = "".join(f"<li>{escape(str(c))}</li>" for c in classes)
    parts.append(_section("Classes", f"<ol start='0'>{items}</ol>"))

    f_max = fe.get("f_max")
    parts.append(_section("Audio front-end", _table([
        ("sample rate (Hz)", fe.get("sample_rate")),
        ("STFT size (n_fft)", fe.get("n_fft")),
        ("hop length", fe.get("hop_length")),
        ("mel bands", fe.get("n_mels")),
        ("mel range (Hz)", f"{fe.get('f_min', 0)} to "
                           f"{'Nyquist' if f_max is None else f_max}"),
        ("dynamic range (dB)", fe.get("top_db")),
    ])))
    dict_rows = [(key, dictionary[key]) for key in
                 ("sparsity", "beta", "iterations", "frames", "final_objective")
                 if key in dictionary]
    if dict_rows:
        parts.append(_section("Dictionary (NMF)", _table(dict_rows)))

    prov = _dict(m.get("provenance"))
    if prov:
        rows = [(label, prov[key]) for key, label in (
            ("data", "training data"), ("layout", "data layout"), ("clips", "clips"),
            ("train_clips", "training clips"), ("skipped_files", "unreadable files skipped"),
            ("test_fold", "test fold"), ("created", "created"), ("torch", "torch"),
            ("python", "python")) if key in prov]
        interp = _dict(prov.get("interpreter"))
        if "best_epoch" in interp:
            rows.append(("interpreter best epoch", interp["best_epoch"]))
        body = _table(rows) if rows else "<p>Provenance has no known fields (see the JSON).</p>"
    else:
        body = f"<p>{escape(NO_PROVENANCE)}</p>"
    parts.append(_section("Training provenance", body))
    parts.append(_section("Evaluation", _metrics_html(_dict(m.get("metrics")))))
    return "".join(parts)


def _activations(interp: dict) -> str:
    steps = interp.get("refine_iterations") or 0
    if not steps:
        return "the interpreter's (as in the paper)"
    return f"the interpreter's, refined on the input by {steps} NMF steps (W fixed)"


def _focus_html(focus: dict) -> str:
    if not focus:
        return ""
    rows = [(label, focus.get(key)) for key, label in (
        ("median_gain_db", "toward the explained source"),
        ("median_gain_other_db", "toward the other source"),
        ("ceiling_subset_db", "best subset of its components (ceiling)"),
        ("ceiling_irm_db", "ideal ratio mask (ceiling)"),
        ("random_db", "as many random components"))]
    return (f"<p>Focus on {escape(str(focus.get('mixtures')))} 0 dB mixtures of two "
            "held-out clips: median SI-SDR gain of the interpretation over the mixture, "
            "in dB (higher toward the explained source, lower toward the other, is "
            "better):</p>" + _table(rows, digits=2))


def _metrics_html(metrics: dict) -> str:
    if not metrics:
        return f"<p>{escape(NO_METRICS)}</p>"
    rows: list[tuple[str, Any]] = []
    if "evaluated_on" in metrics:
        rows.append(("evaluated on", metrics["evaluated_on"]))
    for key, label in (("clips", "clips evaluated"), ("skipped", "unreadable clips skipped")):
        if key in metrics:
            rows.append((label, metrics[key]))
    for name, value in _dict(metrics.get("classifier")).items():
        rows.append((f"classifier {name}", value))
    for name, value in _dict(metrics.get("fidelity")).items():
        rows.append((f"fidelity {name}", value))
    html = _table(rows, digits=4)
    ff = _dict(metrics.get("faithfulness"))
    if ff:
        head = ("<tr><th>tau</th><th>FF median</th><th>random median</th>"
                "<th>mean selected</th></tr>")
        body = "".join(
            f"<tr><td>{escape(str(tau))}</td><td>{_fmt(_dict(v).get('median'), 4)}</td>"
            f"<td>{_fmt(_dict(v).get('random_median'), 4)}</td>"
            f"<td>{_fmt(_dict(v).get('mean_selected'), 1)}</td></tr>"
            for tau, v in ff.items())
        html += ("<p>Faithfulness (drop of the class probability when the selected "
                 "components are removed, against removing as many random ones):</p>"
                 f"<table border='1' cellspacing='0' cellpadding='3'>{head}{body}</table>")
    return html + _focus_html(_dict(metrics.get("focus")))


class ManifestDialog(QDialog):
    """A bundle's manifest: a readable summary and the raw JSON, in two tabs."""

    def __init__(self, bundle_or_manifest: Any, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        manifest = getattr(bundle_or_manifest, "manifest", bundle_or_manifest)
        self.manifest: dict = manifest if isinstance(manifest, dict) else {}
        self.setObjectName("manifest_dialog")
        self.setWindowTitle(f"Bundle — {self.manifest.get('name', 'unnamed')}")

        self.summary = QTextBrowser()
        self.summary.setObjectName("manifest_summary")
        self.summary.setOpenLinks(False)
        self.summary.setHtml(summary_html(self.manifest))

        self.raw = QPlainTextEdit()
        self.raw.setObjectName("manifest_json")
        self.raw.setReadOnly(True)
        self.raw.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.raw.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.raw.setPlainText(json.dumps(self.manifest, indent=2, ensure_ascii=False,
                                         default=str))

        self.tabs = QTabWidget()
        self.tabs.setObjectName("manifest_tabs")
        self.tabs.addTab(self.summary, "Summary")
        self.tabs.addTab(self.raw, "manifest.json")

        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        self.close_button = buttons.button(QDialogButtonBox.StandardButton.Close)
        self.close_button.setObjectName("manifest_close")
        buttons.rejected.connect(self.reject)

        lay = QVBoxLayout(self)
        lay.addWidget(self.tabs, 1)
        lay.addWidget(buttons)
        self.resize(640, 720)

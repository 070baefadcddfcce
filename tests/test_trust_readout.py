"""The main window says how far to trust its explanation, and when the decision itself
looks shaky: the numbers are the engine's, measured on what plays."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PySide6.QtWidgets import QApplication, QDialog, QTableWidget, QTextBrowser
from test_main_window import TIMEOUT, _analysed

from engine.explanation.quality import explain_terms
from engine.explanation.trust import Trust, assess, verdict
from l2i_desktop.predictions_panel import PredictionsPanel, agreement_note
from l2i_desktop.trust_view import describe

CLASSES = ["Dog bark", "Rain", "Rooster"]


def _measured(window) -> bool:
    s = window.session
    return s.trust is not None and s.rendering is not None \
        and s.trust.components == tuple(s.rendering.indices) and window.shown is not None


def test_the_readout_is_the_engines_measurement_of_what_plays(qtbot, window, esc10_clip):
    _analysed(qtbot, window, esc10_clip)
    qtbot.waitUntil(lambda: _measured(window), timeout=TIMEOUT)
    s = window.session
    t, ex, a = s.trust, s.explainer, s.clip.analysis
    assert t == assess(ex, a, s.explanation.target, list(s.explanation.selected))
    # FF is the field's own, as the batch metrics compute it (quality.py)
    terms = explain_terms(ex, a, s.explanation.threshold)
    assert t.faithfulness == pytest.approx(terms.faithfulness, abs=1e-4)
    # the residual's probability, checked by hand
    probs = ex.classify_waves(torch.as_tensor(s.rendering.residual[None])).cpu().numpy()[0]
    assert t.p_removed == pytest.approx(float(probs[t.target]), abs=1e-5)
    text = window.trust_view.text()
    assert f"{t.p:.2f}" in text and f"{t.p_removed:.2f}" in text
    assert f"{t.p_random:.2f}" in text and window.trust_view.verdict == t.verdict
    assert window.trust_view.toolTip().count("<li>") == 3

    k = s.explanation.selected[0]  # muting one: measured again, on what plays now
    window.components.set_checked(k, window.components.MUTE, True)
    qtbot.waitUntil(lambda: _measured(window) and k not in window.session.trust.components,
                    timeout=TIMEOUT)
    assert window.session.trust == assess(ex, a, s.explanation.target,
                                          s.active_components())


def test_muting_everything_says_nothing_plays(qtbot, window, esc10_clip):
    _analysed(qtbot, window, esc10_clip)
    for k in window.session.explanation.selected:
        window.components.set_checked(k, window.components.MUTE, True)
    qtbot.waitUntil(lambda: window.trust_view.verdict == "empty", timeout=TIMEOUT)
    assert "Nothing plays" in window.trust_view.text()


def test_verdicts_and_sentences():
    assert verdict(0.97, 0.04, 0.95, 0, 0) == "good"
    assert verdict(0.97, 0.04, 0.95, 1, 0) == "weak"  # alone, heard as another class
    assert verdict(0.97, 0.60, 0.95, 0, 0) == "weak"
    assert verdict(0.97, 0.93, 0.94, 0, 0) == "unfaithful"
    good = Trust(0, (3, 5), 0.97, 0.04, 0.95, (0.9, 0.99), 0.91, 0, "good")
    key, text = describe(good, CLASSES, 2, 0.1)
    assert key == "good" and "drops <b>Dog bark</b> from 0.97 to <b>0.04</b>" in text
    assert "2 random: 0.95" in text and "still heard as Dog bark (0.91)" in text
    empty = Trust(0, (), 0.97, 0.97, 0.97, (0.97, 0.97), 0.0, -1, "empty")
    assert "No component above tau = 0.49" in describe(empty, CLASSES, 0, 0.49)[1]
    assert "lower tau" in describe(empty, CLASSES, 0, 0.49)[1]


def test_disagreement_and_low_confidence_are_said(qtbot):
    sure, flat = np.array([0.9, 0.05, 0.05]), np.array([0.5, 0.3, 0.2])
    assert agreement_note(CLASSES, sure, flat, False) == ""
    note = agreement_note(CLASSES, sure, np.array([0.2, 0.7, 0.1]), False)
    assert "interpreter hears Rain where the classifier hears Dog bark" in note
    assert "unreliable" in agreement_note(CLASSES, np.array([0.4, 0.35, 0.25]), flat, False)
    assert agreement_note(CLASSES, np.array([0.4, 0.35, 0.25]), flat, True) == ""
    panel = PredictionsPanel()
    qtbot.addWidget(panel)
    panel.show_predictions(CLASSES, sure, np.array([0.2, 0.7, 0.1]), target=2)
    assert panel.note.isVisibleTo(panel) and "Rain" in panel.note.text()
    row = panel.explained_row
    assert panel.table.item(row, 0).text() == "Rooster" and panel.table.item(row, 0).font().bold()
    assert "Theta" in panel.table.horizontalHeaderItem(2).toolTip()
    panel.show_predictions(CLASSES, sure, flat, target=0)
    assert not panel.note.isVisibleTo(panel)


def test_help_menu_explains_the_window_and_lists_real_shortcuts(qtbot, window):
    names = [a.objectName() for a in window.menus["help"].actions()]
    assert names == ["how_to_read", "shortcuts", "about"]
    window.menu_actions["how_to_read"].trigger()
    browser = window.findChild(QTextBrowser, "how_to_read")
    assert browser is not None and "Trust" in browser.toPlainText()
    assert "window.png" in browser.toHtml()  # the numbered picture is shown
    browser.window().close()
    window.menu_actions["shortcuts"].trigger()
    table = window.findChild(QTableWidget, "shortcuts")
    rows = {table.item(r, 1).text(): table.item(r, 0).text() for r in range(table.rowCount())}
    assert rows["Undo"] == "Ctrl+Z" and rows["Play/pause"] == "Space"
    assert rows["Live interpretation"] == "Ctrl+L"  # a tool's own action is listed too
    table.window().close()
    window.menu_actions["about"].trigger()
    about = next(w for w in QApplication.topLevelWidgets()
                 if isinstance(w, QDialog) and w.windowTitle() == "About L2I Desktop")
    assert "torch" in about.text() and "tiny" in about.text()
    about.close()


def test_every_control_of_the_main_window_has_a_tooltip(qtbot, window):
    for widget in (*window.buttons.values(), window.tau_slider, window.predictions.combo,
                   window.trust_view):
        assert widget.toolTip(), widget.objectName()


def test_an_empty_explanation_is_said_in_the_views(qtbot, window, esc10_clip):
    _analysed(qtbot, window, esc10_clip)
    for k in window.session.explanation.selected:
        window.components.set_checked(k, window.components.MUTE, True)
    qtbot.waitUntil(lambda: "muted" in window.views.plots[3].titleLabel.text, timeout=TIMEOUT)
    window.menu_actions["undo"].trigger()  # one component plays again: the usual title
    qtbot.waitUntil(lambda: window.views.plots[3].titleLabel.text == "Interpretation (dB)",
                    timeout=TIMEOUT)


def test_every_control_in_the_window_has_a_tooltip(qtbot, window, esc10_clip):
    from PySide6.QtWidgets import QAbstractButton, QAbstractSlider, QComboBox, QScrollBar

    _analysed(qtbot, window, esc10_clip)
    central = window.centralWidget()
    missing = [w.objectName() or w.text() if hasattr(w, "text") else
               f"{type(w).__name__} in {type(w.parent().parent()).__name__}"
               for kind in (QAbstractButton, QAbstractSlider, QComboBox)
               for w in central.findChildren(kind)
               if w.isVisibleTo(window) and not w.toolTip()
               and not isinstance(w.parent(), QAbstractSlider)
               and not isinstance(w, QScrollBar)]  # a list's scroll bar needs no words
    assert missing == []


def test_a_restored_tau_is_said(qtbot, tiny_bundle, tmp_path):
    from test_main_window import fresh_settings

    from l2i_desktop.main_window import MainWindow

    settings = fresh_settings(tmp_path)
    settings.set_tau(0.49)
    win = MainWindow(tiny_bundle, settings)
    qtbot.addWidget(win)
    try:
        qtbot.waitUntil(lambda: win.session.explainer is not None, timeout=TIMEOUT)
        assert "tau 0.49 restored from your last session" in win.statusBar().currentMessage()
        assert win.tau_slider.value() == 49
    finally:
        win.close()

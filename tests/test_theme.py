"""Light and dark colour schemes: every text colour is readable (WCAG 2 contrast of at
least 4.5:1), measured on what a real window applied, in both schemes."""

from __future__ import annotations

import re

import numpy as np
import pyqtgraph as pg
import pytest
from PySide6.QtCore import QSettings
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QApplication, QLabel

from l2i_desktop import theme
from l2i_desktop.main_window import MainWindow
from l2i_desktop.settings import Settings

AA = 4.5


def test_the_contrast_formula_gives_wcag_values():
    assert theme.contrast_ratio("#000000", "#ffffff") == pytest.approx(21.0)
    assert theme.contrast_ratio("#ffffff", "#ffffff") == pytest.approx(1.0)
    # pyqtgraph's default grey on white: the 2.96:1 users reported
    assert theme.contrast_ratio("#969696", "#ffffff") == pytest.approx(2.96, abs=0.01)
    assert theme.contrast_ratio("#767676", "#ffffff") == pytest.approx(4.54, abs=0.01)


@pytest.mark.parametrize("name", theme.SCHEMES)
def test_every_text_colour_of_a_scheme_reads_at_aa(name):
    low = {what: round(theme.contrast_ratio(fg, bg), 2)
           for what, (fg, bg) in theme.text_pairs(theme.THEMES[name]).items()
           if theme.contrast_ratio(fg, bg) < AA}
    assert not low, f"{name}: below {AA}:1: {low}"


@pytest.fixture
def restore_look():
    """The scheme a test forces must not stay on the application for the next tests."""
    palette, options, shown = QApplication.palette(), dict(pg.CONFIG_OPTIONS), theme.shown()
    yield
    theme.apply_app(shown)  # what widgets read when they draw; then the rest exactly
    QApplication.setPalette(palette)
    pg.setConfigOptions(**{k: options[k] for k in ("background", "foreground")})


def _colour_of(label: QLabel) -> str:
    match = re.search(r"color:\s*(#[0-9a-fA-F]{3,8})", label.styleSheet())
    assert match, label.styleSheet()
    return match.group(1)


@pytest.mark.parametrize("name", theme.SCHEMES)
def test_a_window_in_each_scheme_draws_every_text_at_aa(qtbot, tmp_path, monkeypatch,
                                                         restore_look, name):
    monkeypatch.setenv(theme.ENV, name)
    settings = Settings(QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat))
    win = MainWindow(None, settings)
    qtbot.addWidget(win)
    win.show()
    win.show_error("the clip could not be read")
    win.views.note_interpretation("no component above tau = 0.90; lower tau")
    t = theme.THEMES[name]
    assert win.property("l2i_theme") == name
    pal = QApplication.palette()
    roles = QPalette.ColorRole
    pairs = {"window text": (pal.color(roles.WindowText), pal.color(roles.Window)),
             "table text": (pal.color(roles.Text), pal.color(roles.Base)),
             "button text": (pal.color(roles.ButtonText), pal.color(roles.Button)),
             "hint": (pal.color(roles.PlaceholderText), pal.color(roles.Base)),
             "selection": (pal.color(roles.HighlightedText), pal.color(roles.Highlight)),
             "error": (_colour_of(win.error_label), pal.color(roles.Window))}
    for label in win.findChildren(QLabel):  # hints and notes restyled from light ones
        if label.property("l2i_colour"):
            pairs[f"label {label.text()[:30]!r}"] = (_colour_of(label),
                                                     pal.color(roles.Window))
    assert any(k.startswith("label") for k in pairs), "the welcome page's hint is muted"
    views = [v for v in win.findChildren(pg.GraphicsView)]
    assert win.views in views and win.relevance in views
    for view in views:
        background = view.backgroundBrush().color()
        assert background.name() == t.background
        for item in view.scene().items():
            if not isinstance(item, pg.PlotItem):
                continue
            title = item.titleLabel.opts["color"]
            pairs[f"title {item.titleLabel.text[:25]!r}"] = (title, background)
            for side in ("left", "bottom"):
                axis = item.getAxis(side)
                pairs[f"{side} axis of {item.titleLabel.text[:20]!r}"] = (
                    axis.textPen().color(), background)
    note = re.search(r"color:\s*(#[0-9a-fA-F]{6})", win.views.plots[3].titleLabel.text)
    pairs["interpretation note"] = (note.group(1), win.views.backgroundBrush().color())
    low = {k: round(theme.contrast_ratio(fg, bg), 2) for k, (fg, bg) in pairs.items()
           if theme.contrast_ratio(fg, bg) < AA}
    assert not low, f"{name}: below {AA}:1: {low}"
    assert len(pairs) > 15  # every plot of the window was looked at


def test_the_dark_scheme_reaches_the_views_parts(qtbot, tmp_path, monkeypatch, restore_look):
    monkeypatch.setenv(theme.ENV, "dark")
    settings = Settings(QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat))
    win = MainWindow(None, settings)
    qtbot.addWidget(win)
    d = theme.DARK
    assert QApplication.palette().color(QPalette.ColorRole.Window).name() == d.window
    assert win.views.backgroundBrush().color().name() == d.background
    assert win.views.wave_curve.opts["pen"].color().name() == d.wave
    assert {c.pen.color().name() for c in win.views.cursors} == {d.cursor}
    assert {line.pen.color().name() for line in win.views.region.lines} == {d.range_edges}
    assert win.relevance.tau_line.label.color.name() == d.error
    # a later title keeps the scheme's colour (pyqtgraph would fall back to its grey)
    win.views.plots[2].setTitle("Component activations H: component 3 in the cyan band")
    assert win.views.plots[2].titleLabel.item.defaultTextColor().name() != "#969696"
    assert d.text in win.views.plots[2].titleLabel.item.toHtml()


def _own_colours(win) -> dict[str, str]:
    """The colours of what picks its own (theme.shown): the explained row, the trust
    box, the Interpretation's note, a pattern thumbnail's ground and bars, the label
    lane's readout (titled again after each change of labels or clip)."""
    win.tools["labels"].update_readout()
    lane = win.tools["labels"].lane.titleLabel
    row = win.predictions.table.item(win.predictions.explained_row, 0)
    sheet = win.trust_view.styleSheet()
    icon = win.components.table.item(0, 2).icon().pixmap(60, 18).toImage()
    note = re.search(r"color:\s*(#[0-9a-fA-F]{6})", win.views.plots[3].titleLabel.text)
    return {"explained": row.background().color().name(),
            "trust text": re.search(r"color:\s*(#[0-9a-fA-F]{6})", sheet).group(1),
            "trust ground": re.search(r"background:\s*(#[0-9a-fA-F]{6})", sheet).group(1),
            "note": note.group(1),
            "pattern ground": icon.pixelColor(0, 0).name(),
            "pattern bars": icon.pixelColor(0, 17).name(),  # the lowest bin's full bar
            "label readout": re.search(r"color:\s*(#[0-9a-fA-F]{6})", lane.item.toHtml()).group(1)}


def test_what_picks_its_own_colours_follows_the_scheme_and_its_changes(
        qtbot, tmp_path, monkeypatch, restore_look):
    from l2i_desktop import jobs

    monkeypatch.setenv(theme.ENV, "dark")
    settings = Settings(QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat))
    win = MainWindow(None, settings)
    qtbot.addWidget(win)
    p = np.array([0.2, 0.7, 0.1])
    win.predictions.show_predictions(["a", "b", "c"], p, p, 1)
    win.trust_view.show_text("good", "<b>Faithful.</b>")
    pattern = np.zeros(600)
    pattern[:10] = 1.0  # loudest at the lowest frequencies: a full bar at the left
    win.components.set_patterns([jobs.pattern_image(pattern)])
    win.components.show_components([0], np.array([1.0]))
    win.views.note_interpretation("every selected component is muted")
    d, light = theme.DARK, theme.LIGHT
    wanted = {"explained": d.explained, "trust text": d.good, "trust ground": d.good_bg,
              "note": d.error, "pattern ground": d.base, "pattern bars": d.wave,
              "label readout": d.text}
    assert _own_colours(win) == wanted
    theme.apply_window(win, light)  # the system's scheme changed: drawn again, in light
    assert _own_colours(win) == {
        "explained": light.explained, "trust text": light.good, "trust ground": light.good_bg,
        "note": light.error, "pattern ground": light.base, "pattern bars": light.wave,
        "label readout": light.text}


def test_the_scheme_follows_the_setting_then_the_system(monkeypatch):
    monkeypatch.delenv(theme.ENV, raising=False)
    assert theme.scheme_name("dark") == "dark"
    assert theme.scheme_name("light") == "light"
    monkeypatch.setenv(theme.ENV, "DARK")
    assert theme.scheme_name("light") == "dark"  # the environment first (tests, shots)
    monkeypatch.setenv(theme.ENV, "purple")
    assert theme.scheme_name("") in theme.SCHEMES  # unknown: the system's, logged

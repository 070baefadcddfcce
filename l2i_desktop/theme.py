"""Light and dark colours for the window: the Qt palette and the pyqtgraph views.

The scheme follows the system (``QStyleHints.colorScheme``, Qt 6.5+) unless forced by the
environment variable ``L2I_COLOR_SCHEME`` (``light`` or ``dark``; tests and screenshots
use it) or by the setting ``color_scheme``. Every text colour here has a contrast ratio
of at least 4.5:1 (WCAG 2, level AA) against the background it is drawn on;
``text_pairs`` lists them and ``tests/test_theme.py`` measures them on a real window.

Widgets that pick colours themselves (the explained row, the trust box, the notes in
plot titles, the pattern thumbnails) read ``shown()`` when they draw; ``apply_window``
has them draw again, so no module's constants are changed from here.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass

import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QGuiApplication, QPalette
from PySide6.QtWidgets import QApplication, QLabel, QWidget

log = logging.getLogger(__name__)

ENV = "L2I_COLOR_SCHEME"
SCHEMES = ("light", "dark")


@dataclass(frozen=True)
class Theme:
    name: str
    window: str  # panels, buttons' surroundings
    base: str  # tables, text fields
    background: str  # the plots'
    text: str  # window text, plot titles
    axis: str  # axis lines, tick labels, axis labels
    muted: str  # hints, secondary text
    error: str
    warning: str  # notes that ask for care (the predictions' agreement note)
    button: str
    highlight: str
    highlighted_text: str
    explained: str  # the explained class's row in the predictions table
    wave: str  # the waveform's pen
    cursor: str  # the play position
    range_edges: str  # the play range's edges
    border: str
    good: str  # a faithful explanation's verdict (the trust box)
    good_bg: str  # the trust box behind each verdict: faithful, weak, not faithful
    warning_bg: str
    error_bg: str


LIGHT = Theme("light", window="#efefef", base="#ffffff", background="#ffffff",
              text="#1a1a1a", axis="#333333", muted="#595959", error="#b00020",
              warning="#8a5300", button="#e4e4e4", highlight="#2a62b0",
              highlighted_text="#ffffff", explained="#e3eefb", wave="#1f4e79",
              cursor="#2ca02c", range_edges="#1f77b4", border="#b8b8b8", good="#1b5e20",
              good_bg="#e8f5e9", warning_bg="#fff4e0", error_bg="#fdecea")
# tables a little lighter than the window: Fusion outlines check boxes in the window's
# colour darkened, which is invisible on a base darker than the window
DARK = Theme("dark", window="#26282b", base="#313338", background="#1e1f22",
             text="#e8e8e8", axis="#c9c9c9", muted="#a8a8a8", error="#ff7a7a",
             warning="#f2b661", button="#3c3f44", highlight="#2f62ad",
             highlighted_text="#ffffff", explained="#22416b", wave="#7db5e8",
             cursor="#5fd35f", range_edges="#63a9ec", border="#55585e", good="#8fd99a",
             good_bg="#1f3324", warning_bg="#3a2f1c", error_bg="#43262a")
THEMES = {"light": LIGHT, "dark": DARK}
# colours other modules hard-code for the light scheme, as the theme names them
HARD_CODED = {"#555": "muted", "#555555": "muted", "#b00020": "error",
              "#8a5300": "warning", "#444444": "muted"}


def relative_luminance(colour: str | QColor) -> float:
    """WCAG 2 relative luminance of an sRGB colour: 0 (black) to 1 (white)."""
    c = QColor(colour)

    def linear(v: float) -> float:
        return v / 12.92 if v <= 0.04045 else ((v + 0.055) / 1.055) ** 2.4
    r, g, b = (linear(x) for x in (c.redF(), c.greenF(), c.blueF()))
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast_ratio(a: str | QColor, b: str | QColor) -> float:
    """(L1 + 0.05) / (L2 + 0.05), the lighter over the darker: 1 to 21."""
    la, lb = sorted((relative_luminance(a), relative_luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def text_pairs(t: Theme) -> dict[str, tuple[str, str]]:
    """Every text colour of the theme with the background it is read on."""
    return {"window text": (t.text, t.window), "table text": (t.text, t.base),
            "plot title": (t.text, t.background), "axis": (t.axis, t.background),
            "muted on window": (t.muted, t.window), "muted on plot": (t.muted, t.background),
            "error": (t.error, t.window), "error in a plot title": (t.error, t.background),
            "warning": (t.warning, t.window), "button text": (t.text, t.button),
            "selection": (t.highlighted_text, t.highlight),
            "explained row": (t.text, t.explained), "faithful": (t.good, t.good_bg),
            "weak": (t.warning, t.warning_bg), "not faithful": (t.error, t.error_bg)}


def scheme_name(setting: str = "") -> str:
    """'light' or 'dark': the environment's choice, else the setting's, else the
    system's (light where the platform does not say)."""
    for forced in (os.environ.get(ENV, ""), setting):
        if forced.lower() in SCHEMES:
            return forced.lower()
        if forced and forced.lower() != "system":
            log.warning("unknown colour scheme %r: following the system", forced)
    app = QGuiApplication.instance()
    if app is not None and app.styleHints().colorScheme() == Qt.ColorScheme.Dark:
        return "dark"
    return "light"


def current(setting: str = "") -> Theme:
    return THEMES[scheme_name(setting)]


_shown = LIGHT  # the last theme apply_app applied


def shown() -> Theme:
    """The theme the application shows now (the light one before any was applied): what
    a widget reads when it draws."""
    return _shown


def palette(t: Theme) -> QPalette:
    p = QPalette()
    roles = QPalette.ColorRole
    for role, colour in ((roles.Window, t.window), (roles.WindowText, t.text),
                         (roles.Base, t.base), (roles.AlternateBase, t.window),
                         (roles.Text, t.text), (roles.Button, t.button),
                         (roles.ButtonText, t.text), (roles.ToolTipBase, t.base),
                         (roles.ToolTipText, t.text), (roles.PlaceholderText, t.muted),
                         (roles.Highlight, t.highlight),
                         (roles.HighlightedText, t.highlighted_text),
                         (roles.BrightText, t.error), (roles.Link, t.range_edges),
                         (roles.Light, t.button), (roles.Midlight, t.button),
                         (roles.Mid, t.border), (roles.Dark, t.border)):
        p.setColor(role, QColor(colour))
    for role in (roles.WindowText, roles.Text, roles.ButtonText):
        p.setColor(QPalette.ColorGroup.Disabled, role, QColor(t.muted))
    return p


def apply_app(t: Theme) -> None:
    """The application's palette, pyqtgraph's defaults for plots made from now on, and
    what ``shown`` says."""
    global _shown
    _shown = t
    app = QApplication.instance()
    if app is not None:
        app.setPalette(palette(t))
    pg.setConfigOptions(background=t.background, foreground=t.axis)


def style_plot(p: pg.PlotItem, t: Theme) -> None:
    """Axes, ticks and title of one plot in the theme's colours (pyqtgraph's default
    grey, (150, 150, 150) on white, is 2.96:1)."""
    for name in ("left", "bottom", "right", "top"):
        axis = p.getAxis(name)
        axis.setPen(pg.mkPen(t.axis))
        axis.setTextPen(pg.mkPen(t.axis))
    p.titleLabel.opts["color"] = t.text  # kept for titles set later
    p.titleLabel.setText(p.titleLabel.text)


def style_graphics(view: pg.GraphicsView, t: Theme) -> None:
    """Background and every plot of a pyqtgraph widget (PlotWidget or a layout)."""
    view.setBackground(t.background)
    for item in view.scene().items():
        if isinstance(item, pg.PlotItem):
            style_plot(item, t)


def style_time_views(views, t: Theme) -> None:
    """The time views through their public parts: plots, lanes, waveform, cursors,
    play range (time_views.py keeps its own structure)."""
    style_graphics(views, t)
    for p in views.plots + list(getattr(views, "lanes", [])):
        style_plot(p, t)
    views.wave_curve.setPen(pg.mkPen(t.wave))
    for c in views.cursors:
        c.setPen(pg.mkPen(t.cursor, width=2))
    for line in views.region.lines:
        line.setPen(pg.mkPen(t.range_edges, width=2))
    views.note_interpretation(views.note)  # its colour is the scheme's


def restyle_labels(root: QWidget, t: Theme) -> None:
    """Labels whose style sheet hard-codes a light-scheme colour get the theme's."""
    for label in root.findChildren(QLabel):
        sheet = label.styleSheet().strip().rstrip(";")
        if sheet.startswith("color:"):
            role = label.property("l2i_colour") or HARD_CODED.get(sheet[6:].strip().lower())
            if role:
                label.setProperty("l2i_colour", role)  # remembered for the next scheme
                label.setStyleSheet(f"color: {getattr(t, role)}")


def apply_window(win: QWidget, t: Theme) -> None:
    """The whole window: palette, every pyqtgraph view in it, labels, and the widgets
    that read ``shown()`` when they draw, drawn again: those define ``restyle()`` (duck
    typed, so that this module imports none of the views that import it)."""
    apply_app(t)
    widgets = win.findChildren(QWidget)
    for view in win.findChildren(pg.GraphicsView):
        if not callable(getattr(view, "restyle", None)):
            style_graphics(view, t)
    for widget in widgets:
        restyle = getattr(widget, "restyle", None)
        if callable(restyle):
            restyle()
    relevance = getattr(win, "relevance", None)
    if relevance is not None:  # tau's value beside its line
        relevance.tau_line.label.setColor(t.error)
    restyle_labels(win, t)
    win.setProperty("l2i_theme", t.name)
    log.info("colour scheme: %s", t.name)


def follow_system(win: QWidget, setting: str = "") -> None:
    """Apply the current scheme now and again whenever the system's changes."""
    apply_window(win, current(setting))
    app = QGuiApplication.instance()
    if app is None:
        return
    hints = app.styleHints()

    def changed(_scheme) -> None:
        apply_window(win, current(setting))
    hints.colorSchemeChanged.connect(changed)
    win.destroyed.connect(lambda *_: hints.colorSchemeChanged.disconnect(changed))

"""The analysis window's widgets and where they sit: the views over time, predictions,
relevance, the selected components, the transport and tau, the welcome page; and the
window's place on the screen (fitted to the available area at any device scale,
remembered per screen)."""

from __future__ import annotations

import logging

from PySide6.QtCore import QEvent, QMargins, QObject, QRect, QSize, Qt, QTimer
from PySide6.QtGui import QGuiApplication, QScreen
from PySide6.QtWidgets import (
    QComboBox,
    QDockWidget,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLayout,
    QMainWindow,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSlider,
    QSplitter,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from l2i_desktop.predictions_panel import PredictionsPanel
from l2i_desktop.relevance_view import RelevanceView
from l2i_desktop.side_panels import ComponentsPanel
from l2i_desktop.time_views import TimeViews
from l2i_desktop.trust_view import TrustView
from l2i_desktop.welcome import WelcomePanel

log = logging.getLogger(__name__)

TAU_TIP = ("Components whose relevance to the explained class is above tau make the "
           "interpretation; lower tau keeps more of them")
PLAY = (("original", "▶ original", "Play the clip as it is (the play range, if chosen)"),
        ("interpretation", "▶ interpretation",
         "Play what the selected components explain: what the classifier relied on "
         "(Space)"),
        ("residual", "▶ residual", "Play everything else: the clip without those components"),
        ("stop", "■ stop", "Stop playing (Space)"))
ROW_PX = 120  # the least height of each row of the time views: below it they scroll
VIEWS_MIN_WIDTH = 240  # what a dock leaves the views at least
TABLE_MIN_CAP = 400  # the most a table's columns may ask for
DOCK_SHARE = 0.35  # of the window's width, for a dock opening the first time
PREFERRED = QSize(1280, 900)  # the first window, where the screen has room for it
# the window frame before the window manager says (title bar, borders); corrected once
# the window is shown (_FitOnShow)
FRAME_GUESS = QMargins(4, 30, 4, 4)


class ViewsArea(QScrollArea):
    """The time views, scrolled vertically when the window is too short to give every
    view ROW_PX and every row that tools add (``add_lane``) its own least height."""

    def __init__(self, views: TimeViews) -> None:
        super().__init__()
        self.views = views
        self.setWidget(views)
        self.setWidgetResizable(True)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        for bar in (self.verticalScrollBar(), self.horizontalScrollBar()):
            bar.setToolTip("The views keep at least 120 px each: scroll to see them all")
        self.setMinimumWidth(VIEWS_MIN_WIDTH)
        views.lanes_changed.connect(self.fit_rows)
        self.fit_rows()

    def fit_rows(self) -> None:
        v = self.views
        for p in v.plots + v.lanes:
            # pyqtgraph's auto-range button sits on the left axis' label in a short row
            # (and the rows keep fixed ranges)
            p.hideButtons()
            axis = p.getAxis("bottom")
            below = axis.height() if axis.isVisible() else 0  # the one time axis
            least = getattr(p, "least_px", ROW_PX)
            p.setMinimumHeight(least + below if p.isVisible() else 0)
        need = v.ci.effectiveSizeHint(Qt.SizeHint.MinimumSize).height()
        v.setMinimumHeight(int(need) + 2 * v.frameWidth() + 2)

    def resizeEvent(self, event) -> None:  # noqa: N802 - Qt's name
        self.fit_rows()  # a lane shown or hidden since
        super().resizeEvent(event)


def build_layout(win: QMainWindow) -> None:
    """Create the window's widgets as attributes of ``win`` (views, predictions,
    relevance, components, tau_slider, tau_label, buttons, error_label, welcome, pages,
    splitters); ``win`` has ``settings`` and a ``play(kind)`` method."""
    win.views = TimeViews()
    win.predictions = PredictionsPanel()
    win.trust_view = TrustView()
    win.relevance = RelevanceView()
    win.components = ComponentsPanel()
    win.views_area = ViewsArea(win.views)
    top = QSplitter(Qt.Orientation.Horizontal)
    top.addWidget(win.views_area)
    right = QWidget()  # what the classifier said, and how far to trust the explanation
    column = QVBoxLayout(right)
    column.setContentsMargins(0, 0, 0, 0)
    column.addWidget(win.predictions, 1)
    column.addWidget(win.trust_view)
    top.addWidget(right)
    top.setSizes([900, 300])
    top.setStretchFactor(0, 1)  # a dock opening, a narrower window: the views give way
    top.setStretchFactor(1, 0)
    top.setCollapsible(1, False)
    # compact rows: ten classes show at 720 px
    table = win.predictions.table
    table.verticalHeader().setDefaultSectionSize(table.fontMetrics().height() + 8)
    _keep_columns_shown(table)
    bottom = QSplitter(Qt.Orientation.Horizontal)
    bottom.addWidget(win.relevance)
    bottom.addWidget(win.components)
    bottom.setSizes([700, 500])
    bottom.setStretchFactor(0, 1)  # the relevance plot gives way, not the table's columns
    bottom.setStretchFactor(1, 0)
    bottom.setCollapsible(1, False)
    _keep_columns_shown(win.components.table)
    main = QSplitter(Qt.Orientation.Vertical)
    main.addWidget(top)
    main.addWidget(bottom)
    main.setSizes([680, 220])
    win.splitters = {"top": top, "bottom": bottom, "main": main}
    for name, splitter in win.splitters.items():
        sizes = win.settings.splitter_sizes(name)
        if len(sizes) == splitter.count():
            splitter.setSizes(sizes)

    win.tau_slider = QSlider(Qt.Orientation.Horizontal)
    win.tau_slider.setRange(0, 99)
    win.tau_slider.setMinimumWidth(80)  # a dock beside the views must not squash it
    win.tau_label = QLabel("relevance threshold tau")
    win.tau_label.setToolTip(TAU_TIP)
    win.tau_slider.setToolTip(TAU_TIP)
    transport = QHBoxLayout()
    win.buttons = {}
    for kind, text, tip in PLAY:
        b = QPushButton(text)
        b.setToolTip(tip)
        b.setObjectName(f"play_{kind}")
        b.clicked.connect(lambda _c=False, kind=kind: win.play(kind))
        transport.addWidget(b)
        win.buttons[kind] = b
    transport.addStretch(1)
    transport.addWidget(win.tau_label)
    transport.addWidget(win.tau_slider, 1)
    win.error_label = QLabel("")
    win.error_label.setStyleSheet("color: #b00020")
    win.error_label.setWordWrap(True)  # a long message must not widen the window
    # before any clip: the ways to start (welcome.py); the views once there is one
    win.welcome = WelcomePanel()
    win.pages = Pages()
    win.pages.addWidget(win.welcome)
    win.pages.addWidget(main)
    win.pages.currentChanged.connect(lambda _i: win.pages.updateGeometry())
    central = QWidget()
    lay = QVBoxLayout(central)
    lay.addWidget(win.pages, 1)
    lay.addLayout(transport)
    lay.addWidget(win.error_label)
    win.setCentralWidget(central)
    win.resize(PREFERRED)


class Pages(QStackedWidget):
    """Pages as narrow as the views' page allows: the welcome page's row of example
    buttons must not widen the window (nor push it off the screen when a dock opens
    beside it); on a screen too narrow for it, its right edge is cut instead."""

    def minimumSizeHint(self) -> QSize:  # noqa: N802 - Qt's name
        if self.count() < 2:
            return super().minimumSizeHint()
        views, shown = self.widget(1).minimumSizeHint(), self.currentWidget().minimumSizeHint()
        return QSize(views.width(), shown.height())


def relax_docks(win: QMainWindow) -> None:
    """Docks fit beside the views: their choices show a short text where room is short
    (a combo box is as wide as its longest item otherwise), and a dock opening for the
    first time takes DOCK_SHARE of the window's width, not its own preferred width."""
    for dock in win.findChildren(QDockWidget):
        for combo in dock.findChildren(QComboBox):
            combo.setSizeAdjustPolicy(
                QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
            combo.setMinimumContentsLength(12)
            # its least width is cached from its items: set it, not only the policy
            combo.setMinimumWidth(combo.fontMetrics().averageCharWidth() * 12 + 40)
        for bar in dock.findChildren(QProgressBar):
            bar.setMinimumWidth(50)
        for lay in dock.findChildren(QLayout):  # hidden: nothing told them yet
            lay.invalidate()
        dock.visibilityChanged.connect(
            lambda shown, dock=dock: _first_width(win, dock) if shown else None)


def _first_width(win: QMainWindow, dock: QDockWidget) -> None:
    if dock.property("l2i_sized") or dock.isFloating():
        return
    dock.setProperty("l2i_sized", True)
    width = max(dock.minimumSizeHint().width(), int(win.width() * DOCK_SHARE))
    QTimer.singleShot(0, win, lambda: win.resizeDocks([dock], [width],
                                                      Qt.Orientation.Horizontal))


def _keep_columns_shown(table) -> None:
    """A table never narrower than its columns, up to TABLE_MIN_CAP (a dock opening
    takes its room from the plots instead). Measured a turn after its columns change:
    while a table fills, its columns are 100 px each for a moment, and a minimum taken
    then would widen the window for good."""
    def fit() -> None:
        side = table.verticalHeader().width() if table.verticalHeader().isVisible() else 0
        need = (table.horizontalHeader().length() + side
                + table.verticalScrollBar().sizeHint().width() + 2 * table.frameWidth())
        table.setMinimumWidth(min(need, TABLE_MIN_CAP))
    table.horizontalHeader().sectionResized.connect(
        lambda *_: QTimer.singleShot(0, table, fit))
    fit()


# ---- the window on the screen -------------------------------------------------------
def screen_key(screen: QScreen) -> str:
    """Which screen: its name and size (the same monitor at another resolution or
    device scale is another screen)."""
    size = screen.geometry().size()
    return f"{screen.name()} {size.width()}x{size.height()}"


def fitted(preferred: QSize, available: QRect, frame: QMargins | None = None) -> QRect:
    """The window's own rectangle (without ``frame``) for about ``preferred``: frame
    included, never larger than ``available``, and centred on it."""
    frame = frame if frame is not None else QMargins()
    width = min(preferred.width(), available.width() - frame.left() - frame.right())
    height = min(preferred.height(), available.height() - frame.top() - frame.bottom())
    outer = QRect(0, 0, width, height).marginsAdded(frame)
    outer.moveTopLeft(available.topLeft())  # not moveCenter: it rounds towards zero
    outer.translate((available.width() - outer.width()) // 2,
                    (available.height() - outer.height()) // 2)
    return outer.marginsRemoved(frame)


def _screen_named(key: str) -> QScreen | None:
    return next((s for s in QGuiApplication.screens() if screen_key(s) == key), None)


def place_window(win: QMainWindow) -> None:
    """Restore the geometry saved on the screen the window was last closed on if that
    screen is here and the geometry fits its available area; otherwise PREFERRED fitted
    to the screen and centred."""
    screen = (_screen_named(win.settings.last_screen()) or win.screen()
              or QGuiApplication.primaryScreen())
    available = screen.availableGeometry()
    saved = win.settings.geometry(screen_key(screen))
    if saved is not None and win.restoreGeometry(saved) \
            and available.contains(win.frameGeometry()):
        log.info("window restored on %s: %s", screen_key(screen), win.geometry())
    else:
        win.setGeometry(fitted(PREFERRED, available, FRAME_GUESS))
        log.info("window fitted to %s (available %s): %s", screen_key(screen),
                 available, win.geometry())
    relax_docks(win)
    win.installEventFilter(_FitOnShow(win, win.geometry()))


def remember_window(win: QMainWindow) -> None:
    """Save the geometry under the screen the window is on now."""
    win.settings.save_window(screen_key(win.screen()), win.saveGeometry(), win.saveState())


class _FitOnShow(QObject):
    """Once the window is shown and its real frame is known: pull it back inside the
    available area if the frame made it stick out (unless it was resized since it was
    placed: a size asked for in code stands)."""

    def __init__(self, win: QMainWindow, placed: QRect) -> None:
        super().__init__(win)
        self.placed = QRect(placed)

    def eventFilter(self, obj, event) -> bool:  # noqa: N802 - Qt's name
        if event.type() == QEvent.Type.Show:
            obj.removeEventFilter(self)
            if obj.geometry().size() == self.placed.size():
                QTimer.singleShot(0, obj, lambda: _refit(obj))
        return False


def _refit(win: QMainWindow) -> None:
    if win.isMaximized() or win.isFullScreen():
        return
    available = win.screen().availableGeometry()
    outer = win.frameGeometry()
    if available.contains(outer):
        return
    frame = QMargins(win.geometry().left() - outer.left(), win.geometry().top() - outer.top(),
                     outer.right() - win.geometry().right(),
                     outer.bottom() - win.geometry().bottom())
    win.setGeometry(fitted(win.size(), available, frame))

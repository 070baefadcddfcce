"""The analysis window's widgets and where they sit: the views over time, predictions,
relevance, the selected components, the transport and tau, the welcome page."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QPushButton,
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

TAU_TIP = ("Components whose relevance to the explained class is above tau make the "
           "interpretation; lower tau keeps more of them")
PLAY = (("original", "▶ original", "Play the clip as it is (the play range, if chosen)"),
        ("interpretation", "▶ interpretation",
         "Play what the selected components explain: what the classifier relied on "
         "(Space)"),
        ("residual", "▶ residual", "Play everything else: the clip without those components"),
        ("stop", "■ stop", "Stop playing (Space)"))


def build_layout(win: QMainWindow) -> None:
    """Create the window's widgets as attributes of ``win`` (views, predictions,
    relevance, components, tau_slider, tau_label, buttons, error_label, welcome, pages,
    splitters); ``win`` has ``settings`` and a ``play(kind)`` method."""
    win.views = TimeViews()
    win.predictions = PredictionsPanel()
    win.trust_view = TrustView()
    win.relevance = RelevanceView()
    win.components = ComponentsPanel()
    top = QSplitter(Qt.Orientation.Horizontal)
    top.addWidget(win.views)
    right = QWidget()  # what the classifier said, and how far to trust the explanation
    column = QVBoxLayout(right)
    column.setContentsMargins(0, 0, 0, 0)
    column.addWidget(win.predictions, 1)
    column.addWidget(win.trust_view)
    top.addWidget(right)
    top.setSizes([900, 300])
    bottom = QSplitter(Qt.Orientation.Horizontal)
    bottom.addWidget(win.relevance)
    bottom.addWidget(win.components)
    bottom.setSizes([700, 500])
    main = QSplitter(Qt.Orientation.Vertical)
    main.addWidget(top)
    main.addWidget(bottom)
    main.setSizes([620, 260])
    win.splitters = {"top": top, "bottom": bottom, "main": main}
    for name, splitter in win.splitters.items():
        sizes = win.settings.splitter_sizes(name)
        if len(sizes) == splitter.count():
            splitter.setSizes(sizes)

    win.tau_slider = QSlider(Qt.Orientation.Horizontal)
    win.tau_slider.setRange(0, 99)
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
    # before any clip: the ways to start (welcome.py); the views once there is one
    win.welcome = WelcomePanel()
    win.pages = QStackedWidget()
    win.pages.addWidget(win.welcome)
    win.pages.addWidget(main)
    central = QWidget()
    lay = QVBoxLayout(central)
    lay.addWidget(win.pages, 1)
    lay.addLayout(transport)
    lay.addWidget(win.error_label)
    win.setCentralWidget(central)
    win.resize(1280, 900)

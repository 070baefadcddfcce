"""Reading a long recording through its timeline, in the real window with the shipped
ESC-10 bundle (issue #23, item 5): the views of a window read in the recording's time, a
click on a cell explains that cell's class, hovering a cell says what it is, and the names
on the timeline fit the room they are given (elided, never cut by an edge)."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QFontMetrics
from PySide6.QtWidgets import QToolTip
from test_main_window import TIMEOUT, fresh_settings
from test_timeline import clips_of, concatenate

from l2i_desktop.main_window import MainWindow
from l2i_desktop.time_axis import TimeAxis
from l2i_desktop.timeline_controller import WindowResult
from l2i_desktop.timeline_view import AXIS_PAD_PX, TimelineView
from resources import default_bundle_path


@pytest.fixture
def window(qtbot, tmp_path):
    win = MainWindow(default_bundle_path(), fresh_settings(tmp_path))
    qtbot.addWidget(win)
    win.resize(1280, 900)
    win.show()
    qtbot.waitUntil(lambda: win.session.explainer is not None, timeout=TIMEOUT)
    yield win
    win.close()


@pytest.fixture
def long_open(qtbot, window, esc10, tmp_path, monkeypatch):
    """A 65-s recording of real clips (sneeze, helicopter, chainsaw, rooster, fire,
    repeated), opened on its timeline (past TIMELINE_FIRST_S, 15 s here) and computed."""
    from l2i_desktop import timeline_controller

    monkeypatch.setattr(timeline_controller, "TIMELINE_FIRST_S", 15.0)
    long = concatenate([f for _, f in clips_of(esc10)[5:10]], tmp_path / "long.wav",
                       seconds=65)
    window.open_clip(long)
    tool = window.tools["timeline"]
    qtbot.waitUntil(lambda: tool.view.timeline is not None and tool.run is None
                    and len(tool.view.timeline.starts) == 25
                    and isinstance(window.session.clip, WindowResult), timeout=TIMEOUT)
    return window, tool.view


def _shown(window, index: int, target: int | None):
    """The window ``index`` in the views, explained for ``target`` (None: its top)."""
    s = window.session
    clip = s.clip
    return (isinstance(clip, WindowResult) and clip.index == index
            and s.explanation is clip.explanation and s.target == target
            and window.shown == clip.source)


def _axis_strings(axis: TimeAxis, lo: float, hi: float) -> list[str]:
    """The tick labels the axis draws over the views' range lo..hi."""
    values = sorted(v for _spacing, vs in axis.tickValues(lo, hi, axis.width() or 800)
                    for v in vs)
    return axis.tickStrings(values, 1.0, values[1] - values[0]) if len(values) > 1 else []


def test_a_windows_views_read_in_the_recordings_time(qtbot, long_open, esc10_clip):
    window, view = long_open
    views = window.views
    assert window.session.clip.start_s == 0 and views.time_origin == 0  # the first window
    qtbot.mouseClick(view.plot.viewport(), Qt.MouseButton.LeftButton,
                     pos=view.point_of(62.5, row=-1))  # above the rows: its top class
    qtbot.waitUntil(lambda: _shown(window, 24, None), timeout=TIMEOUT)
    assert window.session.clip.start_s == 60.0
    assert "window 1:00 to 1:05, explaining" in window.statusBar().currentMessage()
    assert views.time_origin == 60.0
    assert all(p.getAxis("bottom").origin == 60.0 for p in views.plots + views.lanes)
    strings = _axis_strings(views.time_axis(), 0.0, 5.0)
    assert strings[0] == "1:00" and strings[-1] == "1:05", strings
    assert all(s.startswith("1:0") for s in strings), strings
    assert views.time_axis().label_of(1.25) == "1:01.2"  # the hover readout (even tenths)
    # the mouse over the spectrogram reads the recording's time in the status bar
    spectrogram = views.plots[1].vb.sceneBoundingRect()
    qtbot.mouseMove(views.viewport(), views.mapFromScene(spectrogram.center()))
    qtbot.waitUntil(lambda: window.statusBar().currentMessage().startswith("t = 1:0"),
                    timeout=5000)
    # the play range reads and is typed in the recording's time too
    bar = window.range_bar
    assert (bar.start.text(), bar.end.text()) == ("1:00", "1:05")
    bar.start.lineEdit().setText("1:01.5")
    bar.start.interpretText()
    assert window.session.choices.region == pytest.approx((1.5, 5.0))
    assert bar.start.text() == "1:01.5"

    qtbot.mouseClick(view.whole, Qt.MouseButton.LeftButton)  # the whole recording
    qtbot.waitUntil(lambda: not isinstance(window.session.clip, WindowResult),
                    timeout=TIMEOUT)
    assert views.time_origin == 0.0
    assert bar.start.text() == "0.00 s"
    assert views.time_axis().label_of(1.25) == "1.250 s"
    assert not any(":" in s for s in _axis_strings(views.time_axis(), 0.0, 65.0))

    window.open_clip(esc10_clip)  # an ordinary clip: its own seconds
    qtbot.waitUntil(lambda: window.session.clip.path == esc10_clip, timeout=TIMEOUT)
    assert views.time_origin == 0.0 and not view.isVisible()


def test_a_click_on_a_row_explains_that_rows_class(qtbot, long_open):
    window, view = long_open
    t = view.timeline
    dog = t.classes.index("Dog bark")
    index = 4  # the window at 10 s: a chainsaw, in this recording
    top = int(t.top[index])
    row = dog if top != dog else t.classes.index("Rain")
    qtbot.mouseClick(view.plot.viewport(), Qt.MouseButton.LeftButton,
                     pos=view.point_of(float(t.centres[index]), row=row))
    qtbot.waitUntil(lambda: _shown(window, index, row), timeout=TIMEOUT)
    assert f"explaining {t.classes[row]}" in window.statusBar().currentMessage()
    s = window.session
    assert s.clip.analysis.predicted == top != row
    assert s.explanation.target == row and s.explained_class() == row
    panel = window.predictions
    qtbot.waitUntil(lambda: panel.combo.currentData() == row, timeout=TIMEOUT)
    assert panel.table.item(panel.explained_row, 0).text() == t.classes[row]
    assert panel.table.item(0, 0).text() == t.classes[top]  # still sorted by probability

    s.history.undo()  # Edit > Undo: the window's own top class
    qtbot.waitUntil(lambda: s.explanation.target == top and s.target is None,
                    timeout=TIMEOUT)

    other = 8  # another window, clicked on its top row: explained for that class
    top8 = int(t.top[other])
    qtbot.mouseClick(view.plot.viewport(), Qt.MouseButton.LeftButton,
                     pos=view.point_of(float(t.centres[other]), row=top8))
    qtbot.waitUntil(lambda: _shown(window, other, top8), timeout=TIMEOUT)
    assert s.explanation.target == top8


def test_hovering_a_cell_says_its_time_class_and_probability(qtbot, long_open):
    window, view = long_open
    t = view.timeline
    index, row = 24, t.classes.index("Rain")
    qtbot.mouseMove(view.plot.viewport(), view.point_of(float(t.centres[index]), row=row))
    p = t.classifier[index]
    top = int(np.argmax(p))
    qtbot.waitUntil(lambda: "1:00–1:05" in window.statusBar().currentMessage(), timeout=5000)
    text = window.statusBar().currentMessage()
    assert text == view.describe(index, row)
    assert text.startswith("1:00–1:05   Rain ") and f"{p[row]:.3f}" in text
    assert f"top: {t.classes[top]} {p[top]:.3f}" in text
    assert QToolTip.isVisible() and QToolTip.text() == text

    view.source.setCurrentIndex(view.source.findData("interpreter"))
    qtbot.mouseMove(view.plot.viewport(), view.point_of(float(t.centres[3]), row=-1))
    qtbot.waitUntil(lambda: "0:07.5–0:12.5" in window.statusBar().currentMessage(),
                    timeout=5000)
    q = t.interpreter[3]
    assert window.statusBar().currentMessage() == (
        f"0:07.5–0:12.5   {t.classes[int(np.argmax(q))]} {q.max():.3f} "
        "(the interpreter's top class)")


def _labels_fit(view: TimelineView) -> None:
    vb = view.plot.getViewBox()
    box = vb.sceneBoundingRect()
    for label, space in zip(view.labels, view.label_space, strict=True):
        text = label.textItem.toPlainText()
        metrics = QFontMetrics(label.textItem.font())
        assert metrics.horizontalAdvance(text) <= space, (text, space)
        shown: QRectF = label.sceneBoundingRect()
        assert box.left() - 0.5 <= shown.left() and shown.right() <= box.right() + 0.5, (
            text, shown, box)


def _names(view: TimelineView, classes: list[str]) -> list[str]:
    """The run labels' texts, each a class name, whole or cut with an ellipsis."""
    names = [label.textItem.toPlainText() for label in view.labels]
    for name in names:
        assert name in classes or (name.endswith("…") and any(
            c.startswith(name[:-1]) for c in classes)), name
    return names


def test_names_fit_their_room_or_are_elided_never_cut(qtbot):
    """A standalone timeline: runs of two windows (5 s) for each class, a long class
    name among them; zoomed so that a run starts left of the plot's edge."""
    classes = ["Dog bark", "Person sneeze", "Crackling fire of a very large camp in winter"]
    view = TimelineView()
    qtbot.addWidget(view)
    view.resize(900, 260)
    view.show()
    qtbot.waitExposed(view)
    n = 23
    view.start(classes, 60.0, 5.0, 2.5, n)
    starts = np.arange(n) * 2.5
    top = (np.arange(n) // 2) % 3
    p = np.full((n, 3), 0.1, np.float32)
    p[np.arange(n), top] = 0.8
    view.add(starts, p, p, n)
    view.finish(60.0)
    qtbot.wait(50)
    _labels_fit(view)
    names = _names(view, classes)
    assert any(n.endswith("…") and n.startswith("Cra") for n in names), names

    # zoomed in with a run cut by the left edge: its name moves into what shows of it
    view.plot.setXRange(9.0, 20.0, padding=0)
    qtbot.wait(50)
    _labels_fit(view)
    names = _names(view, classes)
    assert names[0].startswith("Person") and "Dog bark" in names, names
    vb = view.plot.getViewBox()
    assert vb.mapSceneToView(view.labels[0].sceneBoundingRect().topLeft()).x() >= 9.0

    wide = vb.width()
    view.resize(600, 260)  # narrower: names shorten or go, and still fit
    qtbot.waitUntil(lambda: vb.width() < wide - 200, timeout=5000)
    qtbot.wait(50)
    _labels_fit(view)

    # the names of the rows: the axis as wide as the longest, up to its limit, elided past
    left = view.plot.getAxis("left")
    metrics = QFontMetrics(left.style["tickFont"])
    assert view.row_names[:2] == classes[:2]
    assert view.row_names[2].endswith("…") and view.row_names[2] != classes[2]
    for name in view.row_names:
        assert metrics.horizontalAdvance(name) <= left.width() - AXIS_PAD_PX


def test_live_input_after_a_window_reads_in_the_takes_seconds(qtbot, long_open, server):
    """Live input ticks its axis by hand in the take's seconds: a window's origin, set
    before, must not stay under those ticks, nor replace the live axis's label."""
    from test_live_window import _close, _live_parts

    window, _view = long_open
    window.tools["timeline"].explain_window(24)
    qtbot.waitUntil(lambda: _shown(window, 24, None), timeout=TIMEOUT)
    assert window.views.time_origin == 60.0
    panel, _action = _live_parts(window)
    try:
        assert panel.start()
        qtbot.waitUntil(lambda: panel.last is not None and window.session.clip is panel.last,
                        timeout=TIMEOUT)
        qtbot.wait(200)
        axis = window.views.time_axis()
        assert window.views.time_origin == 0.0
        assert axis.labelText == "time since the take began (s)"
        assert axis.label_of(1.0) == "1.000 s"
    finally:
        _close(window, panel)

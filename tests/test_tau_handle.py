"""The tau line of the relevance plot in the real window: grabbed within 8 px, never a
pan or zoom, and stepped by the keyboard."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QEvent, QPoint, QPointF, Qt
from PySide6.QtGui import QWheelEvent
from PySide6.QtWidgets import QApplication
from test_linking import LEFT, NONE, TIMEOUT, linked, mouse

from l2i_desktop.relevance_view import GRAB_PX


def drag(view, start: QPointF, dy: float, steps: int = 5) -> None:
    """Press at ``start``, move ``dy`` pixels down (up if negative), release."""
    mouse(view, QEvent.Type.MouseButtonPress, start, LEFT, LEFT)
    for i in range(1, steps + 1):
        mouse(view, QEvent.Type.MouseMove, start + QPointF(0, dy * i / steps), NONE, LEFT)
    mouse(view, QEvent.Type.MouseButtonRelease, start + QPointF(0, dy), LEFT, NONE)


def beside_line(rel, off_px: float) -> QPointF:
    """A point ``off_px`` pixels above the tau line, between two bars."""
    rect = rel.mapFromScene(rel.plotItem.vb.sceneBoundingRect()).boundingRect()
    return QPointF(rect.center().x(), rel.line_y() - off_px)


def ranges(rel) -> np.ndarray:
    return np.array(rel.plotItem.vb.viewRange())


def test_a_press_6px_off_the_line_drags_tau(qtbot, window, esc10_clip):
    win = linked(qtbot, window, esc10_clip, tau=0.2)
    rel, s = win.relevance, win.session
    before = ranges(rel)
    drag(rel, beside_line(rel, 6), dy=-40)  # from 6 px above the line, 40 px up
    assert s.tau > 0.2
    qtbot.waitUntil(lambda: s.explanation.threshold == s.tau, timeout=TIMEOUT)
    assert abs(rel.tau_line.value() - s.tau) < 1e-9
    np.testing.assert_allclose(ranges(rel), before)
    # and from below the line, back down
    up = s.tau
    drag(rel, beside_line(rel, -7), dy=30)
    assert s.tau < up
    assert GRAB_PX >= 8


def test_a_press_30px_off_neither_pans_nor_moves_tau(qtbot, window, esc10_clip):
    win = linked(qtbot, window, esc10_clip, tau=0.2)
    rel, s = win.relevance, win.session
    before = ranges(rel)
    for off, dy in ((30, -50), (-30, 25), (30, 60)):
        drag(rel, beside_line(rel, off), dy=dy)
        assert s.tau == 0.2 and abs(rel.tau_line.value() - 0.2) < 1e-9
        np.testing.assert_allclose(ranges(rel), before)
    # right-button drags (pyqtgraph's zoom) and the wheel do nothing either
    at = beside_line(rel, 30)
    right = Qt.MouseButton.RightButton
    mouse(rel, QEvent.Type.MouseButtonPress, at, right, right)
    mouse(rel, QEvent.Type.MouseMove, at + QPointF(40, 40), NONE, right)
    mouse(rel, QEvent.Type.MouseButtonRelease, at + QPointF(40, 40), right, NONE)
    wheel = QWheelEvent(at, QPointF(rel.viewport().mapToGlobal(at.toPoint())), QPoint(0, 0),
                        QPoint(0, 480), NONE, Qt.KeyboardModifier.NoModifier,
                        Qt.ScrollPhase.NoScrollPhase, False)
    QApplication.sendEvent(rel.viewport(), wheel)
    np.testing.assert_allclose(ranges(rel), before)
    assert s.tau == 0.2


def test_keys_step_tau_by_a_hundredth(qtbot, window, esc10_clip):
    win = linked(qtbot, window, esc10_clip, tau=0.2)
    rel, s = win.relevance, win.session
    rel.setFocus()
    for key, expected in ((Qt.Key.Key_Plus, 0.21), (Qt.Key.Key_Plus, 0.22),
                          (Qt.Key.Key_Minus, 0.21), (Qt.Key.Key_Up, 0.22),
                          (Qt.Key.Key_Down, 0.21), (Qt.Key.Key_Down, 0.2)):
        qtbot.keyClick(rel, key)
        assert s.tau == expected, key
        assert abs(rel.tau_line.value() - expected) < 1e-9  # the line follows at once
    qtbot.waitUntil(lambda: s.explanation.threshold == 0.2, timeout=TIMEOUT)
    assert "tau" in s.history.undo_text()  # a key step is an edit like any other

"""The component in focus, linked across the real window's views: hover and click a
relevance bar, click a row, see its band in H, its overlay and its spectral pattern."""

from __future__ import annotations

import numpy as np
from conftest import EXAMPLES
from PySide6.QtCore import QEvent, QPointF, Qt
from PySide6.QtGui import QMouseEvent
from PySide6.QtWidgets import QApplication

from l2i_desktop.linking import connect_linking

TIMEOUT = 60_000
LEFT, NONE = Qt.MouseButton.LeftButton, Qt.MouseButton.NoButton


def mouse(view, kind: QEvent.Type, pos: QPointF, button=NONE, buttons=NONE) -> None:
    """One mouse event at ``pos`` (viewport pixels) of a pyqtgraph view."""
    global_pos = QPointF(view.viewport().mapToGlobal(pos.toPoint()))
    event = QMouseEvent(kind, QPointF(pos), global_pos, button, buttons,
                        Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(view.viewport(), event)


def click(view, pos: QPointF) -> None:
    mouse(view, QEvent.Type.MouseButtonPress, pos, LEFT, LEFT)
    mouse(view, QEvent.Type.MouseButtonRelease, pos, LEFT, NONE)


def linked(qtbot, win, clip, tau: float | None = None):
    """``win`` with ``clip`` explained (at ``tau``), its views linked (once, whoever
    links them first: the window or this)."""
    connect_linking(win.session, win.views, win.relevance, win.components,
                    win.statusBar().showMessage)
    win.open_clip(clip)
    qtbot.waitUntil(lambda: win.shown_clip == clip, timeout=TIMEOUT)
    if tau is not None:
        win.session.choose(tau=tau)
        qtbot.waitUntil(lambda: win.session.explanation.threshold == tau
                        and abs(win.relevance.tau_line.value() - tau) < 1e-9,
                        timeout=TIMEOUT)
    qtbot.wait(50)  # the deferred activations and side panels
    return win


def band_row(views) -> int:
    """The row of H that the focus band is around (it is at least a row tall)."""
    lo, hi = views.focus_band.getRegion()
    assert hi - lo >= 1.0
    return int((lo + hi) / 2)


def bar_pos(relevance, k: int) -> QPointF:
    """Near the top of component ``k``'s bar (or its column, for a short bar), in pixels,
    well away from the tau line."""
    i = int(np.flatnonzero(relevance.order == k)[0])
    h = float(relevance.heights[i])
    y = h * 0.8 if abs(h) > 0.3 else 0.8  # near its top: a short plot has few pixels
    scene = relevance.plotItem.vb.mapViewToScene(QPointF(i, y))
    pos = QPointF(relevance.mapFromScene(scene))
    assert abs(pos.y() - relevance.line_y()) > 12, "test point too close to the tau line"
    return pos


def test_hovering_a_bar_says_its_component_relevance_and_selection(qtbot, window,
                                                                    esc10_clip):
    win = linked(qtbot, window, esc10_clip, tau=0.3)
    exp, rel = win.session.explanation, win.relevance
    top = exp.selected[0]
    mouse(rel, QEvent.Type.MouseMove, bar_pos(rel, top))
    said = win.statusBar().currentMessage()
    assert f"component {top}: relevance {exp.relevance[top]:.2f}" in said
    assert "selected" in said and "not selected" not in said
    assert rel.toolTip() == said
    left_out = int(rel.order[-1])  # the least relevant: under tau
    assert left_out not in exp.selected
    mouse(rel, QEvent.Type.MouseMove, bar_pos(rel, left_out))
    assert f"component {left_out}: " in rel.toolTip() and "not selected" in rel.toolTip()
    assert "negative means evidence against the class" in \
        win.components.table.horizontalHeaderItem(1).toolTip()


def test_clicking_a_bar_focuses_its_component_in_every_view(qtbot, window, esc10_clip):
    win = linked(qtbot, window, esc10_clip, tau=0.0)
    s, rel, comps, views = win.session, win.relevance, win.components, win.views
    k = s.explanation.selected[1]  # not the first row: a selection that can be wrong
    click(rel, bar_pos(rel, k))
    assert s.focused == k
    rows = {i.row() for i in comps.table.selectedItems()}
    assert rows == {comps.indices.index(k)}
    assert comps.table.item(rows.pop(), 0).text() == str(k)
    assert list(rel.focus_bar.opts["x"]) == [int(np.flatnonzero(rel.order == k)[0])]
    assert views.focus_band.isVisible() and band_row(views) == k
    a = s.clip.analysis
    overlay = views.focus_overlay
    # on the spectrogram's rows (256 on the linear axis), every frame
    assert overlay.isVisible() and overlay.image.shape[:2] == (256, a.log_mag.shape[1])
    # opaque where the component is loud: at its loudest frame and frequency
    W = s.explainer.bundle.W[:, k].cpu().numpy()
    t = int(np.argmax(a.H[k].cpu().numpy()))
    assert overlay.image[int(np.argmax(W)) * 256 // len(W), t, 3] > 200
    assert comps.pattern.shown == k
    title = comps.pattern.title.text().replace("<b>", "").replace("</b>", "")
    assert title == f"component {k}: spectral pattern"
    assert comps.pattern.axis().labelUnits == "Hz"
    assert comps.pattern.curve.xData[-1] == a.sample_rate / 2
    np.testing.assert_allclose(comps.pattern.curve.yData, W, rtol=1e-6)
    # the mel view sits on the same Hz axis: the component stays laid over it
    views.set_spectrum_kind("log_mel")
    assert overlay.isVisible()
    assert overlay.boundingRect() == views.images[0].boundingRect()


def test_clicking_a_row_focuses_its_component(qtbot, window, esc10_clip):
    win = linked(qtbot, window, esc10_clip, tau=0.0)
    comps, s = win.components, win.session
    k = s.explanation.selected[2]
    item = comps.table.item(comps.indices.index(k), 1)
    qtbot.mouseClick(comps.table.viewport(), LEFT,
                     pos=comps.table.visualItemRect(item).center())
    assert s.focused == k
    assert band_row(win.views) == k
    i = int(np.flatnonzero(win.relevance.order == k)[0])
    assert list(win.relevance.focus_bar.opts["x"]) == [i]
    click(win.relevance, bar_pos(win.relevance, k))  # its bar again: look at none
    assert s.focused is None and not win.views.focus_band.isVisible()
    assert not comps.table.selectedItems() and comps.pattern.shown is None


def test_a_new_clip_clears_the_focus(qtbot, window, esc10_clip):
    win = linked(qtbot, window, esc10_clip, tau=0.0)
    k = win.session.explanation.selected[0]
    click(win.relevance, bar_pos(win.relevance, k))
    assert win.session.focused == k and win.views.focus_overlay.isVisible()
    other = next(p for p in sorted(EXAMPLES.glob("*.ogg")) if p.name != esc10_clip.name)
    win.open_clip(other)
    qtbot.waitUntil(lambda: win.shown_clip == other, timeout=TIMEOUT)
    assert win.session.focused is None
    assert not win.views.focus_band.isVisible() and not win.views.focus_overlay.isVisible()
    assert win.components.pattern.shown is None
    assert len(win.relevance.focus_bar.opts["x"]) == 0
    assert not win.components.table.selectedItems()


def test_h_axis_labels_the_selected_components(qtbot, window, esc10_clip):
    win = linked(qtbot, window, esc10_clip, tau=0.0)
    selected = win.session.explanation.selected
    axis = win.views.plots[2].getAxis("left")
    ticks = axis._tickLevels[0]
    assert sorted(v for v, _ in ticks) == sorted(k + 0.5 for k in selected)
    labels = {v: text for v, text in ticks if text}
    assert labels and all(text == str(int(v - 0.5)) for v, text in labels.items())
    assert str(selected[0]) in labels.values()  # the most relevant is always named
    # no lines through the data any more: nothing but the picture and the highlights
    from pyqtgraph import PlotCurveItem
    assert not [i for i in win.views.plots[2].items if isinstance(i, PlotCurveItem)]
    # the component in focus is named too, even between crowded neighbours
    k = selected[-1]
    win.session.focus(k)
    assert str(k) in {text for _, text in axis._tickLevels[0]}


def test_linking_twice_links_once_and_long_clips_skip_the_overlay(qtbot, window,
                                                                   esc10_clip,
                                                                   monkeypatch):
    from l2i_desktop import linking

    win = linked(qtbot, window, esc10_clip, tau=0.0)
    s = win.session
    before = [len(e) for e in (s.focused_changed, s.clip_changed, s.choices_changed)]
    connect_linking(s, win.views, win.relevance, win.components,
                    win.statusBar().showMessage)
    assert [len(e) for e in (s.focused_changed, s.clip_changed, s.choices_changed)] \
        == before
    monkeypatch.setattr(linking, "OVERLAY_CELLS", 1000)  # as if the clip were long
    k = s.explanation.selected[0]
    s.focus(k)
    assert band_row(win.views) == k and win.components.pattern.shown == k
    assert not win.views.focus_overlay.isVisible()
    assert "too long a clip" in win.statusBar().currentMessage()

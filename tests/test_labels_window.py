"""The label track in the real window: add a label from the play range, edit its text,
delete it, undo; import and export; the energy readout follows the explanation."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QEvent, QPointF, Qt
from PySide6.QtGui import QMouseEvent
from PySide6.QtWidgets import QApplication, QFileDialog, QInputDialog
from test_main_window import TIMEOUT, _analysed

from engine.explanation.localisation import energy_shares
from l2i_desktop.labels_tool import readout
from l2i_desktop.model.labels import Label, read_labels


@pytest.fixture
def tool(qtbot, window, esc10_clip):
    _analysed(qtbot, window, esc10_clip)
    return window.tools["labels"]


def _answer(monkeypatch, text: str, ok: bool = True) -> list[str]:
    """The text dialog answers ``text``; returns the prompts it was shown with."""
    asked: list[str] = []

    def get_text(parent, title, prompt, **kwargs):
        asked.append(kwargs.get("text", ""))
        return text, ok
    monkeypatch.setattr(QInputDialog, "getText", get_text)
    return asked


def _expected_readout(window) -> str:
    s = window.session
    labels = s.choices.labels
    shares = energy_shares(s.rendering.log_mag, s.clip.analysis.log_mag.cpu().numpy(),
                           s.explainer.cfg.hop_length / s.clip.analysis.sample_rate,
                           [(x.start, x.end) for x in labels], s.clip.duration_s)
    return readout(len(labels), shares)


def _double_click(qtbot, widget, at) -> None:
    """Press, release, double-click, release: what a mouse sends (QTest's mouseDClick
    sends less, which pyqtgraph's scene does not take for a double click)."""
    left = Qt.MouseButton.LeftButton
    qtbot.mouseMove(widget, at)  # pyqtgraph finds what is clicked by hovering
    qtbot.mouseClick(widget, left, pos=at)
    QApplication.sendEvent(widget, QMouseEvent(
        QEvent.Type.MouseButtonDblClick, QPointF(at), QPointF(widget.mapToGlobal(at)),
        left, left, Qt.KeyboardModifier.NoModifier))
    qtbot.mouseRelease(widget, left, pos=at)


def _scene_point(tool, seconds: float, y: float = 0.5):
    return tool.lane.vb.mapViewToScene(QPointF(seconds, y))


def test_the_track_is_a_lane_on_the_views_time_axis(tool, window):
    assert tool.lane in window.views.lanes
    assert tool.lane.vb.linkedView(0) is window.views.plots[0].vb
    assert window.views.time_axis() is tool.lane.getAxis("bottom")
    assert tool.lane.titleLabel.text == "Labels: none (Ctrl+B labels the play range)"
    assert not tool.actions["delete_label"].isEnabled()
    assert not tool.actions["export_labels"].isEnabled()


def test_add_from_range_edit_delete_and_undo(qtbot, tool, window, monkeypatch):
    s, undo, view = window.session, window.menu_actions["undo"], window.views
    s.choose(region=(0.5, 1.5))
    assert tool.add_from_range("bark") == 0
    assert s.choices.labels == (Label(0.5, 1.5, "bark"),)
    assert len(tool.track.regions) == 1 and tool.track.selected == 0
    assert tool.track.regions[0].getRegion() == (0.5, 1.5)
    assert undo.text() == '&Undo add label "bark"'
    assert tool.actions["delete_label"].isEnabled()

    # a click beside it leaves it; a double-click on it edits its text
    qtbot.mouseMove(view.viewport(), view.mapFromScene(_scene_point(tool, 3.0)))
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton,
                     pos=view.mapFromScene(_scene_point(tool, 3.0)))
    assert tool.track.selected is None and not tool.actions["delete_label"].isEnabled()
    _answer(monkeypatch, "dog bark")
    at = view.mapFromScene(_scene_point(tool, 1.0))
    _double_click(qtbot, view.viewport(), at)
    qtbot.waitUntil(lambda: s.choices.labels == (Label(0.5, 1.5, "dog bark"),),
                    timeout=5000)
    assert tool.track.selected == 0 and undo.text() == '&Undo edit label "dog bark"'
    assert tool.actions["delete_label"].isEnabled()

    # Enter edits the selected label too, while the views have the focus
    _answer(monkeypatch, " bark, edited ")
    window.activateWindow()
    view.setFocus()
    qtbot.waitUntil(view.hasFocus, timeout=5000)
    qtbot.keyClick(view, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: s.choices.labels == (Label(0.5, 1.5, "bark, edited"),),
                    timeout=5000)

    # Delete removes it; Undo brings it back
    qtbot.keyClick(view, Qt.Key.Key_Delete)
    qtbot.waitUntil(lambda: s.choices.labels == (), timeout=5000)
    assert tool.track.regions == [] and tool.track.selected is None
    assert not tool.actions["delete_label"].isEnabled()
    assert undo.text() == '&Undo delete label "bark, edited"'
    undo.trigger()
    assert s.choices.labels == (Label(0.5, 1.5, "bark, edited"),)
    assert len(tool.track.regions) == 1

    # a dragged label moves
    tool.track.regions[0].setRegion((1.0, 2.0))
    qtbot.waitUntil(lambda: s.choices.labels == (Label(1.0, 2.0, "bark, edited"),),
                    timeout=5000)

    # Ctrl+B, as in Audacity: the whole clip when there is no play range; cancelled,
    # nothing is added
    s.choose(region=None)
    asked = _answer(monkeypatch, "  whole  ")
    qtbot.keyClick(window, Qt.Key.Key_B, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: len(s.choices.labels) == 2, timeout=5000)
    assert asked == ["label 2"]
    assert s.choices.labels[0] == Label(0.0, s.clip.duration_s, "whole")
    _answer(monkeypatch, "never", ok=False)
    tool.actions["add_label"].trigger()
    assert len(s.choices.labels) == 2


def test_export_then_import_and_a_bad_file(qtbot, tool, window, tmp_path, monkeypatch):
    s = window.session
    s.choose(region=(0.25, 0.75))
    tool.add_from_range("first")
    s.choose(region=(1.0, 2.0))
    tool.add_from_range("second, with a comma")
    labels = s.choices.labels
    assert tool.actions["export_labels"].isEnabled()
    txt, csv = tool.export_file(tmp_path / "l.txt"), tool.export_file(tmp_path / "l.csv")
    assert txt.read_text().splitlines()[0] == "0.250000\t0.750000\tfirst"
    assert csv.read_text().splitlines()[0] == "start,end,label"
    assert "2 labels written to l.csv" in window.statusBar().currentMessage()

    tool.remove(0)
    tool.remove(0)
    assert s.choices.labels == () and tool.lane.titleLabel.text.startswith("Labels: none")
    assert tool.import_file(csv) == 2 and s.choices.labels == labels
    assert tool.import_file(txt) == 0  # already there: nothing doubled
    assert window.menu_actions["undo"].text() == "&Undo import 2 labels"

    bad = tmp_path / "bad.txt"
    bad.write_text("0.1\t0.2\tfine\n0.3\tlater\toops\n")
    errors: list[str] = []
    monkeypatch.setattr(window, "show_error", errors.append)  # what the host reports to
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (str(bad), ""))
    tool.ask_import()
    assert errors == ["bad.txt, line 2: the end time 'later' is not a number of seconds"]
    assert s.choices.labels == labels  # nothing lost, nothing half-imported
    assert read_labels(txt) == list(labels)

    # a window of a long recording a minute in: files are in the recording's time
    window.views.set_time_origin(60.0)
    shifted = tool.export_file(tmp_path / "at60.txt")
    assert shifted.read_text().splitlines()[0] == "60.250000\t60.750000\tfirst"
    tool.remove(0)
    tool.remove(0)
    assert tool.import_file(shifted) == 2 and s.choices.labels == labels


def test_the_readout_follows_labels_and_explanation(qtbot, tool, window):
    s = window.session
    s.choose(region=(0.0, s.clip.duration_s / 2))
    tool.add_from_range("first half")
    text = tool.lane.titleLabel.text
    assert text == _expected_readout(window)
    assert text.startswith("Labels: 1 label covers 50% of the clip and holds ")
    assert text.endswith("% of the input clip's)")
    assert tool.shares is not None and 0.0 <= tool.shares.interpretation <= 1.0

    s.choose(tau=0.0)  # a new explanation: every component with relevance >= 0
    qtbot.waitUntil(lambda: s.explanation.threshold == 0.0 and window.shown == s.clip.source,
                    timeout=TIMEOUT)
    qtbot.waitUntil(lambda: tool.lane.titleLabel.text == _expected_readout(window),
                    timeout=TIMEOUT)

    for k in s.explanation.selected:  # all muted: nothing plays, nothing to share
        s.toggle(k, "muted", True)
    qtbot.waitUntil(lambda: s.rendering is not None and not s.rendering.indices,
                    timeout=TIMEOUT)
    assert tool.lane.titleLabel.text == \
        "Labels: 1 label covers 50% of the clip; the interpretation is silent (no energy to share)"


def test_another_clip_starts_without_labels(qtbot, tool, window):
    from conftest import EXAMPLES
    s = window.session
    tool.add_from_range("here")
    assert len(tool.track.regions) == 1
    other = EXAMPLES / "rooster-1-26806-A.ogg"
    _analysed(qtbot, window, other)
    assert s.choices.labels == () and tool.track.regions == []
    assert tool.lane.titleLabel.text == "Labels: none (Ctrl+B labels the play range)"

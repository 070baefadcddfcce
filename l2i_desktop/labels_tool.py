"""A label track under the time views (Audacity-style regions with text), with the
share of the interpretation's energy that falls inside the labels.

Edit > Add label from range (Ctrl+B) labels the play range (the whole clip when none);
a click selects a label, a double-click or Enter edits its text, Delete removes it, a
drag moves it or its edges. File > Import labels... and Export labels... read and write
Audacity label tracks (.txt) and CSV. Every change is an undoable edit of the session
(l2i_desktop/model/labels.py).
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QObject, Qt, QTimer
from PySide6.QtGui import QAction, QFont, QFontMetrics, QKeySequence
from PySide6.QtWidgets import QFileDialog, QInputDialog

from engine.explanation.localisation import EnergyShares, energy_shares
from engine.runtime.errors import L2IError, shown
from l2i_desktop import theme
from l2i_desktop.host import Host
from l2i_desktop.model.labels import Label, LabelSet, read_labels, write_labels

log = logging.getLogger(__name__)
FILTER = "Audacity labels (*.txt);;CSV (*.csv);;All files (*)"
BRUSH, SELECTED = (255, 170, 0, 60), (255, 120, 0, 130)  # amber: apart from the views' blue
FONT_PT = 8
TIP = ("Labels: your own regions of the clip (Ctrl+B labels the play range). The line "
       "compares three shares: of the clip's duration the labels cover; of the "
       "interpretation's energy (what plays now: the selected components, less any muted; "
       "energy = |X|^2 summed over frequency, per frame) inside them; and of the input "
       "clip's energy inside them. An interpretation share well above the input's means "
       "the explanation concentrates on your labels more than the sound itself does.")


def readout(n_labels: int, shares: EnergyShares | None) -> str:
    """The line beside the track: every number says what it is a share of.

    >>> readout(2, EnergyShares(0.32, 0.71, 0.45))
    "Labels: 2 labels cover 32% of the clip and hold 71% of the interpretation's energy \
(and 45% of the input clip's)"
    """
    if n_labels == 0:
        return "Labels: none (Ctrl+B labels the play range)"
    s = "s" if n_labels == 1 else ""  # of the verbs
    text = f"Labels: {n_labels} label{'' if s else 's'}"
    if shares is None:
        return text
    text += f" cover{s} {shares.duration:.0%} of the clip"
    if shares.interpretation is None:
        return text + "; the interpretation is silent (no energy to share)"
    text += f" and hold{s} {shares.interpretation:.0%} of the interpretation's energy"
    return text + (f" (and {shares.input:.0%} of the input clip's)"
                   if shares.input is not None else "")


def _count(n: int) -> str:
    return f"{n} label" + ("" if n == 1 else "s")


class LabelRegion(pg.LinearRegionItem):
    """One label: a shaded region, selectable, whose edges and body drag."""

    def __init__(self, track: LabelTrack, index: int, label: Label) -> None:
        super().__init__((label.start, label.end), brush=pg.mkBrush(*BRUSH),
                         pen=pg.mkPen("#c06000", width=1), swapMode="sort")
        self.track, self.index = track, index
        self.setHoverBrush(pg.mkBrush(255, 150, 0, 100))
        self.sigRegionChangeFinished.connect(lambda _r: track.moved(self))

    def mouseClickEvent(self, ev) -> None:  # noqa: N802 - pyqtgraph's name
        if ev.button() == Qt.MouseButton.LeftButton and not self.moving:
            ev.accept()
            self.track.select(self.index)
            if ev.double():  # the dialog after the click is over, not inside it
                QTimer.singleShot(0, lambda: self.track.tool.ask_text(self.index))
            return
        super().mouseClickEvent(ev)


class LabelTrack:
    """Draws the labels on a lane of the time views and keeps which one is selected."""

    def __init__(self, tool: LabelsTool, lane: pg.PlotItem) -> None:
        self.tool, self.lane = tool, lane
        self.selected: int | None = None
        self.shown: tuple[Label, ...] = ()
        self.regions: list[LabelRegion] = []
        self.texts: list[pg.TextItem] = []
        self.font = QFont()
        self.font.setPointSize(FONT_PT)
        lane.setYRange(0, 1, padding=0)
        lane.setMouseEnabled(y=False)
        lane.getAxis("left").setTicks([[], []])
        lane.getAxis("left").setStyle(showValues=False)
        lane.setMaximumHeight(96)
        lane.vb.sigXRangeChanged.connect(self._elide)
        lane.vb.sigResized.connect(self._elide)
        lane.scene().sigMouseClicked.connect(self._clicked)

    def show(self, labels: tuple[Label, ...]) -> None:
        for item in self.regions + self.texts:
            self.lane.removeItem(item)
        self.regions, self.texts = [], []
        # the label selected stays so when others change (an undo), wherever it sorts
        was = self.shown[self.selected] if self.selected is not None else None
        self.selected = labels.index(was) if was in labels else None
        self.shown = labels
        clip = self.tool.host.session.clip
        for i, label in enumerate(labels):
            region = LabelRegion(self, i, label)
            if clip is not None:
                region.setBounds((0, clip.duration_s))  # a drag stays in the clip
            text = pg.TextItem(color=theme.shown().text, anchor=(0, 0))
            text.setFont(self.font)
            text.setPos(label.start, 1.0)
            self.lane.addItem(region)
            self.lane.addItem(text)
            self.regions.append(region)
            self.texts.append(text)
        self.select(self.selected)
        self._elide()

    def select(self, index: int | None) -> None:
        self.selected = index
        for i, r in enumerate(self.regions):
            on = i == index
            r.setBrush(pg.mkBrush(*(SELECTED if on else BRUSH)))
            for line in r.lines:
                line.setPen(pg.mkPen("#c06000", width=3 if on else 1))
            r.update()
        if index is not None:
            self.tool.host.views.setFocus()  # Enter and Delete act on the views' focus
        self.tool.enable()

    def _clicked(self, ev) -> None:
        """A click on the track but on no label: none is selected."""
        if not ev.isAccepted() and self.lane.vb.sceneBoundingRect().contains(ev.scenePos()):
            self.select(None)

    def moved(self, region: LabelRegion) -> None:
        start, end = region.getRegion()
        # later: the edit redraws the track, and this region is still in its drag event
        QTimer.singleShot(0, lambda: self.tool.move(region.index, float(start), float(end)))

    def _elide(self, *_args) -> None:
        """Each text cut to its region's width in pixels (a point label gets a little)."""
        px = self.lane.vb.viewPixelSize()[0] or 1.0
        metrics = QFontMetrics(self.font)
        for label, text in zip(self.tool.labels.labels, self.texts):
            width = max(int((label.end - label.start) / px) - 4, 40 if not label.duration
                        else 0)
            text.setText(metrics.elidedText(label.text, Qt.TextElideMode.ElideRight, width))


class LabelsTool(QObject):
    def __init__(self, host: Host) -> None:
        super().__init__(host.window)
        self.host = host
        self.labels = LabelSet(host.session)
        self.lane = host.views.add_lane(None, least_px=70)  # its readout and the labels
        self.track = LabelTrack(self, self.lane)
        # no colour of its own: the plot's title colour, which the scheme sets (theme.py)
        self.lane.setTitle(readout(0, None), size="9pt", justify="left")
        self.lane.titleLabel.setToolTip(TIP)
        self._input: tuple[object, np.ndarray] | None = None  # (clip, its log_mag)
        self.shares: EnergyShares | None = None
        self.actions: dict[str, QAction] = {}
        self._make_actions()
        s = host.session
        self.labels.changed.connect(self._on_labels)
        s.clip_changed.connect(lambda _c: self.enable())
        s.bundle_changed.connect(lambda _b: self.enable())
        s.rendering_changed.connect(lambda _r: self.update_readout())
        self.enable()

    def _action(self, key: str, text: str, call, menu: str, shortcut=None,
                after: str | None = None, on_views: bool = False) -> QAction:
        act = QAction(text, self.host.window)
        act.setObjectName(key)
        act.triggered.connect(lambda _c=False: call())
        if shortcut is not None:
            act.setShortcuts(shortcut if isinstance(shortcut, list) else [shortcut])
            if on_views:  # only while the views have the focus: Delete in a field is its own
                act.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
                self.host.views.addAction(act)
            else:
                self.host.window.addAction(act)
        self.host.add_action(menu, act, after=after)
        self.actions[key] = act
        return act

    def _make_actions(self) -> None:
        self._action("add_label", "Add &label from range", self.ask_add, "edit",
                     QKeySequence("Ctrl+B"))
        self._action("edit_label", "Edit label &text...", lambda: self.ask_text(), "edit",
                     [QKeySequence(Qt.Key.Key_Return), QKeySequence(Qt.Key.Key_Enter)],
                     on_views=True)
        self._action("delete_label", "&Delete label", lambda: self.remove(), "edit",
                     QKeySequence(QKeySequence.StandardKey.Delete), on_views=True)
        self._action("import_labels", "Import &labels...", self.ask_import, "file",
                     after="batch_report")
        self._action("export_labels", "Export la&bels...", self.ask_export, "file",
                     after="import_labels")

    def enable(self) -> None:
        """What acts on a clip, on labels, on the selected label: enabled when there is one."""
        if not self.actions:
            return  # still installing
        has_clip = self.host.session.clip is not None
        some, chosen = len(self.labels) > 0, self.track.selected is not None
        self.actions["add_label"].setEnabled(has_clip)
        self.actions["import_labels"].setEnabled(has_clip)
        self.actions["export_labels"].setEnabled(has_clip and some)
        self.actions["edit_label"].setEnabled(has_clip and chosen)
        self.actions["delete_label"].setEnabled(has_clip and chosen)
        if not has_clip:
            self.update_readout()

    # ---- what the user does -------------------------------------------------------
    def add_from_range(self, text: str) -> int | None:
        """Label the play range (the whole clip when none) with ``text``; returns the
        new label's index, selected."""
        s = self.host.session
        if s.clip is None:
            return None
        start, end = s.choices.region or (0.0, s.clip.duration_s)
        index = self.labels.add(Label(float(start), float(end), text))
        self.track.select(index)
        return index

    def ask_add(self) -> None:
        if self.host.session.clip is None:
            return
        text, ok = QInputDialog.getText(self.host.window, "Add label",
                                        "Text of the label (for the play range):",
                                        text=f"label {len(self.labels) + 1}")
        if ok:
            self.add_from_range(text.strip())

    def set_text(self, index: int, text: str) -> None:
        self.track.select(self.labels.edit(index, text=text.strip()))

    def ask_text(self, index: int | None = None) -> None:
        index = self.track.selected if index is None else index
        if index is None or index >= len(self.labels):
            self.host.status("select a label first (click it in the label track)")
            return
        text, ok = QInputDialog.getText(self.host.window, "Edit label", "Text of the label:",
                                        text=self.labels[index].text)
        if ok:
            self.set_text(index, text)

    def move(self, index: int, start: float, end: float) -> None:
        duration = self.host.session.clip.duration_s if self.host.session.clip else end
        start, end = max(0.0, start), min(duration, end)
        self.track.select(self.labels.edit(index, start=start, end=max(start, end)))

    def remove(self, index: int | None = None) -> None:
        index = self.track.selected if index is None else index
        if index is None or index >= len(self.labels):
            return
        self.track.selected = None
        old = self.labels.remove(index)
        self.host.status(f'deleted label "{old.text}" (Edit > Undo brings it back)')

    def import_file(self, path: Path) -> int:
        """Add the labels of an Audacity label file or a CSV file (in the recording's
        time: a window of a long file takes those that fall in it); returns how many."""
        origin = self.host.views.time_origin
        found = [x.shifted(-origin) for x in read_labels(path)]
        added = self.labels.add_many(found)
        duration = self.host.session.clip.duration_s if self.host.session.clip else 0.0
        outside = sum(x.end < 0 or x.start > duration for x in found)
        note = f"; {_count(outside)} outside this clip (kept)" if outside else ""
        self.host.status(f"{_count(added)} imported from {shown(path)}{note}")
        return added

    def export_file(self, path: Path) -> Path:
        """Write the labels (CSV for a .csv path, else an Audacity label track)."""
        origin = self.host.views.time_origin
        out = write_labels(path, [x.shifted(origin) for x in self.labels.labels])
        self.host.status(f"{_count(len(self.labels))} written to {shown(out)}")
        return out

    def ask_import(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self.host.window, "Import labels",
                                              self.host.settings.last_folder(), FILTER)
        if path:
            try:
                self.import_file(Path(path))
            except L2IError as exc:
                self.host.show_error(str(exc))

    def ask_export(self) -> None:
        clip = self.host.session.clip
        name = f"{Path(clip.source.name).stem}-labels.txt" if clip else "labels.txt"
        folder = Path(self.host.settings.last_folder() or ".")
        path, chosen = QFileDialog.getSaveFileName(self.host.window, "Export labels",
                                                   str(folder / name), FILTER)
        if path:
            p = Path(path)
            if not p.suffix:
                p = p.with_suffix(".csv" if chosen.startswith("CSV") else ".txt")
            try:
                self.export_file(p)
            except L2IError as exc:
                self.host.show_error(str(exc))

    # ---- following the session ------------------------------------------------------
    def _on_labels(self, labels: tuple[Label, ...]) -> None:
        self.track.show(labels)
        self.enable()
        self.update_readout()

    def _input_log_mag(self) -> np.ndarray | None:
        clip = self.host.session.clip
        if clip is None:
            return None
        if self._input is None or self._input[0] is not clip:
            log_mag = clip.analysis.log_mag
            log_mag = log_mag.cpu().numpy() if hasattr(log_mag, "cpu") else np.asarray(log_mag)
            self._input = (clip, log_mag)
        return self._input[1]

    def update_readout(self) -> None:
        """The shares for the labels and the interpretation that plays now."""
        s, labels = self.host.session, self.labels.labels
        self.shares = None
        log_mag = s.rendering.log_mag if s.rendering is not None else None
        if labels and s.clip is not None and log_mag is not None and s.explainer is not None:
            hop = s.explainer.cfg.hop_length / s.clip.analysis.sample_rate
            self.shares = energy_shares(log_mag, self._input_log_mag(), hop,
                                        [(x.start, x.end) for x in labels],
                                        s.clip.duration_s)
        self.readout = readout(len(labels) if s.clip is not None else 0, self.shares)
        self.lane.setTitle(self.readout, size="9pt", justify="left")


def install(host: Host) -> LabelsTool:
    """The label track under the views; Edit > Add label from range (Ctrl+B), Edit
    label text, Delete label; File > Import labels..., Export labels..."""
    return LabelsTool(host)

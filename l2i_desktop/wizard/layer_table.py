"""The classifier page's layer picker: every named layer the model ran through, its output
shape, and how the interpreter would read it (trainer.model_check's survey, at two clip
lengths): a time map as it is, a transformer's token sequence (``:tokens``) or an AST
patch grid (``:patches``) turned into a map over time; the rest greyed out, with why."""

from __future__ import annotations

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QHeaderView, QTableWidget, QTableWidgetItem, QWidget

from engine.models.taps import PATCHES, TOKENS, layer_of
from l2i_desktop.wizard.scan import Inspection

TAP_ROLE = Qt.ItemDataRole.UserRole  # the name the plan records (suffix included)
READ_AS = {"map": "time map", "tokens": "token sequence \u2192 over time",
           "patches": "AST patch grid \u2192 over time"}
# transformers are what newcomers will not expect to be tappable: their rows stand out
MARKED = QColor("#1f5fa8")


def kind_of(tap: str) -> str:
    return "tokens" if tap.endswith(TOKENS) else "patches" if tap.endswith(PATCHES) else "map"


def _lengths(seconds: tuple[float, float | None]) -> str:
    a, b = seconds
    return f"{a:g} s and {b:g} s" if b else f"{a:g} s"


def explain(tap: str, seconds: tuple[float, float | None]) -> str:
    """A usable layer's tooltip: what its output is and how the interpreter reads it."""
    kind, lengths = kind_of(tap), _lengths(seconds)
    if kind == "tokens":
        return (f"A transformer's token sequence (tokens x channels): the number of tokens "
                f"followed the clip's length ({lengths}), so each token is a moment of the "
                f"clip. Tapped as {tap}: turned to channels x tokens and read as a map over "
                "time, like a 1-D convolution's output.")
    if kind == "patches":
        return (f"An Audio Spectrogram Transformer's patches (tokens x channels): its class "
                f"tokens, then a frequency x time grid of spectrogram patches. Tapped as "
                f"{tap}: the patches are put back on their grid and averaged over frequency, "
                "a map over time (the padding after the clip is left out).")
    checked = ("its last axis followed the clip's length " f"({lengths})" if seconds[1]
               else "the model ran at one clip length only, so this was not checked")
    return (f"A feature map over time (channels x time, or channels x frequency x time): "
            f"{checked}. The interpreter reads it as it is.")


def summary(ins: Inspection) -> str:
    """The line above the table: what ran, and how many layers can be read, and how."""
    a, b = ins.seconds
    lengths = (f"at {a:g} s and {b:g} s" if b else
               f"at {a:g} s (it does not run at another length: its maps are taken to "
               "follow time)")
    kinds = {kind_of(t) for t in ins.taps.values()}
    read = ["time maps as they are"] * ("map" in kinds) + [
        f"{what} ({suffix}) turned into maps over time" for kind, what, suffix in (
            ("tokens", "transformer token sequences", TOKENS),
            ("patches", "AST patch grids", PATCHES)) if kind in kinds]
    return (f"Ran on {ins.clip.name} {lengths}: output {ins.output_shape}, top class "
            f"'{ins.top_class}'. {len(ins.taps)} of {len(ins.layers)} layers can be "
            f"tapped: {', '.join(read) or 'none'}"
            + ("; grey ones cannot (hover over a row for why)" if ins.unusable else "")
            + (f". Suggested, in bold and ticked: {', '.join(ins.suggested)}."
               if ins.suggested else ". None is suggested: tick the layers to tap."))


class LayerTable(QTableWidget):
    """Tick the layers to tap; greyed rows cannot be tapped (the tooltip says why)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(0, 3, parent)
        self.setHorizontalHeaderLabels(["layer (tick to tap)", "output shape", "read as"])
        tips = ("The name the interpreter taps: ':tokens' or ':patches' says the layer is "
                "a transformer's and is read over time",
                "The layer's output for one clip, without the batch axis",
                "How the interpreter reads the layer; hover over a row for more")
        for column, tip in enumerate(tips):
            self.horizontalHeaderItem(column).setToolTip(tip)
        header = self.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Interactive)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(True)
        self.verticalHeader().setVisible(False)
        self.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.setSelectionMode(QTableWidget.SelectionMode.NoSelection)
        # long module paths lose their middle, not the ":tokens" / ":patches" at the end
        self.setTextElideMode(Qt.TextElideMode.ElideMiddle)

    def show_inspection(self, ins: Inspection) -> None:
        """One row a layer, in the order the model ran them; the suggested ones ticked."""
        self.blockSignals(True)
        self.setRowCount(len(ins.layers))
        for row, (name, shape) in enumerate(ins.layers):
            tap = ins.taps.get(name)
            item = QTableWidgetItem(tap or name)
            cells = [item, QTableWidgetItem("no tensor" if shape is None
                                            else " x ".join(map(str, shape)) or "scalar")]
            if tap is None:
                reason = ins.unusable.get(name, "gives no map over time")
                cells.append(QTableWidgetItem(f"not usable: {reason}"))
                tip = f"{name} cannot be tapped: it {reason}. The interpreter needs maps " \
                      "over time."
                for cell in cells:
                    cell.setFlags(Qt.ItemFlag.NoItemFlags)  # greyed, cannot be ticked
            else:
                kind = kind_of(tap)
                cells.append(QTableWidgetItem(READ_AS[kind]))
                tip = f"{tap}: {explain(tap, ins.seconds)}"
                item.setData(TAP_ROLE, tap)
                item.setFlags(Qt.ItemFlag.ItemIsUserCheckable | Qt.ItemFlag.ItemIsEnabled)
                item.setCheckState(Qt.CheckState.Checked if tap in ins.suggested
                                   else Qt.CheckState.Unchecked)
                if tap in ins.suggested:  # found among dozens of rows at a glance
                    font = item.font()
                    font.setBold(True)
                    item.setFont(font)
                    tip += " Suggested: ticked at first."
                cells[1].setFlags(Qt.ItemFlag.ItemIsEnabled)
                cells[2].setFlags(Qt.ItemFlag.ItemIsEnabled)
                if kind != "map":
                    for cell in cells:
                        cell.setForeground(MARKED)
            for column, cell in enumerate(cells):
                cell.setToolTip(tip)
                self.setItem(row, column, cell)
        self.resizeColumnToContents(0)
        self.setColumnWidth(0, min(self.columnWidth(0), max(self.viewport().width() * 3 // 5,
                                                            240)))
        self.blockSignals(False)
        ticked = [i for i, item in self._usable_rows()
                  if item.checkState() == Qt.CheckState.Checked]
        if ticked:  # a transformer's blocks come after dozens of front-end layers
            # once the new rows are laid out (before that the scroll range is stale)
            QTimer.singleShot(0, self, lambda: self._scroll_to(ticked[0]))

    def _scroll_to(self, row: int) -> None:
        if row < self.rowCount():
            self.scrollToItem(self.item(row, 0), QTableWidget.ScrollHint.PositionAtCenter)

    def _usable_rows(self) -> list[tuple[int, QTableWidgetItem]]:
        rows = ((i, self.item(i, 0)) for i in range(self.rowCount()))
        return [(i, item) for i, item in rows if item.data(TAP_ROLE)]

    def tapped(self) -> list[str]:
        """The ticked layers' names as the plan records them (':tokens' and the like)."""
        return [item.data(TAP_ROLE) for _i, item in self._usable_rows()
                if item.checkState() == Qt.CheckState.Checked]

    def set_tapped(self, names: list[str]) -> None:
        """Tick these (named with or without their suffix); layers not usable stay off."""
        for _i, item in self._usable_rows():
            tap = item.data(TAP_ROLE)
            on = tap in names or layer_of(tap)[0] in names
            item.setCheckState(Qt.CheckState.Checked if on else Qt.CheckState.Unchecked)

    def show_unusable(self, on: bool) -> None:
        """Hide the greyed rows (a real transformer has hundreds of layers) or show them."""
        usable = {i for i, _item in self._usable_rows()}
        for i in range(self.rowCount()):
            self.setRowHidden(i, not on and i not in usable)

"""What plays and where: the original, the interpretation, the residual or one component,
always within the play range (``Choices.region``), once or in a loop; the range shaded
across every time view, typed or read in the range bar; "now playing" said there.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtGui import QValidator
from PySide6.QtWidgets import (
    QCheckBox,
    QDoubleSpinBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSizePolicy,
    QWidget,
)

from l2i_desktop import jobs
from l2i_desktop.audio import Player
from l2i_desktop.model import ClipResult, Session
from l2i_desktop.time_axis import clock
from l2i_desktop.time_views import TimeViews
from l2i_desktop.worker import EngineWorker, Lane

COMPONENT = Lane("component")
SHADE = (110, 170, 255, 60)  # a light blue: seen on dark pictures, which stay readable


def _seconds(text: str) -> float:
    """'97.5' or '1:37.5' (or '1:01:37.5') in seconds; ValueError otherwise."""
    value = 0.0
    for part in text.strip().split(":"):
        value = value * 60 + float(part)
    return value


class TimeBox(QDoubleSpinBox):
    """A time in the clip, shown and typed in the recording's time: seconds for a clip,
    the clock (1:37.5) for a window of a long recording (``origin`` s in)."""

    def __init__(self) -> None:
        super().__init__()
        self.origin = 0.0

    def set_origin(self, origin: float) -> None:
        self.origin = float(origin)
        self.setSuffix("" if self.origin else " s")
        self.lineEdit().setText(self.textFromValue(self.value()))

    def textFromValue(self, value: float) -> str:  # noqa: N802 - Qt's name
        return clock(self.origin + value) if self.origin else f"{value:.2f}"

    def valueFromText(self, text: str) -> float:  # noqa: N802 - Qt's name
        try:
            return _seconds(text.removesuffix(" s")) - self.origin
        except ValueError:
            return self.value()

    def validate(self, text: str, pos: int):  # a clock has colons: not a plain number
        try:
            value = _seconds(text.removesuffix(" s")) - self.origin
        except ValueError:
            return QValidator.State.Intermediate, text, pos
        ok = self.minimum() - 1e-9 <= value <= self.maximum() + 1e-9
        return (QValidator.State.Acceptable if ok else QValidator.State.Intermediate,
                text, pos)


class RangeBar(QWidget):
    """Start, end and duration of the play range (typed or read), loop, whole clip,
    and what is playing now."""

    def __init__(self) -> None:
        super().__init__()
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        self.start, self.end = TimeBox(), TimeBox()
        for box, tip in ((self.start, "Where the play range starts (type a time)"),
                         (self.end, "Where the play range ends (type a time)")):
            box.setDecimals(2)
            box.setSuffix(" s")
            box.setSingleStep(0.1)
            box.setKeyboardTracking(False)  # a typed time counts once Enter or focus out
            box.setToolTip(tip)
        self.duration = QLabel("")
        self.duration.setToolTip("How long the play range is")
        self.loop = QCheckBox("loop")
        self.loop.setToolTip("Play the range again and again until stopped")
        self.whole = QPushButton("whole clip")
        self.whole.setToolTip("Make the play range the whole clip")
        self.now = QLabel("")
        self.now.setObjectName("now_playing")
        self.now.setToolTip("What is playing, and which part of the clip")
        # it may shrink (a narrow window), never push the window wider than the screen
        self.now.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        row.addWidget(QLabel("play range"))
        for w in (self.start, QLabel("to"), self.end, self.duration, self.loop, self.whole):
            row.addWidget(w)
        row.addSpacing(12)
        row.addWidget(self.now, 1)

    def show_range(self, start: float, end: float, duration: float,
                   origin: float = 0.0) -> None:
        for box, value in ((self.start, start), (self.end, end)):
            box.blockSignals(True)  # shown, not typed
            box.setRange(0.0, duration)
            box.setValue(value)
            box.set_origin(origin)
            box.blockSignals(False)
        self.duration.setText(f"= {end - start:.2f} s")


class Playback:
    """The transport: plays what the session holds, within its play range."""

    def __init__(self, session: Session, player: Player, worker: EngineWorker,
                 views: TimeViews, bar: RangeBar) -> None:
        self.session, self.player, self.worker = session, player, worker
        self.views, self.bar = views, bar
        self._component_job = None
        self._what = ""
        self.shades: list[pg.LinearRegionItem] = []
        for plot in views.plots[1:]:
            self._shade(plot)
        views.lanes_changed.connect(lambda: self._shade(views.lanes[-1]))
        views.origin_changed.connect(lambda _o: self._show_range())
        bar.start.valueChanged.connect(lambda v: self._typed(v, None))
        bar.end.valueChanged.connect(lambda v: self._typed(None, v))
        bar.whole.clicked.connect(lambda: session.choose(region=None))
        player.playing_changed.connect(self._show_now)
        session.clip_changed.connect(self._on_clip)
        session.choices_changed.connect(self._on_choices)

    # ---- the range ---------------------------------------------------------------------
    def _shade(self, plot: pg.PlotItem) -> None:
        shade = pg.LinearRegionItem(movable=False, brush=pg.mkBrush(*SHADE),
                                    pen=pg.mkPen(None))
        shade.setZValue(8)  # over the pictures, under the cursor
        shade.hide()
        plot.addItem(shade)
        self.shades.append(shade)

    def range(self) -> tuple[float, float]:
        clip = self.session.clip
        whole = (0.0, clip.duration_s if clip is not None else 0.0)
        return self.session.choices.region or whole

    def _typed(self, start: float | None, end: float | None) -> None:
        clip = self.session.clip
        if clip is None:
            return
        lo, hi = self.range()
        lo, hi = (lo if start is None else start), (hi if end is None else end)
        if hi - lo < 0.01:  # an end before the start: keep the range as it was
            self._show_range()
            return
        whole = lo <= 1e-9 and hi >= clip.duration_s - 1e-9
        self.session.choose(region=None if whole else (round(lo, 4), round(hi, 4)))

    def _show_range(self) -> None:
        clip = self.session.clip
        if clip is None:
            return
        lo, hi = self.range()
        self.bar.show_range(lo, hi, clip.duration_s, self.views.time_origin)
        chosen = self.session.choices.region is not None
        # the waveform's own range (the one dragged) is shaded too while it is chosen
        self.views.region.setBrush(pg.mkBrush(*SHADE) if chosen else pg.mkBrush(None))
        self.views.region.update()
        for shade in self.shades:
            shade.setRegion((lo, hi))
            shade.setVisible(chosen)

    def _on_clip(self, _clip: ClipResult) -> None:
        self.player.stop()  # another clip: what played belongs to the last one
        self.views.set_cursor(self.range()[0])
        self._show_range()

    def _on_choices(self, changed: frozenset[str]) -> None:
        if "region" in changed:
            self._show_range()
            self.views.set_cursor(self.range()[0])

    # ---- playing -----------------------------------------------------------------------
    def current_audio(self, kind: str) -> np.ndarray | None:
        s = self.session
        if s.clip is None:
            return None
        if kind == "original":
            return s.clip.analysis.wave
        if s.rendering is None:
            return None
        return s.rendering.interpretation if kind == "interpretation" else s.rendering.residual

    def play(self, kind: str) -> None:
        self._component_job = None
        if kind == "stop":
            self.player.stop()
            return
        wave = self.current_audio(kind)
        if wave is not None:
            self.session.set_playing(kind)
            self._start(wave, self.session.clip.analysis.sample_rate, kind)

    def play_pause(self) -> None:
        self.play("stop" if self.player.is_playing else "interpretation")

    def toggle_loop(self) -> None:
        self.bar.loop.toggle()

    def play_component(self, k: int) -> None:
        s = self.session
        if s.clip is not None:
            s.set_playing("component")
            rate = s.clip.analysis.sample_rate
            self._component_job = self.worker.submit(
                COMPONENT, jobs.component, s.explainer, s.clip.analysis, k,
                done=lambda wave: self._play_component(wave, rate, k))

    def _play_component(self, wave: np.ndarray, rate: int, k: int) -> None:
        if self._component_job is not None:  # not if stop or another play came since
            self._start(wave, rate, f"component {k}")

    def _start(self, wave: np.ndarray, rate: int, what: str) -> None:
        lo, hi = self.range()
        o = self.views.time_origin
        self._what = f"{what} ({clock(o + lo)}-{clock(o + hi)})" if o else \
            f"{what} ({lo:.2f}-{hi:.2f} s)"
        self.player.play(wave, rate, lo, hi, loop=self.bar.loop.isChecked())
        self._show_now(self.player.is_playing)

    def _show_now(self, playing: bool) -> None:
        looped = ", looped" if playing and self.player.looping else ""
        self.bar.now.setText(f"▶ {self._what}{looped}" if playing and self._what else "")

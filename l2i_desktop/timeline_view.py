"""The timeline of a long recording: class probabilities per window of the bundle's clip
length, the top class of each window marked and named; a click on a window explains that
window in the main views.

``install_timeline(window)`` adds it above the main window's views. The windows are
computed by ``engine.timeline`` on the engine worker, a few batches per job (each job
queues the next), so a click or a tau change waits for one short job, not the hour.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyqtgraph as pg
import soundfile as sf
from PySide6.QtCore import QObject, QPoint, QPointF, Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from engine.errors import Cancelled
from engine.explain import Explainer
from engine.progress import TaskState, check
from engine.timeline import (
    Source,
    Timeline,
    TimelineStream,
    count_windows,
    is_long,
    read_window,
    window_samples,
)
from l2i_desktop import jobs

BATCHES_PER_JOB = 3  # about two seconds of CPU per job for the ESC-10 model
# longer files open on their timeline, first window explained: analysing an hour whole
# holds gigabytes (RELIABILITY.md); "Whole clip" still does it on request
TIMELINE_FIRST_S = 600.0
_CMAP = pg.colormap.get("viridis")


def clock(seconds: float) -> str:
    """m:ss, h:mm:ss past an hour, with tenths when the time is not whole seconds."""
    tenths = int(round(seconds * 10))
    s, t = divmod(tenths, 10)
    text = f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}" if s >= 3600 else \
        f"{s // 60}:{s % 60:02d}"
    return f"{text}.{t}" if t else text


class ClockAxis(pg.AxisItem):
    """Time as m:ss (h:mm:ss past an hour) instead of kiloseconds."""

    def tickStrings(self, values, scale, spacing):  # noqa: N802 - pyqtgraph's name
        return [clock(v) if spacing >= 1 else f"{v:.1f}" for v in values]


class TimelineView(QWidget):
    window_clicked = Signal(int)
    whole_clip = Signal()

    def __init__(self) -> None:
        super().__init__()
        self.timeline: Timeline | None = None
        self.title = QLabel("<b>Timeline</b>")
        self.source = QComboBox()
        for name in ("classifier", "interpreter"):
            self.source.addItem(name, name)
        self.source.currentIndexChanged.connect(lambda _i: self._draw())
        self.progress = QProgressBar()
        self.progress.setMaximumWidth(160)
        self.whole = QPushButton("Whole clip")
        self.whole.setToolTip("Show the whole recording in the views again")
        self.whole.clicked.connect(self.whole_clip.emit)
        head = QHBoxLayout()
        head.addWidget(self.title, 1)
        for w in (self.progress, QLabel("probabilities of the"), self.source, self.whole):
            head.addWidget(w)
        self.plot = pg.PlotWidget(background="w", axisItems={"bottom": ClockAxis("bottom")})
        self.plot.setMenuEnabled(False)
        self.plot.hideButtons()
        self.plot.setMouseEnabled(x=True, y=False)
        self.plot.getAxis("left").setWidth(110)
        self.image = pg.ImageItem(axisOrder="row-major")
        self.image.setColorMap(_CMAP)
        self.plot.addItem(self.image)
        self.bar = pg.ColorBarItem(values=(0, 1), colorMap=_CMAP, interactive=False,
                                   label="probability", width=12)
        self.bar.setImageItem(self.image, insert_in=self.plot.getPlotItem())
        self.tops = pg.ScatterPlotItem(size=6, brush=pg.mkBrush("w"), pen=pg.mkPen("k"))
        self.plot.addItem(self.tops)
        self.chosen = pg.LinearRegionItem(movable=False, brush=pg.mkBrush(255, 80, 80, 60),
                                          pen=pg.mkPen("#d62728", width=2))
        self.chosen.hide()
        self.plot.addItem(self.chosen)
        self.labels: list[pg.TextItem] = []
        self.plot.scene().sigMouseClicked.connect(self._on_click)
        self.plot.getViewBox().sigXRangeChanged.connect(lambda *_: self._label_runs())
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 0, 4, 0)
        lay.addLayout(head)
        lay.addWidget(self.plot, 1)
        self.setMinimumHeight(230)
        self.setMaximumHeight(300)

    def start(self, classes: list[str], duration_s: float, window_s: float, hop_s: float,
              estimated: int) -> None:
        """An empty timeline for a recording; windows arrive through ``add``."""
        c = len(classes)
        self.timeline = Timeline(np.zeros(0), window_s, hop_s, duration_s,
                                 np.zeros((0, c), np.float32), np.zeros((0, c), np.float32),
                                 list(classes))
        self.progress.setRange(0, max(1, estimated))
        self.progress.setValue(0)
        self.progress.show()
        self.chosen.hide()
        left = self.plot.getAxis("left")
        left.setTicks([[(i + 0.5, name) for i, name in enumerate(classes)]])
        self.plot.setXRange(0, duration_s, padding=0.005)
        self.plot.setYRange(0, c + 1.4, padding=0)
        self.plot.getViewBox().setLimits(xMin=0, xMax=duration_s, yMin=0, yMax=c + 1.4)
        self._draw()

    def add(self, starts: np.ndarray, clf: np.ndarray, interp: np.ndarray,
            estimated: int) -> None:
        t = self.timeline
        t.starts = np.concatenate([t.starts, starts])
        t.classifier = np.concatenate([t.classifier, clf])
        t.interpreter = np.concatenate([t.interpreter, interp])
        self.progress.setRange(0, max(estimated, len(t.starts)))
        self.progress.setValue(len(t.starts))
        self._draw()

    def stopped(self) -> None:  # cancelled: what was computed stays
        self.progress.hide()
        self.title.setText(self.title.text() + " (stopped)")

    def finish(self, duration_s: float) -> None:
        self.timeline.duration_s = duration_s
        self.progress.hide()
        self._draw()

    def highlight(self, index: int | None) -> None:
        """Mark the window shown in the views (None: the whole clip is shown)."""
        if index is None or self.timeline is None:
            self.chosen.hide()
            return
        t = self.timeline  # the window may be shown before the timeline reaches it
        start = float(t.starts[index]) if index < len(t.starts) else index * t.hop_s
        self.chosen.setRegion((start, start + self.timeline.window_s))
        self.chosen.show()

    def probabilities(self) -> np.ndarray:
        t = self.timeline
        return t.classifier if self.source.currentData() == "classifier" else t.interpreter

    def _draw(self) -> None:
        t = self.timeline
        if t is None:
            return
        n = len(t.starts)
        self.title.setText(f"<b>Timeline</b>: {n} windows of {t.window_s:g} s, hop "
                           f"{t.hop_s:g} s, over {clock(t.duration_s)}")
        if not n:
            self.image.clear()
            self.tops.clear()
            self._label_runs()
            return
        p = self.probabilities()
        # column i is centred on window i's centre, one hop wide
        self.image.setImage(p.T, levels=(0, 1), autoLevels=False)
        x0 = t.window_s / 2 - t.hop_s / 2
        self.image.setRect(x0, 0, n * t.hop_s, p.shape[1])
        self.tops.setData(t.centres, np.argmax(p, axis=1) + 0.5)
        self._label_runs()

    def _label_runs(self) -> None:
        """The top class named above each run of windows that share it, where the name
        fits on screen (labels are dropped rather than drawn over each other)."""
        for item in self.labels:
            self.plot.removeItem(item)
        self.labels = []
        t = self.timeline
        if t is None or not len(t.starts):
            return
        top = np.argmax(self.probabilities(), axis=1)
        (lo, hi), width = self.plot.viewRange()[0], max(self.plot.width() - 130, 50)
        per_char = 7.0 * (hi - lo) / width  # seconds one character takes on screen
        edges = np.flatnonzero(np.diff(top)) + 1
        free_from = -np.inf
        for a, b in zip(np.r_[0, edges], np.r_[edges, len(top)]):
            name = t.classes[top[a]]
            x = (t.centres[a] + t.centres[b - 1]) / 2
            half = len(name) * per_char / 2
            if x - half < free_from or x + half < lo or x - half > hi:
                continue
            label = pg.TextItem(name, color="#222", anchor=(0.5, 0.0))
            label.setPos(x, len(t.classes) + 1.35)
            self.plot.addItem(label)
            self.labels.append(label)
            free_from = x + half + per_char

    def point_of(self, seconds: float) -> QPoint:
        """The pixel of the plot's viewport at a time, half-way up the classes."""
        vb = self.plot.getViewBox()
        rows = len(self.timeline.classes) if self.timeline is not None else 1
        return self.plot.mapFromScene(vb.mapViewToScene(QPointF(seconds, rows / 2)))

    def _on_click(self, event) -> None:
        if event.button() != Qt.MouseButton.LeftButton or self.timeline is None \
                or not len(self.timeline.starts):
            return
        vb = self.plot.getViewBox()
        if not vb.sceneBoundingRect().contains(event.scenePos()):
            return
        seconds = vb.mapSceneToView(event.scenePos()).x()
        self.window_clicked.emit(self.timeline.index_at(seconds))


@dataclass
class WindowResult(jobs.ClipResult):
    """One window of a long recording, analysed as a clip of its own."""

    index: int
    start_s: float


@dataclass
class _Run:
    """One timeline being computed: lives on the worker between chunk jobs."""

    explainer: Explainer
    source: Source
    stream: TimelineStream | None = None
    stale: bool = False  # replaced by another clip or bundle: stop at the next job


@dataclass
class _Chunk:
    run: _Run
    batches: list
    estimated: int
    finished: bool
    duration_s: float
    error: str | None = None


def advance(run: _Run, batches: int, waiting: Callable[[], bool],
            task: TaskState | None = None) -> _Chunk:
    """Worker job: up to ``batches`` batches of windows, fewer when other jobs wait (a
    click, a tau change). Esc or closing cancels it through ``task``. Other errors come
    back as a message, so a timeline replaced meanwhile (another clip or bundle) is quiet."""
    try:
        if run.stale:
            raise RuntimeError("replaced")
        if run.stream is None:
            run.stream = TimelineStream(run.explainer, run.source)
        got = []
        for batch in run.stream:
            got.append(batch)
            check(task)
            if len(got) >= batches or waiting():
                break
    except Exception as exc:  # noqa: BLE001 - shown in the window, as the worker does
        if run.stream is not None:
            run.stream.close()
        if isinstance(exc, Cancelled):
            raise
        return _Chunk(run, [], 0, True, 0.0, " ".join(str(exc).split()) or type(exc).__name__)
    s = run.stream
    finished = s.n_samples is not None and s.done >= s.estimated_windows
    if finished:
        s.close()
    return _Chunk(run, got, s.estimated_windows, finished,
                  (s.n_samples or s.estimated_samples) / s.rate)


def analyse_window(explainer: Explainer, source: Source, path: Path, index: int,
                   start_s: float, tau: float, task: TaskState | None = None) -> WindowResult:
    """Worker job: one window read from the file alone and explained like a clip."""
    rate = explainer.cfg.sample_rate
    wave = read_window(source, start_s, window_samples(explainer) / rate, rate)
    clip = jobs.analyse_clip(explainer, path, None, tau, (wave, rate), task)
    return WindowResult(**vars(clip), index=index, start_s=start_s)


class TimelineController(QObject):
    """Starts a timeline when a long clip has been analysed, feeds it chunk by chunk, and
    turns clicks into window analyses, shown by the main window's own handler."""

    def __init__(self, window) -> None:
        super().__init__(window)
        self.window = window
        self.view = TimelineView()
        self.view.hide()
        self.run: _Run | None = None  # while windows are being computed
        self.path: Path | None = None  # the recording on the timeline, and its source
        self.source: Source | None = None
        self.explainer: Explainer | None = None
        window.worker.finished.connect(self._on_finished)  # after the window's handler
        window.worker.failed.connect(self._on_failed)
        self.view.window_clicked.connect(self.explain_window)
        self.view.whole_clip.connect(self.show_whole_clip)

    def _on_finished(self, kind: str, _rid: int, result) -> None:
        if kind == "bundle":
            self._stop()  # the window re-analyses the clip with the new model
            self.explainer = None
        elif kind == "analyse" and isinstance(result, WindowResult):
            self.view.highlight(result.index)
            self.window.statusBar().showMessage(
                f"{result.path.name}: window {clock(result.start_s)} to "
                f"{clock(result.start_s + self.view.timeline.window_s)}")
        elif kind == "analyse":
            self._clip_analysed(result)
        elif kind == "timeline" and result.run is self.run:
            self._chunk(result)

    def _clip_analysed(self, clip: jobs.ClipResult) -> None:
        explainer = self.window.explainer
        window = window_samples(explainer)
        if not is_long(clip.analysis.n_samples, window):
            self._stop()
            self.view.hide()
            self.explainer = None
            return
        is_file = clip.path.exists()
        if is_file and self.path == clip.path and self.explainer is explainer:
            self.view.highlight(None)  # the same recording again, whole: keep its timeline
            return
        self._stop()
        self.path, self.explainer = clip.path, explainer
        self.source = clip.path if is_file else clip.analysis.wave
        self.run, rate = _Run(explainer, self.source), explainer.cfg.sample_rate
        self.view.start(explainer.bundle.classes, clip.duration_s, window / rate,
                        window // 2 / rate,
                        count_windows(clip.analysis.n_samples, window, window // 2))
        self.view.show()
        self._next()

    def open_long(self, path: Path) -> bool:
        """Open a file longer than TIMELINE_FIRST_S on its timeline, explaining its first
        window; False for shorter files (and any file soundfile cannot probe), which
        the window analyses whole as before."""
        win, explainer = self.window, self.window.explainer
        try:
            info = sf.info(str(path))
            seconds = info.frames / info.samplerate
        except Exception:  # noqa: BLE001 - the whole-clip path reports a bad file
            return False
        if seconds <= TIMELINE_FIRST_S:
            return False
        rate, window = explainer.cfg.sample_rate, window_samples(explainer)
        n_samples = -(-info.frames * rate // info.samplerate)
        self._stop()
        self.path = self.source = Path(path)
        self.explainer = explainer
        self.run = _Run(explainer, self.source)
        self.view.start(explainer.bundle.classes, seconds, window / rate, window // 2 / rate,
                        count_windows(n_samples, window, window // 2))
        self.view.show()
        win.target = None
        win.worker.submit("analyse", analyse_window, explainer, self.source, self.path, 0,
                          0.0, win.tau, cancellable=True)
        self._next()
        return True

    def _chunk(self, chunk: _Chunk) -> None:
        if chunk.error is not None:
            self.window.show_error(f"timeline: {chunk.error}")
            self.run = None
            return
        for starts, clf, interp in chunk.batches:
            self.view.add(starts, clf, interp, chunk.estimated)
        if chunk.finished:
            self.view.finish(chunk.duration_s)
            self.run = None
            return
        self._next()

    def _next(self) -> None:
        worker = self.window.worker
        worker.submit("timeline", advance, self.run, BATCHES_PER_JOB, worker.has_waiting_jobs,
                      cancellable=True)

    def _on_failed(self, kind: str, _rid: int, _message: str) -> None:
        if kind == "timeline" and self.run is not None:  # cancelled (Esc): keep what is done
            self.run = None
            self.view.stopped()

    def _stop(self) -> None:
        """Drop the timeline being computed: its next job closes its file (or, if that job
        is superseded first, the file closes when the stream is garbage-collected)."""
        if self.run is not None:
            self.run.stale = True
        self.run = None

    def explain_window(self, index: int) -> None:
        t, win = self.view.timeline, self.window
        if self.source is None or win.explainer is None or t is None:
            return
        win.target = None  # each window is explained for its own top class first
        win.statusBar().showMessage(f"analysing the window at {clock(t.starts[index])}...")
        win.worker.submit("analyse", analyse_window, win.explainer, self.source,
                          self.path, index, float(t.starts[index]), win.tau, cancellable=True)

    def show_whole_clip(self) -> None:
        win = self.window
        if self.source is None or win.explainer is None:
            return
        recorded = None if isinstance(self.source, Path) else \
            (self.source, win.explainer.cfg.sample_rate)
        win.target = None
        win.worker.submit("analyse", jobs.analyse_clip, win.explainer, self.path, None,
                          win.tau, recorded, cancellable=True)


def install_timeline(window) -> TimelineController:
    """Put the timeline above the views of a MainWindow (hidden until a long clip)."""
    controller = TimelineController(window)
    window.centralWidget().layout().insertWidget(0, controller.view)
    window.timeline = controller
    return controller

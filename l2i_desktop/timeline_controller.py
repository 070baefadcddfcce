"""Feeding the timeline of a long recording (``timeline_view.TimelineView``): the windows
are computed by ``engine.tools.timeline`` on the engine worker, a few batches per job (each job
queues the next), so a click or a tau change waits for one short job, not the hour.

``install(host)`` adds the view above the window's views (l2i_desktop/host.py).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import soundfile as sf
from PySide6.QtCore import QObject

from engine.runtime.errors import Cancelled
from engine.runtime.progress import TaskState, check
from l2i_desktop import jobs
from l2i_desktop.host import Host
from l2i_desktop.model import ClipResult, ClipSource
from l2i_desktop.time_axis import clock
from l2i_desktop.timeline_view import TimelineView
from l2i_desktop.worker import Lane

if TYPE_CHECKING:  # torch is first imported on the worker, with the model (jobs.py)
    from engine.explanation.explain import Explainer
    from engine.tools.timeline import Source, TimelineStream

BATCHES_PER_JOB = 3  # about two seconds of CPU per job for the ESC-10 model
# longer files open on their timeline, first window explained: analysing an hour whole
# holds gigabytes (RELIABILITY.md); "Whole clip" still does it on request
TIMELINE_FIRST_S = 600.0


@dataclass
class WindowResult(ClipResult):
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
    from engine.tools.timeline import TimelineStream

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


def analyse_window(explainer: Explainer, source: Source, clip: ClipSource, index: int,
                   start_s: float, tau: float, target: int | None = None,
                   task: TaskState | None = None) -> WindowResult:
    """Worker job: one window read from the file alone and explained like a clip, for
    ``target`` (None: its top class)."""
    from engine.tools.timeline import read_window, window_samples

    rate = explainer.cfg.sample_rate
    wave = read_window(source, start_s, window_samples(explainer) / rate, rate)
    result = jobs.analyse_clip(explainer, dataclasses.replace(clip, start_s=float(start_s)),
                               target, tau, (wave, rate), task)
    return WindowResult(**vars(result), index=index, start_s=start_s)


TIMELINE = Lane("timeline")


class TimelineController(QObject):
    """Starts a timeline when a long clip has been analysed, feeds it chunk by chunk, and
    turns clicks into window analyses, shown as any clip is."""

    def __init__(self, host: Host) -> None:
        super().__init__(host.window)
        self.host = host
        self.view = TimelineView()
        self.view.hide()
        self.run: _Run | None = None  # while windows are being computed
        self.clip: ClipSource | None = None  # the recording on the timeline
        self.source: Source | None = None  # where its samples are read from
        self.explainer: Explainer | None = None
        host.session.bundle_changed.connect(self._on_bundle)
        host.session.clip_changed.connect(self._on_clip)
        host.clip_openers.append(self.open_long)
        self.view.window_clicked.connect(self.explain_window)
        self.view.whole_clip.connect(self.show_whole_clip)
        self.view.hovered.connect(host.status)

    def _on_bundle(self, _explainer) -> None:
        self._stop()  # the window re-analyses the clip with the new model
        self.explainer = None

    def _on_clip(self, clip: ClipResult) -> None:
        self._set_time_origin(clip.start_s if isinstance(clip, WindowResult) else 0.0)
        if isinstance(clip, WindowResult):
            self.view.highlight(clip.index)
            session = self.host.session
            self.host.status(f"{clip.source.name}: window {clock(clip.start_s)} to "
                             f"{clock(clip.start_s + self.view.timeline.window_s)}, "
                             f"explaining {session.class_name(session.explained_class())}")
        else:
            self._clip_analysed(clip)

    def _set_time_origin(self, seconds: float) -> None:
        """The views read in the recording's time while they show one of its windows,
        in the clip's own seconds otherwise. Only on a change: the axis's label is set
        with it, and live input labels the axis itself (live_panel.py) on every hop."""
        if self.host.views.time_origin != seconds:
            self.host.views.set_time_origin(seconds)

    def _clip_analysed(self, clip: ClipResult) -> None:
        # a clip was analysed: the model, and torch with it, is loaded already
        from engine.tools.timeline import count_windows, is_long, window_samples

        explainer = self.host.session.explainer
        window = window_samples(explainer)
        if not is_long(clip.analysis.n_samples, window):
            self._stop()
            self.view.hide()
            self.explainer = None
            return
        if clip.source.is_file and self.clip == clip.source and self.explainer is explainer:
            self.view.highlight(None)  # the same recording again, whole: keep its timeline
            return
        self._stop()
        self.clip, self.explainer = clip.source, explainer
        self.source = clip.source.path if clip.source.is_file else clip.analysis.wave
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
        from engine.tools.timeline import count_windows, window_samples  # model loaded

        session = self.host.session
        explainer = session.explainer
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
        self.clip, self.source = ClipSource.file(Path(path)), Path(path)
        self.explainer = explainer
        self.run = _Run(explainer, self.source)
        self.view.start(explainer.bundle.classes, seconds, window / rate, window // 2 / rate,
                        count_windows(n_samples, window, window // 2))
        self.view.show()
        session.explain_top_class()
        self.host.analyse(analyse_window, explainer, self.source, self.clip, 0, 0.0,
                          session.tau)
        self._next()
        return True

    def _chunk(self, chunk: _Chunk) -> None:
        if chunk.run is not self.run:
            return  # a timeline replaced meanwhile
        if chunk.error is not None:
            self.host.show_error(f"timeline: {chunk.error}")
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
        worker = self.host.worker
        worker.submit(TIMELINE, advance, self.run, BATCHES_PER_JOB, worker.has_waiting_jobs,
                      cancellable=True, done=self._chunk, failed=self._failed)

    def _failed(self, message: str) -> None:
        if self.run is not None:  # cancelled (Esc): keep what is done
            self.run = None
            self.view.stopped()
        self.host.show_error(message)

    def _stop(self) -> None:
        """Drop the timeline being computed: its next job closes its file (or, if that job
        is superseded first, the file closes when the stream is garbage-collected)."""
        if self.run is not None:
            self.run.stale = True
        self.run = None

    def explain_window(self, index: int, row: int | None = None) -> None:
        """Show window ``index`` in the views, explaining the class of the row clicked
        (an undoable choice: Undo goes to the window's top class), or its top class
        when ``row`` is None (a click above the rows)."""
        t, session = self.view.timeline, self.host.session
        if self.source is None or session.explainer is None or t is None:
            return
        session.explain_top_class()  # a new window starts a new set of choices
        if row is not None:
            session.choose(target=int(row))
        what = f" for {session.class_name(int(row))}" if row is not None else ""
        self.host.status(f"analysing the window at {clock(t.starts[index])}{what}...")
        self.host.analyse(analyse_window, session.explainer, self.source, self.clip, index,
                          float(t.starts[index]), session.tau, session.target)

    def show_whole_clip(self) -> None:
        session = self.host.session
        if self.source is None or session.explainer is None:
            return
        recorded = None if isinstance(self.source, Path) else \
            (self.source, session.explainer.cfg.sample_rate)
        session.explain_top_class()
        self.host.analyse(jobs.analyse_clip, session.explainer, self.clip, None,
                          session.tau, recorded)


def install(host: Host) -> TimelineController:
    """The timeline above the window's views (hidden until a long clip)."""
    controller = TimelineController(host)
    host.put_above_views(controller.view)
    return controller

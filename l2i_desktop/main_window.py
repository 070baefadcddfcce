"""The analysis window: open a clip, see why the classifier decided, and hear it.

The window composes views over a Qt-free ``Session`` (l2i_desktop/model): the views show
the session and report the user's choices to it; the window turns the session's changes
into engine jobs whose results go back into the session.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QFileDialog, QMainWindow

from engine.runtime.errors import L2IError
from l2i_desktop import (
    corruption_dialog,
    display_controls,
    figure_export,
    jobs,
    labels_tool,
    live_panel,
    lmac_panel,
    navigation,
    report_dialog,
    slime_panel,
    theme,
    timeline_controller,
)
from l2i_desktop.audio import Player
from l2i_desktop.host import Host
from l2i_desktop.layout import build_layout, place_window, remember_window
from l2i_desktop.linking import connect_linking
from l2i_desktop.loading import AfterFirstPaint, ModelLoading
from l2i_desktop.menus import add_file_extras, add_view_kinds, build_menus, declare
from l2i_desktop.model import ClipResult, ClipSource, Session
from l2i_desktop.opening import OpeningMixin
from l2i_desktop.playback import Playback, RangeBar
from l2i_desktop.recording_flow import RecordingFlow
from l2i_desktop.settings import Settings
from l2i_desktop.trust_view import TrustMeter
from l2i_desktop.worker import EXPLAIN, RENDER, EngineWorker, Lane

if TYPE_CHECKING:  # torch is first imported on the worker, with the model (jobs.py)
    from engine.explanation.explain import Rendering

BUNDLE, EXPORT = Lane("bundle"), Lane("export")
# every tool, installed in this order (menus entries follow it): name, install(host)
TOOLS = (("display", display_controls.install), ("navigation", navigation.install),
         ("corruption", corruption_dialog.install), ("live", live_panel.install),
         ("report", report_dialog.install), ("timeline", timeline_controller.install),
         ("slime", slime_panel.install), ("lmac", lmac_panel.install),
         ("figure", figure_export.install), ("labels", labels_tool.install))


class MainWindow(OpeningMixin, QMainWindow):
    def __init__(self, bundle_path: Path | None, settings: Settings | None = None) -> None:
        super().__init__()
        self.setWindowTitle("L2I Desktop")
        self.settings = settings or Settings()
        self.setAcceptDrops(True)
        self.session = Session(tau=self.settings.tau())
        self.worker = EngineWorker(on_failure=self.show_error)
        self.player = Player()
        self.player.error.connect(self.show_error)
        self.shown: ClipSource | None = None  # whose explanation is on screen
        self._new_clip = False
        build_layout(self)  # l2i_desktop/layout.py: views, panels, transport
        self.loading = ModelLoading(self, self.welcome, self.statusBar().showMessage)
        self.first_paint = AfterFirstPaint(self)  # the model loads once the window is drawn
        self.range_bar = RangeBar()
        self.centralWidget().layout().insertWidget(1, self.range_bar)
        self.playback = Playback(self.session, self.player, self.worker, self.views,
                                 self.range_bar)
        self.recordings = RecordingFlow(self, self.session, self.settings,
                                        lambda *a: self.host.analyse(*a), self.show_error,
                                        self.statusBar().showMessage)
        self.menus, self.menu_actions = build_menus(self, declare(self))
        self.recent_menu = add_file_extras(self, self.menus, self.menu_actions)
        self._fill_recent()
        add_view_kinds(self, self.menus["view"])
        self.host = Host(self, self.session, self.worker, self.settings, self.views,
                         self.menus, self.present, self.analysis_failed,
                         lambda w: self.centralWidget().layout().insertWidget(0, w),
                         self.recordings)
        self._follow_session()  # first: tools that follow it draw over the window's views
        self.tools = self.host.tools
        for name, install in TOOLS:
            self.tools[name] = install(self.host)
        self._connect_views()
        connect_linking(self.session, self.views, self.relevance, self.components,
                        self.statusBar().showMessage)  # bars, rows, H and tau, linked
        self.set_has_clip(False)
        self._show_tau(self.session.tau)
        place_window(self)  # layout.py: fitted to its screen; the colours follow the system
        theme.follow_system(self, self.settings.color_scheme())
        if bundle_path is not None:
            self.open_bundle(bundle_path)

    def _follow_session(self) -> None:
        s = self.session
        s.bundle_changed.connect(self._on_bundle)
        s.clip_changed.connect(self._on_clip)
        s.explanation_changed.connect(self._on_explanation)
        s.rendering_changed.connect(self._on_rendering)
        s.choices_changed.connect(self._on_choices)
        s.history.changed.connect(self._on_history)
        self.trust_meter = TrustMeter(s, self.worker)  # trust of what plays, measured
        s.trust_changed.connect(lambda t: self.trust_view.show_session(s))
        self._on_history(s.history)

    def _connect_views(self) -> None:
        s = self.session
        self.tools["live"].live_changed.connect(lambda on: self.show_views() if on else None)
        self.views.hovered.connect(lambda t: self.statusBar().showMessage(t))
        self.views.region_chosen.connect(lambda r: s.choose(region=r))
        self.relevance.tau_changed.connect(lambda t: s.choose(tau=t))
        self.tau_slider.valueChanged.connect(lambda v: s.choose(tau=v / 100))
        self.predictions.target_changed.connect(lambda t: s.choose(target=int(t)))
        self.components.toggled.connect(s.toggle)
        self.components.play_component.connect(self.play_component)
        self.player.position.connect(self.views.set_cursor)
        self.welcome.open_requested.connect(self.ask_clip)
        self.welcome.record_requested.connect(self.recordings.ask_record)
        self.welcome.example_chosen.connect(self.open_clip)

    @property
    def shown_clip(self) -> Path | None:
        """The file whose explanation is on screen (None for a recording, or nothing)."""
        return self.shown.path if self.shown is not None else None

    def show_views(self) -> None:
        """Leave the welcome page for the views (a clip or live input is on its way)."""
        self.pages.setCurrentIndex(1)

    def set_has_clip(self, has: bool) -> None:
        """Controls that act on a clip are enabled only while there is one."""
        for button in self.buttons.values():
            button.setEnabled(has)
        self.range_bar.setEnabled(has)
        self.menu_actions["export"].setEnabled(has)

    # ---- requests -------------------------------------------------------------------
    def open_bundle(self, path: Path, trust_code: bool = False) -> None:
        """``trust_code``: the bundle's classifier may run its own Python code."""
        self.loading.start(Path(path).name, first=self.session.explainer is None)
        self.first_paint.then(lambda: self.worker.submit(
            BUNDLE, jobs.open_bundle, Path(path), trust_code, done=self._bundle_opened,
            failed=self._bundle_failed))

    def _fill_recent(self) -> None:
        self.recent_menu.clear()
        for path in self.settings.recent_files():
            act = self.recent_menu.addAction(str(path))
            act.triggered.connect(lambda _c=False, p=path: self.open_clip(p))
        self.recent_menu.setEnabled(bool(self.settings.recent_files()))

    def open_clip(self, path: Path) -> None:
        if not self.recordings.may_drop():
            return
        if self.session.explainer is None:  # loading (loading.py): analysed when ready
            self.loading.keep(Path(path))
            return
        self.statusBar().showMessage(f"analysing {Path(path).name}...")
        self.show_views()
        self.session.explain_top_class()  # a new clip: its own top class first
        if any(opener(Path(path)) for opener in self.host.clip_openers):
            return  # a tool took it (an hour-long file: its timeline)
        self.host.analyse(jobs.analyse_clip, self.session.explainer,
                          ClipSource.file(Path(path)), None, self.session.tau)

    def _explain(self) -> None:
        s = self.session
        if s.clip is None or s.explainer is None:
            return
        c, analysis = s.choices, s.clip.analysis
        self.worker.submit(EXPLAIN, jobs.explain, s.explainer, analysis,
                           s.explained_class(), c.tau, c.muted, c.soloed,
                           done=lambda p: self._explained(p, analysis))

    def _render(self) -> None:
        s = self.session
        if s.clip is not None:
            exp = s.explanation
            self.worker.submit(RENDER, jobs.render, s.explainer, s.clip.analysis,
                               s.active_components(),
                               done=lambda p: self._rendered(p, exp))

    # ---- results into the session --------------------------------------------------
    def _bundle_opened(self, result: jobs.BundleResult) -> None:
        self.loading.finished()
        self.components.set_patterns(result.patterns)
        pending = self.loading.take_pending() or (self.session.clip.path if self.session.clip
                                                  else None)
        previous = self.session.explainer
        self.session.set_bundle(result.explainer)
        if previous is not None:  # its hooks must not stay on a model nobody uses; after
            # the jobs already queued with it (FIFO), so none of them finds it closed
            self.worker.submit(Lane(f"close-{id(previous)}"), previous.close)
        if pending is not None:  # the same clip again, through the new model
            self.open_clip(pending)

    def _bundle_failed(self, message: str) -> None:
        self.loading.failed(message)
        self.show_error(message)

    def present(self, clip: ClipResult) -> None:
        """An analysis came back: it becomes the session's clip."""
        self.error_label.setText("")
        self._new_clip = True
        self.session.set_clip(clip)
        self._new_clip = False
        self._resync()

    def _resync(self) -> None:
        """After an analysis (done or failed), which superseded the explanations and
        renderings asked for meanwhile: ask again for what the choices say now."""
        s = self.session
        if s.explanation is None or s.rendering is None:
            return
        exp = s.explanation
        if abs(exp.threshold - s.tau) > 1e-9 or exp.target != s.explained_class():
            self._explain()  # tau or the class changed while it was being analysed
        elif list(s.rendering.indices) != s.active_components():
            self._render()  # mute or solo made meanwhile

    def _explained(self, p: jobs.Explained, analysis) -> None:
        if self.session.clip is None or self.session.clip.analysis is not analysis:
            return  # of the clip before: asked while the new one was being analysed
        self.error_label.setText("")
        self.session.set_explanation(p.explanation, p.rendering)
        played = p.rendering.indices if p.rendering is not None else p.explanation.selected
        if list(played) != self.session.active_components():
            self._render()  # mute or solo changed while it was computed (a quick redo)

    def _rendered(self, rendering: Rendering, exp) -> None:
        s = self.session  # stale if the explanation or the choice moved on meanwhile
        if exp is s.explanation and list(rendering.indices) == s.active_components():
            s.set_rendering(rendering)

    # ---- the session, shown --------------------------------------------------------
    def _on_bundle(self, explainer) -> None:
        self.error_label.setText("")
        b = explainer.bundle
        self.setWindowTitle(f"L2I Desktop — {b.name} (K={b.k}, {len(b.classes)} classes)")
        self.welcome.set_model(f"Model: <b>{b.name}</b>, which tells apart "
                               f"{len(b.classes)} classes: {', '.join(b.classes)}")
        restored = self.session.clip is None and self.settings.has_tau()
        self.statusBar().showMessage(f"bundle {b.name} ready" + (
            f"; tau {self.session.tau:.2f} restored from your last session" if restored
            else ""))
        if b.path is not None:
            self.settings.set_bundle(b.path)

    def _on_clip(self, clip: ClipResult) -> None:
        self.show_views()
        self.set_has_clip(True)
        a = clip.analysis
        values = {"log_mag": a.log_mag.cpu().numpy(), "log_mel": a.log_mel.cpu().numpy(),
                  "H": a.H.cpu().numpy()}
        self.views.show_clip(clip.envelope, clip.duration_s, a.sample_rate, values)
        # the views now, the activations and side panels a turn later: short paints
        QTimer.singleShot(0, self.views.show_activations)
        if clip.path is not None:  # recordings have no file to reopen
            self.settings.add_recent(clip.path)
            self._fill_recent()
        self.statusBar().showMessage(f"{clip.source.name}: analysed")

    def _on_explanation(self, exp) -> None:
        if self._new_clip:
            QTimer.singleShot(0, lambda: self._draw_explanation(exp))
        else:
            self._draw_explanation(exp)

    def _draw_explanation(self, exp) -> None:
        s = self.session
        if exp is not s.explanation or s.clip is None:
            return  # a newer one came meanwhile
        self.shown = s.clip.source
        a = s.clip.analysis
        self.predictions.show_predictions(a.classes, a.probabilities,
                                          a.interpreter_probabilities, exp.target,
                                          s.explainer.bundle.multilabel)
        self.relevance.show_relevance(exp.relevance, exp.threshold)
        self.components.show_components(exp.selected, exp.relevance)
        self.components.show_toggles(s.choices.muted, s.choices.soloed)
        self.views.mark_components(exp.selected)

    def _on_rendering(self, rendering) -> None:
        exp = self.session.explanation
        self.views.note_interpretation(
            None if rendering.indices or exp is None else
            f"no component above tau = {exp.threshold:.2f}; lower tau" if not exp.selected
            else "every selected component is muted")
        self.views.show_interpretation(rendering.log_mag)
        if self.player.is_playing and self.session.playing in ("interpretation", "residual"):
            self.player.replace(self.playback.current_audio(self.session.playing))

    def _on_choices(self, changed: frozenset[str]) -> None:
        c = self.session.choices
        if "tau" in changed:
            self._show_tau(c.tau)
            self.settings.set_tau(c.tau)
        if "region" in changed:
            self.views.set_region(c.region)
        if changed & {"muted", "soloed"}:
            self.components.show_toggles(c.muted, c.soloed)
        if changed & {"target", "tau"}:
            self._explain()  # it renders any mute/solo kept with it
        elif changed & {"muted", "soloed"}:
            self._render()

    def _show_tau(self, tau: float) -> None:
        self.tau_label.setText(f"relevance threshold tau {tau:.2f}")
        self.tau_slider.blockSignals(True)  # the session already has it
        self.tau_slider.setValue(round(tau * 100))
        self.tau_slider.blockSignals(False)

    def _on_history(self, history) -> None:
        for key, text in (("undo", history.undo_text()), ("redo", history.redo_text())):
            act = self.menu_actions[key]
            act.setEnabled(text is not None)
            act.setText(f"&{key.capitalize()} {text}" if text else f"&{key.capitalize()}")

    def show_error(self, message: str) -> None:
        self.error_label.setText(message)
        self.statusBar().showMessage(message)

    def analysis_failed(self, message: str) -> None:
        self.show_error(message)
        self._resync()
        if self.session.clip is None:  # nothing to show: the ways to start
            self.pages.setCurrentIndex(0)

    # ---- audio ------------------------------------------------------------------------
    def play(self, kind: str) -> None:
        self.playback.play(kind)  # l2i_desktop/playback.py: range, loop, now playing

    def play_pause(self) -> None:
        self.playback.play_pause()

    def play_component(self, k: int) -> None:
        self.playback.play_component(k)

    # ---- export and dialogs -----------------------------------------------------------
    def export_to(self, folder: Path) -> None:
        """Pictures drawn now (Qt painting, in memory), then every file written on the
        worker and moved into ``folder`` together: a full disk leaves nothing partial."""
        s = self.session
        if s.clip is None or s.explanation is None:
            self.show_error("Nothing to export yet: open a clip first.")
            return
        try:
            folder.mkdir(parents=True, exist_ok=True)
            pictures = figure_export.explanation_pictures(s, self.views.spectrum_kind)
        except (L2IError, OSError, RuntimeError) as exc:
            self.show_error(str(exc))
            return
        self.worker.submit(EXPORT, jobs.export_data, folder, s.explainer, s.clip,
                           s.explanation, s.rendering, pictures, done=self._exported)

    def _exported(self, written: list[Path]) -> None:  # every file, the pictures too
        self.statusBar().showMessage(f"exported {len(written)} files to {written[0].parent}")

    def ask_export(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Export to folder",
                                                  self.settings.last_folder())
        if folder:
            self.export_to(Path(folder))

    # ---- lifetime ---------------------------------------------------------------------
    def closeEvent(self, event) -> None:  # noqa: N802 - Qt's name
        if not self.recordings.may_drop():
            event.ignore()
            return
        remember_window(self)  # per screen (layout.py)
        for name, splitter in self.splitters.items():
            self.settings.set_splitter_sizes(name, splitter.sizes())
        self.player.stop()
        self.worker.stop()
        super().closeEvent(event)

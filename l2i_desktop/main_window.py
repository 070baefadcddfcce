"""The analysis window: open a clip, see why the classifier decided, and hear it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QPushButton,
    QSlider,
    QSplitter,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from engine.explanation.explain import Rendering
from engine.runtime.errors import L2IError
from l2i_desktop import jobs
from l2i_desktop.audio import Player
from l2i_desktop.corruption_dialog import install_corruption
from l2i_desktop.export import export_view_png
from l2i_desktop.live_panel import install_live
from l2i_desktop.manifest_dialog import ManifestDialog
from l2i_desktop.menus import build_menus
from l2i_desktop.opening import OpeningMixin
from l2i_desktop.recording_flow import RecordingMixin
from l2i_desktop.relevance_view import RelevanceView
from l2i_desktop.report_dialog import install_report
from l2i_desktop.settings import Settings
from l2i_desktop.side_panels import ComponentsPanel, PredictionsPanel
from l2i_desktop.slime_panel import install_slime
from l2i_desktop.time_views import TimeViews
from l2i_desktop.timeline_controller import install_timeline
from l2i_desktop.welcome import WelcomePanel
from l2i_desktop.worker import EngineWorker


class MainWindow(RecordingMixin, OpeningMixin, QMainWindow):
    def __init__(self, bundle_path: Path | None, settings: Settings | None = None) -> None:
        super().__init__()
        self.setWindowTitle("L2I Desktop")
        self.settings = settings or Settings()
        self.setAcceptDrops(True)
        self.worker = EngineWorker()
        self.worker.finished.connect(self._on_finished)
        self.worker.failed.connect(self._on_failed)
        self.player = Player()
        self.player.error.connect(self.show_error)
        self.explainer = None
        self.unsaved_recording: tuple[np.ndarray, int] | None = None
        self.clip: jobs.ClipResult | None = None
        self.explanation = None
        self.rendering = None
        self.tau = self.settings.tau()
        self.target: int | None = None  # the class to explain; None: the top one
        self.shown_clip: Path | None = None  # the clip whose results are on screen
        self._pending_clip: Path | None = None
        self._component_request: int | None = None
        self.playing_kind: str | None = None
        self._build()
        self.tau_slider.setValue(round(self.tau * 100))
        if self.settings.geometry() is not None:
            self.restoreGeometry(self.settings.geometry())
        if bundle_path is not None:
            self.open_bundle(bundle_path)

    # ---- layout -----------------------------------------------------------------
    def _build(self) -> None:
        self.views = TimeViews()
        self.predictions = PredictionsPanel()
        self.relevance = RelevanceView()
        self.components = ComponentsPanel()
        top = QSplitter(Qt.Orientation.Horizontal)
        top.addWidget(self.views)
        top.addWidget(self.predictions)
        top.setSizes([900, 300])
        bottom = QSplitter(Qt.Orientation.Horizontal)
        bottom.addWidget(self.relevance)
        bottom.addWidget(self.components)
        bottom.setSizes([700, 500])
        main = QSplitter(Qt.Orientation.Vertical)
        main.addWidget(top)
        main.addWidget(bottom)
        main.setSizes([620, 260])
        self.splitters = {"top": top, "bottom": bottom, "main": main}
        for name, splitter in self.splitters.items():
            sizes = self.settings.splitter_sizes(name)
            if len(sizes) == splitter.count():
                splitter.setSizes(sizes)

        self.tau_slider = QSlider(Qt.Orientation.Horizontal)
        self.tau_slider.setRange(0, 99)
        self.tau_label = QLabel(f"relevance threshold tau {self.tau:.2f}")
        tip = ("Components whose relevance to the explained class is above tau make the "
               "interpretation; lower tau keeps more of them")
        self.tau_label.setToolTip(tip)
        self.tau_slider.setToolTip(tip)
        self.tau_slider.valueChanged.connect(lambda v: self.set_tau(v / 100))
        transport = QHBoxLayout()
        self.buttons = {}
        for kind, text in (("original", "▶ original"), ("interpretation", "▶ interpretation"),
                           ("residual", "▶ residual"), ("stop", "■ stop")):
            b = QPushButton(text)
            b.setObjectName(f"play_{kind}")
            b.clicked.connect(lambda _c=False, kind=kind: self.play(kind))
            transport.addWidget(b)
            self.buttons[kind] = b
        transport.addStretch(1)
        transport.addWidget(self.tau_label)
        transport.addWidget(self.tau_slider, 1)
        self.error_label = QLabel("")
        self.error_label.setStyleSheet("color: #b00020")
        # before any clip: the ways to start (welcome.py); the views once there is one
        self.welcome = WelcomePanel()
        self.welcome.open_requested.connect(self._ask_clip)
        self.welcome.record_requested.connect(self._ask_record)
        self.welcome.example_chosen.connect(self.open_clip)
        self.pages = QStackedWidget()
        self.pages.addWidget(self.welcome)
        self.pages.addWidget(main)
        central = QWidget()
        lay = QVBoxLayout(central)
        lay.addWidget(self.pages, 1)
        lay.addLayout(transport)
        lay.addWidget(self.error_label)
        self.setCentralWidget(central)
        self.resize(1280, 900)

        self.views.hovered.connect(lambda t: self.statusBar().showMessage(t))
        self.relevance.tau_changed.connect(lambda t: self.tau_slider.setValue(round(t * 100)))
        self.predictions.target_changed.connect(self.set_target)
        self.components.toggles_changed.connect(self._render_toggles)
        self.components.play_component.connect(self.play_component)
        self.player.position.connect(self.views.set_cursor)

        build_menus(self)  # l2i_desktop/menus.py
        install_corruption(self)  # Analyse > Corrupt and compare (corruption_dialog.py)
        live = install_live(self)  # File > Live interpretation (l2i_desktop/live_panel.py)
        live.live_changed.connect(lambda on: self.show_views() if on else None)
        self.set_has_clip(False)
        install_report(self)  # File > Batch report... (l2i_desktop/report_dialog.py)
        install_timeline(self)  # long clips: timeline above the views (timeline_controller.py)
        install_slime(self)  # Analyse > SLIME beside L2I (l2i_desktop/slime_panel.py)

    def show_views(self) -> None:
        """Leave the welcome page for the views (a clip or live input is on its way)."""
        self.pages.setCurrentIndex(1)

    def set_has_clip(self, has: bool) -> None:
        """Controls that act on a clip are enabled only while there is one."""
        for button in self.buttons.values():
            button.setEnabled(has)
        self.export_act.setEnabled(has)

    # ---- requests to the engine -------------------------------------------------
    def open_bundle(self, path: Path, trust_code: bool = False) -> None:
        """``trust_code``: the bundle's classifier may run its own Python code."""
        self.statusBar().showMessage(f"loading bundle {Path(path).name}...")
        self.worker.submit("bundle", jobs.open_bundle, Path(path), self.explainer,
                           trust_code)

    def show_training_wizard(self):
        from l2i_desktop.wizard import TrainWizard  # loaded on first use only

        wizard = TrainWizard(self)
        # a bundle trained here runs only code the user already trusted in the wizard
        wizard.open_bundle.connect(lambda p: self.open_bundle(p, trust_code=True))
        wizard.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        wizard.open()
        return wizard

    def _fill_recent(self) -> None:
        self.recent_menu.clear()
        for path in self.settings.recent_files():
            act = self.recent_menu.addAction(str(path))
            act.triggered.connect(lambda _c=False, p=path: self.open_clip(p))
        self.recent_menu.setEnabled(bool(self.settings.recent_files()))

    def open_clip(self, path: Path) -> None:
        if not self.may_drop_recording():
            return
        if self.explainer is None:
            self._pending_clip = Path(path)
            return
        self.statusBar().showMessage(f"analysing {Path(path).name}...")
        self.show_views()
        self.target = None  # a new clip is explained for its own top class first
        if self.timeline.open_long(Path(path)):  # an hour: its timeline, not all of it
            return
        self.worker.submit("analyse", jobs.analyse_clip, self.explainer, Path(path), None,
                           self.tau, cancellable=True)

    def set_tau(self, tau: float) -> None:
        self.tau = float(tau)
        self.settings.set_tau(self.tau)
        self.tau_label.setText(f"relevance threshold tau {self.tau:.2f}")
        self._explain()

    def set_target(self, target: int) -> None:
        self.target = int(target)
        self._explain()

    def _explain(self) -> None:
        if self.clip is None or self.explainer is None:
            return
        target = self.target if self.target is not None else self.clip.analysis.predicted
        self.worker.submit("explain", jobs.explain, self.explainer, self.clip.analysis,
                           target, self.tau, self.clip.levels)

    def _render_toggles(self) -> None:
        if self.clip is not None:
            self.worker.submit("render", jobs.render, self.explainer, self.clip.analysis,
                               self.components.active(), self.clip.levels)

    # ---- results ----------------------------------------------------------------
    def _on_finished(self, kind: str, _rid: int, result) -> None:
        self.error_label.setText("")
        if kind == "bundle":
            self.explainer = result.explainer
            self.components.set_patterns(result.patterns)
            b = self.explainer.bundle
            self.setWindowTitle(f"L2I Desktop — {b.name} (K={b.k}, {len(b.classes)} classes)")
            self.welcome.set_model(f"Model: <b>{b.name}</b>, which tells apart "
                                   f"{len(b.classes)} classes: {', '.join(b.classes)}")
            self.statusBar().showMessage(f"bundle {b.name} ready")
            if b.path is not None:
                self.settings.set_bundle(b.path)
            pending = self._pending_clip or (self.clip.path if self.clip else None)
            self._pending_clip = None
            self.clip, self.explanation, self.rendering = None, None, None
            if pending is not None:  # the same clip again, through the new model
                self.open_clip(pending)
        elif kind == "analyse":
            self.clip = result
            self.show_views()
            self.set_has_clip(True)
            a = result.analysis
            values = {"log_mag": a.log_mag.cpu().numpy(), "log_mel": a.log_mel.cpu().numpy(),
                      "H": a.H.cpu().numpy()}
            self.views.show_clip(result.envelope, result.duration_s, a.sample_rate,
                                 result.pictures, values)
            exp = result.explanation  # the state now, the side panels a turn later:
            self.explanation = exp  # two short paints instead of one long one
            self.rendering = Rendering(exp.selected, exp.interpretation_log_mag,
                                       exp.interpretation, exp.residual)
            QTimer.singleShot(0, self.views.show_activations)
            QTimer.singleShot(0, lambda: self._show_explanation(
                result.explanation, result.pictures["interpretation"]))
            if result.path.exists():  # recordings have no file to reopen
                self.settings.add_recent(result.path)
                self._fill_recent()
            self.statusBar().showMessage(f"{result.path.name}: analysed")
        elif kind == "explain":
            self._show_explanation(result.result, result.picture)
        elif kind == "render":
            # a toggle made just before a new explanation arrived is stale: drop it
            if self.explanation is not None and \
                    set(result.result.indices) <= set(self.explanation.selected):
                self._show_rendering(result.result, result.picture)
        elif kind == "export":
            self.statusBar().showMessage(f"exported {len(result)} files to "
                                         f"{result[0].parent if result else ''}")
        elif kind == "component":
            if _rid == self._component_request:  # not if stop or another play came since
                self.player.play(result, self.clip.analysis.sample_rate)

    def _show_explanation(self, exp, picture) -> None:
        self.explanation = exp
        self.shown_clip = self.clip.path
        a = self.clip.analysis
        self.predictions.show_predictions(a.classes, a.probabilities,
                                          a.interpreter_probabilities, exp.target,
                                          self.explainer.bundle.multilabel)
        self.relevance.show_relevance(exp.relevance, exp.threshold)
        self.components.show_components(exp.selected, exp.relevance)
        self.views.mark_components(exp.selected)
        self._show_rendering(Rendering(exp.selected, exp.interpretation_log_mag,
                                       exp.interpretation, exp.residual), picture)

    def _show_rendering(self, rendering, picture) -> None:
        self.rendering = rendering
        self.views.show_interpretation(picture, rendering.log_mag)
        if self.player.is_playing and self.playing_kind in ("interpretation", "residual"):
            self.player.replace(self.current_audio(self.playing_kind))

    def _on_failed(self, kind: str, _rid: int, message: str) -> None:
        self.show_error(message)
        if kind == "analyse" and self.clip is None:  # nothing to show: the ways to start
            self.pages.setCurrentIndex(0)

    def show_error(self, message: str) -> None:
        self.error_label.setText(message)
        self.statusBar().showMessage(message)

    # ---- audio --------------------------------------------------------------------
    def current_audio(self, kind: str) -> np.ndarray | None:
        if self.clip is None:
            return None
        if kind == "original":
            return self.clip.analysis.wave
        if self.rendering is None:
            return None
        return self.rendering.interpretation if kind == "interpretation" \
            else self.rendering.residual

    def play(self, kind: str) -> None:
        self._component_request = None
        if kind == "stop":
            self.player.stop()
            return
        wave = self.current_audio(kind)
        if wave is not None:
            self.playing_kind = kind
            start, end = self.views.selected_range()
            self.player.play(wave, self.clip.analysis.sample_rate, start, end)

    def play_component(self, k: int) -> None:
        if self.clip is not None:
            self.playing_kind = "component"
            self._component_request = self.worker.submit(
                "component", jobs.component, self.explainer, self.clip.analysis, k)

    # ---- export and dialogs -----------------------------------------------------------
    def export_to(self, folder: Path) -> None:
        """Pictures now (they are widgets), audio and CSV files on the worker."""
        if self.clip is None or self.explanation is None:
            self.show_error("Nothing to export yet: open a clip first.")
            return
        try:
            folder.mkdir(parents=True, exist_ok=True)
            export_view_png(folder / "views.png", self.views)
            export_view_png(folder / "relevance.png", self.relevance)
        except (L2IError, OSError) as exc:
            self.show_error(str(exc))
            return
        self.worker.submit("export", jobs.export_data, folder, self.explainer, self.clip,
                           self.explanation, self.rendering)

    def _ask_export(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Export to folder",
                                                  self.settings.last_folder())
        if folder:
            self.export_to(Path(folder))

    def show_manifest(self) -> None:
        if self.explainer is None:
            self.show_error("No bundle is open.")
            return
        dialog = ManifestDialog(self.explainer.bundle, self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.open()

    # ---- dialogs and lifetime ---------------------------------------------------------
    def dragEnterEvent(self, event) -> None:  # noqa: N802 - Qt's name
        if any(u.isLocalFile() for u in event.mimeData().urls()):
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:  # noqa: N802 - Qt's name
        paths = [Path(u.toLocalFile()) for u in event.mimeData().urls() if u.isLocalFile()]
        if not paths:
            return
        p = paths[0]
        if p.suffix == ".l2i" or (p.is_dir() and (p / "manifest.json").is_file()):
            self.open_bundle_asking(p)
        else:
            self.open_clip(p)
        event.acceptProposedAction()

    def closeEvent(self, event) -> None:  # noqa: N802 - Qt's name
        if not self.may_drop_recording():
            event.ignore()
            return
        self.settings.save_window(self.saveGeometry(), self.saveState())
        for name, splitter in self.splitters.items():
            self.settings.set_splitter_sizes(name, splitter.sizes())
        self.player.stop()
        self.worker.stop()
        super().closeEvent(event)

"""A seeded monkey for the analysis window: random user actions on a real window, and
after each pause, checks that the session and every view agree.

Replay a failure with the seed and count it prints:
    L2I_MONKEY_SEED=S L2I_MONKEY_ACTIONS=N pytest tests/test_monkey.py
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QDialog

# action: weight (how often a user does it)
WEIGHTS = {"open_clip": 6, "open_hostile": 1, "tau_slider": 10, "tau_key": 3, "target": 6,
           "mute": 8, "solo": 5, "region": 4, "play": 5, "stop": 3, "play_component": 3,
           "undo": 6, "redo": 4, "view_kind": 2, "slime_toggle": 1, "corruption": 1,
           "cancel": 2, "reopen_bundle": 1, "pause": 12,
           # viewing (#23): keys in the views, the range bar, loop, display settings
           "nav_key": 4, "range_typed": 2, "loop": 1, "display": 2,
           # labels (#23): add from the range, drag, rename, delete
           "label_add": 2, "label_move": 2, "label_text": 1, "label_delete": 1}
NAV = ("zoom_in", "zoom_out", "pan_left", "pan_right", "to_start", "to_end", "fit")


@dataclass
class Monkey:
    win: object
    clips: list[Path]
    hostile: list[Path]
    bundle: Path
    seed: int
    log: list[str] = field(default_factory=list)
    checks: int = 0

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)
        self.names = list(WEIGHTS)
        self.weights = [WEIGHTS[n] for n in self.names]

    # ---- driving --------------------------------------------------------------------
    def run(self, actions: int, settle_s: float = 60.0) -> None:
        for i in range(actions):
            name = self.rng.choices(self.names, self.weights)[0]
            self.log.append(name)
            try:
                getattr(self, name)()
                QApplication.processEvents()
                if name == "pause" or i == actions - 1:
                    self.settle(settle_s)
                    self.check()
                if (i + 1) % 1000 == 0:  # a long run says how far it got (pytest -s)
                    print(f"monkey seed {self.seed}: {i + 1} actions, {self.checks} "
                          f"checks", flush=True)
            except Exception as exc:
                raise AssertionError(f"monkey seed {self.seed}, action {i + 1} ({name}); "
                                     f"last actions {self.log[-12:]}: {exc}") from exc

    def settle(self, timeout_s: float) -> None:
        """Until the engine is idle and its results are delivered."""
        end = time.monotonic() + timeout_s
        quiet = 0
        while quiet < 3:
            QApplication.processEvents()
            busy = not self.win.worker.is_idle()
            quiet = 0 if busy else quiet + 1
            if time.monotonic() > end:
                raise AssertionError("the engine did not settle")
            time.sleep(0.02 if busy else 0.005)

    # ---- actions --------------------------------------------------------------------
    def _session(self):
        return self.win.session

    def open_clip(self) -> None:
        self.win.open_clip(self.rng.choice(self.clips))

    def open_hostile(self) -> None:
        self.win.open_clip(self.rng.choice(self.hostile))

    def tau_slider(self) -> None:
        self.win.tau_slider.setValue(self.rng.randrange(0, 100))

    def tau_key(self) -> None:
        key = self.rng.choice([Qt.Key.Key_PageUp, Qt.Key.Key_PageDown, Qt.Key.Key_Left,
                               Qt.Key.Key_Right])
        self.win.tau_slider.setFocus()
        QApplication.sendEvent(self.win.tau_slider, _key(key))

    def target(self) -> None:
        s = self._session()
        if s.clip is not None:
            self.win.predictions.target_changed.emit(
                self.rng.randrange(len(s.clip.analysis.classes)))

    def _toggle(self, column: int) -> None:
        panel = self.win.components
        if panel.indices:
            k = self.rng.choice(panel.indices)
            row = panel.indices.index(k)
            item = panel.table.item(row, column)
            on = item.checkState() != Qt.CheckState.Checked
            panel.set_checked(k, column, on)

    def mute(self) -> None:
        self._toggle(self.win.components.MUTE)

    def solo(self) -> None:
        self._toggle(self.win.components.SOLO)

    def region(self) -> None:
        s = self._session()
        if s.clip is not None:
            a, b = sorted(self.rng.uniform(0, s.clip.duration_s) for _ in range(2))
            self.win.views.region.setRegion((a, b))
            self.win.views.region.sigRegionChangeFinished.emit(self.win.views.region)

    def play(self) -> None:
        self.win.play(self.rng.choice(["original", "interpretation", "residual"]))

    def stop(self) -> None:
        self.win.play("stop")

    def play_component(self) -> None:
        if self.win.components.indices:
            self.win.play_component(self.rng.choice(self.win.components.indices))

    def undo(self) -> None:
        self.win.menu_actions["undo"].trigger()

    def redo(self) -> None:
        self.win.menu_actions["redo"].trigger()

    def view_kind(self) -> None:
        self.win.views.set_spectrum_kind(self.rng.choice(["log_mag", "log_mel"]))

    def slime_toggle(self) -> None:
        dock = self.win.tools["slime"].parentWidget()
        dock.setVisible(not dock.isVisible())

    def corruption(self) -> None:
        tool = self.win.tools["corruption"]
        if tool.dialog is not None and self.rng.random() < 0.5:
            tool.dialog.close()
            return
        dialog = tool.open()
        if dialog is not None and self.rng.random() < 0.5:
            dialog.run()

    def cancel(self) -> None:
        self.win.worker.cancel_running()

    def reopen_bundle(self) -> None:
        self.win.open_bundle(self.bundle)

    def nav_key(self) -> None:
        from PySide6.QtGui import QAction

        self.win.findChild(QAction, self.rng.choice(NAV)).trigger()

    def range_typed(self) -> None:
        bar, s = self.win.range_bar, self._session()
        if s.clip is not None:
            box = self.rng.choice([bar.start, bar.end])
            box.setValue(self.rng.uniform(0, s.clip.duration_s))

    def loop(self) -> None:
        self.win.range_bar.loop.toggle()

    def display(self) -> None:
        from l2i_desktop.model.display import COLORMAPS, SCALES

        floor = self.rng.uniform(-120, -40)
        self._session().display.set(
            colormap=self.rng.choice(COLORMAPS), scale=self.rng.choice(SCALES),
            auto_range=self.rng.random() < 0.5, floor_db=floor,
            ceiling_db=floor + self.rng.uniform(-10, 60))  # an impossible one: refused

    def _labels(self):
        return self.win.tools["labels"]

    def label_add(self) -> None:
        self._labels().add_from_range(self.rng.choice(["bark", "rooster", "", "ça — 鸟"]))

    def _some_label(self) -> int | None:
        tool = self._labels()
        return self.rng.randrange(len(tool.labels)) if len(tool.labels) else None

    def label_move(self) -> None:
        s, i = self._session(), self._some_label()
        if i is not None and s.clip is not None:
            a, b = sorted(self.rng.uniform(-1, s.clip.duration_s + 1) for _ in range(2))
            self._labels().move(i, a, b)  # a drag past the clip's ends is held inside

    def label_text(self) -> None:
        i = self._some_label()
        if i is not None:
            self._labels().set_text(i, self.rng.choice(["dog", "  spaced  ", "x" * 80]))

    def label_delete(self) -> None:
        i = self._some_label()
        if i is not None:
            self._labels().remove(i)

    def pause(self) -> None:
        pass

    # ---- invariants -----------------------------------------------------------------
    def check(self) -> None:
        """The engine is idle: whatever is on screen is the session's current state."""
        win, s = self.win, self._session()
        self.checks += 1
        assert win.worker._thread.is_alive()
        assert win.tau_slider.value() == round(s.tau * 100)
        if s.clip is None or s.explanation is None:
            return
        exp = s.explanation
        assert win.shown == s.clip.source
        assert exp.target == s.explained_class(), "explained class is the chosen one"
        assert abs(exp.threshold - s.tau) < 1e-9, "explanation made at the current tau"
        assert win.predictions.combo.currentData() == exp.target
        assert win.components.indices == list(exp.selected)
        c = s.choices
        for r, k in enumerate(win.components.indices):
            muted = win.components.table.item(r, win.components.MUTE).checkState()
            soloed = win.components.table.item(r, win.components.SOLO).checkState()
            assert (muted == Qt.CheckState.Checked) == (k in c.muted)
            assert (soloed == Qt.CheckState.Checked) == (k in c.soloed)
        assert list(s.rendering.indices) == s.active_components(), "the audio is the choice"
        assert len(s.rendering.interpretation) == s.clip.analysis.n_samples, "of this clip"
        assert abs(win.relevance.tau_line.value() - exp.threshold) < 1e-9
        lo, hi = win.views.selected_range()
        want = c.region or (0.0, s.clip.duration_s)
        assert abs(lo - want[0]) < 1e-3 and abs(hi - want[1]) < 1e-3
        if s.trust is not None:
            assert s.trust.components == tuple(s.rendering.indices)
        self._check_viewing(s, want)

    def _check_viewing(self, s, want: tuple[float, float]) -> None:
        """The range bar, the shading, the display and the time span say what the
        session holds."""
        win = self.win
        bar, chosen = win.range_bar, s.choices.region is not None
        assert abs(bar.start.value() - want[0]) < 0.01 and abs(bar.end.value() - want[1]) < 0.01
        assert all(shade.isVisible() == chosen for shade in win.playback.shades)
        assert win.views.display == s.display.settings
        assert s.display.settings.ceiling_db > s.display.settings.floor_db
        lo, hi = win.tools["navigation"].span()
        assert -1e-6 <= lo < hi <= s.clip.duration_s + 1e-6, (lo, hi)
        self._check_labels(s)

    def _check_labels(self, s) -> None:
        """The label track draws exactly the session's labels, sorted, inside the clip."""
        track = self.win.tools["labels"].track
        labels = s.choices.labels
        assert track.shown == labels and len(track.regions) == len(labels)
        assert list(labels) == sorted(labels)
        for region, label in zip(track.regions, labels):
            a, b = region.getRegion()
            assert abs(a - label.start) < 1e-6 and abs(b - label.end) < 1e-6
            assert label.start <= label.end
        assert track.selected is None or 0 <= track.selected < len(labels)


def _key(key):
    from PySide6.QtCore import QEvent
    from PySide6.QtGui import QKeyEvent
    return QKeyEvent(QEvent.Type.KeyPress, key, Qt.KeyboardModifier.NoModifier)


def close_dialogs() -> None:
    for w in QApplication.topLevelWidgets():
        if isinstance(w, QDialog) and w.isVisible():
            w.close()

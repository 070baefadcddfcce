"""The window comes first (#24): it is built and shown without importing torch, which the
engine worker imports with the bundle behind a "loading model" state; a clip opened
meanwhile is kept and explained once the model is ready."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from PySide6.QtCore import QMimeData, QPointF, QSettings, Qt, QUrl
from PySide6.QtGui import QAction, QDropEvent

from l2i_desktop import jobs
from l2i_desktop.main_window import MainWindow
from l2i_desktop.settings import Settings
from resources import default_bundle_path, examples

ROOT = Path(__file__).resolve().parents[1]
TIMEOUT = 120_000
HEAVY = ("torch", "torchaudio", "librosa", "numba")

# A fresh interpreter runs the real entry point, ``l2i-desktop CLIP``. The bundle job
# waits until the window is shown, so whatever is in sys.modules then was imported by
# the UI thread; every first import of a heavy package is recorded with its thread.
CHILD = """
import json, sys, threading
HEAVY = tuple(sys.argv[2].split(","))
first = {}

class Watch:
    def find_spec(self, name, path=None, target=None):
        if name in HEAVY and name not in first:
            first[name] = threading.current_thread().name
        return None

sys.meta_path.insert(0, Watch())
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication
from l2i_desktop import jobs, main as entry
from l2i_desktop.main_window import MainWindow

clip = sys.argv[1]
shown, out = threading.Event(), {}
real_open, real_show = jobs.open_bundle, MainWindow.show

def gated_open(*args, **kwargs):
    assert shown.wait(120), "the window was never shown"
    return real_open(*args, **kwargs)

def show(self):
    real_show(self)
    out["heavy_at_show"] = [m for m in HEAVY if m in sys.modules]
    out["loading_text"] = self.welcome.model_label.text()
    out["busy_shown"] = self.welcome.busy.isVisible()
    shown.set()
    def poll():
        s = self.session
        if s.explanation is not None and self.shown_clip is not None:
            out["explained"] = str(self.shown_clip)
            QApplication.instance().quit()
    timer = QTimer(self, interval=50)
    timer.timeout.connect(poll)
    timer.start()
    QTimer.singleShot(240_000, QApplication.instance().quit)

jobs.open_bundle, MainWindow.show = gated_open, show
entry.start_logging = lambda: None  # the user's log folder is not the test's
code = entry.main([clip])
out["first"] = first
out["heavy_at_end"] = [m for m in HEAVY if m in sys.modules]
print(json.dumps(out))
"""


def test_the_window_shows_before_torch_and_explains_the_clip_given_at_start(tmp_path):
    bundle = default_bundle_path()
    assert bundle is not None
    clip = examples()[0][1]
    env = os.environ | {"PYTHONPATH": str(ROOT), "QT_QPA_PLATFORM": "offscreen",
                        "XDG_CONFIG_HOME": str(tmp_path / "config"),
                        "XDG_STATE_HOME": str(tmp_path / "state")}
    run = subprocess.run([sys.executable, "-c", CHILD, str(clip), ",".join(HEAVY)],
                         cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    out = json.loads(run.stdout.strip().splitlines()[-1])
    assert out["heavy_at_show"] == [], out  # nothing heavy on the way to the window
    assert "Loading the model" in out["loading_text"] and clip.name in out["loading_text"]
    assert out["busy_shown"]
    # torch was imported, and first by the engine worker, never by the UI thread
    assert out["first"].get("torch") == "l2i-engine", out
    assert all(thread == "l2i-engine" for thread in out["first"].values()), out
    assert "torch" in out["heavy_at_end"]
    assert out["explained"] == str(clip)  # the clip given at start was kept, then explained


@pytest.fixture
def gate(monkeypatch):
    """Holds the bundle job until set: the model is 'loading' as long as the test likes."""
    event = threading.Event()
    real = jobs.open_bundle

    def gated(*args, **kwargs):
        assert event.wait(TIMEOUT / 1000), "the test never let the bundle load"
        return real(*args, **kwargs)
    monkeypatch.setattr(jobs, "open_bundle", gated)
    yield event
    event.set()  # a failed test must not leave the worker waiting


def _window(qtbot, tmp_path, bundle: Path) -> MainWindow:
    settings = Settings(QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat))
    win = MainWindow(bundle, settings)
    qtbot.addWidget(win)
    win.show()
    return win


def _drop(win: MainWindow, path: Path) -> None:
    data = QMimeData()
    data.setUrls([QUrl.fromLocalFile(str(path))])
    event = QDropEvent(QPointF(10, 10), Qt.DropAction.CopyAction, data,
                       Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier)
    win.dropEvent(event)


def test_clips_opened_while_the_model_loads_are_kept_and_the_last_explained(
        qtbot, tmp_path, gate):
    win = _window(qtbot, tmp_path, default_bundle_path())
    try:
        welcome = win.welcome
        assert win.pages.currentWidget() is welcome
        assert "Loading the model" in welcome.model_label.text()
        assert not welcome.busy.isHidden()
        needs_model = [win.findChild(QAction, n) for n in ("record", "live", "manifest")]
        assert all(a is not None and not a.isEnabled() for a in needs_model)
        assert not welcome.record_button.isEnabled()
        (label, first), (_, second) = examples()[0], examples()[1]
        welcome.example_buttons[label].click()  # kept, named as next
        assert first.name in welcome.model_label.text()
        assert first.name in win.statusBar().currentMessage()
        _drop(win, second)  # a later choice replaces it
        assert second.name in welcome.model_label.text()
        assert win.session.explainer is None and win.session.clip is None
        gate.set()
        qtbot.waitUntil(lambda: win.shown_clip == second
                        and win.session.explanation is not None, timeout=TIMEOUT)
        assert welcome.busy.isHidden()
        assert all(a.isEnabled() for a in needs_model) and welcome.record_button.isEnabled()
        assert win.loading.pending is None and not win.loading.active
    finally:
        win.close()


def test_a_bundle_that_fails_to_load_ends_the_loading_and_keeps_the_clip(qtbot, tmp_path,
                                                                          gate):
    broken = tmp_path / "broken.l2i"
    broken.write_bytes(b"not a zip")
    win = _window(qtbot, tmp_path, broken)
    try:
        clip = examples()[0][1]
        win.open_clip(clip)
        gate.set()
        qtbot.waitUntil(lambda: not win.loading.active, timeout=TIMEOUT)
        text = win.welcome.model_label.text()
        assert "could not be loaded" in text and "broken.l2i" in text and clip.name in text
        assert win.welcome.busy.isHidden() and win.welcome.record_button.isEnabled()
        assert win.loading.pending == clip  # analysed once a model is open
        assert "loading" not in win.windowTitle()
    finally:
        win.close()


def test_torch_libraries_preload_without_importing_torch_and_torch_still_works():
    code = (
        "import json, sys\n"
        "from engine.runtime.preload import preload_torch_libraries\n"
        "ok = preload_torch_libraries()\n"
        "maps = open('/proc/self/maps').read()\n"
        "out = {'ok': ok, 'torch_before': 'torch' in sys.modules,\n"
        "       'libtorch_mapped': 'libtorch_cpu.so' in maps}\n"
        "import torch\n"
        "out['sum'] = float(torch.arange(4.0).sum())\n"
        "out['again'] = preload_torch_libraries()\n"
        "print(json.dumps(out))\n")
    run = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                         text=True, timeout=300, env=os.environ | {"PYTHONPATH": str(ROOT)})
    assert run.returncode == 0, run.stderr[-3000:]
    out = json.loads(run.stdout.strip().splitlines()[-1])
    if not sys.platform.startswith("linux"):
        pytest.skip("the preload is for Linux")
    assert out == {"ok": True, "torch_before": False, "libtorch_mapped": True, "sum": 6.0,
                   "again": False}, out

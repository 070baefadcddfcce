"""`l2i-desktop CLIP --bundle B`: a bundle with Python code asks, as File > Open bundle
does, instead of failing on the untrusted code."""

from __future__ import annotations

from PySide6.QtWidgets import QApplication, QMessageBox

from l2i_desktop import main as entry
from l2i_desktop.main_window import MainWindow

TIMEOUT = 60_000


def test_a_code_bundle_given_at_start_asks_and_opens(qtbot, tmp_path, monkeypatch,
                                                      esc10_clip):
    from test_user_classifier import BYO_FILE, custom_bundle

    from engine.bundles.bundle import save_bundle
    from engine.models.user_classifier import ClassifierCode

    # a bundle whose classifier is built by its own Python file
    bundle = save_bundle(custom_bundle(ClassifierCode.from_file(BYO_FILE, "build_mel_model")),
                         tmp_path / "byo.l2i")
    asked, windows = [], []
    monkeypatch.setattr(QMessageBox, "question", lambda parent, title, text, *a:
                        asked.append(title) or QMessageBox.StandardButton.Yes)
    monkeypatch.setattr(QApplication, "exec", lambda self: 0)
    # the app's log file sets the levels of engine/trainer loggers for the whole process:
    # not here, where later tests of `l2i -vv` share this process
    monkeypatch.setattr(entry, "start_logging", lambda: None)
    real_init = MainWindow.__init__

    def init(self, *args, **kwargs):
        real_init(self, *args, **kwargs)
        windows.append(self)
    monkeypatch.setattr(MainWindow, "__init__", init)
    assert entry.main([str(esc10_clip), "--bundle", str(bundle)]) == 0
    win = windows[0]
    qtbot.addWidget(win)
    try:
        assert asked == ["Bundle with Python code"]
        qtbot.waitUntil(lambda: win.shown_clip == esc10_clip, timeout=TIMEOUT)
        assert win.session.explainer.bundle.classifier_code is not None
    finally:
        win.close()

"""The first window: before any clip it offers the ways to start (open, record, drop, a
shipped example); controls that need a clip are disabled until one is shown. Runs on the
shipped bundle and the shipped examples only, so a fresh clone without ../shared tests it."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QSettings, Qt

from l2i_desktop.main_window import MainWindow
from l2i_desktop.settings import Settings
from resources import default_bundle_path, examples

TIMEOUT = 60_000


@pytest.fixture
def window(qtbot, tmp_path):
    bundle = default_bundle_path()
    assert bundle is not None, "resources/default.l2i ships with the repository"
    settings = Settings(QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat))
    win = MainWindow(bundle, settings)
    qtbot.addWidget(win)
    win.show()
    qtbot.waitUntil(lambda: win.session.explainer is not None, timeout=TIMEOUT)
    yield win
    win.close()


def test_examples_ship_within_the_promised_size_with_their_attribution():
    shipped = examples()
    assert 1 <= len(shipped) <= 10
    assert sum(p.stat().st_size for _, p in shipped) < 1.5e6
    attribution = (shipped[0][1].parent / "ATTRIBUTION.md").read_text()
    assert "CC BY 3.0" in attribution or "Attribution 3.0" in attribution
    for _, path in shipped:  # one line per clip, with its freesound id
        freesound_id = path.stem.split("-")[-2]
        assert f"| {path.name} |" in attribution and f"| {freesound_id} |" in attribution


def test_the_welcome_page_comes_first_and_clip_controls_wait_for_a_clip(window):
    assert window.pages.currentWidget() is window.welcome
    assert not any(b.isEnabled() for b in window.buttons.values())
    assert not window.menu_actions["export"].isEnabled()
    assert "10 classes" in window.welcome.model_label.text()
    file_menu = window.menuBar().actions()[0].menu()
    example_menu = next(a.menu() for a in file_menu.actions() if a.text() == "Open e&xample")
    assert [a.text() for a in example_menu.actions()] == [label for label, _ in examples()]


def test_an_example_button_opens_and_explains_that_clip(qtbot, window):
    label, path = examples()[0]
    qtbot.mouseClick(window.welcome.example_buttons[label], Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.shown_clip == path, timeout=TIMEOUT)
    assert window.pages.currentIndex() == 1
    assert all(b.isEnabled() for b in window.buttons.values())
    assert window.menu_actions["export"].isEnabled()
    assert window.components.table.rowCount() == len(window.session.explanation.selected)


def test_a_file_that_fails_first_leaves_the_welcome_page_with_the_error(qtbot, window,
                                                                       tmp_path):
    bad = tmp_path / "noise.wav"
    bad.write_bytes(b"definitely not audio")
    window.open_clip(bad)
    qtbot.waitUntil(lambda: "noise.wav" in window.error_label.text(), timeout=TIMEOUT)
    assert window.pages.currentWidget() is window.welcome
    assert not window.menu_actions["export"].isEnabled()

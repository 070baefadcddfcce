"""The desktop entry point until the analysis window lands: it opens, and it shows what
the engine says about a real clip."""

from __future__ import annotations

from PySide6.QtWidgets import QLabel

from l2i_desktop.main import build_window, parse_args


def test_window_shows_predictions_for_a_real_clip(qtbot, tiny_bundle, esc10_clip):
    win = build_window(parse_args([str(esc10_clip), "--bundle", str(tiny_bundle)]))
    qtbot.addWidget(win)
    win.show()
    text = win.findChild(QLabel, "summary").text()
    assert "Bundle: tiny" in text and "K = 16" in text
    assert esc10_clip.name in text
    assert "Dog bark" in text  # one of the tiny bundle's three classes is listed


def test_window_reports_a_bad_bundle_instead_of_crashing(qtbot, tmp_path):
    bad = tmp_path / "broken.l2i"
    bad.write_bytes(b"not a zip")
    win = build_window(parse_args(["--bundle", str(bad)]))
    qtbot.addWidget(win)
    assert win.findChild(QLabel, "summary").text().startswith("Error: broken.l2i")

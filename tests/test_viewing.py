"""Viewing as researchers expect (#23): display settings, keyboard navigation, the
play range across the views, on the real window."""

from __future__ import annotations

import numpy as np
import pytest
from app_windows import open_on_clip, settings_in
from PySide6.QtCore import Qt
from PySide6.QtGui import QAction

from l2i_desktop import spectrogram_display as sd
from l2i_desktop.main_window import MainWindow

TIMEOUT = 60_000


@pytest.fixture
def win(qtbot, tiny_bundle, tmp_path, esc10_clip):
    w = open_on_clip(qtbot, tiny_bundle, tmp_path, esc10_clip, (1400, 950), TIMEOUT)
    yield w
    w.close()


def _action(w, name: str) -> QAction:
    act = w.findChild(QAction, name)
    assert act is not None, name
    return act


# ---- 1. spectrogram display ------------------------------------------------------------

def test_colour_scale_follows_the_floor_ceiling_and_colour_map(win):
    views = win.views
    win.session.display.set(colormap="greys", auto_range=False, floor_db=-60.0,
                            ceiling_db=-20.0)
    grid, picture = views._grids["spectrum"], views.images[0].image
    lut = sd.lookup_table("greys")
    # at or above the ceiling: the brightest colour; at or below the floor: the darkest
    assert (picture[grid >= -20.0] == lut[-1]).all()
    assert (picture[grid <= -60.0] == lut[0]).all()
    mid = (grid > -41.0) & (grid < -39.0)
    assert mid.any() and np.all(np.abs(picture[mid][:, 0].astype(int) - 128) <= 8)
    bar = views.bars[1]
    assert tuple(bar.levels()) == (-60.0, -20.0)
    assert bar.getAxis("right").labelText == "dB full scale"
    # the interpretation uses the input's range, so the two pictures compare
    assert tuple(views.bars[3].levels()) == (-60.0, -20.0)
    assert _action(win, "colormap_greys").isChecked()


def test_input_and_interpretation_share_the_frequency_axis_and_zoom(win):
    views = win.views
    for scale in ("linear", "log", "mel"):
        win.session.display.set(scale=scale)
        span = views._layout.scale.span
        assert views.plots[3].vb.viewRange()[1] == pytest.approx(list(span))
        axis = views.plots[1].getAxis("left")
        values = axis.tickValues(*span, 200)[0][1]  # the labelled ticks
        strings = axis.tickStrings(values, 1, 1)  # in Hz on every scale: 100, 1k, 2.5k
        assert 2 <= len(strings) <= 200 // 20
        assert all(s.rstrip("k").replace(".", "").isdigit() for s in strings), strings
    # wheel-zooming the input to 9-13 kHz zooms the interpretation with it
    win.session.display.set(scale="linear")
    views.plots[1].setYRange(9000, 13000, padding=0)
    assert views.plots[3].vb.viewRange()[1] == pytest.approx([9000, 13000], abs=1)
    # zoom is bounded by the axis: no panning past 0 Hz or the Nyquist frequency
    views.plots[1].setYRange(-5000, 30000, padding=0)
    lo, hi = views.plots[1].vb.viewRange()[1]
    assert lo >= -1 and hi <= win.session.clip.analysis.sample_rate / 2 + 1


def test_display_settings_are_remembered(qtbot, tiny_bundle, tmp_path):
    first = MainWindow(tiny_bundle, settings_in(tmp_path))
    qtbot.addWidget(first)
    first.session.display.set(colormap="viridis", scale="mel", auto_range=False,
                              floor_db=-70.0, ceiling_db=-5.0)
    first.close()
    second = MainWindow(tiny_bundle, settings_in(tmp_path))
    qtbot.addWidget(second)
    d = second.session.display.settings
    assert (d.colormap, d.scale, d.auto_range, d.floor_db, d.ceiling_db) == \
        ("viridis", "mel", False, -70.0, -5.0)
    assert _action(second, "scale_mel").isChecked()
    second.close()


def test_a_window_writes_the_display_settings_only_when_the_user_changes_them(
        qtbot, tiny_bundle, tmp_path):
    """Nothing chosen, nothing written: a later version's defaults then reach users who
    never chose (the settings file keeps only what they did)."""
    win = MainWindow(tiny_bundle, settings_in(tmp_path))
    qtbot.addWidget(win)
    win.show()
    qtbot.waitUntil(lambda: win.session.explainer is not None, timeout=TIMEOUT)
    win.close()
    keys = settings_in(tmp_path).store.allKeys()
    assert keys, "the window wrote nothing at all: not the settings file it used"
    assert not [k for k in keys if k.startswith("display/")], keys
    again = MainWindow(tiny_bundle, settings_in(tmp_path))
    qtbot.addWidget(again)
    _action(again, "colormap_greys").trigger()  # the user's choice is written at once
    assert settings_in(tmp_path).store.value("display/colormap") == "greys"
    again.close()


def test_every_view_has_a_right_click_menu_that_exports_it(win, tmp_path):
    tool = win.tools["display"]
    for plot in win.views.plots:
        texts = [a.text() for a in plot.vb.context_menu.actions()]
        assert "Export this view..." in texts and "Display &range..." in texts
        assert plot.vb.menuEnabled()
    png = tool.export_view(win.views.plots[1], tmp_path / "spec.png")
    assert png is not None, win.error_label.text()
    svg = tool.export_view(win.views.plots[1], tmp_path / "spec.svg")
    assert svg is not None, win.error_label.text()
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert b"<svg" in svg.read_bytes()[:2000]


# ---- 2. navigation ---------------------------------------------------------------------

def _span(win):
    return win.tools["navigation"].span()


def test_keys_zoom_scroll_and_fit_within_the_clip(qtbot, win):
    d = win.session.clip.duration_s
    strip = win.tools["navigation"].strip
    assert not strip.isVisible()  # the whole clip in view: no overview needed
    win.views.setFocus()
    qtbot.waitUntil(win.views.hasFocus)
    qtbot.keyClick(win.views, Qt.Key.Key_Plus)
    lo, hi = _span(win)
    assert hi - lo == pytest.approx(d / 2, rel=1e-3)
    qtbot.keyClick(win.views, Qt.Key.Key_Home)
    assert _span(win)[0] == pytest.approx(0.0, abs=1e-6)
    qtbot.keyClick(win.views, Qt.Key.Key_Right)
    assert _span(win)[0] == pytest.approx(d / 8, rel=1e-3)  # a quarter of what shows
    for _ in range(10):  # never past the clip's end
        qtbot.keyClick(win.views, Qt.Key.Key_Right)
    lo, hi = _span(win)
    assert hi == pytest.approx(d, rel=1e-6) and hi - lo == pytest.approx(d / 2, rel=1e-3)
    qtbot.keyClick(win.views, Qt.Key.Key_Home)
    qtbot.keyClick(win.views, Qt.Key.Key_End)
    assert _span(win)[1] == pytest.approx(d, rel=1e-6)
    # the overview strip shows the part in view
    assert strip.isVisible()
    assert strip.visible.getRegion() == pytest.approx(_span(win), rel=1e-6)
    # dragging it scrolls the views
    strip.visible.setRegion((0.5, 0.5 + d / 2))
    assert _span(win) == pytest.approx((0.5, 0.5 + d / 2), rel=1e-4)
    qtbot.keyClick(win.views, Qt.Key.Key_F)
    assert _span(win) == pytest.approx((0.0, d), abs=1e-6)
    assert not strip.isVisible()
    qtbot.keyClick(win.views, Qt.Key.Key_Minus)  # wider than the clip: the clip
    assert _span(win) == pytest.approx((0.0, d), abs=1e-6)
    for _ in range(20):  # the narrowest view is 10 ms
        qtbot.keyClick(win.views, Qt.Key.Key_Plus)
    lo, hi = _span(win)
    assert hi - lo == pytest.approx(0.01, rel=0.05)


def test_arrow_keys_still_move_the_tau_slider(qtbot, win):
    win.tau_slider.setFocus()
    qtbot.waitUntil(win.tau_slider.hasFocus)
    before, span = win.tau_slider.value(), _span(win)
    qtbot.keyClick(win.tau_slider, Qt.Key.Key_Right)
    assert win.tau_slider.value() == before + 1 and _span(win) == span


# ---- 3. the play range -----------------------------------------------------------------

def test_the_range_is_shaded_in_every_view_and_read_out(qtbot, win):
    pb, bar = win.playback, win.range_bar
    assert not any(s.isVisible() for s in pb.shades)  # the whole clip: nothing shaded
    win.session.choose(region=(0.8, 2.3))
    assert len(pb.shades) >= 3 and all(s.isVisible() for s in pb.shades)
    assert all(s.getRegion() == pytest.approx((0.8, 2.3)) for s in pb.shades)
    assert bar.start.value() == pytest.approx(0.8) and bar.end.value() == pytest.approx(2.3)
    assert bar.duration.text() == "= 1.50 s"
    assert win.views.cursors[0].value() == pytest.approx(0.8)
    # a typed end moves the range (and is undoable as any range)
    bar.end.setValue(3.0)
    assert win.session.choices.region == pytest.approx((0.8, 3.0))
    bar.end.setValue(0.5)  # before the start: refused, the range stays
    assert win.session.choices.region == pytest.approx((0.8, 3.0))
    assert bar.end.value() == pytest.approx(3.0)
    bar.whole.click()
    assert win.session.choices.region is None
    assert not any(s.isVisible() for s in pb.shades)


def test_opening_a_clip_puts_the_cursor_back(qtbot, win):
    from resources import examples

    win.views.set_cursor(3.7)
    win.session.choose(region=(1.0, 2.0))
    other = examples()[0][1]
    win.open_clip(other)
    qtbot.waitUntil(lambda: win.shown_clip == other, timeout=TIMEOUT)
    assert win.session.choices.region is None
    assert win.views.cursors[0].value() == pytest.approx(0.0)
    assert win.range_bar.start.value() == 0.0
    assert win.range_bar.end.value() == pytest.approx(win.session.clip.duration_s, abs=0.01)

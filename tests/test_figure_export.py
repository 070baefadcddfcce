"""File > Export figure... and Export explanation's pictures: drawn from the data (not a
grab of the window), as PNG at a chosen DPI, SVG and PDF, written atomically, and the
status line counting exactly the files on disk."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QSettings
from PySide6.QtGui import QImage

from l2i_desktop import figure, figure_export
from l2i_desktop import figure_spec as fs
from l2i_desktop.export import ExportError
from l2i_desktop.figure_spec import Axis, BarPanel, Colourbar, FigureSpec, ImagePanel, WavePanel

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_BUNDLE = ROOT / "resources" / "default.l2i"
TIMEOUT = 60_000


def small_spec(title: str = "clip.wav: explained class \u201cdog\u201d") -> FigureSpec:
    """Every kind of panel, from made-up data."""
    rng = np.random.default_rng(0)
    values = rng.random((40, 60)).astype(np.float32)
    c = figure_export.colour(values, unit="log(1+|X|)")
    env = np.stack([-rng.random(300), rng.random(300)])
    t = fs.axis(0, 3.0, "time (s)")
    return FigureSpec([title, "tau = 0.25, 2 of 8 components selected; bundle demo"], [
        WavePanel("Waveform", env, t, fs.axis(-1, 1, "amplitude")),
        ImagePanel("Spectrogram", c.rgba, t, fs.axis(0, 8000, "frequency (Hz)"),
                   c.colourbar),
        BarPanel("Relevance", np.linspace(1, -0.2, 8), Axis((-0.6, 7.6), [(0, "0"), (7, "7")],
                                                            "component"),
                 fs.axis(-0.3, 1.05, "relevance"), tau=0.25, selected=frozenset({0, 1})),
    ])


@pytest.mark.parametrize("dpi", [100, 300])
def test_png_has_the_pixels_its_dpi_and_inches_say(qapp, tmp_path, dpi):
    out = figure_export.write_figure(tmp_path / "f.png", small_spec(), dpi)
    image = QImage(str(out))
    assert (image.width(), image.height()) == (7 * dpi, 8 * dpi)
    assert round(image.dotsPerMeterX() * 0.0254) == dpi  # the file says its DPI
    pixels = np.frombuffer(image.convertToFormat(QImage.Format.Format_RGB32).constBits(),
                           np.uint8)
    assert len(np.unique(pixels)) > 50  # drawn: not a blank page


def test_svg_parses_and_holds_the_title_as_text(qapp, tmp_path):
    out = figure_export.write_figure(tmp_path / "f.svg", small_spec(), 300)
    root = ET.parse(out).getroot()
    assert root.tag.endswith("svg")
    text = " ".join(t for el in root.iter() for t in [el.text] if t)
    assert "explained class \u201cdog\u201d" in text and "tau = 0.25" in text
    assert any(el.tag.endswith("image") for el in root.iter())  # the spectrogram


def test_pdf_is_a_pdf_of_the_figure_size(qapp, tmp_path):
    data = figure_export.write_figure(tmp_path / "f.pdf", small_spec(), 300).read_bytes()
    assert data.startswith(b"%PDF")
    box = re.search(rb"MediaBox \[0 0 ([\d.]+) ([\d.]+)\]", data)
    assert box and (float(box[1]), float(box[2])) == (7 * 72, 8 * 72)


def test_a_failed_write_leaves_the_old_file_and_says_one_line(qapp, tmp_path, monkeypatch):
    old = tmp_path / "f.png"
    old.write_bytes(b"the figure of yesterday")

    def broken(spec, path, fmt, dpi):
        Path(path).write_bytes(b"half a PNG")
        raise RuntimeError("the PNG could not be saved")
    monkeypatch.setattr(figure, "save", broken)
    with pytest.raises(ExportError, match=r"^cannot write .*f\.png: the PNG could not"):
        figure_export.write_figure(old, small_spec())
    assert old.read_bytes() == b"the figure of yesterday"
    assert [p.name for p in tmp_path.iterdir()] == ["f.png"]  # no temporary file left
    with pytest.raises(ExportError, match=r"\.png, \.svg or \.pdf"):
        figure_export.write_figure(tmp_path / "f.jpg", small_spec())
    (tmp_path / "file").write_text("x")
    with pytest.raises(ExportError, match="is a file, not a folder"):
        figure_export.write_figure(tmp_path / "file" / "f.png", small_spec())


def test_colour_step_says_its_range_and_lut():
    values = np.arange(12, dtype=np.float32).reshape(3, 4)
    c = figure_export.colour(values, (0.0, 11.0), "dB")
    assert c.rgba.shape == (3, 4, 4) and c.rgba.dtype == np.uint8
    assert isinstance(c.colourbar, Colourbar) and c.colourbar.unit == "dB"
    assert (c.colourbar.low, c.colourbar.high) == (0.0, 11.0)
    np.testing.assert_array_equal(c.rgba[0, 0], c.colourbar.lut[0])
    np.testing.assert_array_equal(c.rgba[-1, -1], c.colourbar.lut[-1])


def test_a_range_that_spans_nothing_becomes_min_to_max():
    sparse = np.zeros((10, 1000), np.float32)
    sparse[3, :4] = 2.0  # a sparse H: its 99.5th percentile is 0
    bar = figure_export.colour(sparse).colourbar
    assert (bar.low, bar.high) == (0.0, 2.0)


# ---- the session and the window ------------------------------------------------------
@pytest.fixture(scope="module")
def explained():
    """The shipped bundle's session on a shipped example clip (no window)."""
    from engine.bundles.bundle import load_bundle
    from engine.explanation.explain import Explainer
    from l2i_desktop import jobs
    from l2i_desktop.model import ClipSource, Session

    explainer = Explainer(load_bundle(DEFAULT_BUNDLE))
    session = Session(tau=0.1)
    session.set_bundle(explainer)
    clip = ROOT / "resources" / "examples" / "rooster-1-26806-A.ogg"
    session.set_clip(jobs.analyse_clip(explainer, ClipSource.file(clip), None, 0.1))
    yield session
    explainer.close()


def test_title_names_clip_class_tau_and_bundle(qapp, explained):
    s = explained
    spec = figure_export.build_spec(s)
    title = " ".join(spec.title)
    name = s.class_name(s.explanation.target)
    assert "rooster-1-26806-A.ogg" in title and f"\u201c{name}\u201d" in title
    assert "tau = 0.10" in title and s.explainer.bundle.name in title
    other = (s.explanation.target + 1) % len(s.explainer.bundle.classes)
    exp = s.explainer.explain(s.clip.analysis, other, 0.3, with_components=False)
    s.set_explanation(exp)
    try:
        spec = figure_export.build_spec(s, "log_mel")
        title = " ".join(spec.title)
        assert f"\u201c{s.class_name(other)}\u201d" in title and "tau = 0.30" in title
        bars = spec.panels[-1]
        assert isinstance(bars, BarPanel) and bars.tau == pytest.approx(0.3)
        assert bars.selected == frozenset(exp.selected)
        # the classifier's mel bands on the same Hz axis as the interpretation
        assert spec.panels[1].y.label == "frequency (Hz)"
        assert spec.panels[1].colourbar.unit == "dB (classifier's input)"
    finally:
        s.set_clip(s.clip)  # back to the clip's own explanation for the other tests


def test_axes_are_in_seconds_hertz_and_components(qapp, explained):
    s = explained
    spec = figure_export.build_spec(s)
    wave, spec_panel, h, interp, bars = spec.panels
    assert wave.x.range == pytest.approx((0.0, s.clip.duration_s))
    assert spec_panel.y.range == (0.0, s.clip.analysis.sample_rate / 2)
    assert spec_panel.y.label == "frequency (Hz)" and wave.x.label == "time (s)"
    assert h.y.range == (0.0, s.explainer.bundle.k) and h.colourbar is not None
    assert h.marks == [k + 0.5 for k in s.explanation.selected]
    assert bars.x.label == "component" and len(bars.values) == s.explainer.bundle.k
    # the interpretation on the input's dB range, so the two compare
    assert (interp.colourbar.low, interp.colourbar.high) == \
        (spec_panel.colourbar.low, spec_panel.colourbar.high)
    assert spec_panel.colourbar.unit == "dB full scale"


def test_the_figure_follows_the_display_settings(qapp, explained):
    from l2i_desktop import spectrogram_display as sd
    from l2i_desktop.model.display import DisplaySettings

    fixed = DisplaySettings(colormap="greys", scale="log", auto_range=False,
                            floor_db=-100.0, ceiling_db=-20.0)
    spec = figure_export.build_spec(explained, display=fixed)
    panel = spec.panels[1]
    assert (panel.colourbar.low, panel.colourbar.high) == (-100.0, -20.0)
    np.testing.assert_array_equal(panel.colourbar.lut, sd.lookup_table("greys"))
    assert panel.y.range == pytest.approx((np.log10(20.0), np.log10(22050.0)))
    assert ("1k" in [t for _, t in panel.y.ticks]) and "log" in panel.y.label
    grey = panel.rgba[..., :3]
    assert (grey[..., 0] == grey[..., 1]).all() and (grey[..., 1] == grey[..., 2]).all()


@pytest.fixture
def window(qtbot, tmp_path):
    """The window on the shipped bundle (its own settings)."""
    from l2i_desktop.main_window import MainWindow
    from l2i_desktop.settings import Settings

    settings = Settings(QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat))
    win = MainWindow(DEFAULT_BUNDLE, settings)
    qtbot.addWidget(win)
    win.show()
    qtbot.waitUntil(lambda: win.session.explainer is not None, timeout=TIMEOUT)
    yield win
    win.close()


def _analysed(qtbot, win, clip: Path) -> None:
    win.open_clip(clip)
    qtbot.waitUntil(lambda: win.shown_clip == clip, timeout=TIMEOUT)


def _count(message: str) -> int:
    found = re.match(r"exported (\d+) files? to ", message)
    assert found, message
    return int(found[1])


def test_figure_menu_entry_needs_a_clip_and_writes_what_it_says(qtbot, window, tmp_path):
    act = window.findChild(type(window.menu_actions["export"]), "export_figure")
    names = [a.objectName() for a in window.menus["file"].actions()]
    assert names.index("export_figure") == names.index("export") + 1
    assert not act.isEnabled()
    _analysed(qtbot, window, ROOT / "resources" / "examples" / "rooster-1-26806-A.ogg")
    assert act.isEnabled()
    tool = window.tools["figure"]
    tool.export([tmp_path / "fig.png", tmp_path / "fig.svg", tmp_path / "fig.pdf"], dpi=120)
    qtbot.waitUntil(lambda: "exported" in window.statusBar().currentMessage(),
                    timeout=TIMEOUT)
    on_disk = sorted(p.name for p in tmp_path.iterdir() if p.is_file()
                     and p.name.startswith("fig"))
    assert on_disk == ["fig.pdf", "fig.png", "fig.svg"]
    assert _count(window.statusBar().currentMessage()) == len(on_disk)
    assert QImage(str(tmp_path / "fig.png")).width() == 7 * 120
    (tmp_path / "file").write_text("not a folder")
    tool.export([tmp_path / "file" / "fig.png"])
    qtbot.waitUntil(lambda: "is a file, not a folder" in window.error_label.text(),
                    timeout=TIMEOUT)
    tool.export([tmp_path / "fig.gif"])
    assert ".png, .svg or .pdf" in window.error_label.text()


def test_no_cursor_and_no_range_in_the_figure(qtbot, window, tmp_path):
    _analysed(qtbot, window, ROOT / "resources" / "examples" / "rooster-1-26806-A.ogg")
    tool = window.tools["figure"]
    window.views.set_cursor(0.0)
    first = figure.to_image(figure_export.build_spec(window.session), 100)
    window.views.set_cursor(2.5)
    window.session.choose(region=(0.5, 1.5))
    qtbot.waitUntil(lambda: window.views.selected_range() == (0.5, 1.5), timeout=TIMEOUT)
    second = figure.to_image(figure_export.build_spec(window.session), 100)
    assert first == second  # QImage compares pixels
    tool.export([tmp_path / "a.png"], dpi=100)
    qtbot.waitUntil(lambda: (tmp_path / "a.png").exists(), timeout=TIMEOUT)
    assert QImage(str(tmp_path / "a.png")).convertToFormat(first.format()) == first


def test_export_explanation_counts_every_file_and_draws_its_pictures(qtbot, window,
                                                                     tmp_path):
    _analysed(qtbot, window, ROOT / "resources" / "examples" / "rooster-1-26806-A.ogg")
    window.resize(640, 480)  # a grab would have the window's size: a drawing has not
    out = tmp_path / "export"
    window.export_to(out)
    qtbot.waitUntil(lambda: "exported" in window.statusBar().currentMessage(),
                    timeout=TIMEOUT)
    files = [p for p in out.rglob("*") if p.is_file()]
    assert _count(window.statusBar().currentMessage()) == len(files)
    assert len(files) == 6 + len(window.session.explanation.selected)
    views = QImage(str(out / "views.png"))
    assert (views.width(), views.height()) == (7 * 300, round(6.5 * 300))
    assert QImage(str(out / "relevance.png")).height() == 3 * 300


def test_dialog_writes_one_file_per_ticked_format(qtbot, tmp_path):
    dialog = figure_export.FigureDialog(tmp_path / "x.svg")
    qtbot.addWidget(dialog)
    assert dialog.also["svg"].isChecked() and not dialog.also["png"].isChecked()
    assert dialog.dpi.value() == 300 and "2100 x 2400 pixels" in dialog.pixels.text()
    dialog.dpi.setValue(150)
    assert "1050 x 1200 pixels" in dialog.pixels.text()
    dialog.also["png"].setChecked(True)
    assert dialog.paths() == [tmp_path / "x.png", tmp_path / "x.svg"]

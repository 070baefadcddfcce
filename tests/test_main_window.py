"""The analysis window driven for real (offscreen): a real ESC-10 clip, a real bundle,
the engine in its worker thread."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QMimeData, QPointF, QSettings, Qt, QUrl
from PySide6.QtGui import QDropEvent

from l2i_desktop.main_window import MainWindow
from l2i_desktop.settings import Settings

TIMEOUT = 60_000


def fresh_settings(folder) -> Settings:
    return Settings(QSettings(str(folder / "settings.ini"), QSettings.Format.IniFormat))


def _analysed(qtbot, win, clip):
    win.open_clip(clip)
    qtbot.waitUntil(lambda: win.shown_clip == clip, timeout=TIMEOUT)


def test_a_real_clip_fills_every_view(qtbot, window, esc10_clip):
    _analysed(qtbot, window, esc10_clip)
    a, exp = window.session.clip.analysis, window.session.explanation
    assert window.predictions.table.rowCount() == 3
    top = window.predictions.table.item(0, 0).text()
    assert top == a.classes[int(np.argmax(a.probabilities))]
    assert len(window.relevance.heights) == 16
    assert len(window.relevance.bars.opts["height"]) == len(exp.selected)
    assert window.components.table.rowCount() == len(exp.selected) > 0
    assert window.views.images[1].image.shape[:2] == tuple(a.H.shape)
    assert window.session.rendering.interpretation.shape == a.wave.shape


def test_tau_and_class_changes_update_the_explanation(qtbot, window, esc10_clip):
    _analysed(qtbot, window, esc10_clip)
    n_before = len(window.session.explanation.selected)
    window.tau_slider.setValue(0)
    qtbot.waitUntil(lambda: window.session.explanation.threshold == 0.0, timeout=TIMEOUT)
    assert len(window.session.explanation.selected) >= n_before
    other = (window.session.explanation.target + 1) % 3
    window.session.choose(target=other)
    qtbot.waitUntil(lambda: window.session.explanation.target == other
                    and window.predictions.combo.currentData() == other, timeout=TIMEOUT)


def test_muting_a_component_changes_the_interpretation_audio(qtbot, window, esc10_clip):
    _analysed(qtbot, window, esc10_clip)
    window.tau_slider.setValue(0)
    qtbot.waitUntil(lambda: window.session.explanation.threshold == 0.0, timeout=TIMEOUT)
    chosen = window.session.explanation.selected
    assert len(chosen) >= 2
    before = window.session.rendering.interpretation.copy()
    window.components.set_checked(chosen[0], window.components.MUTE, True)
    qtbot.waitUntil(lambda: chosen[0] not in window.session.rendering.indices, timeout=TIMEOUT)
    assert not np.allclose(window.session.rendering.interpretation, before)
    window.components.set_checked(chosen[1], window.components.SOLO, True)
    qtbot.waitUntil(lambda: window.session.rendering.indices == [chosen[1]], timeout=TIMEOUT)


def test_a_bad_file_shows_an_error_and_the_app_keeps_working(qtbot, window, tmp_path,
                                                               esc10_clip):
    bad = tmp_path / "noise.wav"
    bad.write_bytes(b"definitely not audio")
    window.open_clip(bad)
    qtbot.waitUntil(lambda: "noise.wav" in window.error_label.text(), timeout=TIMEOUT)
    _analysed(qtbot, window, esc10_clip)
    assert window.error_label.text() == ""


def test_settings_are_remembered_by_the_next_window(qtbot, tiny_bundle, tmp_path, esc10_clip):
    first = MainWindow(tiny_bundle, fresh_settings(tmp_path))
    qtbot.addWidget(first)
    qtbot.waitUntil(lambda: first.session.explainer is not None, timeout=TIMEOUT)
    _analysed(qtbot, first, esc10_clip)
    first.tau_slider.setValue(42)
    first.close()
    second = MainWindow(tiny_bundle, fresh_settings(tmp_path))
    qtbot.addWidget(second)
    assert second.session.tau == pytest.approx(0.42)
    assert second.settings.recent_files()[0] == esc10_clip
    assert [a.text() for a in second.recent_menu.actions()] == [str(esc10_clip)]
    second.close()


def test_window_layout_is_remembered(qtbot, tiny_bundle, tmp_path):
    first = MainWindow(tiny_bundle, fresh_settings(tmp_path))
    qtbot.addWidget(first)
    first.resize(1200, 860)
    first.show()
    first.splitters["bottom"].setSizes([300, 800])
    wanted = first.splitters["bottom"].sizes()
    first.close()
    second = MainWindow(tiny_bundle, fresh_settings(tmp_path))
    qtbot.addWidget(second)
    assert second.settings.splitter_sizes("bottom") == wanted
    got = second.splitters["bottom"].sizes()  # before the window has its final size
    assert got[0] / sum(got) == pytest.approx(wanted[0] / sum(wanted), abs=0.01)
    second.close()


def test_mel_view_shows_what_the_classifier_sees(qtbot, window, esc10_clip):
    _analysed(qtbot, window, esc10_clip)
    views = window.views
    before = views.images[0].image.copy()
    assert views.plots[1].titleLabel.text == "Spectrogram (dB)"
    window.findChild(type(window.menuBar().actions()[0]), "view_log_mel").trigger()
    assert "Mel" in views.plots[1].titleLabel.text
    assert not np.array_equal(views.images[0].image, before)
    # the classifier's own mel bands, placed at their centre frequencies on the same
    # Hz axis as the interpretation (both pictures share the frequency zoom)
    mel = window.session.clip.analysis.log_mel.cpu().numpy()
    np.testing.assert_allclose(views._grids["spectrum"], views._layout.rows(mel, mel=True))
    assert views.bars[1].getAxis("right").labelText == "dB (classifier's input)"
    assert views.images[0].boundingRect() == views.images[2].boundingRect()


def test_dropping_a_clip_opens_it(qtbot, window, esc10_clip):
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(esc10_clip))])
    event = QDropEvent(QPointF(10, 10), Qt.DropAction.CopyAction, mime,
                       Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier)
    window.dropEvent(event)
    qtbot.waitUntil(lambda: window.shown_clip == esc10_clip, timeout=TIMEOUT)


def test_the_engine_work_runs_off_the_ui_thread(qtbot, window, esc10_clip, monkeypatch):
    """Analysis, explanation and rendering run on the worker thread, never on the UI
    thread (how long the UI thread stalls is measured in benchmarks/ui_stall.py)."""
    import threading

    from l2i_desktop import jobs

    seen = []
    for name in ("analyse_clip", "explain", "render"):
        original = getattr(jobs, name)

        def spy(*args, _original=original, _name=name, **kwargs):
            seen.append((_name, threading.current_thread() is threading.main_thread()))
            return _original(*args, **kwargs)
        monkeypatch.setattr(jobs, name, spy)
    _analysed(qtbot, window, esc10_clip)
    window.tau_slider.setValue(0)
    qtbot.waitUntil(lambda: window.session.explanation.threshold == 0.0, timeout=TIMEOUT)
    window.components.set_checked(window.session.explanation.selected[0],
                                  window.components.MUTE, True)
    qtbot.waitUntil(lambda: any(n == "render" for n, _ in seen), timeout=TIMEOUT)
    assert {n for n, _ in seen} == {"analyse_clip", "explain", "render"}
    assert not any(on_ui for _, on_ui in seen)


def test_export_from_the_window_writes_audio_csv_and_pictures(qtbot, window, esc10_clip,
                                                              tmp_path):
    import soundfile as sf

    _analysed(qtbot, window, esc10_clip)
    out = tmp_path / "export"
    window.export_to(out)
    qtbot.waitUntil(lambda: "exported" in window.statusBar().currentMessage(),
                    timeout=TIMEOUT)
    names = {p.name for p in out.rglob("*") if p.is_file()}
    assert {"views.png", "relevance.png", "interpretation.wav", "residual.wav",
            "relevance.csv", "activations.csv"} <= names
    wave, rate = sf.read(out / "interpretation.wav", dtype="float32")
    assert rate == window.session.clip.analysis.sample_rate
    np.testing.assert_allclose(wave, window.session.rendering.interpretation, atol=1e-6)
    assert len(list((out / "components").glob("*.wav"))) == len(window.session.explanation.selected)


def test_manifest_dialog_opens_from_the_bundle_menu(qtbot, window):
    from l2i_desktop.manifest_dialog import ManifestDialog

    window.show_manifest()
    dialog = window.findChild(ManifestDialog)
    assert dialog is not None and dialog.isVisible()
    assert "tiny" in dialog.windowTitle()
    dialog.close()


def test_playback_uses_the_selected_range_and_space_toggles(qtbot, window, esc10_clip,
                                                            monkeypatch):
    _analysed(qtbot, window, esc10_clip)
    calls = []
    monkeypatch.setattr(window.player, "play",
                        lambda wave, rate, start=0.0, end=None, loop=False: calls.append(
                            (wave, rate, start, end)))
    window.views.region.setRegion((1.25, 3.5))
    window.play("residual")
    wave, rate, start, end = calls[-1]
    assert (start, end) == pytest.approx((1.25, 3.5))
    assert wave is window.session.rendering.residual
    assert rate == window.session.clip.analysis.sample_rate
    space = next(a for a in window.actions() if a.text() == "Play/pause")
    space.trigger()  # nothing playing: Space plays the interpretation
    assert calls[-1][0] is window.session.rendering.interpretation


def test_hovering_a_view_reads_out_time_frequency_and_value(qtbot, window, esc10_clip):
    _analysed(qtbot, window, esc10_clip)
    views = window.views
    texts = []
    views.hovered.connect(texts.append)
    plot = views.plots[1]
    a = window.session.clip.analysis
    mag = np.expm1(a.log_mag.cpu().numpy())
    frame_s = window.session.clip.duration_s / mag.shape[1]
    frame = int(np.argmax(mag.sum(axis=0)))  # the loudest moment: no digital silence
    t = (frame + 0.5) * frame_s
    views._on_mouse(plot.vb.mapViewToScene(QPointF(t, 1000.0)))
    assert texts, "no readout"
    assert f"t = {t:.3f} s" in texts[-1] and "f = 1000 Hz" in texts[-1]
    # the level of the cell under the mouse, in dB full scale, as the picture shows it
    row = int(1000 / (a.sample_rate / 2) * 256)  # the linear axis' 256 rows
    bins = slice(2 * row, 2 * row + 2)  # the bins whose centres fall in that row
    level = float(texts[-1].split("level ")[1].split(" dB")[0])
    want = 20 * np.log10(mag[bins, frame].max() / 256)  # 0 dB: a full-scale sine, n_fft 1024
    assert level == pytest.approx(want, abs=3.0)
    # on a log axis the same point is still read in Hz
    window.session.display.set(scale="log")
    views._on_mouse(plot.vb.mapViewToScene(QPointF(t, np.log10(1000.0))))
    assert "f = 1000 Hz" in texts[-1]


def test_opening_another_bundle_re_explains_the_open_clip(qtbot, window, esc10_clip,
                                                          tmp_path):
    from conftest import random_bundle

    from engine.bundles.bundle import save_bundle

    _analysed(qtbot, window, esc10_clip)
    other = save_bundle(random_bundle(n_classes=3, k=12), tmp_path / "random.l2i")
    old = window.session.explainer
    window.open_bundle(other)
    qtbot.waitUntil(lambda: window.session.explainer is not old and window.shown_clip == esc10_clip
                    and window.session.explanation is not None
                    and len(window.session.explanation.relevance) == 12, timeout=TIMEOUT)
    assert window.session.clip.analysis.H.shape[0] == 12
    assert "random" in window.windowTitle()

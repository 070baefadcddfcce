"""Exports from a real window (offscreen, real clip, real bundle), read back and checked
against what the window holds."""

from __future__ import annotations

import csv
import dataclasses

import numpy as np
import pytest
import soundfile as sf
from PySide6.QtCore import QSettings

from engine.runtime.errors import L2IError
from l2i_desktop import export, figure_export, jobs
from l2i_desktop.main_window import MainWindow
from l2i_desktop.settings import Settings

TIMEOUT = 60_000


def _new_window(qtbot, bundle, tmp_path_factory) -> MainWindow:
    folder = tmp_path_factory.mktemp("settings")  # not tmp_path: tests list that folder
    settings = Settings(QSettings(str(folder / "settings.ini"), QSettings.Format.IniFormat))
    win = MainWindow(bundle, settings)
    qtbot.addWidget(win)
    return win


@pytest.fixture
def window(qtbot, tiny_bundle, esc10_clip, tmp_path_factory):
    win = _new_window(qtbot, tiny_bundle, tmp_path_factory)
    win.show()
    qtbot.waitUntil(lambda: win.session.explainer is not None, timeout=TIMEOUT)
    win.open_clip(esc10_clip)
    # the explanation follows the clip in a later turn of the event loop
    qtbot.waitUntil(lambda: win.session.clip is not None and win.session.clip.path == esc10_clip
                    and win.session.rendering is not None
                    and win.session.rendering.interpretation.shape
                    == win.session.clip.analysis.wave.shape,
                    timeout=TIMEOUT)
    yield win
    win.close()


def _with_tau(qtbot, win, value: int) -> None:
    win.tau_slider.setValue(value)
    qtbot.waitUntil(lambda: win.session.explanation.threshold == value / 100, timeout=TIMEOUT)


def _read(path):
    data, rate = sf.read(str(path), dtype="float32", always_2d=False)
    return data, rate


def _audio(win, folder, **kw):
    s = win.session
    return export.export_audio(folder, s.explainer, s.clip, s.explanation, s.rendering, **kw)


def test_audio_export_matches_the_window(qtbot, window, tmp_path):
    _with_tau(qtbot, window, 0)
    a, exp = window.session.clip.analysis, window.session.explanation
    rate = window.session.explainer.bundle.frontend.sample_rate
    assert len(exp.selected) >= 2
    written = _audio(window, tmp_path / "out")
    n_files = 2 + len(exp.selected)
    assert len(written) == n_files and all(p.is_file() for p in written)
    for p in written:
        assert sf.info(str(p)).samplerate == rate
        assert sf.info(str(p)).frames == a.n_samples
        assert sf.info(str(p)).channels == 1
    interp, _ = _read(tmp_path / "out" / "interpretation.wav")
    resid, _ = _read(tmp_path / "out" / "residual.wav")
    np.testing.assert_allclose(interp, window.session.rendering.interpretation, rtol=0, atol=1e-7)
    np.testing.assert_allclose(resid, window.session.rendering.residual, rtol=0, atol=1e-7)
    assert np.abs(interp).max() > 1e-4 and not np.allclose(interp, resid)

    comp_dir = tmp_path / "out" / "components"
    names = sorted(p.name for p in comp_dir.iterdir())
    assert names == sorted(f"component_{k:03d}.wav" for k in exp.selected)
    expected = window.session.explainer.component_audio(a, exp.selected)
    for k in exp.selected:
        wave, _ = _read(comp_dir / f"component_{k:03d}.wav")
        np.testing.assert_allclose(wave, expected[k], rtol=0, atol=1e-7)
    first, second = (_read(comp_dir / f"component_{k:03d}.wav")[0] for k in exp.selected[:2])
    assert not np.allclose(first, second)
    assert not list(tmp_path.rglob(".*")), "temporary files were left behind"


def test_muting_a_component_changes_the_exported_interpretation(qtbot, window, tmp_path):
    _with_tau(qtbot, window, 0)
    chosen = list(window.session.explanation.selected)
    assert len(chosen) >= 2
    _audio(window, tmp_path)
    before, _ = _read(tmp_path / "interpretation.wav")
    window.components.set_checked(chosen[0], window.components.MUTE, True)
    qtbot.waitUntil(lambda: window.session.rendering.indices == chosen[1:], timeout=TIMEOUT)
    _audio(window, tmp_path)  # the same folder: files are replaced
    after, _ = _read(tmp_path / "interpretation.wav")
    np.testing.assert_allclose(after, window.session.rendering.interpretation, rtol=0, atol=1e-7)
    assert not np.allclose(after, before, atol=1e-4)
    # what was muted went to the residual; the selection (and its files) is unchanged
    resid, _ = _read(tmp_path / "residual.wav")
    np.testing.assert_allclose(resid, window.session.rendering.residual, rtol=0, atol=1e-7)
    assert len(list((tmp_path / "components").iterdir())) == len(chosen)


def test_a_smaller_selection_leaves_no_stale_component_files(qtbot, window, tmp_path):
    _with_tau(qtbot, window, 0)
    many = list(window.session.explanation.selected)
    _audio(window, tmp_path)
    r = np.sort(window.session.explanation.relevance)[::-1]
    assert r[0] > 0.99 > r[1] > 0  # the top one is 1 by construction
    _with_tau(qtbot, window, 99)
    fewer = list(window.session.explanation.selected)
    assert 0 < len(fewer) < len(many)
    _audio(window, tmp_path)
    names = sorted(p.name for p in (tmp_path / "components").iterdir())
    assert names == sorted(f"component_{k:03d}.wav" for k in fewer)


def test_audio_at_the_files_native_rate(qtbot, window, tmp_path):
    a = window.session.clip.analysis
    rate = a.sample_rate
    written = _audio(window, tmp_path, native_rate=rate // 2)
    for p in written:
        info = sf.info(str(p))
        assert info.samplerate == rate // 2
        assert info.frames == round(a.n_samples / 2)


def test_relevance_and_activations_csv(qtbot, window, tmp_path):
    a, exp = window.session.clip.analysis, window.session.explanation
    K = window.session.explainer.bundle.k
    path = export.export_relevance_csv(tmp_path / "relevance.csv", a.classes, exp)
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["component", "relevance", "selected"]
    body = rows[1:]
    assert len(body) == K
    assert sorted(int(r[0]) for r in body) == list(range(K))
    values = [float(r[1]) for r in body]
    assert values == sorted(values, reverse=True)
    for comp, rel, sel in body:
        assert float(rel) == pytest.approx(float(exp.relevance[int(comp)]), abs=1e-7)
        assert sel == ("1" if int(comp) in exp.selected else "0")
    assert sum(r[2] == "1" for r in body) == len(exp.selected) > 0

    frame_s = window.session.explainer.cfg.hop_length / window.session.explainer.cfg.sample_rate
    path = export.export_activations_csv(tmp_path / "act.csv", a, frame_s)
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    H = a.H.cpu().numpy()
    assert rows[0] == ["time_s"] + [f"h_{k}" for k in range(K)]
    table = np.array(rows[1:], dtype=float)
    assert table.shape == (H.shape[1], K + 1)
    np.testing.assert_allclose(table[:, 0], np.arange(H.shape[1]) * frame_s, atol=1e-6)
    np.testing.assert_allclose(table[:, 1:], H.T, rtol=1e-6, atol=1e-9)


def _export_everything(window, folder) -> dict[str, object]:
    """What File > Export writes (MainWindow.export_to): the two pictures, drawn from the
    data in memory, written with the data files (on the worker)."""
    s = window.session
    pictures = figure_export.explanation_pictures(s, window.views.spectrum_kind)
    written = jobs.export_data(folder, s.explainer, s.clip, s.explanation, s.rendering,
                               pictures)
    return {p.relative_to(folder).as_posix(): p for p in written}


def test_export_everything(qtbot, window, tmp_path):
    exp = window.session.explanation
    out = _export_everything(window, tmp_path / "all")
    expected = {"interpretation.wav", "residual.wav", "relevance.csv", "activations.csv",
                "views.png", "relevance.png"}
    expected |= {f"components/component_{k:03d}.wav" for k in exp.selected}
    assert set(out) == expected
    for name, p in out.items():
        assert p == tmp_path / "all" / name and p.is_file() and p.stat().st_size > 0
    assert not [p for p in (tmp_path / "all").rglob(".*")]  # no temporary file left


def test_exporting_under_a_file_gives_one_clear_error(qtbot, window, tmp_path):
    blocker = tmp_path / "not_a_folder"
    blocker.write_text("x")
    with pytest.raises(L2IError) as err:
        _export_everything(window, blocker / "out")
    message = str(err.value)
    assert "not_a_folder" in message and "is a file" in message
    assert "\n" not in message
    with pytest.raises(L2IError, match="is a file"):
        export.export_relevance_csv(blocker / "r.csv", window.session.clip.analysis.classes,
                                    window.session.explanation)
    with pytest.raises(L2IError, match="is a file"):
        export.write_file(blocker / "v.png", lambda tmp: tmp.write_bytes(b"not written"))
    assert blocker.read_text() == "x"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["not_a_folder"]


def test_an_explanation_of_another_class_is_refused(qtbot, window, tmp_path):
    other = dataclasses.replace(window.session.explanation,
                                target=(window.session.explanation.target + 1) % 3)
    with pytest.raises(L2IError, match="does not belong"):
        export.export_audio(tmp_path, window.session.explainer, window.session.clip, other,
                            window.session.rendering)
    assert list(tmp_path.iterdir()) == []
    s = window.session
    export.export_audio(tmp_path, s.explainer, s.clip, s.explanation, s.rendering)
    assert (tmp_path / "interpretation.wav").is_file()


def test_nothing_to_export_before_a_clip(qtbot, tiny_bundle, tmp_path, tmp_path_factory):
    win = _new_window(qtbot, tiny_bundle, tmp_path_factory)
    try:
        qtbot.waitUntil(lambda: win.session.explainer is not None, timeout=TIMEOUT)
        win.export_to(tmp_path / "out")
        assert "open a clip" in win.error_label.text()
        assert list(tmp_path.iterdir()) == []
    finally:
        win.close()

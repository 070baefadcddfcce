"""The SLIME panel in a real window (pytest-qt) with the shipped bundle and real ESC-10
clips: it explains the class L2I explains on the engine worker, refits for another class
without classifying again, steps aside for a new clip, and plays through a real
(private, null-sink) PulseAudio server."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QSettings, Qt
from PySide6.QtWidgets import QDockWidget
from test_audio_server import RATE, Capture, best_lag

from engine.bundles.bundle import load_bundle
from engine.explanation.explain import Explainer
from engine.explanation.quality import explain_terms
from l2i_desktop.main_window import MainWindow
from l2i_desktop.settings import Settings
from resources import default_bundle_path

TIMEOUT = 120_000


@pytest.fixture
def window(qtbot, tmp_path, esc10):
    if default_bundle_path() is None:
        pytest.skip("no default bundle in resources/")
    settings = Settings(QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat))
    win = MainWindow(default_bundle_path(), settings)
    qtbot.addWidget(win)
    win.show()
    qtbot.waitUntil(lambda: win.session.explainer is not None, timeout=TIMEOUT)
    yield win
    win.close()


def clip(esc10, folder: str, i: int = 0):
    return sorted((esc10 / folder).glob("1-*.ogg"))[i]


def open_and_show(qtbot, win, path, samples: int, kind: str = "freq", wait: bool = True):
    panel = win.tools["slime"]
    panel.kind.setCurrentIndex(panel.kind.findData(kind))
    panel.samples.setValue(samples)
    win.open_clip(path)
    qtbot.waitUntil(lambda: win.shown_clip == path, timeout=TIMEOUT)
    menu = next(a.menu() for a in win.menuBar().actions()
                if a.menu() is not None and a.menu().title().replace("&", "") == "Analyse")
    show = next(a for a in menu.actions() if a.objectName() == "slime_show")
    show.trigger()
    assert win.findChild(QDockWidget, "slime_dock").isVisible()
    if wait:
        wait_current(qtbot, panel)
    return panel


def wait_current(qtbot, panel):
    qtbot.waitUntil(lambda: panel.result is not None and panel.result.key == panel.wanted(),
                    timeout=TIMEOUT)


def test_panel_shows_slime_beside_l2i_and_refits_for_another_class(qtbot, window, esc10):
    panel = open_and_show(qtbot, window, clip(esc10, "009 - Rooster"), samples=24)
    r, a = panel.result, window.session.clip.analysis
    exp = r.explanation
    assert exp.target == window.session.explanation.target == a.predicted
    assert len(exp.weights) == 8
    np.testing.assert_allclose(panel.bars.opts["height"], exp.weights)
    red = [j for j, b in enumerate(panel.bars.opts["brushes"]) if b == "#d62728"]
    assert sorted(red) == sorted(exp.selected) and exp.selected
    assert np.array_equal(panel.image.image, r.picture)
    assert len(panel._boxes) == 2 * len(exp.selected)  # a box and its rank per segment
    # the table holds both explanations' faithfulness; L2I's is the engine's measurement
    table = panel.table
    assert table.item(0, 0).text() == f"{r.faith['L2I'].ff:+.3f}"
    assert table.item(0, 1).text() == f"{r.faith['SLIME'].ff:+.3f}"
    assert table.item(3, 1).text() == f"{len(exp.selected)} of 8 segments"
    with Explainer(load_bundle(default_bundle_path())) as ex:  # not the worker's
        ref = explain_terms(ex, ex.analyse(a.wave), window.session.tau)
    assert r.faith["L2I"].ff == pytest.approx(ref.faithfulness, abs=1e-5)

    pert = panel._cache["freq"]
    assert pert.complete and pert.done == 24
    other = int(np.argsort(-a.probabilities)[1])
    window.session.choose(target=other)
    qtbot.waitUntil(lambda: panel.result.key[1] == other and panel.result.key == panel.wanted(),
                    timeout=TIMEOUT)
    assert panel._cache["freq"] is pert and pert.done == 24  # refit, nothing reclassified
    assert panel.result.explanation.target == other
    assert a.classes[other] in panel.status.text()


def test_a_new_clip_makes_running_work_step_aside(qtbot, window, esc10):
    first, second = clip(esc10, "007 - Helicopter"), clip(esc10, "002 - Rain")
    # far more samples than this test will wait for
    panel = open_and_show(qtbot, window, first, samples=3000, wait=False)
    qtbot.waitUntil(lambda: panel._cache.get("freq") is not None
                    and panel._cache["freq"].done > 0, timeout=TIMEOUT)
    stale = panel._cache["freq"]
    window.open_clip(second)
    qtbot.waitUntil(lambda: window.shown_clip == second, timeout=TIMEOUT)
    assert 0 < stale.done < 3000  # it stopped, part-way, for the new clip's analysis
    qtbot.waitUntil(lambda: panel._cache_for is window.session.clip.analysis
                    and panel._cache.get("freq") is not None, timeout=TIMEOUT)
    assert panel._cache["freq"] is not stale  # the new clip starts afresh
    panel.samples.setValue(20)  # the fewest the panel offers
    panel.restart()
    wait_current(qtbot, panel)
    assert panel._cache["freq"].done == 20 and panel._cache_for is window.session.clip.analysis


def heard(qtbot, panel, button: str, seconds: float = 1.5) -> np.ndarray:
    with Capture() as cap:
        qtbot.mouseClick(panel.buttons[button], Qt.MouseButton.LeftButton)
        qtbot.wait(int(seconds * 1000))
        qtbot.mouseClick(panel.buttons["stop"], Qt.MouseButton.LeftButton)
    return cap.wave()


def in_bands(x: np.ndarray, bands: list[tuple[float, float]]) -> float:
    """Share of the energy of x within the frequency ranges ``bands`` (Hz)."""
    power = np.abs(np.fft.rfft(x)) ** 2
    f = np.fft.rfftfreq(len(x), 1 / RATE)
    inside = np.zeros(f.shape, bool)
    for lo, hi in bands:
        inside |= (f >= lo) & (f < hi)
    return float(power[inside].sum() / power.sum())


def test_panel_plays_slime_explanation_and_residual(qtbot, server, window, esc10):
    panel = open_and_show(qtbot, window, clip(esc10, "007 - Helicopter"), samples=24)
    errors = []
    window.player.error.connect(errors.append)
    exp = panel.result.explanation
    hz = window.session.explainer.cfg.sample_rate / window.session.explainer.cfg.n_fft
    bands = [(exp.segments[j].f0 * hz, exp.segments[j].f1 * hz) for j in exp.selected]
    shares = {}
    for button, mine, other in (("interpretation", exp.interpretation, exp.residual),
                                ("residual", exp.residual, exp.interpretation)):
        rec = heard(qtbot, panel, button)
        assert window.session.playing == f"slime_{button}"
        _, match = best_lag(rec, mine, RATE // 2)
        _, mismatch = best_lag(rec, other, RATE // 2)
        shares[button] = in_bands(rec, bands)
        # heard: this signal, not the other part of the clip (one lag fits all only
        # without dropped blocks, which a busy machine's sound server has now and then)
        assert match > 10 * mismatch and mismatch < 0.05, (button, match, mismatch)
    # SLIME's bands are what the explanation sounds like, and what the residual lacks
    assert shares["interpretation"] > 0.9 and shares["residual"] < 0.1, shares
    assert not errors

"""The L-MAC panel in a real window (pytest-qt) with the shipped bundle, which carries an
L-MAC decoder, and a shipped example clip: Analyse > L-MAC is enabled only with a decoder
and a clip; the panel shows the engine's mask and numbers, fills SLIME's row once SLIME
has run, can be cancelled, and plays the masked-in audio through a real (private,
null-sink) PulseAudio server."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QSettings, Qt
from PySide6.QtWidgets import QDockWidget
from test_audio_server import RATE, Capture, best_lag

from engine.bundles.bundle import load_bundle, save_bundle
from engine.explanation.explain import Explainer
from engine.explanation.lmac import LMACExplainer
from engine.explanation.quality import clip_terms, explain_terms
from l2i_desktop.main_window import MainWindow
from l2i_desktop.settings import Settings
from resources import default_bundle_path, examples

TIMEOUT = 120_000


@pytest.fixture
def window(qtbot, tmp_path):
    if default_bundle_path() is None:
        pytest.skip("no default bundle in resources/")
    settings = Settings(QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat))
    win = MainWindow(default_bundle_path(), settings)
    qtbot.addWidget(win)
    win.show()
    qtbot.waitUntil(lambda: win.session.explainer is not None, timeout=TIMEOUT)
    yield win
    win.close()


def example(stem: str):
    return next(p for _, p in examples() if p.stem.startswith(stem))


def action(win, name: str):
    return next(a for a in win.menus["analyse"].actions() if a.objectName() == name)


def open_clip(qtbot, win, path) -> None:
    win.open_clip(path)
    qtbot.waitUntil(lambda: win.shown_clip == path, timeout=TIMEOUT)


def show_panel(qtbot, win, path, wait: bool = True):
    open_clip(qtbot, win, path)
    act = action(win, "lmac_show")
    assert act.isEnabled()
    act.trigger()
    assert win.findChild(QDockWidget, "lmac_dock").isVisible()
    panel = win.tools["lmac"]
    if wait:
        qtbot.waitUntil(panel.settled, timeout=TIMEOUT)
        assert panel.outcome is not None, panel.status.text()
    return panel


def cells(panel, row: int) -> list[str]:
    return [panel.table.item(row, c).text() for c in range(panel.table.columnCount())]


def test_menu_entry_needs_a_clip_and_a_decoder(qtbot, window, tmp_path):
    act = action(window, "lmac_show")
    assert not act.isEnabled() and "open a clip" in act.toolTip()
    open_clip(qtbot, window, example("rooster"))
    assert act.isEnabled()
    bare = load_bundle(default_bundle_path())  # the same bundle without its decoder
    bare.lmac = None
    del bare.manifest["lmac"]
    save_bundle(bare, tmp_path / "bare")
    window.open_bundle(tmp_path / "bare")
    qtbot.waitUntil(lambda: window.session.explainer.bundle.lmac is None, timeout=TIMEOUT)
    open_clip(qtbot, window, example("rooster"))
    assert not act.isEnabled()
    assert "has no L-MAC decoder" in act.toolTip() and "l2i train lmac" in act.toolTip()


def test_panel_shows_the_engines_mask_and_numbers(qtbot, window):
    panel = show_panel(qtbot, window, example("dog_bark"))
    a, tau = window.session.clip.analysis, window.session.tau
    mask = panel.overlay.image
    assert mask.shape == tuple(a.log_mag.shape)  # one value per cell of the clip's STFT
    assert 0.0 <= mask.min() and mask.max() <= 1.0 and mask.max() > mask.min()
    with Explainer(load_bundle(default_bundle_path())) as ex:  # not the worker's
        with LMACExplainer(ex.bundle) as lx:
            ref = lx.explain(a.wave)
        l2i = explain_terms(ex, ex.analyse(a.wave), tau)
    np.testing.assert_allclose(mask, ref.mask, atol=1e-5)
    c = ref.predicted
    assert c == a.predicted == panel.outcome.target
    terms = clip_terms(ref.probabilities, ref.probabilities_in, ref.probabilities_out,
                       ref.mask)
    lmac = cells(panel, 1)
    assert float(lmac[0]) == pytest.approx(terms.faithfulness, abs=2e-3)
    assert lmac[1] == f"{'yes' if terms.fidelity_in else 'no'} (p " \
                      f"{ref.probabilities_in[c]:.2f})"
    assert lmac[2] == f"{100 * ref.mask.mean():.1f} %"
    assert float(lmac[3].removesuffix(" s")) > 0
    row = cells(panel, 0)  # L2I's, at the window's tau, measured as `l2i evaluate` does
    assert float(row[0]) == pytest.approx(l2i.faithfulness, abs=2e-3)
    assert row[1].startswith("yes" if l2i.fidelity_in else "no")
    assert cells(panel, 2) == ["not run"] * 4 and panel.run_slime.isVisibleTo(panel)

    slime = window.tools["slime"]
    slime.kind.setCurrentIndex(slime.kind.findData("freq"))
    slime.samples.setValue(24)
    qtbot.mouseClick(panel.run_slime, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: slime.current() is not None, timeout=TIMEOUT)
    f = slime.current().faith["SLIME"]
    assert cells(panel, 2)[:3] == [f"{f.ff:+.3f}",
                                   f"{'yes' if f.fidelity_in else 'no'} (p {f.kept:.2f})",
                                   f"{100 * f.fraction:.1f} %"]
    assert not panel.run_slime.isVisibleTo(panel)


def test_cancel_then_run_again(qtbot, window):
    panel = show_panel(qtbot, window, example("helicopter"), wait=False)
    assert panel._pending is not None and panel.run_button.text() == "■ Cancel"
    qtbot.mouseClick(panel.run_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: panel._pending is None, timeout=TIMEOUT)
    assert panel.outcome is None and "cancelled" in panel.status.text()
    assert panel.run_button.text() == "Run" and panel.run_button.isEnabled()
    qtbot.mouseClick(panel.run_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(panel.settled, timeout=TIMEOUT)
    assert panel.outcome is not None and not panel.run_button.isEnabled()


def heard(qtbot, panel, button: str, seconds: float = 1.5) -> np.ndarray:
    with Capture() as cap:
        qtbot.mouseClick(panel.buttons[button], Qt.MouseButton.LeftButton)
        qtbot.wait(int(seconds * 1000))
        qtbot.mouseClick(panel.buttons["stop"], Qt.MouseButton.LeftButton)
    return cap.wave()


def test_masked_in_button_plays_the_masked_in_audio(qtbot, server, window):
    panel = show_panel(qtbot, window, example("rooster"))
    errors = []
    window.player.error.connect(errors.append)
    with LMACExplainer(load_bundle(default_bundle_path())) as lx:  # not the worker's
        ref = lx.explain(window.session.clip.analysis.wave)
    assert window.session.clip.analysis.sample_rate == RATE
    rec = heard(qtbot, panel, "in")
    assert window.session.playing == "lmac_in"
    np.testing.assert_allclose(window.player._buffer, ref.interpretation, atol=1e-5)
    _, match = best_lag(rec, ref.interpretation, RATE // 2)
    _, mismatch = best_lag(rec, ref.residual, RATE // 2)
    # heard: the masked-in audio, not what L-MAC removes (one lag fits all only without
    # dropped blocks, which a busy machine's sound server has now and then)
    assert match > 0.95 and mismatch < 0.5, (match, mismatch)
    # and what plays is not the clip itself (on the rooster the two sound alike)
    assert np.abs(window.player._buffer - window.session.clip.analysis.wave).max() > 0.01
    assert not errors

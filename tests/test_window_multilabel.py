"""A multi-label bundle in the window: every class at or over 0.5 is shown as active."""

from __future__ import annotations

from conftest import random_bundle
from test_main_window import TIMEOUT, fresh_settings

from engine.bundles.bundle import save_bundle
from l2i_desktop.main_window import MainWindow


def test_multilabel_bundle_marks_every_active_class(qtbot, tmp_path, esc10_clip):
    bundle = save_bundle(random_bundle(n_classes=6, multilabel=True, seed=3),
                         tmp_path / "ml.l2i")
    win = MainWindow(bundle, fresh_settings(tmp_path))
    qtbot.addWidget(win)
    win.show()
    qtbot.waitUntil(lambda: win.session.explainer is not None, timeout=TIMEOUT)
    win.open_clip(esc10_clip)
    qtbot.waitUntil(lambda: win.shown_clip == esc10_clip, timeout=TIMEOUT)
    a = win.session.clip.analysis
    table = win.predictions.table
    shown = {table.item(r, 0).text().removeprefix("● "): table.item(r, 0).text()
             for r in range(table.rowCount())}
    assert set(shown) == set(a.classes)
    for name, p in zip(a.classes, a.probabilities):
        assert shown[name].startswith("● ") == (p >= 0.5), (name, p)
    # the untrained model gives some classes over and some under the threshold
    assert 0 < sum(p >= 0.5 for p in a.probabilities) < len(a.classes)
    win.close()

"""`l2i-desktop CLIP --bundle B`: a bundle with Python code asks, as File > Open bundle
does, instead of failing on the untrusted code."""

from __future__ import annotations

from window_entry import open_at_start


def test_a_code_bundle_given_at_start_asks_and_opens(qtbot, tmp_path, monkeypatch,
                                                      esc10_clip):
    from test_user_classifier import BYO_FILE, custom_bundle

    from engine.bundles.bundle import save_bundle
    from engine.models.user_classifier import ClassifierCode

    # a bundle whose classifier is built by its own Python file
    bundle = save_bundle(custom_bundle(ClassifierCode.from_file(BYO_FILE, "build_mel_model")),
                         tmp_path / "byo.l2i")
    win, asked = open_at_start(esc10_clip, bundle, qtbot, monkeypatch)
    try:
        assert asked == ["Bundle with Python code"]
        assert win.session.explainer.bundle.classifier_code is not None
    finally:
        win.close()

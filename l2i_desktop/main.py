"""``l2i-desktop [CLIP] [--bundle B]``: the application's entry point.

Until the analysis window lands this opens a minimal window that loads the bundle and,
when a clip is given, shows the classifier's top predictions for it.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="l2i-desktop")
    ap.add_argument("clip", nargs="?", type=Path)
    ap.add_argument("--bundle", type=Path, default=None)
    return ap.parse_args(argv)


def summary_text(clip: Path | None, bundle_path: Path | None) -> str:
    """What the placeholder window shows; computed before the window opens."""
    from engine.audio import load_audio
    from engine.bundle import load_bundle
    from engine.errors import L2IError
    from engine.explain import Explainer
    from resources import default_bundle_path

    path = bundle_path or default_bundle_path()
    if path is None:
        return "No default model ships with this version yet.\nStart with --bundle PATH."
    try:
        bundle = load_bundle(path)
        lines = [f"Bundle: {bundle.name}  (K = {bundle.k}, {len(bundle.classes)} classes)"]
        if clip is not None:
            ex = Explainer(bundle)
            analysis = ex.analyse(load_audio(clip, bundle.frontend.sample_rate))
            order = analysis.probabilities.argsort()[::-1][:5]
            lines.append(f"\n{clip.name}")
            lines += [f"  {bundle.classes[i]}: {analysis.probabilities[i]:.2f}" for i in order]
        return "\n".join(lines)
    except L2IError as exc:
        return f"Error: {exc}"


def build_window(args: argparse.Namespace):
    from PySide6.QtWidgets import QLabel, QMainWindow

    win = QMainWindow()
    win.setWindowTitle("L2I Desktop")
    label = QLabel(summary_text(args.clip, args.bundle))
    label.setObjectName("summary")
    label.setMargin(24)
    win.setCentralWidget(label)
    win.resize(640, 360)
    return win


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication(sys.argv[:1])
    win = build_window(args)
    win.show()
    return app.exec()


if __name__ == "__main__":
    sys.exit(main())

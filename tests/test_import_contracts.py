"""The layering rules: engine and trainer never import Qt; engine never imports trainer."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# the checkout's own environment, or the one running the tests (a git worktree has none)
LINT_IMPORTS = next((p for p in (ROOT / ".venv" / "bin" / "lint-imports",
                                 Path(sys.executable).parent / "lint-imports") if p.is_file()),
                    ROOT / ".venv" / "bin" / "lint-imports")
QT = ("PySide6", "shiboken6", "pyqtgraph", "l2i_desktop")

PROBE = f"""
import importlib, json, pkgutil, sys
import engine, trainer
names = []
for pkg in (engine, trainer):
    for info in pkgutil.walk_packages(pkg.__path__, pkg.__name__ + "."):
        importlib.import_module(info.name)
        names.append(info.name)

def qt():
    return sorted(m for m in sys.modules if m.split(".")[0] in {QT!r})

before = qt()
import PySide6.QtCore  # a control: the same check must notice Qt once it is loaded
print(json.dumps({{"imported": names, "qt": before, "qt_after_control": qt()}}))
"""


def test_import_linter_contracts_are_kept():
    assert LINT_IMPORTS.is_file(), f"lint-imports not found at {LINT_IMPORTS}"
    run = subprocess.run([str(LINT_IMPORTS)], cwd=ROOT, capture_output=True, text=True,
                         timeout=120)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "0 broken" in run.stdout
    assert "engine and trainer never import Qt KEPT" in run.stdout
    assert "engine never imports trainer KEPT" in run.stdout
    assert "engine modules the window imports at start never import torch KEPT" in run.stdout


def test_engine_and_trainer_modules_do_not_load_qt():
    """Every engine and trainer module, imported in a fresh interpreter, leaves Qt out."""
    run = subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, capture_output=True,
                         text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-2000:]
    found = json.loads(run.stdout.strip().splitlines()[-1])
    for module in ("engine.bundles.bundle", "engine.explanation.explain", "trainer.cli",
                   "trainer.commands", "trainer.pipeline", "trainer.distributed",
                   "trainer.evaluate"):
        assert module in found["imported"]
    assert found["qt"] == []
    assert "PySide6.QtCore" in found["qt_after_control"]

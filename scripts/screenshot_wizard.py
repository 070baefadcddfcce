"""Screenshots of the training wizard's run and results pages, with a small real training
on ESC-10 clips (run under Xvfb; a few minutes on two CPU cores):

    xvfb-run -a -s "-screen 0 1400x1000x24" python scripts/screenshot_wizard.py \
        --data ../shared/data/esc10 --out docs/

The data folder is a temporary set of links to the first clips of a few classes (nothing
is copied). The run page is captured while the interpreter trains, the results page
when the run has finished.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QWizard

from l2i_desktop.wizard import TrainWizard


def linked_subset(src: Path, dst: Path, classes: int, per_class: int) -> Path:
    for class_dir in sorted(p for p in src.iterdir() if p.is_dir())[:classes]:
        out = dst / class_dir.name
        out.mkdir(parents=True)
        for f in sorted(class_dir.iterdir())[:per_class]:
            (out / f.name).symlink_to(f.resolve())
    return dst


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", type=Path, required=True)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--classes", type=int, default=5)
    ap.add_argument("--per-class", type=int, default=24)
    a = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="l2i-shot-"))
    data = linked_subset(a.data, tmp / "data", a.classes, a.per_class)
    app = QApplication(sys.argv[:1])
    w = TrainWizard(work_root=tmp / "runs", cache=tmp / "cache")
    w.resize(1100, 860)
    w.show()
    w.data_page.set_folder(data)
    state = {"step": "data", "run_shot": False}

    def click_next() -> None:
        for which in (QWizard.WizardButton.NextButton, QWizard.WizardButton.CommitButton):
            if w.button(which).isVisible():
                w.button(which).click()
                return

    def shot(name: str) -> None:
        a.out.mkdir(parents=True, exist_ok=True)
        w.grab().save(str(a.out / name))
        print(f"-> {a.out / name}")

    def poll() -> None:
        step = state["step"]
        if step == "data" and w.data_page.isComplete():
            click_next()
            cp = w.classifier_page
            cp.widths.setText("8,16,32,64")
            cp.epochs.setValue(12)
            cp.inspect()
            state["step"] = "classifier"
        elif step == "classifier" and w.classifier_page.isComplete():
            click_next()
            w.dictionary_page.k.setValue(32)
            w.dictionary_page.iterations.setValue(60)
            click_next()
            ip = w.interpreter_page
            ip.epochs.setValue(16)
            ip.lr.setValue(1e-3)
            ip.name.setText("esc10-5-classes")
            click_next()
            state["step"] = "run"
        elif step == "run":
            rp = w.run_page
            if not state["run_shot"] and rp.bars["interpreter"].value() >= 600:
                shot("wizard_run.png")
                state["run_shot"] = True
            if rp.state == "done":
                if not state["run_shot"]:
                    shot("wizard_run.png")
                click_next()
                state["step"] = "results"
                QTimer.singleShot(800, finish)
            elif rp.state in ("failed", "cancelled"):
                print(rp.message.text(), file=sys.stderr)
                app.exit(1)

    def finish() -> None:
        shot("wizard_results.png")
        w.close()
        app.quit()

    timer = QTimer()
    timer.timeout.connect(poll)
    timer.start(100)
    QTimer.singleShot(1_800_000, app.quit)
    try:
        return app.exec()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)  # the links, the work folder, the cache


if __name__ == "__main__":
    sys.exit(main())

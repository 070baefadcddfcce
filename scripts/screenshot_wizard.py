"""Screenshots of the training wizard's run and results pages, with a small real training
on ESC-10 clips (run under Xvfb; a few minutes on two CPU cores):

    xvfb-run -a -s "-screen 0 1400x1000x24" python scripts/screenshot_wizard.py \
        --data ../shared/data/esc10 --out docs/

The data folder is a temporary set of links to the first clips of a few classes (nothing
is copied). The run page is captured while the interpreter trains, the results page
when the run has finished.

With ``--hf FOLDER`` only the classifier page is captured, with that Hugging Face folder
chosen and its layers listed, once per ``--sizes`` (no training); ``--unlabelled`` ticks
'No labels' so that the model's classes need not be the data's. A tiny random wav2vec2
folder, as the tests make it:

    PYTHONPATH=.:tests python -c "from pathlib import Path; from test_byo_hf import \
        save_wav2vec2; save_wav2vec2(Path('/tmp/w2v'))"
    xvfb-run -a -s "-screen 0 1600x1000x24" python scripts/screenshot_wizard.py \
        --data ../shared/data/esc10 --out docs/ --hf /tmp/w2v --unlabelled \
        --sizes 1600x1000,1280x720

With ``--settings`` only the interpreter (training settings) page is captured, 'Also
train L-MAC' ticked, once per ``--sizes`` (no training):

    xvfb-run -a -s "-screen 0 1600x1000x24" python scripts/screenshot_wizard.py \
        --data ../shared/data/esc10 --out /tmp/shots --settings --sizes 1600x1000,1280x720
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


def sizes(text: str) -> list[tuple[int, int]]:
    """ "1600x1000,1280x720" -> [(1600, 1000), (1280, 720)]"""
    out = []
    for size in text.split(","):
        width, _, height = size.partition("x")
        if not (width.isdigit() and height.isdigit()):
            raise argparse.ArgumentTypeError(f"sizes are WIDTHxHEIGHT,...: not {text!r}")
        out.append((int(width), int(height)))
    return out


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", type=Path, required=True)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--classes", type=int, default=5)
    ap.add_argument("--per-class", type=int, default=24)
    ap.add_argument("--hf", default=None, metavar="FOLDER",
                    help="capture the classifier page with this Hugging Face folder chosen")
    ap.add_argument("--unlabelled", action="store_true", help="tick 'No labels'")
    ap.add_argument("--settings", action="store_true",
                    help="capture the interpreter page with L-MAC ticked (no training)")
    ap.add_argument("--lmac", type=int, default=0, metavar="EPOCHS",
                    help="train L-MAC too, for so many epochs (the run and results pages)")
    ap.add_argument("--sizes", type=sizes, default=[(1100, 860)], metavar="WxH,...",
                    help="the window sizes of the classifier page's captures (--hf)")
    a = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="l2i-shot-"))
    data = linked_subset(a.data, tmp / "data", a.classes, a.per_class)
    app = QApplication(sys.argv[:1])
    w = TrainWizard(work_root=tmp / "runs", cache=tmp / "cache")
    w.resize(1100, 860)
    w.show()
    w.data_page.unlabelled.setChecked(a.unlabelled)
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

    def page_shots(todo: list[tuple[int, int]], name: str) -> None:
        """Resize, let the layout settle, capture; the next size after."""
        if not todo:
            finish(None)
            return
        width, height = todo[0]
        w.resize(width, height)

        def grab() -> None:
            shot(f"{name}_{width}x{height}.png")
            page_shots(todo[1:], name)
        QTimer.singleShot(600, grab)

    def poll() -> None:
        step = state["step"]
        if step == "data" and w.data_page.isComplete() and a.hf:
            click_next()
            cp = w.classifier_page
            cp.set_kind("hf")
            cp.hf_box.folder.setText(a.hf)
            cp.inspect()
            state["step"] = "hf"
        elif step == "hf" and w.classifier_page.inspection is not None:
            state["step"] = "shots"
            page_shots(list(a.sizes), "wizard_classifier_hf")
        elif step == "hf" and "color" in w.classifier_page.status.text():
            print(w.classifier_page.status.text(), file=sys.stderr)
            app.exit(1)
        elif step == "data" and w.data_page.isComplete():
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
            ip.lmac.setChecked(a.settings or a.lmac > 0)
            ip.lmac_epochs.setValue(max(a.lmac, 1))
            if a.settings:
                state["step"] = "shots"
                page_shots(list(a.sizes), "wizard_settings_lmac")
                return
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
                QTimer.singleShot(800, lambda: finish("wizard_results.png"))
            elif rp.state in ("failed", "cancelled"):
                print(rp.message.text(), file=sys.stderr)
                app.exit(1)

    def finish(name: str | None) -> None:
        if name:
            shot(name)
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

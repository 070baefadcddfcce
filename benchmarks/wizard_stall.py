"""How responsive the UI thread stays while the training wizard trains (QTimer heartbeat).

    QT_QPA_PLATFORM=offscreen python benchmarks/wizard_stall.py [--classes 3 --per-class 16]

A tiny training on real ESC-10 clips runs from the wizard's run page; a 5 ms heartbeat on
the UI thread records the gaps between beats, from the wizard's opening to the run's end
(the run trains in a child process). Printed: the longest gap, the 99th percentile, the
number of progress reports drawn, and the run's wall time. Measured here, not asserted in
a test: it depends on the machine, on what else runs on it, and on whether the disk cache
is cold (the first run after a reboot is the slow one).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PySide6.QtCore import QElapsedTimer, QTimer
from PySide6.QtWidgets import QApplication, QWizard

ROOT = Path(__file__).resolve().parents[1]
ESC10 = ROOT.parent / "shared" / "data" / "esc10"
sys.path.insert(0, str(ROOT / "scripts"))
from screenshot_wizard import linked_subset  # noqa: E402

from l2i_desktop.wizard import TrainWizard  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--classes", type=int, default=3)
    ap.add_argument("--per-class", type=int, default=16)
    ap.add_argument("--json", type=Path, default=None)
    a = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="l2i-stall-"))
    data = linked_subset(ESC10, tmp / "data", a.classes, a.per_class)
    app = QApplication(sys.argv[:1])
    w = TrainWizard(work_root=tmp / "runs", cache=tmp / "cache")
    w.show()
    w.data_page.set_folder(data)
    reports = [0]
    stage = ["(start)"]  # the stage last reported: where the longest gap happened

    def count(r) -> None:
        reports[0] += 1
        stage[0] = r.stage
        if state["first_report_s"] is None:  # the child process has started and reports
            state["first_report_s"] = time.perf_counter() - state["t0"]
    w.run_page.runner.progress.connect(count)
    clock, gaps, last, stages = QElapsedTimer(), [], [0], []
    state = {"step": "data", "t0": 0.0, "wall": 0.0, "first_report_s": None}
    open_gaps: list[float] = []  # before the run: the pages, as the wizard opens

    def beat() -> None:
        now = clock.elapsed()
        if state["step"] == "run":
            gaps.append(now - last[0])
            stages.append(stage[0])
        elif state["step"] in ("data", "classifier"):
            open_gaps.append(now - last[0])
        last[0] = now

    def click_next() -> None:
        for which in (QWizard.WizardButton.NextButton, QWizard.WizardButton.CommitButton):
            if w.button(which).isVisible():
                w.button(which).click()
                return

    def poll() -> None:
        if state["step"] == "data" and w.data_page.isComplete():
            click_next()
            w.classifier_page.widths.setText("8,16,16,32")
            w.classifier_page.epochs.setValue(4)
            w.classifier_page.inspect()
            state["step"] = "classifier"
        elif state["step"] == "classifier" and w.classifier_page.isComplete():
            click_next()
            w.dictionary_page.k.setValue(16)
            w.dictionary_page.iterations.setValue(30)
            click_next()
            w.interpreter_page.epochs.setValue(4)
            state["t0"] = time.perf_counter()
            last[0] = clock.elapsed()
            state["step"] = "run"
            click_next()
        elif state["step"] == "run" and w.run_page.state != "running":
            state["wall"] = time.perf_counter() - state["t0"]
            state["step"] = "end"
            if w.run_page.state != "done":
                print(w.run_page.message.text(), file=sys.stderr)
            app.quit()

    clock.start()
    heart, watcher = QTimer(), QTimer()
    heart.timeout.connect(beat)
    heart.start(5)
    watcher.timeout.connect(poll)
    watcher.start(50)
    QTimer.singleShot(1_200_000, app.quit)
    app.exec()
    w.close()
    g = np.array(gaps[1:], dtype=float)
    result = {"longest_gap_ms": float(g.max()) if g.size else None,
              "longest_gap_after": stages[1:][int(g.argmax())] if g.size else None,
              "p99_gap_ms": float(np.percentile(g, 99)) if g.size else None,
              "median_gap_ms": float(np.median(g)) if g.size else None,
              "reports_drawn": reports[0], "run_wall_s": round(state["wall"], 1),
              "first_report_s": round(state["first_report_s"] or -1, 1),
              "before_run_longest_gap_ms": max(open_gaps[1:], default=None),
              "state": w.run_page.state}
    print(json.dumps(result))
    if a.json:
        a.json.write_text(json.dumps(result, indent=2))
    return 0 if w.run_page.state == "done" else 1


if __name__ == "__main__":
    sys.exit(main())

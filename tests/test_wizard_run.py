"""The wizard's run page: cancel, then resume from the checkpoints; the training process
killed in a later stage, then resume without redoing the finished stages (real clips,
offscreen)."""

from __future__ import annotations

import os
import signal

from wizard_steps import advance, make_wizard, wait_run_ends, walk_to_run

from engine.bundles.bundle import load_bundle


def test_cancel_then_resume(qtbot, request, tmp_path, cache_dir, tiny_esc10):
    w = make_wizard(qtbot, request, tmp_path, cache_dir)
    rp = w.run_page
    stages: list[str] = []
    rp.runner.progress.connect(lambda r: stages.append(r.stage))

    def cancel_in_dictionary(r) -> None:
        if r.stage == "dictionary" and rp.cancel_button.isEnabled():
            rp.cancel_button.click()
    rp.runner.progress.connect(cancel_in_dictionary)
    walk_to_run(qtbot, w, tiny_esc10, epochs=3)
    assert wait_run_ends(qtbot, w) == "cancelled", rp.message.text()
    assert "Cancelled" in rp.message.text()
    assert rp.resume_button.isEnabled() and not rp.cancel_button.isEnabled()
    assert not w.button(w.WizardButton.NextButton).isEnabled()
    assert rp.bars["classifier"].value() == 1000 and rp.bars["interpreter"].value() == 0
    work = rp.plan.work
    clf = tmp_path / "runs" / work.split("/")[-1] / "classifier" / "classifier.safetensors"
    assert clf.is_file()
    mtime = clf.stat().st_mtime_ns

    rp.runner.progress.disconnect(cancel_in_dictionary)
    stages.clear()
    rp.resume_button.click()
    assert wait_run_ends(qtbot, w) == "done", rp.message.text()
    assert "classifier" not in stages  # the finished classifier was read back
    assert {"dictionary", "interpreter", "evaluation"} <= set(stages)
    assert rp.notes["classifier"].text() == "done (reused)"
    assert clf.stat().st_mtime_ns == mtime
    assert load_bundle(rp.result.bundle_path).manifest["metrics"]["clips"] == 6
    advance(qtbot, w)
    assert w.results_page.table.rowCount() > 5


def test_a_crash_is_shown_and_resume_skips_finished_stages(qtbot, request, tmp_path,
                                                           cache_dir, tiny_esc10):
    """The training process is killed (as the system does when memory runs out) during
    evaluation: the window stays, says so, and Resume only redoes the evaluation."""
    w = make_wizard(qtbot, request, tmp_path, cache_dir)
    rp = w.run_page

    def kill_in_evaluation(r) -> None:
        if r.stage == "evaluation" and rp.runner.process.poll() is None:
            os.kill(rp.runner.process.pid, signal.SIGKILL)
    rp.runner.progress.connect(kill_in_evaluation)
    walk_to_run(qtbot, w, tiny_esc10)
    assert wait_run_ends(qtbot, w) == "failed"
    assert "the training process stopped unexpectedly (exit code -9)" in rp.message.text()
    assert rp.resume_button.isEnabled() and w.isVisible()
    rp.runner.progress.disconnect(kill_in_evaluation)
    stages: list[str] = []
    rp.runner.progress.connect(lambda r: stages.append(r.stage))
    rp.resume_button.click()
    assert wait_run_ends(qtbot, w) == "done", rp.message.text()
    # classifier, dictionary and interpreter were all finished: only evaluation ran again
    assert set(stages) <= {"features", "evaluation"} and "evaluation" in stages
    assert load_bundle(rp.result.bundle_path).manifest["metrics"]["clips"] == 6

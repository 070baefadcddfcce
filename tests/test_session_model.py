"""The Qt-free session model and its undo/redo, driven without a QApplication."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np

from l2i_desktop.model import ClipResult, ClipSource, Session
from l2i_desktop.model.edits import MERGE_S, Edit, UndoStack

ROOT = Path(__file__).resolve().parents[1]


def explanation(selected, target=0):
    z = np.zeros(4, np.float32)
    return SimpleNamespace(selected=list(selected), target=target, interpretation=z,
                           residual=z, interpretation_log_mag=np.zeros((2, 2)))


def clip(name="a.wav", selected=(1, 2, 3), predicted=0, path=True):
    source = ClipSource.file(Path("/data") / name) if path else ClipSource.recording()
    return ClipResult(source, SimpleNamespace(predicted=predicted), explanation(selected),
                      np.zeros((2, 3)), 5.0, (0, 1))


def recorder(session):
    seen = []
    for name in ("clip_changed", "explanation_changed", "rendering_changed",
                 "choices_changed"):
        getattr(session, name).connect(lambda v, name=name: seen.append((name, v)))
    return seen


def test_choices_are_edits_that_undo_and_redo_in_order():
    s = Session(tau=0.1)
    s.set_clip(clip())
    seen = recorder(s)
    s.choose(target=3)
    s.history._done[-1].at -= 10  # a separate gesture, not a drag
    s.choose(tau=0.3)
    assert (s.target, s.tau) == (3, 0.3)
    assert s.history.undo_text() == "tau 0.30"
    s.history.undo()
    assert (s.target, s.tau) == (3, 0.1)
    s.history.undo()
    assert (s.target, s.tau) == (None, 0.1) and s.history.undo_text() is None
    s.history.redo()
    s.history.redo()
    assert (s.target, s.tau) == (3, 0.3) and s.history.redo_text() is None
    changes = [v for name, v in seen if name == "choices_changed"]
    assert changes == [{"target"}, {"tau"}, {"tau"}, {"target"}, {"target"}, {"tau"}]


def test_a_slider_drag_is_one_edit_and_a_new_edit_drops_the_redo():
    s = Session(tau=0.1)
    for tau in (0.11, 0.12, 0.15, 0.2):  # one drag: well within MERGE_S
        s.choose(tau=tau)
    s.history.undo()
    assert s.tau == 0.1 and s.history.redo_text() == "tau 0.20"
    s.choose(tau=0.5)
    assert s.history.redo_text() is None


def test_edits_apart_in_time_stay_apart():
    stack = UndoStack(lambda _c: None)
    stack.push(Edit("tau 0.2", 0.1, 0.2, "tau", at=0.0))
    stack.push(Edit("tau 0.3", 0.2, 0.3, "tau", at=MERGE_S + 0.1))
    stack.undo()
    assert stack.undo_text() == "tau 0.2"


def test_mute_and_solo_choose_what_plays_and_a_new_tau_starts_them_over():
    s = Session()
    s.set_clip(clip(selected=(1, 2, 3)))
    s.toggle(2, "muted", True)
    assert s.active_components() == [1, 3] and s.history.undo_text() == "mute 2"
    s.toggle(3, "soloed", True)
    assert s.active_components() == [3]
    s.choose(tau=0.4)
    assert s.choices.muted == frozenset() and s.choices.soloed == frozenset()
    s.history.undo()  # the tau edit remembered the toggles it cleared
    assert s.choices.muted == {2} and s.choices.soloed == {3}


def test_a_new_explanation_keeps_only_the_toggles_it_still_selects():
    s = Session()
    s.set_clip(clip(selected=(1, 2, 3)))
    s.toggle(2, "muted", True)
    s.toggle(3, "muted", True)
    s.set_explanation(explanation((1, 3, 7)))
    assert s.choices.muted == {3} and s.active_components() == [1, 7]


def test_another_source_starts_a_new_history_the_same_source_keeps_it():
    s = Session()
    s.set_clip(clip("a.wav"))
    s.choose(target=1)
    s.set_clip(clip("a.wav"))  # the same file again (a window of it, a reload)
    assert s.history.undo_text() == "explain class 1"
    s.set_clip(clip("b.wav"))
    assert s.history.undo_text() is None
    assert s.choices.region is None


def test_recordings_have_no_path_and_the_explained_class_follows_the_choice():
    s = Session()
    c = clip(path=False, predicted=4)
    assert c.path is None and c.source.name == "recording" and not c.source.is_file
    s.set_clip(c)
    assert s.explained_class() == 4
    s.choose(target=2)
    assert s.explained_class() == 2
    s.explain_top_class()
    assert s.explained_class() == 4 and s.history.undo_text() == "explain class 2"


def test_events_tell_views_what_changed_in_order():
    s = Session()
    seen = recorder(s)
    c = clip()
    s.set_clip(c)
    assert [name for name, _ in seen] == ["clip_changed", "explanation_changed",
                                         "rendering_changed"]
    assert seen[0][1] is c and seen[1][1] is c.explanation
    # the clip's own explanation plays (nothing muted yet): its interpretation's values
    assert s.rendering.log_mag is c.explanation.interpretation_log_mag


PROBE = """
import json, sys
from types import SimpleNamespace
import numpy as np
from l2i_desktop.model import ClipResult, ClipSource, Session
exp = SimpleNamespace(selected=[1, 2], target=0, interpretation=None, residual=None,
                      interpretation_log_mag=None)
s = Session()
s.set_clip(ClipResult(ClipSource.recording(), SimpleNamespace(predicted=0), exp,
                      np.zeros(1), 1.0, (0, 1)))
s.toggle(1, "muted", True)
s.history.undo()
qt = sorted(m for m in sys.modules if m.split(".")[0] in ("PySide6", "pyqtgraph"))
print(json.dumps({"qt": qt, "active": s.active_components()}))
"""


def test_the_model_runs_without_qt_in_a_fresh_interpreter():
    run = subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, capture_output=True,
                         text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-2000:]
    out = json.loads(run.stdout.strip().splitlines()[-1])
    assert out == {"qt": [], "active": [1, 2]}

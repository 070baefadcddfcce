"""Random use of a real window (tests/monkey.py): a short budget here; a long run is this
test with L2I_MONKEY_SEED=S L2I_MONKEY_ACTIONS=N, --timeout=0 and -s for its progress
(RELIABILITY.md). The same two variables replay a failure."""

from __future__ import annotations

import os
import threading

import numpy as np
import pytest
import soundfile as sf
from monkey import Monkey, close_dialogs

from resources import examples

ACTIONS = int(os.environ.get("L2I_MONKEY_ACTIONS", "120"))
SEEDS = [int(os.environ["L2I_MONKEY_SEED"])] if "L2I_MONKEY_SEED" in os.environ else [1, 2]


def hostile_files(folder) -> list:
    garbage = folder / "garbage.wav"
    garbage.write_bytes(os.urandom(3000))
    empty = folder / "empty.flac"
    empty.write_bytes(b"")
    click = folder / "click.wav"  # 3 ms: shorter than one analysis frame
    sf.write(click, np.ones(132, np.float32) * 0.5, 44100)
    silence = folder / "silence.wav"
    sf.write(silence, np.zeros(44100 * 2, np.float32), 44100)
    return [garbage, empty, click, silence]


@pytest.mark.parametrize("seed", SEEDS)
def test_random_use_keeps_the_window_and_its_views_in_agreement(qtbot, window, tiny_bundle,
                                                                tmp_path, seed):
    threads = threading.active_count()
    clips = [path for _, path in examples()]
    monkey = Monkey(window, clips, hostile_files(tmp_path), tiny_bundle, seed)
    window.open_clip(clips[0])
    monkey.run(ACTIONS)
    assert monkey.checks >= ACTIONS // 20  # pauses came, and each was checked
    close_dialogs()
    window.close()
    assert not window.worker._thread.is_alive()
    assert threading.active_count() <= threads  # nothing left running after close

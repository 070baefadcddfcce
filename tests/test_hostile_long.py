"""Long recordings: analysed in blocks (engine.explanation.long_clips) with the results of the
one-piece path, cancellable between blocks, and refused with one line past the limit.
The full 1-hour run with its peak memory is scripts/long_clip_memory.py (RELIABILITY.md).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import random_bundle
from hostile_corpus import long_clip

from engine.bundles.bundle import load_bundle
from engine.dsp.audio import load_audio, read_audio
from engine.explanation import long_clips
from engine.explanation.explain import Explainer
from engine.runtime.errors import AudioError, Cancelled
from engine.runtime.progress import TaskState
from l2i_desktop import jobs

PAPER_WIDTHS = [16, 32, 64, 128, 256, 512]


def _both_ways(explainer: Explainer, wave: np.ndarray, monkeypatch):
    one = explainer.analyse(wave)
    one_exp = explainer.explain(one, threshold=0.0)
    with monkeypatch.context() as m:  # every clip is "long", in blocks of 128 frames
        m.setattr(long_clips, "LONG_FRAMES", 64)
        m.setattr(long_clips, "BLOCK_FRAMES", 128)
        blocks = explainer.analyse(wave)
        blocks_exp = explainer.explain(blocks, threshold=0.0)
    return one, one_exp, blocks, blocks_exp


@pytest.mark.parametrize("widths", [None, PAPER_WIDTHS], ids=["tiny", "paper-depth"])
def test_blocks_give_the_one_piece_results(esc10_clip, monkeypatch, widths):
    bundle = random_bundle(n_classes=4, k=20, widths=widths, seed=5)
    wave = np.concatenate([load_audio(esc10_clip, 44100)] * 2)[:441_123]  # 10 s, odd length
    with Explainer(bundle) as ex:
        one, one_exp, blocks, blocks_exp = _both_ways(ex, wave, monkeypatch)
    assert torch.equal(one.log_mag, blocks.log_mag) and torch.equal(one.phase, blocks.phase)
    torch.testing.assert_close(blocks.log_mel, one.log_mel, atol=1e-4, rtol=0)
    torch.testing.assert_close(blocks.H, one.H, atol=1e-5, rtol=1e-5)
    np.testing.assert_allclose(blocks.probabilities, one.probabilities, atol=1e-6)
    assert blocks_exp.selected == one_exp.selected and len(one_exp.selected) > 3
    for name in ("interpretation", "residual", "interpretation_log_mag"):
        np.testing.assert_allclose(getattr(blocks_exp, name), getattr(one_exp, name),
                                   atol=1e-5)
    assert sorted(blocks_exp.components) == sorted(one_exp.components)
    for k, w in one_exp.components.items():
        np.testing.assert_allclose(blocks_exp.components[k], w, atol=1e-5)


def test_the_blocks_really_split_the_work(monkeypatch):
    """Guard for the test above: with these settings the block path is the one taken."""
    monkeypatch.setattr(long_clips, "LONG_FRAMES", 64)
    monkeypatch.setattr(long_clips, "BLOCK_FRAMES", 128)
    reports = []
    with Explainer(random_bundle(widths=PAPER_WIDTHS)) as ex:
        ex.analyse(np.zeros(44100 * 3, np.float32), TaskState(reports.append))
    stages = {r.message for r in reports}
    assert stages == {"spectrogram", "classifier"}
    assert max(r.total for r in reports) >= 2


@pytest.fixture(scope="module")
def hour_clip(tmp_path_factory):
    return long_clip(tmp_path_factory.mktemp("long") / "one hour.wav", 3600)


@pytest.fixture(scope="module")
def tiny_explainer(tiny_bundle):
    with Explainer(load_bundle(tiny_bundle)) as ex:
        yield ex


def test_a_one_hour_recording_opens_and_cancels_between_blocks(hour_clip, tiny_explainer):
    seen = []

    def cancel_after_two(report):
        seen.append(report)
        if len(seen) == 2:
            task.cancel()

    task = TaskState(cancel_after_two)
    with pytest.raises(Cancelled):
        jobs.analyse_clip(tiny_explainer, hour_clip, None, 0.1, task=task)
    assert len(seen) == 2 and seen[-1].total == -(-310_078 // long_clips.BLOCK_FRAMES)


def test_a_recording_past_the_limit_is_refused_with_one_line(hour_clip):
    with pytest.raises(AudioError) as info:
        read_audio(hour_clip, max_seconds=1800)
    msg = str(info.value)
    assert "\n" not in msg and "one hour.wav" in msg and "cut it into parts" in msg
    data, rate = read_audio(hour_clip)  # within the default limit of two hours
    assert data.shape == (3600 * 44100, 1) and rate == 44100


def test_a_two_minute_clip_goes_through_the_window_path_in_blocks(tiny_explainer, tmp_path):
    clip = long_clip(tmp_path / "two minutes.wav", 120)
    reports = []
    result = jobs.analyse_clip(tiny_explainer, clip, None, 0.1, task=TaskState(reports.append))
    a = result.analysis
    assert a.log_mag.shape[-1] == 10337 > long_clips.LONG_FRAMES
    assert {r.message for r in reports} >= {"spectrogram", "classifier"}
    assert result.explanation.interpretation.shape == (120 * 44100,)
    for arr in (a.H.numpy(), a.log_mel.numpy(), result.explanation.interpretation,
                result.explanation.residual):
        assert np.isfinite(arr).all()

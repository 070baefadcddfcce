"""engine/tools/corruption.py and `l2i corrupt`: exact SNRs and levels, seeded noise, the
stability measures against hand-computed values, and the command on real ESC-10 clips."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from conftest import DATA, ESC10, need

from engine.explanation.explain import Analysis, Explanation
from engine.runtime.errors import L2IError
from engine.tools.corruption import (
    Corruption,
    add_at_ratio,
    energy_overlap,
    fit_length,
    jaccard,
    load_other,
    mix_clip,
    rank_correlation,
    stability,
    summarise,
    white_noise,
)
from trainer.cli import main

RATE = 44100
RAIN = ESC10 / "002 - Rain" / "1-17367-A.ogg"


def db(a: np.ndarray, b: np.ndarray) -> float:
    """10 log10 of the energy of a over the energy of b, in float64."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return 10 * math.log10(float(a @ a) / float(b @ b))


@pytest.fixture(scope="module")
def clip() -> np.ndarray:
    from engine.dsp.audio import load_audio

    return load_audio(need(RAIN), RATE)


@pytest.fixture(scope="module")
def default_bundle_file():
    from resources import default_bundle_path

    path = default_bundle_path()
    if path is None:
        pytest.skip("no default bundle in resources/")
    return path


# ---- signals --------------------------------------------------------------------------


@pytest.mark.parametrize("snr", [-10.0, 0.0, 6.5, 20.0, 40.0])
def test_white_noise_snr_is_exact(clip, snr):
    out = white_noise(clip, snr, seed=3)
    assert out.dtype == np.float32 and out.shape == clip.shape
    # the clip is not rescaled: what was added is the noise
    assert db(clip, out.astype(np.float64) - clip) == pytest.approx(snr, abs=0.01)


def test_white_noise_is_seeded_and_the_same_noise_for_every_snr(clip):
    a, b = white_noise(clip, 10, seed=[7, 2]), white_noise(clip, 10, seed=[7, 2])
    assert np.array_equal(a, b)
    assert not np.allclose(a, white_noise(clip, 10, seed=[7, 3]))
    n10 = white_noise(clip, 10, seed=1).astype(np.float64) - clip
    n20 = white_noise(clip, 20, seed=1).astype(np.float64) - clip
    # 10 dB less SNR is the same noise with sqrt(10) times the amplitude
    np.testing.assert_allclose(n10, n20 * math.sqrt(10), rtol=0, atol=1e-5)
    assert abs(np.corrcoef(n10, clip)[0, 1]) < 0.01  # white: unrelated to the clip


def test_mix_clip_level_is_exact_and_the_other_is_looped_or_cut(clip):
    rng = np.random.default_rng(0)
    short = rng.standard_normal(30_000).astype(np.float32)
    for level in (-20.0, -6.0, 0.0, 3.0):
        out = mix_clip(clip, short, level)
        assert out.shape == clip.shape
        added = out.astype(np.float64) - clip
        assert db(added, clip) == pytest.approx(level, abs=0.01)
        # looped: the added signal repeats with the period of the short clip
        np.testing.assert_allclose(added[30_000:60_000], added[:30_000], atol=1e-6)
        assert np.corrcoef(added[:30_000], short)[0, 1] > 0.9999
    long = rng.standard_normal(len(clip) + 5000)
    added = mix_clip(clip, long, -6).astype(np.float64) - clip
    assert np.corrcoef(added, long[:len(clip)])[0, 1] > 0.9999  # cut, from the start
    np.testing.assert_array_equal(fit_length(np.arange(3), 7), [0, 1, 2, 0, 1, 2, 0])


def test_a_second_clip_at_another_rate_is_resampled_to_the_bundle_rate(clip):
    digit = need(DATA / "fsdd" / "recordings") / "0_jackson_0.wav"
    import soundfile as sf

    native = sf.info(str(digit))
    wave, name = load_other(digit, RATE)
    assert native.samplerate == 8000 and name == "0_jackson_0.wav"
    assert abs(len(wave) - native.frames * RATE / 8000) <= 2
    added = mix_clip(clip, wave, -6).astype(np.float64) - clip
    assert db(added, clip) == pytest.approx(-6, abs=0.01)


def test_bad_signals_are_one_line_errors(clip):
    with pytest.raises(L2IError, match="silent"):
        white_noise(np.zeros(1000, np.float32), 10)
    with pytest.raises(L2IError, match="silent"):
        mix_clip(clip, np.zeros(100, np.float32), -6)
    with pytest.raises(L2IError, match="no samples"):
        mix_clip(clip, np.zeros(0, np.float32), -6)
    with pytest.raises(L2IError, match="finite"):
        add_at_ratio(clip, clip, float("nan"))
    with pytest.raises(L2IError, match="unknown corruption"):
        Corruption("pink", 10)
    with pytest.raises(L2IError, match="second clip"):
        Corruption("mix", -6)


# ---- stability measures -----------------------------------------------------------------


def test_jaccard_by_hand():
    assert jaccard([1, 2, 3], [2, 3, 4]) == pytest.approx(0.5)
    assert jaccard([5], [5]) == 1.0 and jaccard([1], [2]) == 0.0
    assert jaccard([], []) == 1.0 and jaccard([], [3]) == 0.0


def test_rank_correlation_by_hand():
    # ranks (ties averaged) 4 2.5 2.5 1 and 4 3 1 2: sum of products of deviations 3,
    # squares 4.5 and 5, so rho = 3 / sqrt(22.5)
    a, b = np.array([0.9, 0.5, 0.5, 0.1]), np.array([0.8, 0.6, 0.2, 0.4])
    assert rank_correlation(a, b) == pytest.approx(3 / math.sqrt(22.5))
    assert rank_correlation(a, a ** 3) == pytest.approx(1.0)  # ranks, not values
    assert rank_correlation(a, -a) == pytest.approx(-1.0)
    assert math.isnan(rank_correlation(a, np.zeros(4)))


def test_energy_overlap_by_hand():
    clean = np.log1p(np.array([[1.0, 2.0], [0.0, 3.0]]))  # powers 1 4 0 9 (sum 14)
    noisy = np.log1p(np.array([[1.0, 1.0], [2.0, 3.0]]))  # powers 1 1 4 9 (sum 15)
    kept, on_clean = energy_overlap(clean, noisy)  # common: 1 1 0 9 = 11
    assert kept == pytest.approx(11 / 14) and on_clean == pytest.approx(11 / 15)
    assert energy_overlap(clean, clean) == pytest.approx((1.0, 1.0))
    assert all(math.isnan(v) for v in energy_overlap(np.zeros((2, 2)), np.zeros((2, 2))))


def _fake(probs, selected, relevance, log_mag, target=0):
    """An Analysis and Explanation holding just what stability() reads."""
    t = torch.zeros(1, 1)
    a = Analysis(wave=np.zeros(4, np.float32), sample_rate=RATE, log_mag=t, phase=t,
                 log_mel=t, probabilities=np.asarray(probs), interpreter_probabilities=
                 np.asarray(probs), H=t, z=torch.zeros(1), classes=["a", "b", "c"])
    e = Explanation(target=target, threshold=0.1, relevance=np.asarray(relevance),
                    selected=selected, interpretation=np.zeros(4), residual=np.zeros(4),
                    interpretation_log_mag=np.log1p(np.asarray(log_mag, float)))
    return a, e


def test_stability_combines_the_measures():
    ca, ce = _fake([0.7, 0.2, 0.1], [0, 1], [1.0, 0.5, 0.0, -0.2], [[1, 2], [0, 3]])
    da, de = _fake([0.3, 0.6, 0.1], [0, 2], [1.0, 0.0, 0.4, -0.1], [[1, 1], [2, 3]])
    s = stability(ca, ce, da, de)
    assert s.jaccard == pytest.approx(1 / 3)
    assert s.top1_kept is False  # the classifier's top class moved from a to b
    # ranks 4 3 2 1 and 4 2 3 1: deviations 1.5 .5 -.5 -1.5 and 1.5 -.5 .5 -1.5
    assert s.rank_correlation == pytest.approx(4.0 / 5.0)
    assert (s.energy_kept, s.energy_on_clean) == pytest.approx((11 / 14, 11 / 15))
    same = stability(ca, ce, *_fake([0.6, 0.3, 0.1], [1, 0], ce.relevance, [[1, 2], [0, 3]]))
    assert same.as_dict() == {"jaccard": 1.0, "top1_kept": 1.0, "rank_correlation": 1.0,
                              "energy_kept": 1.0, "energy_on_clean": 1.0}
    with pytest.raises(ValueError, match="same class"):
        stability(ca, ce, *_fake([0.3, 0.6, 0.1], [0], ce.relevance, [[1]], target=1))


def test_summarise_skips_undefined_values():
    rows = [{"jaccard": 1.0, "top1_kept": 1.0, "rank_correlation": None,
             "energy_kept": 0.5, "energy_on_clean": float("nan")},
            {"jaccard": 0.5, "top1_kept": 0.0, "rank_correlation": 0.2,
             "energy_kept": 0.25, "energy_on_clean": float("nan")}]
    m = summarise(rows)
    assert m["jaccard"] == 0.75 and m["top1_kept"] == 0.5
    assert m["rank_correlation"] == pytest.approx(0.2) and m["energy_kept"] == 0.375
    assert math.isnan(m["energy_on_clean"])


# ---- the command line on real clips -------------------------------------------------------


@pytest.fixture(scope="module")
def three_clips(tmp_path_factory):
    """Links to three real ESC-10 fold-1 clips of different classes (no copies)."""
    esc10 = need(ESC10)
    folder = tmp_path_factory.mktemp("corrupt_clips")
    for cls in ("001 - Dog bark", "002 - Rain", "009 - Rooster"):
        src = sorted((esc10 / cls).glob("1-*.ogg"))[0]
        (folder / src.name).symlink_to(src.resolve())
    return folder


def test_cli_reports_stability_per_condition(three_clips, default_bundle_file, tmp_path,
                                             capsys):
    other = three_clips / sorted(p.name for p in three_clips.iterdir())[0]
    out = tmp_path / "corrupt.json"
    rc = main(["corrupt", str(three_clips), "--bundle", str(default_bundle_file),
               "--snr", "60,0", "--mix", str(other), "--level", "-6", "--seed", "4",
               "--json", str(out)])
    printed = capsys.readouterr().out
    assert rc == 0
    result = json.loads(out.read_text())
    names = [c["name"] for c in result["conditions"]]
    assert names == ["white noise, SNR 60 dB", "white noise, SNR 0 dB",
                     f"{other.name} at -6 dB"]
    assert "Jaccard" in printed and "top-1 kept" in printed
    for name in names:  # one table row per condition
        assert any(line.startswith(name[:32]) for line in printed.splitlines())
    white60, white0, mixed = result["conditions"]
    # the clip mixed in is left out of every condition (same clips for all rows)
    assert [len(c["per_clip"]) for c in result["conditions"]] == [2, 2, 2]
    assert result["clips"] == 2
    assert all(other.name not in r["clip"] for c in result["conditions"]
               for r in c["per_clip"])
    for cond in result["conditions"]:
        for r in cond["per_clip"]:
            assert r["jaccard"] == pytest.approx(jaccard(r["selected_clean"],
                                                         r["selected_corrupted"]))
            assert r["top1_kept"] == float(r["class"] == r["corrupted_top"])
            assert 0 <= r["energy_kept"] <= 1 and 0 <= r["energy_on_clean"] <= 1
            assert -1 <= r["rank_correlation"] <= 1
        assert cond["mean"]["jaccard"] == pytest.approx(
            np.mean([r["jaccard"] for r in cond["per_clip"]]))
    # at 60 dB SNR the noise is inaudible: the explanation must not move
    m = white60["mean"]
    assert m["jaccard"] == 1.0 and m["top1_kept"] == 1.0
    assert m["rank_correlation"] > 0.99 and m["energy_kept"] > 0.95
    # the same class is explained clean and corrupted (the clean top class)
    assert [r["class"] for r in white0["per_clip"]] == [r["class"] for r in
                                                        white60["per_clip"]]
    # at 0 dB much of the corrupted interpretation is noise
    assert white0["mean"]["energy_on_clean"] < m["energy_on_clean"]


@pytest.mark.parametrize("args, message", [
    ([], "give --snr"),
    (["--snr", "10", "--level", "-6"], "--level needs --mix"),
    (["--snr", "ten"], "--snr takes numbers"),
    (["--snr", "10", "--limit", "0"], "--limit must be"),
    (["--snr", "10", "--threshold", "1.5"], "threshold must lie"),
])
def test_cli_bad_arguments_are_one_line(three_clips, capsys, args, message):
    assert main(["corrupt", str(three_clips), *args]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_cli_bad_inputs_are_one_line(three_clips, default_bundle_file, tmp_path, capsys):
    assert main(["corrupt", str(tmp_path / "nowhere"), "--snr", "10"]) == 2
    assert "not a folder of clips" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    assert main(["corrupt", str(tmp_path / "empty"), "--snr", "10"]) == 2
    assert "no audio files" in capsys.readouterr().err
    assert main(["corrupt", str(three_clips), "--snr", "10", "--json", str(tmp_path)]) == 2
    assert "is a folder" in capsys.readouterr().err
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"not audio at all")
    assert main(["corrupt", str(three_clips), "--bundle", str(default_bundle_file),
                 "--mix", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "bad.wav" in err and len(err.strip().splitlines()) == 1


def test_study_reports_progress_skips_bad_clips_and_can_be_cancelled(three_clips,
                                                                       default_bundle_file,
                                                                       tmp_path):
    from engine.bundles.bundle import load_bundle
    from engine.explanation.explain import Explainer
    from engine.runtime.errors import Cancelled
    from engine.runtime.progress import TaskState
    from engine.tools.corruption import study

    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"not audio")
    clips = [bad, *sorted(three_clips.iterdir())[:2]]
    reports = []
    with Explainer(load_bundle(default_bundle_file)) as ex:
        result = study(ex, clips, [Corruption("white", 20)], 0.1, 0, TaskState(reports.append))
        assert [r.done for r in reports] == [0, 1, 2, 3] and reports[-1].total == 3
        assert result["clips"] == 2 and len(result["conditions"][0]["per_clip"]) == 2
        assert result["skipped"][0]["clip"] == str(bad)
        assert "bad.wav" in result["skipped"][0]["reason"]
        task = TaskState(lambda r: task.cancel() if r.done >= 1 else None)
        with pytest.raises(Cancelled):
            study(ex, clips[1:], [Corruption("white", 20)], task=task)


def test_clips_are_found_by_name_pattern_and_limited(three_clips):
    from trainer.corruption_cli import find_clips

    every = find_clips(three_clips)
    assert len(every) == 3 and every == sorted(every)
    assert find_clips(three_clips, "1-*", limit=2) == every[:2]
    with pytest.raises(L2IError, match="matching '9-\\*'"):
        find_clips(three_clips, "9-*")

"""Over 300 hostile inputs (tests/hostile_corpus.py) through every way audio gets in:
`l2i explain` (in-process, and a few real subprocesses), the window's open path
(jobs.analyse_clip, what File > Open runs on the worker) and the dataset loaders with
their feature cache. Each input gives a complete, finite result or one clear line.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from hostile_corpus import Case, build_corpus

from engine.bundles.bundle import load_bundle
from engine.dsp.audio import read_audio
from engine.dsp.features import FrontEndConfig
from engine.explanation.explain import Explainer
from engine.runtime.errors import L2IError
from l2i_desktop import jobs
from l2i_desktop import spectrogram_display as sd
from l2i_desktop.model.display import DisplaySettings
from trainer.cli import main
from trainer.datasets import load_dataset
from trainer.features_cache import compute_features

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.timeout(300)  # a hang fails here instead of stalling the suite


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> list[Case]:
    return build_corpus(tmp_path_factory.mktemp("hostile"))


@pytest.fixture(scope="module")
def explainer(tiny_bundle):
    with Explainer(load_bundle(tiny_bundle)) as ex:
        yield ex


@pytest.fixture(scope="module")
def app_outcomes(corpus, explainer) -> dict[str, str | None]:
    """What the window's open path makes of each case: None (analysed) or the error."""
    outcomes: dict[str, str | None] = {}
    for case in corpus:
        try:
            result = jobs.analyse_clip(explainer, case.path, None, 0.1)
        except L2IError as exc:
            outcomes[case.name] = str(exc)
            continue
        _check_clip_result(result, case)
        outcomes[case.name] = None
    return outcomes


def _check_clip_result(result: jobs.ClipResult, case: Case) -> None:
    a, exp = result.analysis, result.explanation
    assert a.n_samples >= 1, case.name
    for arr in (a.wave, a.log_mag.numpy(), a.log_mel.numpy(), a.H.numpy(), a.probabilities,
                exp.relevance, exp.interpretation, exp.residual, result.envelope):
        assert np.isfinite(arr).all(), case.name
    assert exp.interpretation.shape == exp.residual.shape == a.wave.shape, case.name
    assert np.abs(exp.relevance).max() in (0.0, pytest.approx(1.0)), case.name
    assert a.probabilities.sum() == pytest.approx(1.0, abs=1e-4), case.name
    # what the views draw of it: the values coloured with the display settings
    settings = DisplaySettings()
    log_mag = a.log_mag.numpy()
    lay = sd.Layout.of(settings, a.sample_rate, log_mag.shape[0], a.log_mel.shape[0])
    grids = {name: lay.rows(sd.magnitude_db(values, 2 * (log_mag.shape[0] - 1)))
             for name, values in (("log_mag", log_mag),
                                  ("interpretation", exp.interpretation_log_mag))}
    grids["log_mel"] = lay.rows(a.log_mel.numpy(), mel=True)
    for name, grid in grids.items():
        assert np.isfinite(grid).all(), (case.name, name)
        lo, hi = sd.levels_of(grid, settings)
        assert np.isfinite([lo, hi]).all() and hi > lo, (case.name, name, lo, hi)
        picture = sd.rgba(grid, (lo, hi), settings.colormap)
        assert picture.dtype == np.uint8 and picture.shape == grid.shape + (4,), name


def _check_error(case: Case, message: str) -> list[str]:
    problems = []
    if not message or "\n" in message or "\r" in message:
        problems.append(f"{case.name}: not one line: {message!r}")
    if "Traceback" in message:
        problems.append(f"{case.name}: traceback in {message!r}")
    for word in case.words:
        if word.lower() not in message.lower():
            problems.append(f"{case.name}: {word!r} missing from {message!r}")
    return problems


def _expected(case: Case, succeeded: bool) -> list[str]:
    if case.expect == "ok" and not succeeded:
        return [f"{case.name}: usable audio was refused"]
    if case.expect == "error" and succeeded:
        return [f"{case.name}: unusable input was accepted"]
    return []


def test_the_corpus_covers_every_family(corpus):
    assert len(corpus) >= 300
    by = {c.category for c in corpus}
    assert {"empty", "random", "lookalike", "truncated", "corrupt", "wavheader", "length",
            "content", "nonfinite", "channels", "rate", "depth", "codec", "names",
            "badnames", "special"} <= by
    counts = {e: sum(c.expect == e for c in corpus) for e in ("ok", "error", "either")}
    assert min(counts.values()) >= 50, counts
    channels = {sf.info(str(c.path)).channels for c in corpus if c.category == "channels"}
    assert channels == set(range(1, 9))
    rates = {sf.info(str(c.path)).samplerate for c in corpus if c.category == "rate"}
    assert min(rates) <= 8000 and max(rates) >= 192000


def test_the_window_open_path_analyses_or_refuses_each_case(corpus, app_outcomes):
    problems = []
    for case in corpus:
        error = app_outcomes[case.name]
        problems += _expected(case, error is None)
        if error is not None:
            problems += _check_error(case, error)
    assert not problems, "\n".join(problems)


def _explain(capsys, clip: Path, bundle: Path, out: Path) -> tuple[int, str, str]:
    rc = main(["explain", str(clip), "--bundle", str(bundle), "--out", str(out),
               "--threshold", "0.5"])
    cap = capsys.readouterr()
    return rc, cap.out, cap.err


def _check_explained(case: Case, out: Path) -> list[str]:
    doc = json.loads((out / "explanation.json").read_text())
    frames, rate = read_audio(case.path)[0].shape[0], doc["sample_rate"]
    problems = []
    files = [doc["files"]["interpretation"], doc["files"]["residual"]]
    files += [c["file"] for c in doc["components"] if c["selected"]]
    for rel in files:
        wave, r = sf.read(str(out / rel), dtype="float32")
        if r != rate or len(wave) != frames or not np.isfinite(wave).all():
            problems.append(f"{case.name}: {rel} has {len(wave)} frames at {r} Hz, "
                            f"expected {frames} at {rate}")
    probs = [p["probability"] for p in doc["predictions"]]
    if not (np.isfinite(probs).all() and abs(sum(probs) - 1) < 1e-3):
        problems.append(f"{case.name}: predictions {probs}")
    return problems


def test_l2i_explain_gives_a_full_result_or_one_line_for_each_case(
        capsys, corpus, tiny_bundle, tmp_path, app_outcomes, monkeypatch):
    # the bundle is read once (0.2 s a time is two thirds of this test otherwise); the
    # real processes below and tests/test_fuzz_bundle*.py cover loading itself
    loaded = load_bundle(tiny_bundle)
    monkeypatch.setattr("trainer.commands.load_bundle",
                        lambda p, **kw: loaded if Path(p) == tiny_bundle
                        else load_bundle(p, **kw))
    problems = []
    for i, case in enumerate(corpus):
        parent = tmp_path / f"c{i}"
        parent.mkdir()
        out = parent / "explained"
        rc, stdout, stderr = _explain(capsys, case.path, tiny_bundle, out)
        problems += _expected(case, rc == 0)
        if (rc == 0) != (app_outcomes[case.name] is None):
            problems.append(f"{case.name}: the CLI (rc {rc}) and the window disagree")
        if rc == 0:
            problems += _check_explained(case, out)
            if stderr or not stdout.endswith(f"-> {out}\n"):
                problems.append(f"{case.name}: output {stdout!r} {stderr!r}")
        else:
            lines = stderr.splitlines()
            if rc != 2 or len(lines) != 1 or not lines[0].startswith("l2i: error: "):
                problems.append(f"{case.name}: rc {rc}, stderr {stderr!r}")
            else:
                problems += _check_error(case, lines[0])
            if os.listdir(parent):  # no partial output, no temporary folder left behind
                problems.append(f"{case.name}: left {os.listdir(parent)} after an error")
    assert not problems, "\n".join(problems)


def _dataset_of(corpus: list[Case], root: Path) -> dict[Path, Case]:
    """Two class folders of links to every corpus file a dataset scan would pick up."""
    links = {}
    for i, case in enumerate(corpus):
        if not case.path.is_file():
            continue
        folder = root / ("class a" if i % 2 else "class b")
        folder.mkdir(parents=True, exist_ok=True)
        link = folder / f"{i:03d} {case.path.name}"
        link.symlink_to(case.path)
        links[link] = case
    return links


def test_the_dataset_loader_keeps_audio_and_skips_the_rest(corpus, tmp_path, app_outcomes):
    links = _dataset_of(corpus, tmp_path / "data")
    ds = load_dataset(tmp_path / "data")
    listed = set(ds.paths)
    assert listed <= set(links)
    assert len(listed) >= 250
    feats = compute_features(ds, FrontEndConfig(), clip_seconds=0.5,
                             cache_dir=tmp_path / "cache")
    kept = {ds.paths[i] for i in feats.keep}
    skipped = {Path(p): why for p, why in feats.skipped}
    assert kept | set(skipped) == listed and not kept & set(skipped)
    problems = []
    for path in listed:
        case = links[path]
        problems += _expected(case, path in kept)
        if path in skipped:
            problems += _check_error(case, skipped[path])
        # the loader reads the same way as the window (only the analysis may differ)
        elif app_outcomes[case.name] is not None and "model" not in app_outcomes[case.name]:
            problems.append(f"{case.name}: kept by the loader, refused by the window")
    assert not problems, "\n".join(problems)
    assert np.isfinite(np.asarray(feats.log_mel)).all()
    assert np.isfinite(np.asarray(feats.log_mag, dtype=np.float32)).all()


@pytest.mark.parametrize("name", ["lookalike-zip.mp3", "fifo"])
def test_real_processes_print_one_line_and_no_traceback(corpus, tiny_bundle, tmp_path, name):
    """The in-process runs above cannot see what native code (libmpg123) writes to
    file descriptor 2, nor a crash of the interpreter: a real process can."""
    case = next(c for c in corpus if c.name == name)
    out = tmp_path / "out"
    proc = subprocess.run([sys.executable, "-m", "trainer.cli", "explain", str(case.path),
                           "--bundle", str(tiny_bundle), "--out", str(out)],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert "Traceback" not in proc.stderr
    assert proc.returncode == 2
    lines = proc.stderr.splitlines()  # without the fix, libmpg123 adds three "Note:" lines
    assert len(lines) == 1 and lines[0].startswith("l2i: error: "), proc.stderr
    assert not out.exists()

"""`l2i explain` end to end on real clips with a tiny trained bundle."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from conftest import random_bundle

from engine.bundles.bundle import load_bundle, save_bundle
from engine.dsp.audio import load_audio
from trainer.cli import main

TOP_KEYS = {"clip", "sample_rate", "duration_s", "bundle", "predictions",
            "interpreter_predictions", "explained_class", "threshold", "components", "files"}


@pytest.fixture(scope="module")
def tiny(tiny_bundle):
    return load_bundle(tiny_bundle)


def _explain(capsys, *args) -> tuple[int, str, str]:
    rc = main(["explain", *map(str, args)])
    cap = capsys.readouterr()
    return rc, cap.out, cap.err


def _frames(path: Path) -> tuple[int, int, int]:
    info = sf.info(str(path))
    return info.frames, info.samplerate, info.channels


def _check_document(doc: dict, out: Path, clip: Path, bundle, frames: int, rate: int,
                    threshold: float) -> None:
    assert set(doc) == TOP_KEYS
    assert doc["clip"] == str(clip)
    assert doc["sample_rate"] == rate
    assert doc["duration_s"] == pytest.approx(frames / rate)
    assert doc["bundle"] == bundle.name
    assert doc["threshold"] == pytest.approx(threshold)
    assert doc["explained_class"] in bundle.classes
    for key in ("predictions", "interpreter_predictions"):
        preds = doc[key]
        assert [set(p) for p in preds] == [{"label", "probability"}] * len(bundle.classes)
        assert sorted(p["label"] for p in preds) == sorted(bundle.classes)
        probs = [p["probability"] for p in preds]
        assert probs == sorted(probs, reverse=True)
        assert all(0.0 <= p <= 1.0 for p in probs)
        assert sum(probs) == pytest.approx(1.0, abs=1e-4)  # single-label: softmax

    comps = doc["components"]
    assert [set(c) for c in comps] == [{"index", "relevance", "selected", "file"}] * bundle.k
    assert sorted(c["index"] for c in comps) == list(range(bundle.k))
    rel = [c["relevance"] for c in comps]
    assert rel == sorted(rel, reverse=True)
    assert max(abs(r) for r in rel) == pytest.approx(1.0)
    selected = [c for c in comps if c["selected"]]
    for c in comps:
        assert c["selected"] == (c["relevance"] > threshold)
        if c["selected"]:
            assert c["file"] == f"components/component_{c['index']:03d}.wav"
            assert _frames(out / c["file"]) == (frames, rate, 1)
        else:
            assert c["file"] is None
    written = sorted(p.name for p in (out / "components").glob("*")) \
        if (out / "components").exists() else []
    assert written == sorted(Path(c["file"]).name for c in selected)

    assert doc["files"] == {"interpretation": "interpretation.wav", "residual": "residual.wav"}
    for name in doc["files"].values():
        assert _frames(out / name) == (frames, rate, 1)
        wave, _ = sf.read(str(out / name), dtype="float32")
        assert np.isfinite(wave).all()


def test_explain_real_clip(capsys, tmp_path, tiny_bundle, tiny, esc10_clip):
    out = tmp_path / "out"
    rc, stdout, err = _explain(capsys, esc10_clip, "--bundle", tiny_bundle, "--out", out)
    assert rc == 0, err
    assert err == ""
    doc = json.loads((out / "explanation.json").read_text())
    frames, rate, _ = _frames(esc10_clip)
    _check_document(doc, out, esc10_clip, tiny, frames, rate, 0.1)
    assert doc["explained_class"] == doc["predictions"][0]["label"]
    assert doc["predictions"][0]["label"] in stdout
    # the audio says something: the interpretation and residual are not both silent
    inter, _ = sf.read(str(out / "interpretation.wav"))
    resid, _ = sf.read(str(out / "residual.wav"))
    assert np.abs(inter).max() + np.abs(resid).max() > 1e-3
    # nothing else was left next to the output (no temporary folders)
    assert [p.name for p in tmp_path.iterdir()] == ["out"]


def test_explain_48k_stereo(capsys, tmp_path, tiny_bundle, tiny, esc10_clip):
    mono = load_audio(esc10_clip, 48000)
    clip = tmp_path / "stereo48k.wav"
    sf.write(clip, np.stack([mono, 0.5 * mono], axis=1), 48000, subtype="PCM_16")
    frames = sf.info(str(clip)).frames
    assert abs(frames - 48000 * len(load_audio(esc10_clip, 44100)) / 44100) <= 1
    out = tmp_path / "out48"
    rc, _, err = _explain(capsys, clip, "--bundle", tiny_bundle, "--out", out,
                          "--threshold", "0.0")
    assert rc == 0, err
    doc = json.loads((out / "explanation.json").read_text())
    _check_document(doc, out, clip, tiny, frames, 48000, 0.0)
    assert any(c["selected"] for c in doc["components"])


def test_target_by_name_and_index(capsys, tmp_path, tiny_bundle, tiny, esc10_clip):
    rc, _, err = _explain(capsys, esc10_clip, "--bundle", tiny_bundle, "--out",
                          tmp_path / "a")
    assert rc == 0, err
    top = json.loads((tmp_path / "a" / "explanation.json").read_text())
    other = next(c for c in tiny.classes if c != top["explained_class"])
    rc, _, err = _explain(capsys, esc10_clip, "--bundle", tiny_bundle, "--out",
                          tmp_path / "b", "--target", other.upper())
    assert rc == 0, err
    doc = json.loads((tmp_path / "b" / "explanation.json").read_text())
    assert doc["explained_class"] == other
    assert doc["predictions"] == top["predictions"]  # the class changes, not the analysis
    rel_top = {c["index"]: c["relevance"] for c in top["components"]}
    rel_other = {c["index"]: c["relevance"] for c in doc["components"]}
    assert rel_top != rel_other

    index = tiny.classes.index(other)
    rc, _, err = _explain(capsys, esc10_clip, "--bundle", tiny_bundle, "--out",
                          tmp_path / "c", "--target", index)
    assert rc == 0, err
    assert json.loads((tmp_path / "c" / "explanation.json").read_text())[
        "explained_class"] == other


def test_rerun_into_the_same_folder_replaces_components(capsys, tmp_path, tiny_bundle,
                                                        esc10_clip):
    out = tmp_path / "out"
    assert _explain(capsys, esc10_clip, "--bundle", tiny_bundle, "--out", out,
                    "--threshold", "0")[0] == 0
    first = json.loads((out / "explanation.json").read_text())
    assert any(c["selected"] for c in first["components"])
    assert _explain(capsys, esc10_clip, "--bundle", tiny_bundle, "--out", out,
                    "--threshold", "0.999")[0] == 0
    doc = json.loads((out / "explanation.json").read_text())
    keep = {c["file"] for c in doc["components"] if c["selected"]}
    on_disk = {f"components/{p.name}" for p in (out / "components").glob("*")} \
        if (out / "components").exists() else set()
    assert on_disk == keep
    assert len(keep) < sum(c["selected"] for c in first["components"])


# --- errors ----------------------------------------------------------------------------------


def _bad_inputs(tmp_path: Path) -> dict[str, Path]:
    text = tmp_path / "text.wav"
    text.write_text("RIFF? no, just text\n")
    empty = tmp_path / "empty.wav"
    sf.write(empty, np.zeros((0, 1), np.float32), 44100, subtype="PCM_16")
    nan = tmp_path / "nan.wav"
    x = np.zeros(4410, np.float32)
    x[100] = np.nan
    sf.write(nan, x, 44100, subtype="FLOAT")
    return {"missing": tmp_path / "missing.wav", "text": text, "empty": empty, "nan": nan}


def _assert_clean_failure(rc: int, err: str, out: Path, before: set[str]) -> None:
    assert rc != 0
    lines = err.strip("\n").split("\n")
    assert len(lines) == 1, err
    assert lines[0].startswith("l2i: error:")
    assert "Traceback" not in err
    assert not out.exists()
    assert {p.name for p in out.parent.iterdir()} == before  # no hidden temporary folder


@pytest.mark.parametrize("kind", ["missing", "text", "empty", "nan"])
def test_bad_clip(capsys, tmp_path, tiny_bundle, kind):
    clip = _bad_inputs(tmp_path)[kind]
    out = tmp_path / "out"
    before = {p.name for p in tmp_path.iterdir()}
    rc, stdout, err = _explain(capsys, clip, "--bundle", tiny_bundle, "--out", out)
    _assert_clean_failure(rc, err, out, before)
    assert stdout == ""
    assert clip.name in err


@pytest.mark.parametrize("kind", ["text", "missing", "folder", "negative width"])
def test_bundle_that_does_not_validate(capsys, tmp_path, esc10_clip, kind):
    if kind == "negative width":
        bundle = save_bundle(random_bundle(), tmp_path / "neg_bundle")
        manifest = json.loads((bundle / "manifest.json").read_text())
        manifest["classifier"]["config"]["widths"][0] = -8
        (bundle / "manifest.json").write_text(json.dumps(manifest))
    elif kind == "text":
        bundle = tmp_path / "bad.l2i"
        bundle.write_text("not a bundle")
    elif kind == "missing":
        bundle = tmp_path / "nope.l2i"
    else:
        bundle = tmp_path / "bundle_dir"
        bundle.mkdir()
        (bundle / "manifest.json").write_text('{"format": "l2i-bundle", "schema_version": 99}')
        (bundle / "weights.safetensors").write_bytes(b"")
    out = tmp_path / "out"
    before = {p.name for p in tmp_path.iterdir()}
    rc, _, err = _explain(capsys, esc10_clip, "--bundle", bundle, "--out", out)
    _assert_clean_failure(rc, err, out, before)
    assert bundle.name in err


@pytest.mark.parametrize("args", [["--target", "no such class"], ["--threshold", "1.5"],
                                  ["--threshold", "-0.1"]])
def test_bad_options(capsys, tmp_path, tiny_bundle, esc10_clip, args):
    out = tmp_path / "out"
    before = {p.name for p in tmp_path.iterdir()}
    rc, _, err = _explain(capsys, esc10_clip, "--bundle", tiny_bundle, "--out", out, *args)
    _assert_clean_failure(rc, err, out, before)


def test_out_is_an_existing_file(capsys, tmp_path, tiny_bundle, esc10_clip):
    out = tmp_path / "out.txt"
    out.write_text("keep me")
    rc, _, err = _explain(capsys, esc10_clip, "--bundle", tiny_bundle, "--out", out)
    assert rc != 0 and err.startswith("l2i: error:") and err.count("\n") == 1
    assert out.read_text() == "keep me"


def test_console_script(tmp_path, tiny_bundle):
    script = Path(sys.executable).parent / "l2i"
    assert script.is_file(), f"the l2i console script is not installed next to {sys.executable}"
    clip = _bad_inputs(tmp_path)["text"]
    out = tmp_path / "out"
    before = {p.name for p in tmp_path.iterdir()}
    proc = subprocess.run([str(script), "explain", str(clip), "--bundle", str(tiny_bundle),
                           "--out", str(out)], capture_output=True, text=True, timeout=120)
    _assert_clean_failure(proc.returncode, proc.stderr, out, before)
    assert proc.returncode == 2
    assert proc.stdout == ""

"""Write one clip's explanation to a folder: JSON, interpretation, residual, components.

Everything is computed first and written into a hidden sibling folder that is renamed
into place at the end, so a failure never leaves partial output behind.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np

from engine.bundles.bundle import Bundle
from engine.dsp.audio import read_audio, resample, save_audio
from engine.explanation.explain import Analysis, Explainer, Explanation
from engine.runtime.errors import L2IError
from engine.runtime.outputs import check_output, staging_folder


def resolve_target(target: str | int | None, classes: list[str]) -> int | None:
    """A class given by name (case-insensitive) or by index."""
    if target is None:
        return None
    text = str(target).strip()
    lowered = [c.lower() for c in classes]
    if text.lower() in lowered:
        return lowered.index(text.lower())
    if text.lstrip("-").isdigit() and 0 <= int(text) < len(classes):
        return int(text)
    raise L2IError(f"unknown class {text!r}; classes: {', '.join(classes)}")


def _to_native(wave: np.ndarray, rate: int, native: int, length: int) -> np.ndarray:
    out = resample(wave, rate, native)
    return out[:length] if len(out) >= length else np.pad(out, (0, length - len(out)))


def _ranked(labels: list[str], probs: np.ndarray) -> list[dict]:
    order = np.argsort(-probs, kind="stable")
    return [{"label": labels[i], "probability": float(probs[i])} for i in order]


def explain_to_folder(clip: str | os.PathLike, bundle: Bundle, out: str | os.PathLike,
                      target: str | int | None = None, threshold: float = 0.1,
                      device: str = "cpu") -> dict:
    clip, out = Path(clip), Path(out)
    check_output(out, "folder")
    if not 0.0 <= threshold < 1.0:
        raise L2IError(f"the threshold must lie in [0, 1), not {threshold}")
    data, native = read_audio(clip)
    length = data.shape[0]
    mono = data.mean(axis=1) if data.shape[1] > 1 else data[:, 0]
    rate = bundle.frontend.sample_rate
    with Explainer(bundle, device) as explainer:
        analysis = explainer.analyse(resample(np.ascontiguousarray(mono), native, rate))
        del data, mono
        exp = explainer.explain(analysis, resolve_target(target, bundle.classes), threshold,
                                with_components=False)
        tmp = staging_folder(out)
        try:
            files = _write_audio(tmp, explainer, analysis, exp, native, length)
            doc = _write_document(tmp, clip, bundle, analysis, exp, files, native, length)
            _publish(tmp, out)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return doc


def _write_audio(tmp: Path, explainer: Explainer, analysis: Analysis, exp: Explanation,
                 native: int, length: int) -> dict[int, str]:
    """Interpretation, residual and each selected component, one component at a time:
    only one component's audio is ever held (a 10-minute clip's is about 100 MB)."""
    rate = explainer.cfg.sample_rate
    save_audio(tmp / "interpretation.wav",
               _to_native(exp.interpretation, rate, native, length), native)
    save_audio(tmp / "residual.wav", _to_native(exp.residual, rate, native, length), native)
    files: dict[int, str] = {}
    if exp.selected:
        (tmp / "components").mkdir()
    for k in exp.selected:
        wave = explainer.component_audio(analysis, [k])[k]
        rel = f"components/component_{k:03d}.wav"
        save_audio(tmp / rel, _to_native(wave, rate, native, length), native)
        files[k] = rel
    return files


def _write_document(tmp: Path, clip: Path, bundle: Bundle, analysis: Analysis,
                    exp: Explanation, files: dict[int, str], native: int,
                    length: int) -> dict:
    order = np.argsort(-exp.relevance, kind="stable")
    doc = {
        "clip": str(clip),
        "sample_rate": native,
        "duration_s": length / native,
        "bundle": bundle.name,
        "predictions": _ranked(bundle.classes, analysis.probabilities),
        "interpreter_predictions": _ranked(bundle.classes,
                                           analysis.interpreter_probabilities),
        "explained_class": bundle.classes[exp.target],
        "threshold": exp.threshold,
        "components": [{"index": int(k), "relevance": float(exp.relevance[k]),
                        "selected": int(k) in files, "file": files.get(int(k))}
                       for k in order],
        "files": {"interpretation": "interpretation.wav", "residual": "residual.wav"},
    }
    (tmp / "explanation.json").write_text(json.dumps(doc, indent=2, allow_nan=False))
    return doc


def _publish(tmp: Path, out: Path) -> None:
    """Move the finished files into ``out``, replacing an earlier explanation there."""
    if not out.exists():
        os.replace(tmp, out)
        return
    stale = out / "components"  # an earlier run's components would mislead
    if stale.is_dir():
        shutil.rmtree(stale)
    for item in tmp.iterdir():
        os.replace(item, out / item.name)

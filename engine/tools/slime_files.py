"""Write one clip's SLIME explanation to a folder, like ``explain_files`` does for L2I:
explanation.json, interpretation.wav, residual.wav and segments.csv (one row per
segment with its weight). Written into a hidden sibling folder, renamed at the end."""

from __future__ import annotations

import csv
import json
import os
import shutil
from pathlib import Path

import numpy as np
import torch

from engine.bundles.bundle import Bundle
from engine.dsp.audio import read_audio, resample, save_audio
from engine.explanation.explain import Explainer
from engine.runtime.outputs import check_output, staging_folder
from engine.runtime.progress import TaskState
from engine.tools import slime
from engine.tools.explain_files import _publish, _ranked, _to_native, resolve_target

CSV_COLUMNS = ("segment", "start_s", "end_s", "low_hz", "high_hz", "weight", "selected")


def write_segments_csv(path: Path, exp: slime.SlimeExplanation, cfg) -> None:
    sec, hz = cfg.hop_length / cfg.sample_rate, cfg.sample_rate / cfg.n_fft
    rank = {j: r + 1 for r, j in enumerate(exp.selected)}
    with open(path, "w", newline="") as f:
        out = csv.writer(f)
        out.writerow(CSV_COLUMNS)
        for j, s in enumerate(exp.segments):
            out.writerow([j, f"{s.t0 * sec:.4f}", f"{s.t1 * sec:.4f}", f"{s.f0 * hz:.1f}",
                          f"{s.f1 * hz:.1f}", f"{exp.weights[j]:.6g}", rank.get(j, 0)])


def slime_to_folder(clip: str | os.PathLike, bundle: Bundle, out: str | os.PathLike,
                    target: str | int | None = None,
                    config: slime.SlimeConfig | None = None, device: str = "cpu",
                    task: TaskState | None = None) -> dict:
    clip, out = Path(clip), Path(out)
    check_output(out, "folder")
    config = (config or slime.SlimeConfig()).validate()
    data, native = read_audio(clip)
    length = data.shape[0]
    mono = data.mean(axis=1) if data.shape[1] > 1 else data[:, 0]
    rate = bundle.frontend.sample_rate
    with Explainer(bundle, device) as ex:
        analysis = ex.analyse(resample(np.ascontiguousarray(mono), native, rate))
        exp = slime.explain(ex, analysis, resolve_target(target, bundle.classes), config, task)
        faith = slime.compare(ex, analysis, exp.target, {"slime": torch.as_tensor(exp.mask)})
    f = faith["slime"]

    tmp = staging_folder(out)
    try:
        save_audio(tmp / "interpretation.wav",
                   _to_native(exp.interpretation, rate, native, length), native)
        save_audio(tmp / "residual.wav", _to_native(exp.residual, rate, native, length), native)
        write_segments_csv(tmp / "segments.csv", exp, bundle.frontend)
        doc = {
            "clip": str(clip),
            "method": "slime",
            "sample_rate": native,
            "duration_s": length / native,
            "bundle": bundle.name,
            "predictions": _ranked(bundle.classes, analysis.probabilities),
            "explained_class": bundle.classes[exp.target],
            "segmentation": config.segmentation,
            "n_samples": config.n_samples,
            "seed": config.seed,
            "surrogate_r2": exp.score,
            "selected": [{"segment": j, "label": exp.segments[j].label(bundle.frontend),
                          "weight": float(exp.weights[j])} for j in exp.selected],
            "faithfulness": {"ff": f.ff, "kept_probability": f.kept,
                             "fidelity_in": f.fidelity_in, "fraction_kept": f.fraction},
            "files": {"interpretation": "interpretation.wav", "residual": "residual.wav",
                      "segments": "segments.csv"},
        }
        (tmp / "explanation.json").write_text(json.dumps(doc, indent=2, allow_nan=False))
        _publish(tmp, out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return doc

"""Write one clip's L-MAC explanation to a folder: explanation.json (the shape of L2I's,
with ``method`` "lmac" and the mask's statistics in place of components), and the
masked-in (interpretation.wav) and masked-out (residual.wav) audio at the input's rate
and length. Written into a hidden sibling folder and moved into place at the end."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np

from engine.bundles.bundle import Bundle
from engine.dsp.audio import read_audio, resample, save_audio
from engine.explanation.lmac import LMACExplainer, mask_statistics
from engine.runtime.outputs import check_output, staging_folder
from engine.tools.explain_files import _publish, _ranked, _to_native


def lmac_to_folder(clip: str | os.PathLike, bundle: Bundle, out: str | os.PathLike,
                   device: str = "cpu") -> dict:
    clip, out = Path(clip), Path(out)
    check_output(out, "folder")
    data, native = read_audio(clip)
    length = data.shape[0]
    mono = data.mean(axis=1) if data.shape[1] > 1 else data[:, 0]
    rate = bundle.frontend.sample_rate
    with LMACExplainer(bundle, device) as explainer:
        result = explainer.explain(resample(np.ascontiguousarray(mono), native, rate))
    del data, mono
    c = result.predicted
    doc = {
        "clip": str(clip),
        "method": "lmac",
        "sample_rate": native,
        "duration_s": length / native,
        "bundle": bundle.name,
        "predictions": _ranked(bundle.classes, result.probabilities),
        "masked_in_predictions": _ranked(bundle.classes, result.probabilities_in),
        "masked_out_predictions": _ranked(bundle.classes, result.probabilities_out),
        "explained_class": bundle.classes[c],
        "mask": mask_statistics(result.mask),
        "faithfulness": {"ff": float(result.probabilities[c] - result.probabilities_out[c]),
                         "kept_probability": float(result.probabilities_in[c])},
        "files": {"interpretation": "interpretation.wav", "residual": "residual.wav"},
    }
    tmp = staging_folder(out)
    try:
        save_audio(tmp / "interpretation.wav",
                   _to_native(result.interpretation, rate, native, length), native)
        save_audio(tmp / "residual.wav", _to_native(result.residual, rate, native, length),
                   native)
        (tmp / "explanation.json").write_text(json.dumps(doc, indent=2, allow_nan=False))
        _publish(tmp, out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return doc

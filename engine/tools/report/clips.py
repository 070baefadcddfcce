"""One clip of a batch report: explain it and publish its record, pictures and audio as
one folder, renamed into place only when complete (a cancelled or killed run never
leaves half a clip behind, and a rerun can trust every folder it finds)."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shutil
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

from engine.dsp import shards
from engine.dsp.audio import AUDIO_EXTENSIONS, load_audio
from engine.explanation import long_clips
from engine.explanation.explain import Analysis, Explainer
from engine.explanation.metrics import faithfulness
from engine.runtime.atomic import replace_folder
from engine.runtime.errors import Cancelled, L2IError
from engine.runtime.outputs import public_mode
from engine.runtime.progress import TaskState, check
from engine.tools.report.png import levels, spectrogram_rgb, write_png

log = logging.getLogger(__name__)
BATCH = 8  # clips of one length analysed together (Explainer.analyse_batch)
RECORD = "record.json"
RECORD_VERSION = 1
KINDS = ("input", "interpretation", "residual")
_PARTIAL = (".tmp-", ".old-")  # prefixes of folders that are not (or no longer) results
_ASIDE = re.compile(r"\..+\.old")  # a result being replaced, where renames take two steps


def is_report(folder: Path) -> bool:
    return (folder / "summary.csv").is_file() and (folder / "clips").is_dir()


def find_clips(folder: Path, exclude: Path | None = None) -> list[Path]:
    """Audio files under ``folder`` (links to files followed, links to folders not: no
    loops). Hidden files, ``exclude`` (this report) and any earlier report are left out:
    their WAVs are explanations, not clips."""
    skip = exclude.resolve() if exclude is not None else None
    found = []
    for root, dirs, files in os.walk(folder):
        here = Path(root)
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and not is_report(here / d)
                         and (skip is None or (here / d).resolve() != skip))
        found += [here / f for f in files
                  if not f.startswith(".") and Path(f).suffix.lower() in AUDIO_EXTENSIONS]
    return sorted(found, key=lambda p: p.relative_to(folder).as_posix())


def slug(rel: str) -> str:
    """A folder name for a clip: readable, safe on every file system, and unique (a hash of
    the relative path tells dog.wav from dog.ogg and a/x.wav from a_x.wav)."""
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", rel.rsplit(".", 1)[0])[-60:].strip("._-")
    return f"{stem or 'clip'}-{hashlib.sha1(rel.encode()).hexdigest()[:8]}"


def source_stamp(path: Path) -> dict:
    st = shards.clip_stat(path)  # a clip in a tar shard: the shard's
    return {"size": st.st_size, "mtime_ns": st.st_mtime_ns}


def read_record(folder: Path) -> dict | None:
    try:
        record = json.loads((folder / RECORD).read_text())
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) else None


def is_current(record: dict | None, key: dict) -> bool:
    """Done with the same file (size, time), bundle and tau: nothing to redo."""
    return record is not None and all(record.get(k) == v for k, v in key.items())


def remove_partial(root: Path) -> None:
    """Folders a killed run left behind (a clip being written, a result being replaced:
    ``replace_folder`` puts an old one aside as ``.<name>.old``)."""
    if root.is_dir():
        for p in root.iterdir():
            if p.is_dir() and (p.name.startswith(_PARTIAL) or _ASIDE.fullmatch(p.name)):
                shutil.rmtree(p, ignore_errors=True)


def one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text if isinstance(exc, L2IError) and text else f"{type(exc).__name__}: {text}"


def _write_wav(path: Path, wave: np.ndarray, rate: int) -> None:
    # 16-bit PCM: half the size of float and what every browser's <audio> plays
    sf.write(str(path), np.clip(np.asarray(wave, np.float32), -1.0, 1.0), rate,
             subtype="PCM_16", format="WAV")


def residual_log_mag(X: np.ndarray, X_int: np.ndarray, domain: str) -> np.ndarray:
    """log(1 + |residual|), exactly, from X and the interpretation alone: the masks of the
    selection and of its complement sum to one (engine.explanation.masks.split)."""
    if domain == "log":
        return X - X_int
    return np.log1p(np.maximum(np.expm1(X) - np.expm1(X_int), 0.0))


def _ranked(labels: list[str], probs: np.ndarray) -> list[dict]:
    order = np.argsort(-probs, kind="stable")
    return [{"label": labels[i], "probability": round(float(probs[i]), 6)} for i in order]


@torch.no_grad()
def _explain(ex: Explainer, wave: np.ndarray, tau: float, into: Path,
             task: TaskState | None, analysis: Analysis | None = None) -> dict:
    a = ex.analyse(wave, task) if analysis is None else analysis
    check(task)
    exp = ex.explain(a, None, tau, with_components=False)
    c, rate = exp.target, a.sample_rate
    X = a.log_mag.cpu().numpy()
    spectra = {"input": X, "interpretation": exp.interpretation_log_mag,
               "residual": residual_log_mag(X, exp.interpretation_log_mag, ex.mask_domain)}
    waves = {"input": a.wave, "interpretation": exp.interpretation, "residual": exp.residual}
    p_res = None
    if X.shape[-1] <= long_clips.LONG_FRAMES:  # one pass over an hour would not fit memory
        p_res = float(ex.classify_waves(torch.as_tensor(exp.residual)[None])[0, c])
    check(task)
    lev = levels(X)
    for kind in KINDS:
        write_png(into / f"{kind}.png", spectrogram_rgb(spectra[kind], lev))
        _write_wav(into / f"{kind}.wav", waves[kind], rate)
    p_c = float(a.probabilities[c])
    return {
        "duration_s": a.n_samples / rate,
        "predictions": _ranked(a.classes, a.probabilities),
        "interpreter_predictions": _ranked(a.classes, a.interpreter_probabilities),
        "explained_class": a.classes[c],
        "explained_index": c,
        "selected": [int(k) for k in exp.selected],
        "relevance": [round(float(r), 5) for r in exp.relevance],
        "p_explained": p_c,
        "p_residual": p_res,
        "ff": None if p_res is None else float(faithfulness(p_c, p_res)),
        "files": {kind: {"png": f"{kind}.png", "wav": f"{kind}.wav"} for kind in KINDS},
        "error": None,
    }


def explain_clip(ex: Explainer, path: Path, key: dict, root: Path,
                 task: TaskState | None = None,
                 loaded: tuple[np.ndarray, Analysis | None] | None = None) -> dict:
    """Explain ``path`` for its top class at ``key['tau']`` into ``root/<slug>``. A clip
    that cannot be read or explained gets a record with its one-line error instead.
    ``loaded``: its samples, and its analysis when one was made in a batch."""
    name = slug(key["file"])
    tmp = Path(tempfile.mkdtemp(prefix=f"{_PARTIAL[0]}{name}-", dir=root))
    public_mode(tmp, folder=True)  # mkdtemp's 0700 would hide a shared report
    try:
        try:
            wave, analysis = loaded or (load_audio(path, ex.cfg.sample_rate), None)
            record = key | _explain(ex, wave, key["tau"], tmp, task, analysis)
        except Cancelled:
            raise
        except (L2IError, ValueError, RuntimeError, OSError, MemoryError) as exc:
            for p in tmp.iterdir():  # no files of a failed clip
                p.unlink()
            record = key | {"error": one_line(exc)}
        record["slug"] = name
        (tmp / RECORD).write_text(json.dumps(record, indent=1, allow_nan=False))
        replace_folder(tmp, root / name)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return record


def load_and_analyse(ex: Explainer, paths: list[Path], task: TaskState | None = None
                     ) -> list[tuple[np.ndarray, Analysis | None] | None]:
    """Each clip's samples, and its analysis when clips of the same length were analysed
    together (``Explainer.analyse_batch``); None for a clip that cannot be read
    (``explain_clip`` reads it again and records why). A batch that fails leaves its
    clips to be analysed one by one, so that only the bad one fails."""
    waves: list[np.ndarray | None] = []
    for path in paths:
        try:
            waves.append(load_audio(path, ex.cfg.sample_rate))
        except (L2IError, ValueError, RuntimeError, OSError, MemoryError):
            waves.append(None)
    out: list[tuple[np.ndarray, Analysis | None] | None] = [
        None if w is None else (w, None) for w in waves]
    groups: dict[int, list[int]] = {}
    for i, w in enumerate(waves):
        if w is not None and w.ndim == 1 and 0 < ex.cfg.n_frames(w.size) <= \
                long_clips.LONG_FRAMES:
            groups.setdefault(w.size, []).append(i)
    for members in groups.values():
        if len(members) < 2:
            continue
        try:
            analyses = ex.analyse_batch([waves[i] for i in members], task)
        except Cancelled:
            raise
        except (L2IError, ValueError, RuntimeError, MemoryError):
            log.info("a batch of %d clips failed; each is analysed alone", len(members),
                     exc_info=True)
            continue
        for i, analysis in zip(members, analyses):
            out[i] = (waves[i], analysis)
    return out


"""Exporting what the window shows: audio, relevance and activations as CSV.

Plain functions, no widgets of their own: each writes atomically
(``engine.runtime.atomic``), returns what it wrote, and turns any failure into one
``ExportError`` line naming the file. ``export_audio`` writes all its files into a hidden
folder first and moves them into place only when every one was written, so a full or
read-only disk leaves the export folder as it was. Nothing here touches a Qt object: it
may run on a worker thread. ``write_file`` is the one way the window's other exports
(figures, a view) write a file, so they fail the same way.
"""

from __future__ import annotations

import csv
import io
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from engine.dsp.audio import resample, save_audio
from engine.runtime.atomic import write_atomically
from engine.runtime.errors import L2IError

if TYPE_CHECKING:  # display_controls imports this module as the window starts: no torch
    from engine.explanation.explain import Analysis, Explainer, Explanation, Rendering

COMPONENTS_DIR = "components"


class ExportError(L2IError):
    """Something could not be written where the user asked."""


def _reason(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    text = str(exc).splitlines()[0].strip() if str(exc) else ""
    return text or type(exc).__name__


def _folder(path: str | os.PathLike) -> Path:
    folder = Path(path)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except (OSError, ValueError) as exc:
        blocker = next((p for p in (folder, *folder.parents)
                        if p.exists() and not p.is_dir()), None)
        why = f"{blocker} is a file, not a folder" if blocker is not None else _reason(exc)
        raise ExportError(f"cannot create the folder {folder}: {why}") from None
    if not folder.is_dir():
        raise ExportError(f"cannot export into {folder}: it is not a folder")
    return folder


def write_file(path: str | os.PathLike, write: Callable[[Path], Any]) -> Path:
    """Write ``path`` atomically: ``write(tmp)`` fills a temporary file beside it, which
    takes the name only when complete (``engine.runtime.atomic.write_atomically``). The
    folder is made if missing; a folder that cannot be (a file in the way) or any failure
    of ``write`` raises one ``ExportError`` line naming ``path``. Returns ``path``."""
    path = Path(path)
    _folder(path.parent)
    try:
        return write_atomically(path, write)
    except L2IError as exc:
        raise ExportError(f"cannot write {path}: {exc}") from None
    except (OSError, RuntimeError, ValueError, TypeError) as exc:
        raise ExportError(f"cannot write {path}: {_reason(exc)}") from None


def _write_text(path: str | os.PathLike, text: str) -> Path:
    return write_file(path, lambda tmp: tmp.write_text(text, encoding="utf-8", newline=""))


class _Stage:
    """Files written into a hidden folder inside the export folder, then moved into place
    together (``commit``): a full or read-only disk fails while staging, and the export
    folder is left as it was. Errors name the file the user asked for."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        try:
            self.root = Path(tempfile.mkdtemp(prefix=".l2i-export-", dir=folder))
        except OSError as exc:
            raise ExportError(f"cannot write into {folder}: {_reason(exc)}") from None
        self.names: list[str] = []

    def write(self, name: str, write: Callable[[Path], Any]) -> None:
        tmp = self.root / name
        try:
            tmp.parent.mkdir(parents=True, exist_ok=True)
            write(tmp)
            fd = os.open(tmp, os.O_RDONLY)
            try:
                os.fsync(fd)  # on the disk before it takes the user's name
            finally:
                os.close(fd)
        except L2IError as exc:
            raise ExportError(f"cannot write {self.folder / name}: {exc}") from None
        except (OSError, RuntimeError, ValueError, TypeError) as exc:
            raise ExportError(f"cannot write {self.folder / name}: {_reason(exc)}") from None
        self.names.append(name)

    def commit(self) -> list[Path]:
        out = []
        for name in self.names:
            final = self.folder / name
            _folder(final.parent)
            try:
                os.replace(self.root / name, final)  # same file system: one step each
            except OSError as exc:
                raise ExportError(f"cannot write {final}: {_reason(exc)}") from None
            out.append(final)
        return out

    def remove(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)


def _check_consistent(explainer: Explainer, analysis: Analysis, explanation: Explanation,
                      rendering: Rendering | None) -> None:
    k = explainer.bundle.k
    if analysis.H.shape[0] != k or len(explanation.relevance) != k:
        raise ExportError(f"the clip was analysed with another bundle (K = "
                          f"{analysis.H.shape[0]}, this bundle has K = {k}): analyse it again")
    n = analysis.n_samples
    waves = [explanation.interpretation, explanation.residual]
    if rendering is not None:
        waves += [rendering.interpretation, rendering.residual]
    stale = ExportError("the explanation does not belong to the current clip and class: "
                        "wait for it to finish updating and export again")
    if any(np.shape(w) != (n,) for w in waves) \
            or not 0 <= int(explanation.target) < len(analysis.classes):
        raise stale
    expected = explainer.relevance(analysis, int(explanation.target)).cpu().numpy()
    if not np.allclose(expected, explanation.relevance, rtol=0, atol=1e-6):
        raise stale


def _at_rate(wave: np.ndarray, rate: int, out_rate: int, length: int) -> np.ndarray:
    if out_rate == rate:
        return np.asarray(wave, dtype=np.float32)
    out = resample(np.ascontiguousarray(wave, dtype=np.float32), rate, out_rate)
    if len(out) < length:
        out = np.pad(out, (0, length - len(out)))
    return out[:length]


def component_name(k: int, n_components: int) -> str:
    """``component_007.wav``: zero-padded so that files sort in component order."""
    return f"component_{k:0{max(3, len(str(max(n_components - 1, 0))))}d}.wav"


def export_audio(folder: str | os.PathLike, explainer: Explainer, clip: Any,
                 explanation: Explanation, rendering: Rendering | None,
                 native_rate: int | None = None,
                 texts: dict[str, str | bytes] | None = None) -> list[Path]:
    """Write interpretation.wav (the active components, as ``rendering`` says), residual.wav
    and components/component_KKK.wav for every selected component of ``explanation``.

    ``clip`` is a ``jobs.ClipResult`` (only its ``analysis`` is used). Files are 32-bit
    float WAV, as long as the clip, at the bundle's sample rate, or resampled to
    ``native_rate`` (e.g. the source file's rate) when given. Component files left over
    from an earlier export into the same folder, of components not selected now, are
    removed so that the folder describes one explanation. Returns the written paths:
    interpretation, residual, then the components, most relevant first, then ``texts``
    (name -> text or bytes, written with them, all or none).
    """
    from engine.explanation.explain import Rendering  # loaded with the model

    analysis: Analysis = clip.analysis
    _check_consistent(explainer, analysis, explanation, rendering)
    if rendering is None:  # nothing toggled yet: the interpretation is the selection
        rendering = Rendering(list(explanation.selected), np.zeros(0),
                              explanation.interpretation, explanation.residual)
    rate = int(analysis.sample_rate)
    out_rate = int(native_rate) if native_rate else rate
    if out_rate <= 0:
        raise ExportError(f"cannot export audio at {native_rate} Hz")
    length = int(round(analysis.n_samples * out_rate / rate))
    folder = _folder(folder)

    selected = [int(k) for k in explanation.selected]
    have = explanation.components or {}
    missing = [k for k in selected if k not in have]
    waves = dict(have)
    if missing:
        waves |= explainer.component_audio(analysis, missing)

    def wave_writer(wave: np.ndarray) -> Callable[[Path], Any]:
        return lambda tmp: save_audio(tmp, _at_rate(wave, rate, out_rate, length), out_rate)

    n_components = explainer.bundle.k
    names = {component_name(k, n_components) for k in selected}
    stage = _Stage(folder)
    try:
        stage.write("interpretation.wav", wave_writer(rendering.interpretation))
        stage.write("residual.wav", wave_writer(rendering.residual))
        for k in selected:
            stage.write(f"{COMPONENTS_DIR}/{component_name(k, n_components)}",
                        wave_writer(waves[k]))
        for name, content in (texts or {}).items():
            stage.write(name, lambda tmp, c=content: tmp.write_bytes(c) if isinstance(c, bytes)
                        else tmp.write_text(c, encoding="utf-8", newline=""))
        _folder(folder / COMPONENTS_DIR)
        written = stage.commit()
    finally:
        stage.remove()
    comp_dir = folder / COMPONENTS_DIR
    for old in comp_dir.glob("component_*.wav"):
        if old.name not in names:
            try:
                old.unlink()
            except OSError as exc:
                raise ExportError(f"cannot remove the stale {old}: {_reason(exc)}") from None
    return written


def _csv(rows: list[list[Any]]) -> str:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows(rows)
    return buf.getvalue()


def export_all(folder: str | os.PathLike, explainer: Explainer, clip: Any,
               explanation: Explanation, rendering: Rendering | None,
               frame_seconds: float, files: dict[str, bytes] | None = None) -> list[Path]:
    """``export_audio`` plus relevance.csv, activations.csv and ``files`` (name ->
    bytes: the window's pictures), all moved into ``folder`` together: a disk that fills
    up or refuses leaves the folder as it was."""
    analysis = clip.analysis
    texts: dict[str, str | bytes] = {
        "relevance.csv": relevance_csv(analysis.classes, explanation),
        "activations.csv": activations_csv(analysis, frame_seconds), **(files or {})}
    return export_audio(folder, explainer, clip, explanation, rendering, texts=texts)


def export_relevance_csv(path: str | os.PathLike, classes: list[str],
                         explanation: Explanation) -> Path:
    """component,relevance,selected for all K components, most relevant first.

    ``selected`` is 1 for the components the explanation selected (relevance > tau), else
    0. ``classes`` is the bundle's class list: the explained class must be one of them.
    """
    return _write_text(path, relevance_csv(classes, explanation))


def relevance_csv(classes: list[str], explanation: Explanation) -> str:
    if not 0 <= int(explanation.target) < len(classes):
        raise ExportError(f"the explained class {explanation.target} is not one of the "
                          f"{len(classes)} classes of the bundle")
    r = np.asarray(explanation.relevance, dtype=float)
    chosen = {int(k) for k in explanation.selected}
    rows: list[list[Any]] = [["component", "relevance", "selected"]]
    for k in np.argsort(-r, kind="stable"):
        rows.append([int(k), f"{r[k]:.9g}", int(int(k) in chosen)])
    return _csv(rows)


def export_activations_csv(path: str | os.PathLike, analysis: Analysis,
                           frame_seconds: float) -> Path:
    """time_s,h_0,...,h_{K-1}: one row per STFT frame (time = frame centre)."""
    return _write_text(path, activations_csv(analysis, frame_seconds))


def activations_csv(analysis: Analysis, frame_seconds: float) -> str:
    H = analysis.H.detach().cpu().numpy() if hasattr(analysis.H, "detach") \
        else np.asarray(analysis.H)
    K, T = H.shape
    rows: list[list[Any]] = [["time_s"] + [f"h_{k}" for k in range(K)]]
    for t in range(T):
        rows.append([f"{t * frame_seconds:.6f}"] + [f"{v:.9g}" for v in H[:, t]])
    return _csv(rows)


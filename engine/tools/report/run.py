"""``batch_report``: explain every clip of a folder into a browsable report folder.

    out/index.html     one page: a summary table, then per clip its predictions, the
                       relevance chart, three spectrograms and their players
    out/summary.csv    one row per clip (failures carry their one-line error)
    out/clips/<slug>/  record.json, input|interpretation|residual .png and .wav

Each clip folder appears in one rename when it is complete, and its record says which
file (size, time), bundle and tau it was made with; a rerun keeps every folder that
still matches and rebuilds the pages from the records, so a stopped run loses nothing.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from engine.bundles.bundle import Bundle, load_bundle
from engine.dsp import shards
from engine.dsp.audio import AUDIO_EXTENSIONS, shown
from engine.explanation.explain import Explainer
from engine.runtime import atomic
from engine.runtime.errors import Cancelled, L2IError
from engine.runtime.progress import TaskState, check, report
from engine.tools.report.clips import (
    BATCH,
    RECORD_VERSION,
    explain_clip,
    find_clips,
    is_current,
    load_and_analyse,
    read_record,
    remove_partial,
    slug,
    source_stamp,
)
from engine.tools.report.page import CLIPS_DIR, index_html, summary_csv

STAGE = "report"


@dataclass
class ReportResult:
    out: Path
    total: int  # clips found
    # explained + reused + failed == total once the run ends
    explained: int  # explained by this run
    reused: int  # explained by an earlier run with the same file, bundle and tau
    records: list[dict] = field(default_factory=list)

    @property
    def index(self) -> Path:
        return self.out / "index.html"

    @property
    def failed(self) -> int:  # by this run or an earlier one: a record with its error
        return sum(1 for r in self.records if r.get("error"))


def fingerprint(bundle: Bundle) -> str:
    """Which model made a record: its manifest (classes, K, training, metrics) hashed."""
    text = json.dumps(bundle.manifest, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _check_paths(folder: Path, out: Path, tau: float) -> None:
    if shards.is_source(folder):
        pass  # a pattern need not exist as a path; open_set says what is wrong
    elif not folder.exists():
        raise L2IError(f"{shown(folder, full=True)}: no such folder")
    if not folder.is_dir():
        raise L2IError(f"{shown(folder, full=True)}: is a file; give the folder that holds "
                       "the clips")
    if out.exists() and not out.is_dir():
        raise L2IError(f"{shown(out, full=True)}: exists and is not a folder")
    if out.resolve() == (folder if folder.is_dir() else folder.parent).resolve():
        raise L2IError("the report needs its own output folder, not the folder of clips")
    if not 0.0 <= tau < 1.0:
        raise L2IError(f"tau must lie in [0, 1), not {tau}")


def _stamp(path: Path) -> dict | None:
    try:
        return source_stamp(path)
    except OSError:  # a dangling link: explaining it records "no such file"
        return None


def batch_report(folder: str | os.PathLike, out: str | os.PathLike,
                 bundle: Bundle | str | os.PathLike, tau: float = 0.1, device: str = "cpu",
                 task: TaskState | None = None, trust_code: bool = False,
                 batch: int = BATCH) -> ReportResult:
    """Explain each audio file under ``folder`` (recursively) for its top class at ``tau``
    and write the report into ``out``; clips of one length are analysed ``batch`` at a
    time (1: one by one). Raises L2IError for a bad folder (one line) and Cancelled,
    after writing the pages of what is done, when ``task`` is cancelled."""
    folder, out = Path(folder), Path(out)
    _check_paths(folder, out, tau)
    clips, names = _listing(folder, out)
    if not clips:
        raise L2IError(f"no audio files ({' '.join(AUDIO_EXTENSIONS)}) in "
                       f"{shown(folder, full=True)}")
    if not isinstance(bundle, Bundle):
        bundle = load_bundle(bundle, trust_code=trust_code)
    root = out / CLIPS_DIR
    root.mkdir(parents=True, exist_ok=True)
    remove_partial(root)
    result = ReportResult(out, len(clips), 0, 0)
    done: dict[str, dict] = {}
    fp = fingerprint(bundle)
    todo: list[tuple[Path, str, dict]] = []
    for path, rel in zip(clips, names):
        key = {"version": RECORD_VERSION, "file": rel, "source": _stamp(path),
               "bundle": fp, "tau": float(tau)}
        old = read_record(root / slug(rel))
        if is_current(old, key):
            done[rel] = old
            result.reused += not old.get("error")
        else:
            todo.append((path, rel, key))
    report(task, STAGE, len(done), len(clips))  # those an earlier run made
    try:
        with Explainer(bundle, device) as ex:
            for start in range(0, len(todo), max(1, batch)):
                chunk = todo[start:start + max(1, batch)]
                check(task)
                loaded = load_and_analyse(ex, [path for path, _, _ in chunk], task) \
                    if batch > 1 else [None] * len(chunk)
                for (path, rel, key), clip in zip(chunk, loaded):
                    check(task)
                    done[rel] = explain_clip(ex, path, key, root, task, clip)
                    result.explained += not done[rel].get("error")
                    report(task, STAGE, len(done), len(clips), rel)
    except Cancelled:
        result.records = _write_pages(out, folder, bundle, tau, names, done)
        raise Cancelled(f"after {len(done)} of {len(clips)} clips") from None
    except KeyboardInterrupt:
        _write_pages(out, folder, bundle, tau, names, done)
        raise
    result.records = _write_pages(out, folder, bundle, tau, names, done)
    return result


def _listing(folder: Path, out: Path) -> tuple[list[Path], list[str]]:
    """The clips and their names: paths under a folder, or keys in tar shards (clips read
    in place, engine/dsp/shards.py)."""
    if shards.is_source(folder):
        found = list(shards.open_set(folder).members())
        return [shard / m.name for shard, m in found], [m.key for _, m in found]
    clips = find_clips(folder, exclude=out)
    return clips, [p.relative_to(folder).as_posix() for p in clips]


def _write_pages(out: Path, folder: Path, bundle: Bundle, tau: float, names: list[str],
                 done: dict[str, dict]) -> list[dict]:
    records = [done[rel] for rel in names if rel in done]
    label = f"{bundle.name}, {len(bundle.classes)} classes"
    title = folder.resolve().name or str(folder)
    atomic.write_text(out / "index.html", index_html(records, title=title, bundle=label,
                                                     tau=tau, total=len(names)))
    atomic.write_text(out / "summary.csv", summary_csv(records))
    return records

"""Audio collections: labelled ones in three layouts, detected automatically, and an
unlabelled one, asked for by name.

- ``esc50``: ``meta/esc50.csv`` (filename, fold, target, category) + ``audio/``.
- ``folder``: ``DATA/<class>/<file>``; folds from a ``N-`` filename prefix when every file
  has one (ESC-10), else a seeded stratified split into 5 folds.
- ``multilabel``: a CSV at the root with a filename column and one 0/1 column per class
  (an optional ``fold`` column); files relative to the root or to ``audio/``.
- ``unlabelled`` (never detected: ``--unlabelled``): every audio file under the folder,
  at any depth; no label is read (the classes are the classifier's, set later) and the
  folds are a seeded split (trainer/unlabelled.py).
- ``webdataset``: tar shards written by ``l2i pack`` (a folder of ``NAME-NNNNNN.tar`` with
  ``NAME.json``, a brace pattern ``DIR/NAME-{000000..000009}.tar`` or one .tar), read in
  place (trainer/shard_data.py).
"""

from __future__ import annotations

import csv
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from engine.dsp import shards
from engine.dsp.audio import AUDIO_EXTENSIONS, shown
from engine.runtime.errors import L2IError
from trainer.layouts import UNLABELLED
from trainer.shard_data import WEBDATASET, read_shards

LAYOUTS = ("esc50", "folder", "multilabel", WEBDATASET, UNLABELLED)
FILENAME_COLUMNS = ("filename", "file", "path", "fname")
_FOLD_PREFIX = re.compile(r"^(\d+)-")
# ESC-style names, FOLD-RECORDING-TAKE-...: clips cut from one freesound recording
_RECORDING = re.compile(r"^\d+-([^-]+)-[A-Za-z]+\b")


class DatasetError(L2IError):
    """The data folder cannot be used as it is."""


@dataclass
class Dataset:
    root: Path
    layout: str
    classes: list[str]
    paths: list[Path]
    labels: np.ndarray  # (N,) int class index, or (N, C) 0/1 for multi-label
    folds: np.ndarray  # (N,) int
    multilabel: bool = False
    notes: list[str] = field(default_factory=list)
    # (N,) the source recording of each clip, when the names or the csv say it: clips of
    # one recording must stay in one fold, or a test clip has a sibling in training
    groups: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.paths)

    @property
    def labelled(self) -> bool:
        """False: no label was read; ``labels`` holds -1 and nothing may be scored by it."""
        return self.layout != UNLABELLED

    @property
    def fold_ids(self) -> list[int]:
        return sorted(int(f) for f in np.unique(self.folds))

    def class_counts(self) -> dict[str, int]:
        if self.multilabel:
            return {c: int(n) for c, n in zip(self.classes, self.labels.sum(axis=0))}
        counts = Counter(int(i) for i in self.labels)
        return {c: counts.get(i, 0) for i, c in enumerate(self.classes)}

    def split(self, test_fold: int | None) -> tuple[np.ndarray, np.ndarray]:
        """Indices of the training folds and of the test fold (empty when None)."""
        idx = np.arange(len(self))
        if test_fold is None:
            return idx, idx[:0]
        if test_fold not in self.fold_ids:
            raise DatasetError(f"there is no fold {test_fold}; folds: {self.fold_ids}")
        return idx[self.folds != test_fold], idx[self.folds == test_fold]

    def subset(self, indices: np.ndarray) -> Dataset:
        return Dataset(self.root, self.layout, self.classes,
                       [self.paths[i] for i in indices], self.labels[indices],
                       self.folds[indices], self.multilabel, list(self.notes),
                       None if self.groups is None else self.groups[indices])

    def stratify_key(self) -> np.ndarray:
        return self.labels.argmax(axis=1) if self.multilabel else self.labels


def stratified_folds(keys: np.ndarray, n_folds: int, seed: int,
                     groups: np.ndarray | None = None) -> np.ndarray:
    """Fold numbers 1..n_folds, spread evenly within each class, reproducible from seed.
    With ``groups``, the clips of a group (a recording) all go to one fold."""
    if groups is not None:
        return _grouped_stratified_folds(keys, n_folds, seed, groups)
    rng = np.random.default_rng(seed)
    folds = np.zeros(len(keys), dtype=int)
    offset = 0
    for key in np.unique(keys):
        members = rng.permutation(np.flatnonzero(keys == key))
        folds[members] = (np.arange(len(members)) + offset) % n_folds + 1
        offset += len(members)
    return folds


def _grouped_stratified_folds(keys: np.ndarray, n_folds: int, seed: int,
                              groups: np.ndarray) -> np.ndarray:
    """Whole groups, class by class (a group counts for its first clip's class), the
    largest first, each to the fold that has fewest clips of that class, then fewest in
    all; ties rotate so that no fold is favoured."""
    rng = np.random.default_rng(seed)
    _, first, inverse = np.unique(groups, return_index=True, return_inverse=True)
    # each group's clips in index order, one sort instead of a scan per group
    members = np.split(np.argsort(inverse, kind="stable"), np.cumsum(np.bincount(inverse))[:-1])
    folds = np.zeros(len(keys), dtype=int)
    total = np.zeros(n_folds, dtype=int)
    turn = 0
    for key in np.unique(keys):
        mine = rng.permutation(np.flatnonzero(keys[first] == key))
        mine = sorted(mine, key=lambda g: -len(members[g]))  # stable: shuffled among equals
        in_class = np.zeros(n_folds, dtype=int)
        for g in mine:
            order = [(in_class[f], total[f], (f - turn) % n_folds) for f in range(n_folds)]
            f = min(range(n_folds), key=order.__getitem__)
            folds[members[g]] = f + 1
            in_class[f] += len(members[g])
            total[f] += len(members[g])
            turn += 1
    return folds


def recording_groups(paths: list[Path]) -> np.ndarray | None:
    """The recording id of ESC-style file names, when every name has one."""
    found = [_RECORDING.match(p.name) for p in paths]
    return np.array([m.group(1) for m in found]) if paths and all(found) else None


def detect_layout(root: Path) -> str:
    if (root / "meta" / "esc50.csv").is_file():
        return "esc50"
    if _multilabel_csv(root) is not None:
        return "multilabel"
    if any(p.is_dir() and _audio_files(p) for p in root.iterdir()):
        return "folder"
    raise DatasetError(f"{root}: no known layout (ESC-50 csv, one folder per class, "
                       "or a multi-label csv with a filename column)")


def load_dataset(root: str | Path, layout: str | None = None, seed: int = 0,
                 inner_folds_of: int | None = None) -> Dataset:
    """Load a dataset; ``inner_folds_of=N`` keeps only fold N and splits it again into
    5 stratified folds (seeded): a full protocol on a dataset where one fold is whole.
    Where the clips' recordings are known, each recording stays in one inner fold."""
    root = Path(root)
    if layout in (None, WEBDATASET, UNLABELLED) and shards.is_source(root):
        ds = _load_shards(root, seed, unlabelled=layout == UNLABELLED)
    else:
        if not root.is_dir():
            raise DatasetError(f"{root}: no such folder")
        layout = layout or detect_layout(root)
        if layout not in LAYOUTS or layout == WEBDATASET:
            raise DatasetError(f"{root}: no shards here" if layout == WEBDATASET else
                               f"unknown layout {layout!r}; choose from {', '.join(LAYOUTS)}")
        ds = {"esc50": _load_esc50, "folder": _load_folder, "multilabel": _load_multilabel,
              UNLABELLED: _load_unlabelled}[layout](root, seed)
    if len(ds) == 0:
        raise DatasetError(f"{root}: no audio files found")
    if inner_folds_of is not None:
        if inner_folds_of not in ds.fold_ids:
            raise DatasetError(f"there is no fold {inner_folds_of}; folds: {ds.fold_ids}")
        ds = ds.subset(np.flatnonzero(ds.folds == inner_folds_of))
        ds.folds = stratified_folds(ds.stratify_key(), 5, seed, ds.groups)
        grouped = "" if ds.groups is None else ", each recording in one fold"
        ds.notes.append(f"fold {inner_folds_of} only, split into 5 stratified folds "
                        f"(seed {seed}{grouped})")
    if not ds.labelled:
        return ds
    present = (ds.labels.sum(axis=0) > 0).sum() if ds.multilabel else len(np.unique(ds.labels))
    if present < 2:
        raise DatasetError(f"{root}: training needs at least two classes with clips, "
                           f"found {present}")
    return ds


def _audio_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir()
                  if p.is_file() and p.suffix.lower() in AUDIO_EXTENSIONS)


def _load_esc50(root: Path, seed: int) -> Dataset:
    names: dict[int, str] = {}
    rows = []
    with open(root / "meta" / "esc50.csv", newline="") as f:
        for row in csv.DictReader(f):
            try:
                target, fold = int(row["target"]), int(row["fold"])
            except (KeyError, ValueError):
                raise DatasetError("meta/esc50.csv needs filename, fold, target and "
                                   "category columns") from None
            names[target] = row.get("category") or str(target)
            rows.append((row["filename"], target, fold, row.get("src_file") or ""))
    targets = sorted(names)
    index = {t: i for i, t in enumerate(targets)}
    notes, paths, labels, folds, sources = [], [], [], [], []
    for name, target, fold, source in rows:
        p = root / "audio" / name
        if not p.is_file():
            notes.append(f"listed but missing: {name}")
            continue
        paths.append(p)
        labels.append(index[target])
        folds.append(fold)
        sources.append(source)
    groups = np.array(sources) if sources and all(sources) else recording_groups(paths)
    return Dataset(root, "esc50", [names[t] for t in targets], paths,
                   np.array(labels, dtype=int), np.array(folds, dtype=int), False, notes,
                   groups)


def _load_folder(root: Path, seed: int) -> Dataset:
    class_dirs = sorted(p for p in root.iterdir() if p.is_dir() and _audio_files(p))
    paths, labels = [], []
    for i, d in enumerate(class_dirs):
        for p in _audio_files(d):
            paths.append(p)
            labels.append(i)
    labels_arr = np.array(labels, dtype=int)
    prefixes = [_FOLD_PREFIX.match(p.name) for p in paths]
    notes = []
    if paths and all(prefixes):
        folds = np.array([int(m.group(1)) for m in prefixes], dtype=int)
    else:
        folds = stratified_folds(labels_arr, 5, seed)
        notes.append(f"no fold prefixes in file names: 5 stratified folds from seed {seed}")
    return Dataset(root, "folder", _display_names([d.name for d in class_dirs]), paths,
                   labels_arr, folds, False, notes, recording_groups(paths))


def _load_shards(root: Path, seed: int, unlabelled: bool) -> Dataset:
    try:
        p = read_shards(root, unlabelled)
    except L2IError as exc:
        raise DatasetError(str(exc)) from None
    if p.folds is not None:
        return Dataset(root, WEBDATASET, p.classes, p.paths, p.labels, p.folds, p.multilabel,
                       p.notes, p.groups)
    folds = stratified_folds(np.zeros(len(p.paths), dtype=int), 5, seed, p.groups)
    by = "file" if p.groups is None else "recording"
    return Dataset(root, UNLABELLED, [], p.paths, p.labels, folds, False,
                   [f"no labels read: 5 folds split by {by} from seed {seed}"] + p.notes,
                   p.groups)


def _load_unlabelled(root: Path, seed: int) -> Dataset:
    """Every audio file under ``root`` at any depth (hidden folders aside), no label read,
    in 5 folds split by file from ``seed`` (by recording when ESC-style names tell it, so
    that no test clip has a sibling in training). Class folders, if any, are ignored."""
    paths = sorted(p for p in root.rglob("*")
                   if p.suffix.lower() in AUDIO_EXTENSIONS and p.is_file()
                   and not any(part.startswith(".") for part in p.relative_to(root).parts))
    groups = recording_groups(paths)
    folds = stratified_folds(np.zeros(len(paths), dtype=int), 5, seed, groups)
    by = "file" if groups is None else "recording"
    return Dataset(root, UNLABELLED, [], paths, np.full(len(paths), -1, dtype=int), folds,
                   False, [f"no labels read: 5 folds split by {by} from seed {seed}"], groups)


def _display_names(folders: list[str]) -> list[str]:
    """'001 - Dog bark' -> 'Dog bark', unless that would make two classes alike."""
    shown = [re.sub(r"^\d+\s*-\s*", "", f).strip() or f for f in folders]
    return shown if len(set(shown)) == len(shown) else folders


def _multilabel_csv(root: Path) -> Path | None:
    for p in sorted(root.glob("*.csv")):
        try:
            with open(p, newline="") as f:
                header = next(csv.reader(f), [])
        except (OSError, UnicodeDecodeError):
            continue
        if any(h.strip().lower() in FILENAME_COLUMNS for h in header) and len(header) >= 3:
            return p
    return None


def _load_multilabel(root: Path, seed: int) -> Dataset:
    csv_path = _multilabel_csv(root)
    if csv_path is None:
        raise DatasetError(f"{root}: no csv with a filename column")
    with open(csv_path, newline="") as f:
        reader = csv.DictReader(f)
        header = reader.fieldnames or []
        rows = list(reader)
    fname = next(h for h in header if h.strip().lower() in FILENAME_COLUMNS)
    classes = [h for h in header if h not in (fname, "fold")]
    paths, labels, folds, notes = [], [], [], []
    for row in rows:
        candidates = [root / row[fname], root / "audio" / row[fname]]
        p = next((c for c in candidates if c.is_file()), None)
        if p is None:
            notes.append(f"listed but missing: {row[fname]}")
            continue
        try:
            labels.append([int(float(row[c])) for c in classes])
            folds.append(int(row["fold"]) if "fold" in row and row["fold"] else 0)
        except ValueError:
            raise DatasetError(f"{shown(csv_path, full=True)}: the label columns must hold "
                               "0 or 1") from None
        paths.append(p)
    lab = np.array(labels, dtype=int).reshape(len(paths), len(classes))
    fold_arr = np.array(folds, dtype=int)
    if len(paths) and (fold_arr == 0).any():
        fold_arr = stratified_folds(lab.argmax(axis=1) if len(lab) else lab, 5, seed)
        notes.append(f"no fold column: 5 stratified folds from seed {seed}")
    return Dataset(root, "multilabel", classes, paths, lab, fold_arr, True, notes)

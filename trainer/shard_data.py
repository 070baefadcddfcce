"""A dataset packed as tar shards (layout "webdataset", `l2i pack`) read as a Dataset.

Each clip's path runs through its shard (``SHARD.tar/KEY.EXT``), which every reader of
clips (``load_audio``: the feature pass, ClipWaves, evaluation, focus) opens in place.
Labels, folds and recording ids come from the clips' ``KEY.json``, the classes from
``NAME.json``. Read as unlabelled (``--unlabelled``, or packed so) no label is read and
the folds are the seeded split a folder of the same clips would get.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from engine.dsp import shards
from engine.runtime.errors import shown
from trainer.layouts import UNLABELLED

WEBDATASET = "webdataset"


def load_shards(source: str | Path, seed: int, unlabelled: bool = False):
    from trainer.datasets import Dataset, DatasetError, stratified_folds

    try:
        s = shards.open_set(source)
        members = list(s.members())
    except shards.ShardError as exc:
        raise DatasetError(str(exc)) from None
    meta = s.meta
    unlabelled = unlabelled or meta.get("layout") == UNLABELLED
    classes = [] if unlabelled else [str(c) for c in meta["classes"]]
    multilabel = bool(meta["multilabel"]) and not unlabelled
    where = {c: i for i, c in enumerate(classes)}
    paths, labels, folds, groups = [], [], [], []
    for shard, m in members:
        info = m.meta
        if info is None and not unlabelled:
            raise DatasetError(f"{shown(shard, full=True)}: clip {m.key} has no {m.key}.json "
                               "(its labels and fold)")
        info = info or {}
        if not unlabelled:
            names = info.get("labels")
            if not isinstance(names, list) or (not multilabel and len(names) != 1):
                raise DatasetError(f"{shown(shard, full=True)}: {m.key}.json needs "
                                   f"\"labels\": {'a list of' if multilabel else 'one'} "
                                   "class name(s)")
            unknown = [n for n in names if n not in where]
            if unknown:
                raise DatasetError(f"{shown(shard, full=True)}: {m.key}.json names class "
                                   f"{unknown[0]!r}, not one of the {len(classes)} in "
                                   f"{s.name}.json")
            if multilabel:
                row = np.zeros(len(classes), dtype=int)
                row[[where[n] for n in names]] = 1
                labels.append(row)
            else:
                labels.append(where[names[0]])
            try:
                folds.append(int(info["fold"]))
            except (KeyError, TypeError, ValueError):
                raise DatasetError(f"{shown(shard, full=True)}: {m.key}.json has no "
                                   "integer \"fold\"") from None
        paths.append(shard / m.name)
        groups.append(info.get("group"))
    group_arr = np.array(groups) if groups and all(g is not None for g in groups) else None
    root = Path(source)
    packed = f"packed from {meta.get('layout', '?')} {meta.get('source', '')}".strip()
    notes = [f"{len(s.shards)} shard(s) of {s.name}, {packed}"]
    if unlabelled:
        folds_arr = stratified_folds(np.zeros(len(paths), dtype=int), 5, seed, group_arr)
        by = "file" if group_arr is None else "recording"
        return Dataset(root, UNLABELLED, [], paths, np.full(len(paths), -1, dtype=int),
                       folds_arr, False,
                       [f"no labels read: 5 folds split by {by} from seed {seed}"] + notes,
                       group_arr)
    lab = np.array(labels, dtype=int).reshape(len(paths), len(classes)) if multilabel \
        else np.array(labels, dtype=int)
    return Dataset(root, WEBDATASET, classes, paths, lab, np.array(folds, dtype=int),
                   multilabel, notes, group_arr)

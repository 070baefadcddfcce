"""A dataset packed as tar shards (layout "webdataset", `l2i pack`) read as a Dataset.

Each clip's path runs through its shard (``SHARD.tar/KEY.EXT``), which every reader of
clips (``load_audio``: the feature pass, ClipWaves, evaluation, focus) opens in place.
Labels, folds and recording ids come from the clips' ``KEY.json``, the classes from
``NAME.json``. Read as unlabelled (``--unlabelled``, or packed so) no label is read and
the folds are the seeded split a folder of the same clips would get.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engine.dsp import shards
from engine.runtime.errors import shown
from trainer.layouts import UNLABELLED

WEBDATASET = "webdataset"
Bad = shards.ShardError


@dataclass
class Packed:
    """A shard set's clips, read (trainer.datasets makes the Dataset)."""
    classes: list[str]
    paths: list[Path]
    labels: np.ndarray  # as Dataset.labels; -1 when unlabelled
    folds: np.ndarray | None  # None: unlabelled, a seeded split is to be made
    multilabel: bool
    notes: list[str]
    groups: np.ndarray | None


def read_shards(source: str | Path, unlabelled: bool = False) -> Packed:
    """Raises ShardError (an L2IError: one line) for shards that cannot be used."""
    s = shards.open_set(source)
    members = list(s.members())
    meta = s.meta
    unlabelled = unlabelled or meta.get("layout") == UNLABELLED
    classes = [] if unlabelled else [str(c) for c in meta["classes"]]
    multilabel = bool(meta["multilabel"]) and not unlabelled
    where = {c: i for i, c in enumerate(classes)}
    paths, labels, folds, groups = [], [], [], []
    for shard, m in members:
        info = m.meta
        if info is None and not unlabelled:
            raise Bad(f"{shown(shard, full=True)}: clip {m.key} has no {m.key}.json "
                      "(its labels and fold)")
        info = info or {}
        if not unlabelled:
            names = info.get("labels")
            if not isinstance(names, list) or (not multilabel and len(names) != 1):
                raise Bad(f"{shown(shard, full=True)}: {m.key}.json needs \"labels\": "
                          f"{'a list of' if multilabel else 'one'} class name(s)")
            unknown = [n for n in names if n not in where]
            if unknown:
                raise Bad(f"{shown(shard, full=True)}: {m.key}.json names class "
                          f"{unknown[0]!r}, not one of the {len(classes)} in {s.name}.json")
            if multilabel:
                row = np.zeros(len(classes), dtype=int)
                row[[where[n] for n in names]] = 1
                labels.append(row)
            else:
                labels.append(where[names[0]])
            try:
                folds.append(int(info["fold"]))
            except (KeyError, TypeError, ValueError):
                raise Bad(f"{shown(shard, full=True)}: {m.key}.json has no integer "
                          "\"fold\"") from None
        paths.append(shard / m.name)
        groups.append(info.get("group"))
    group_arr = np.array(groups) if groups and all(g is not None for g in groups) else None
    packed = f"packed from {meta.get('layout', '?')} {meta.get('source', '')}".strip()
    notes = [f"{len(s.shards)} shard(s) of {s.name}, {packed}"]
    if unlabelled:
        return Packed([], paths, np.full(len(paths), -1, dtype=int), None, False, notes,
                      group_arr)
    lab = np.array(labels, dtype=int).reshape(len(paths), len(classes)) if multilabel \
        else np.array(labels, dtype=int)
    return Packed(classes, paths, lab, np.array(folds, dtype=int), multilabel, notes,
                  group_arr)

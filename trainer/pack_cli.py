"""``l2i pack DATA --out SHARDS``: a dataset as tar shards (trainer/pack.py). Imports
nothing heavy until the command runs."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from trainer import unlabelled

DEFAULT_SHARD_MB = 256.0  # trainer.pack.DEFAULT_SHARD_MB, not imported here (numpy)


def add_parser(sub) -> None:
    p = sub.add_parser("pack", help="pack a dataset into tar shards (WebDataset layout)")
    p.add_argument("data", type=Path, help="dataset folder (any layout `l2i train` reads)")
    p.add_argument("--out", type=Path, required=True,
                   help="shard folder: NAME-000000.tar, ... and NAME.json (replaced whole)")
    size = p.add_mutually_exclusive_group()
    size.add_argument("--clips-per-shard", type=int, default=None, metavar="N",
                      help="clips per shard")
    size.add_argument("--shard-mb", type=float, default=None, metavar="M",
                      help=f"shard size in MB (default {DEFAULT_SHARD_MB:g})")
    p.add_argument("--name", default=None,
                   help="shard name prefix (default: the data folder's name)")
    p.add_argument("--layout", choices=["esc50", "folder", "multilabel", "webdataset"],
                   help="dataset layout (detected when omitted)")
    unlabelled.add_arguments(p)
    p.add_argument("--seed", type=int, default=0,
                   help="seed of the folds where they are a seeded split")


def run(args: argparse.Namespace) -> int:
    from trainer.datasets import load_dataset
    from trainer.pack import pack
    from trainer.progress_bar import TerminalProgress

    layout = unlabelled.layout_of(args)
    ds = load_dataset(args.data, layout, unlabelled.data_seed(args))
    folder = Path(args.data).resolve()
    name = args.name or re.sub(r"[^A-Za-z0-9_-]+", "_", folder.name).strip("_") or "clips"
    progress = TerminalProgress()
    try:
        meta = pack(ds, args.out, name, args.clips_per_shard, args.shard_mb, progress)
    finally:
        progress.close()
    total = sum(s["bytes"] for s in meta["shards"])
    print(f"{meta['clips']} clips ({ds.layout}, {len(ds.classes)} classes) -> "
          f"{len(meta['shards'])} shard(s), {total / 1e6:.1f} MB in {args.out}")
    return 0

"""``l2i report FOLDER --out DIR``: the batch report (engine/report) from a terminal.

The first Ctrl-C asks the run to stop at the next safe point (the clip being written is
dropped whole, the pages list what is done); a second one stops at once. Either way the
same command continues where it stopped."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from pathlib import Path

from engine.runtime.errors import Cancelled, L2IError
from trainer.arg_types import batch_size
from trainer.byo_args import add_trust_arg
from trainer.progress_bar import TerminalProgress

RESUME_HINT = "run the same command again to continue (finished clips are kept)"


def add_parser(sub) -> None:
    p = sub.add_parser("report", help="explain every clip of a folder into an HTML report")
    p.add_argument("folder", type=Path,
                   help="folder of clips (searched recursively), or tar shards from `l2i pack` "
                        "(their folder or a NAME-{000000..000009}.tar pattern)")
    p.add_argument("--out", type=Path, required=True,
                   help="report folder: index.html, summary.csv, clips/")
    p.add_argument("--bundle", type=Path, default=None,
                   help="model bundle (default: the one that ships)")
    p.add_argument("--tau", type=float, default=0.1, help="relevance threshold (default 0.1)")
    # 8 is engine.tools.report.clips.BATCH, not imported here: it imports torch
    p.add_argument("--batch", type=batch_size, default=8, metavar="N",
                   help="clips of one length analysed together (fewer, larger forward "
                        "passes, for a GPU; the same speed on a small CPU); 1: one by one")
    add_trust_arg(p)
    p.add_argument("--device", default="auto",
                   help="auto (a GPU when there is one; default), cpu, cuda or cuda:N")


def _bundle(arg: Path | None) -> Path:
    from resources import default_bundle_path

    path = arg or default_bundle_path()
    if path is None:
        raise L2IError("no default bundle ships with this version; pass --bundle PATH")
    return path


def run(args: argparse.Namespace) -> int:
    from engine.tools.report import batch_report  # torch: not for `l2i --help`

    bundle = _bundle(args.bundle)
    progress = TerminalProgress()

    def first_interrupt(_sig, _frame) -> None:
        progress.cancel()
        signal.signal(signal.SIGINT, signal.default_int_handler)

    main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGINT, first_interrupt) if main_thread else None
    try:
        result = batch_report(args.folder, args.out, bundle, args.tau, args.device, progress,
                              trust_code=args.trust_code, batch=args.batch)
    except (Cancelled, KeyboardInterrupt) as exc:
        progress.close()
        what = f" {exc}" if isinstance(exc, Cancelled) else ""
        print(f"l2i: report stopped{what}; {RESUME_HINT}", file=sys.stderr)
        return 130
    finally:
        progress.close()
        if main_thread:
            signal.signal(signal.SIGINT, previous)
    print(f"{result.total} clips: {result.explained} explained, {result.reused} already "
          f"done, {result.failed} failed -> {result.index}")
    return 0

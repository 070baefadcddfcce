"""``l2i corrupt``: how stable explanations stay when clips are corrupted (issue #9).

    l2i corrupt FOLDER [--bundle B] (--snr 20,10,0 | --mix CLIP --level -6) [--seed S]
                       [--json OUT]

Each clip of FOLDER is explained clean (for its top class) and under each condition (for
the same class); the mean stability per condition is printed as a table.
"""

from __future__ import annotations

import argparse
import fnmatch
import sys
from pathlib import Path

from engine.runtime.errors import L2IError
from trainer.arg_types import seed
from trainer.byo_args import add_trust_arg

# the heavy imports (torch, the bundle) wait until the command runs: ``l2i --help`` and
# the parser stay quick


def add_parser(sub) -> None:
    p = sub.add_parser("corrupt", help="explanation stability under noise or a mixed-in clip")
    p.add_argument("folder", type=Path, help="folder of clips (searched recursively)")
    p.add_argument("--bundle", type=Path, default=None,
                   help="model bundle (default: the one that ships)")
    p.add_argument("--snr", default=None,
                   help="white noise at these SNRs in dB, comma list (e.g. 20,10,0)")
    p.add_argument("--mix", type=Path, default=None,
                   help="a second clip to mix in (left out of the clips compared)")
    p.add_argument("--level", default=None,
                   help="with --mix: its level in dB relative to each clip, comma list "
                        "(default -6)")
    p.add_argument("--seed", type=seed, default=0, help="seed of the white noise")
    p.add_argument("--threshold", type=float, default=0.1, help="tau (default 0.1)")
    p.add_argument("--glob", default="*",
                   help="only files whose name matches, e.g. '1-*' for ESC-10 fold 1")
    p.add_argument("--limit", type=int, default=None, help="at most this many clips")
    p.add_argument("--json", type=Path, default=None, help="write the full result here")
    add_trust_arg(p)
    p.add_argument("--device", default="auto",
                   help="auto (a GPU when there is one; default), cpu, cuda or cuda:N")


def _numbers(text: str, flag: str) -> list[float]:
    try:
        values = [float(t) for t in text.split(",") if t.strip()]
    except ValueError:
        raise L2IError(f"{flag} takes numbers in dB separated by commas, not {text!r}"
                       ) from None
    if not values or not all(abs(v) < 200 for v in values):
        raise L2IError(f"{flag} takes numbers in dB separated by commas (|dB| < 200), "
                       f"not {text!r}")
    return values


def find_clips(folder: Path, pattern: str = "*", limit: int | None = None) -> list[Path]:
    from engine.dsp.audio import AUDIO_EXTENSIONS, shown

    if not folder.is_dir():
        raise L2IError(f"{shown(folder, full=True)}: not a folder of clips")
    clips = sorted(p for p in folder.rglob("*") if p.suffix.lower() in AUDIO_EXTENSIONS
                   and p.is_file() and fnmatch.fnmatch(p.name, pattern))
    if not clips:
        raise L2IError(f"no audio files ({', '.join(AUDIO_EXTENSIONS)}) matching "
                       f"'{pattern}' under {shown(folder, full=True)}")
    return clips[:limit] if limit is not None else clips


def run(args: argparse.Namespace) -> int:
    from engine.bundles.bundle import load_bundle
    from engine.explanation.explain import Explainer
    from engine.runtime.errors import shown
    from engine.tools.corruption import Corruption, format_table, load_other, study
    from resources import default_bundle_path
    from trainer.checkpoint import atomic_write_json
    from trainer.progress_bar import TerminalProgress

    if args.snr is None and args.mix is None:
        raise L2IError("give --snr DB[,DB...] or --mix CLIP [--level DB]")
    if args.level is not None and args.mix is None:
        raise L2IError("--level needs --mix CLIP")
    if args.limit is not None and args.limit < 1:
        raise L2IError("--limit must be at least 1")
    if not 0.0 <= args.threshold < 1.0:
        raise L2IError(f"the threshold must lie in [0, 1), not {args.threshold}")
    if args.json is not None and args.json.is_dir():
        raise L2IError(f"--json {shown(args.json, full=True)} is a folder; give a file name")
    snrs = _numbers(args.snr, "--snr") if args.snr is not None else []
    levels = _numbers(args.level or "-6", "--level") if args.mix is not None else []
    clips = find_clips(args.folder, args.glob, args.limit)
    bundle_path = args.bundle or default_bundle_path()
    if bundle_path is None:
        raise L2IError("no default bundle ships with this version; pass --bundle PATH")
    bundle = load_bundle(bundle_path, trust_code=args.trust_code)
    rate = bundle.frontend.sample_rate
    conditions = [Corruption("white", db) for db in snrs]
    if args.mix is not None:
        other, name = load_other(args.mix, rate)
        conditions += [Corruption("mix", db, other, name) for db in levels]
        mixed = args.mix.resolve()
        # not a clip mixed with itself; and every condition gets the same clips
        clips = [c for c in clips if c.resolve() != mixed]
        if not clips:
            raise L2IError("the only clip is the one to mix in")
    progress = TerminalProgress()
    try:
        with Explainer(bundle, args.device) as explainer:
            result = study(explainer, clips, conditions, args.threshold, args.seed, progress)
    finally:
        progress.close()
    for s in result["skipped"]:
        print(f"skipped {s['clip']}: {s['reason']}", file=sys.stderr)
    if result["clips"] == 0:
        raise L2IError("none of the clips could be explained")
    print(format_table(result))
    if args.json is not None:
        try:
            atomic_write_json(args.json, result)
        except OSError as exc:
            raise L2IError(f"cannot write {shown(args.json, full=True)}: "
                           f"{exc.strerror or exc}") from None
        print(f"-> {args.json}")
    return 0

"""``l2i explain --method slime``: the SLIME baseline from the command line."""

from __future__ import annotations

import argparse

from engine.runtime.errors import L2IError
from trainer.arg_types import seed

SLIME_ONLY = ("segments", "samples", "seed", "top")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--method", choices=["l2i", "slime", "lmac"], default="l2i",
                   help="l2i (default), slime (LIME over spectrogram segments) or lmac "
                        "(the bundle's L-MAC decoder: a mask over the spectrogram)")
    p.add_argument("--segments", choices=["time", "freq", "patches"], default=None,
                   help="slime: time segments (10), mel-spaced bands (8) or patches "
                        "(5 x 4); default patches")
    p.add_argument("--samples", type=int, default=None,
                   help="slime: perturbed copies classified (default 300)")
    p.add_argument("--seed", type=seed, default=None, help="slime: sampling seed (default 0)")
    p.add_argument("--top", type=int, default=None,
                   help="slime: at most this many segments, each with weight / max weight "
                        "above --threshold (default 3)")


def check(args: argparse.Namespace) -> None:
    if args.method != "slime":
        given = [f"--{n}" for n in SLIME_ONLY if getattr(args, n, None) is not None]
        if given:
            raise L2IError(f"{', '.join(given)} only apply to --method slime")


def run(args: argparse.Namespace, bundle) -> int:
    from engine.tools.slime import SlimeConfig
    from engine.tools.slime_files import slime_to_folder

    config = SlimeConfig(segmentation=args.segments or "patches",
                         n_samples=300 if args.samples is None else args.samples,
                         seed=0 if args.seed is None else args.seed,
                         top=3 if args.top is None else args.top,
                         threshold=args.threshold).validate()
    doc = slime_to_folder(args.clip, bundle, args.out, args.target, config, args.device)
    top, faith = doc["predictions"][0], doc["faithfulness"]
    print(f"{args.clip}: {top['label']} ({top['probability']:.2f}); SLIME "
          f"({config.segmentation}, {config.n_samples} samples) explained "
          f"'{doc['explained_class']}' with {len(doc['selected'])} segments; "
          f"FF {faith['ff']:.3f} (probability kept {faith['kept_probability']:.3f}, "
          f"{100 * faith['fraction_kept']:.1f} % of the spectrogram) -> {args.out}")
    return 0

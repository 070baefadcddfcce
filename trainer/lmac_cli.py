"""The L-MAC peer method on the command line (issue #21):

    l2i train lmac --data DATA (--classifier BUNDLE --out NEW | --into BUNDLE) [...]
    l2i explain CLIP --method lmac --out DIR
    l2i evaluate --bundle B --data DATA --method lmac [--contaminate ...]

A decoder is stored beside a bundle's L2I interpreter, so it needs a bundle: a new one
(the classifier's bundle with the decoder added, at --out) or the same one (--into).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

from engine.runtime.errors import L2IError
from trainer.byo_args import add_trust_arg

DEFAULTS = {"epochs": 10, "batch_size": 16, "lr": 2e-4, "l_in": 4.0, "l_out": 0.2,
            "l1": 0.4}  # the SpeechBrain recipe's (epochs: ours)


def add_lmac_options(p: argparse.ArgumentParser, prefix: str = "") -> None:
    """The decoder's training settings; ``prefix`` ("lmac-") where they sit beside other
    training's flags (``l2i train all --with-lmac``)."""
    d = {k: v for k, v in DEFAULTS.items()}
    p.add_argument(f"--{prefix}epochs", dest="lmac_epochs", type=int, default=d["epochs"],
                   help="L-MAC training epochs")
    p.add_argument(f"--{prefix}batch-size", dest="lmac_batch_size", type=int,
                   default=d["batch_size"], help="L-MAC batch size (the recipe's)")
    p.add_argument(f"--{prefix}lr", dest="lmac_lr", type=float, default=d["lr"],
                   help="L-MAC learning rate (the recipe's)")
    p.add_argument("--l-in", type=float, default=d["l_in"],
                   help="weight of the classifier's loss on the masked-in audio")
    p.add_argument("--l-out", type=float, default=d["l_out"],
                   help="weight of (minus) its loss on the masked-out audio")
    p.add_argument("--l1", dest="lmac_l1", type=float, default=d["l1"],
                   help="weight of the mask's mean")
    p.add_argument("--guided", type=float, default=0.0,
                   help="guided fine-tuning: weight of the BCE toward the clean clip's "
                        "binarised spectrogram (the recipe: 4); starts from the bundle's "
                        "decoder when it has one (default 0: off)")
    p.add_argument("--mix-probability", type=float, default=1.0,
                   help="share of training clips mixed at 0 dB with another class's")
    p.add_argument(f"--{prefix}layers", dest="lmac_layers", default=None,
                   help="layers the decoder taps, comma list (default: the interpreter's)")


def add_train_parser(tsub, add_data_args: Callable[[argparse.ArgumentParser], None]) -> None:
    p = tsub.add_parser("lmac", help="the L-MAC decoder, beside a bundle's interpreter")
    add_data_args(p)
    p.add_argument("--classifier", type=Path, default=None,
                   help="the bundle whose classifier L-MAC explains (default: --into's)")
    p.add_argument("--out", type=Path, default=None,
                   help="a new bundle: --classifier's with the decoder added")
    p.add_argument("--into", type=Path, default=None,
                   help="add the decoder to this bundle, rewritten atomically")
    p.add_argument("--resume", action="store_true",
                   help="continue an interrupted run from its last checkpoint")
    add_lmac_options(p)
    add_trust_arg(p)


def train_config(args: argparse.Namespace):
    from trainer.train_lmac import LMACTrainConfig

    return LMACTrainConfig(epochs=args.lmac_epochs, batch_size=args.lmac_batch_size,
                           lr=args.lmac_lr, l_in=args.l_in, l_out=args.l_out,
                           l1=args.lmac_l1, guided=args.guided,
                           mix_probability=args.mix_probability, seed=args.seed)


def layers_of(args: argparse.Namespace) -> list[str] | None:
    text = getattr(args, "lmac_layers", None)
    return [s.strip() for s in text.split(",") if s.strip()] if text else None


def train(args: argparse.Namespace, ctx, progress) -> int:
    from engine.bundles.bundle import load_bundle, save_bundle
    from trainer import pipeline, unlabelled
    from trainer.plan import align_classes
    from trainer.train_lmac import lmac_stage
    from trainer.work_folder import WorkFiles, default_work

    if (args.out is None) == (args.into is None):
        raise L2IError("give exactly one of --out NEW_BUNDLE and --into BUNDLE")
    source = args.classifier or args.into
    if source is None:
        raise L2IError("--out needs --classifier BUNDLE (the bundle whose classifier "
                       "L-MAC explains)")
    if (Path(source) / "classifier.json").is_file():
        raise L2IError(f"{source} is a classifier folder: L-MAC is stored beside an L2I "
                       "interpreter, so give a bundle (l2i train interpreter makes one)")
    cfg = train_config(args)  # settings checked before anything is read
    bundle = load_bundle(source, trust_code=args.trust_code)
    if bundle.multilabel:
        raise L2IError("L-MAC explains single-label classifiers only")
    p = pipeline.prepare(args.data, unlabelled.layout_of(args), args.test_fold,
                         bundle.frontend, clip_seconds=args.clip_seconds,
                         cache_dir=args.cache, seed=unlabelled.data_seed(args), ctx=ctx,
                         task=progress, inner_folds_of=args.inner_folds_of)
    align_classes(p, bundle.classes, bundle.multilabel)
    out = args.out or args.into
    files = WorkFiles(default_work(out))
    files.root.mkdir(parents=True, exist_ok=True)
    bundle = lmac_stage(bundle, p, cfg, layers_of(args), ctx, args.resume,
                        files.lmac_checkpoint, progress)
    if ctx.is_main:
        save_bundle(bundle, out)
        best = bundle.manifest["lmac"]["provenance"]["best_epoch"]
        print(f"L-MAC decoder (best epoch {best}) -> {out}")
    return 0


def explain(args: argparse.Namespace, bundle) -> int:
    from engine.tools.lmac_files import lmac_to_folder

    if args.target is not None:
        raise L2IError("--target does not apply to --method lmac: its mask explains the "
                       "classifier's own decision")
    doc = lmac_to_folder(args.clip, bundle, args.out, args.device)
    top, mask = doc["predictions"][0], doc["mask"]
    print(f"{args.clip}: {top['label']} ({top['probability']:.2f}); L-MAC mask mean "
          f"{mask['mean']:.3f}, {100 * mask['share_above_half']:.1f} % above 0.5; FF "
          f"{doc['faithfulness']['ff']:.3f} -> {args.out}", file=sys.stdout)
    return 0

"""``l2i``: explain clips, train dictionaries, classifiers and interpreters, evaluate.

Every failure the user can fix ends with one line on stderr and exit code 2; a bug
ends with one line too (exit code 70), its traceback kept in a log file.
"""

from __future__ import annotations

import argparse
import sys
import traceback
from pathlib import Path

from engine.runtime.errors import Cancelled, L2IError, failure_message, shown
from trainer import corruption_cli, lmac_cli, pack_cli, report_cli, slime_cli, unlabelled
from trainer.arg_types import seconds, seed
from trainer.byo_args import add_frontend_arg, add_model_args, add_trust_arg
from trainer.diagnostics import verbose_logging, write_traceback

EX_SOFTWARE = 70  # sysexits.h: an internal software error

RESUME = "continue an interrupted run from its last checkpoint"
VAL_BY_RECORDING = ("hold out whole recordings for the validation split (model selection), "
                    "so clips cut from one recording are never on both sides")


def _add_data_args(p: argparse.ArgumentParser, test_fold: bool = True) -> None:
    p.add_argument("--data", required=True, type=Path,
                   help="dataset folder, or tar shards from `l2i pack` (their folder or a "
                        "pattern DIR/NAME-{000000..000009}.tar)")
    p.add_argument("--layout", choices=["esc50", "folder", "multilabel", "webdataset"],
                   help="dataset layout (detected when omitted)")
    unlabelled.add_arguments(p)
    if test_fold:
        p.add_argument("--test-fold", type=int, default=None,
                       help="fold held out for testing (default: train on every clip)")
    p.add_argument("--inner-folds-of", type=int, default=None, metavar="N",
                   help="use fold N only, split into 5 stratified folds, each source "
                        "recording in one (e.g. the complete fold 4 of esc50-subset)")
    p.add_argument("--clip-seconds", type=seconds, default=5.0,
                   help="clips are cut or zero-padded to this length (default 5)")
    p.add_argument("--cache", type=Path, default=None, help="feature cache folder")
    p.add_argument("--device", default="auto",
                   help="auto (a GPU when there is one; default), cpu, cuda or cuda:N")
    p.add_argument("--seed", type=seed, default=0, help="seed of every random choice")


def _add_nmf_args(p: argparse.ArgumentParser, beta_flag: str = "--beta") -> None:
    p.add_argument("--k", type=int, default=100, help="dictionary components (default 100)")
    p.add_argument("--sparsity", type=float, default=0.8, help="L1 weight mu on H")
    p.add_argument(beta_flag, dest="divergence", type=float, default=2.0,
                   help="NMF beta-divergence (2: Euclidean, 1: Kullback-Leibler)")
    p.add_argument("--inner", type=int, default=3,
                   help="cheap inner updates per pass over the data (default 3)")
    p.add_argument("--inner-w", type=int, default=0,
                   help="updates of W per pass (default: as many as --inner); W steps cost "
                        "little, so 10-20 converge faster")
    p.add_argument("--iterations", type=int, default=200, help="passes over the frames")
    p.add_argument("--max-frames", type=int, default=None,
                   help="subsample the training frames to at most this many")
    p.add_argument("--online-batch", type=int, default=0, metavar="FRAMES",
                   help="learn from mini-batches of this many frames, keeping no per-frame "
                        "activations, for frames that exceed memory (--iterations then "
                        "counts passes; docs/scale.md). Default 0: full batch")


def _add_interp_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--pooling", choices=["attention", "max"], default="attention",
                   help="how Theta pools H over time: attention or max (the paper)")
    p.add_argument("--alpha", type=float, default=10.0, help="weight of the NMF loss")
    p.add_argument("--beta", dest="l1", type=float, default=0.8,
                   help="weight of the L1 loss on H (the paper's beta)")
    p.add_argument("--interpreter-epochs", dest="iepochs", type=int, default=35,
                   help="epochs of interpreter training")
    p.add_argument("--lr", type=float, default=2e-4, help="the interpreter's learning rate")
    p.add_argument("--fidelity-weight", type=float, default=1.0,
                   help="weight of the fidelity loss (doubled from epoch 20 on)")
    p.add_argument("--faith-in", type=float, default=0.0,
                   help="weight of: the classifier keeps its decision on the masked-in input")
    p.add_argument("--faith-out", type=float, default=0.0,
                   help="weight of: the classifier loses it on the masked-out input")
    p.add_argument("--faith-size", type=float, default=1.0,
                   help="with --faith-in/out: weight of the mask's mean (keeps it small)")
    p.add_argument("--focus", type=float, default=0.0,
                   help="weight of the focus term: on synthetic 0 dB mixtures of two "
                        "training clips, each source's class is explained by that source "
                        "(default 0: off)")
    p.add_argument("--focus-mixtures", type=int, default=16,
                   help="with --focus: mixtures added to every batch (default 16)")
    p.add_argument("--focus-selection", choices=["hard", "soft"], default="hard",
                   help="with --focus: the training mask keeps the components above tau "
                        "(hard, as explanations do) or weights all by relevance (soft)")
    p.add_argument("--refine", type=int, default=0, metavar="N",
                   help="explanations refine the interpreter's activations on the input "
                        "with N NMF updates (W fixed; the selection stays the "
                        "interpreter's); 0: as the paper")
    p.add_argument("--mask-domain", choices=["log", "linear"], default="log",
                   help="masks scale log(1+|S|) (the paper) or |S| itself")
    p.add_argument("--layers", default=None,
                   help="comma-separated hidden layers to tap (default: last three blocks)")
    p.add_argument("--hidden", type=int, default=None,
                   help="Psi's channels (default 256, the paper's; or --init's)")
    p.add_argument("--adapter-channels", type=int, default=None,
                   help="channels per tapped layer in Psi (default 128; or --init's)")
    p.add_argument("--temporal-stride", type=int, default=None,
                   help="Psi's 1-D convs run on every n-th frame, H is interpolated "
                        "between (default 1, the paper's; 2-4 make Psi cheaper)")


class _Help(argparse.HelpFormatter):
    """Every option's help ends with its default unless the text already says it."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        quiet = (None, False, argparse.SUPPRESS)
        if "default" in text or action.default in quiet or not action.option_strings:
            return text
        return f"{text} (default %(default)s)"


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage mistake is one line (the full usage stays under --help)."""

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("formatter_class", _Help)
        super().__init__(*args, **kwargs)

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    ap = _Parser(prog="l2i", description=__doc__.splitlines()[0].replace("``", ""))
    ap.add_argument("-v", "--verbose", action="count", default=0,
                    help="say more on stderr: -v what each step decides, -vv debugging "
                         "detail (give it before the command)")
    sub = ap.add_subparsers(dest="command", required=True, parser_class=_Parser)

    ex = sub.add_parser("explain", help="explain one clip and write its audio")
    ex.add_argument("clip", type=Path, help="audio file (WAV, FLAC, OGG, MP3, ...)")
    ex.add_argument("--bundle", type=Path, default=None,
                    help="model bundle (default: the one that ships)")
    ex.add_argument("--target", default=None, help="class name or index (default: top)")
    ex.add_argument("--threshold", type=float, default=0.1, help="tau (default 0.1)")
    ex.add_argument("--out", type=Path, required=True,
                    help="folder for explanation.json and the WAVs (created or updated)")
    ex.add_argument("--device", default="auto",
                    help="auto (a GPU when there is one; default), cpu, cuda or cuda:N")
    add_trust_arg(ex)
    slime_cli.add_arguments(ex)

    ev = sub.add_parser("evaluate", help="fidelity and faithfulness of a bundle")
    ev.add_argument("--bundle", type=Path, required=True, help="model bundle to evaluate")
    _add_data_args(ev)
    ev.add_argument("--taus", default="0.1,0.3,0.5,0.7,0.9",
                    help="relevance thresholds of the FF table, comma list")
    ev.add_argument("--json", type=Path, default=None,
                    help="also write every number to this JSON file")
    ev.add_argument("--contaminate", default="",
                    help="also on contaminated copies: mixture,white,speech (comma list)")
    ev.add_argument("--speech", type=Path, default=None,
                    help="spoken-digit WAVs for --contaminate speech (../shared/data/fsdd)")
    ev.add_argument("--quality-tau", type=float, default=0.1,
                    help="tau for AI, AD, AG, FF, Fid-In, SPS, COMP (default 0.1)")
    ev.add_argument("--focus", type=int, default=0, metavar="N",
                    help="also measure focus on N seeded 0 dB mixtures of two test clips "
                         "of different classes (SI-SDR gain toward the explained source; "
                         "at --quality-tau)")
    ev.add_argument("--focus-only", action="store_true",
                    help="with --focus: skip the other metrics")
    ev.add_argument("--method", choices=["l2i", "lmac"], default="l2i",
                    help="the bundle's L2I interpreter or its L-MAC decoder")
    ev.add_argument("--into-bundle", action="store_true",
                    help="also store the result as the bundle's metrics (rewritten atomically)")
    add_trust_arg(ev)

    corruption_cli.add_parser(sub)  # l2i corrupt
    report_cli.add_parser(sub)  # l2i report
    pack_cli.add_parser(sub)  # l2i pack

    tr = sub.add_parser("train", help="train a classifier, dictionary or interpreter")
    tsub = tr.add_subparsers(dest="what", required=True, parser_class=_Parser)
    c = tsub.add_parser("classifier", help="the built-in VGG-style CNN")
    _add_data_args(c)
    c.add_argument("--out", type=Path, required=True, help="classifier folder")
    c.add_argument("--epochs", type=int, default=60, help="training epochs")
    c.add_argument("--resume", action="store_true", help=RESUME)
    c.add_argument("--widths", default=None, help="channels per block, e.g. 16,32,64,128")
    c.add_argument("--val-by-recording", action="store_true", help=VAL_BY_RECORDING)

    d = tsub.add_parser("dictionary", help="sparse NMF on training frames")
    _add_data_args(d)
    _add_nmf_args(d)
    d.add_argument("--out", type=Path, required=True, help="dictionary file (.safetensors)")
    d.add_argument("--sample-rate", type=int, default=None,
                   help="resample the clips to this rate (default 44100; as --model's)")
    add_frontend_arg(d)

    i = tsub.add_parser("interpreter", help="Psi/Theta for a frozen classifier")
    _add_data_args(i)
    _add_interp_args(i)
    i.add_argument("--classifier", type=Path, default=None,
                   help="classifier folder or bundle (or bring your own with --model)")
    i.add_argument("--dictionary", type=Path, required=True,
                   help="dictionary file from `l2i train dictionary`")
    i.add_argument("--out", type=Path, required=True, help="bundle folder or .l2i file")
    i.add_argument("--epochs", dest="iepochs", type=int,
                   help="same as --interpreter-epochs")
    i.add_argument("--resume", action="store_true", help=RESUME)
    i.add_argument("--init", type=Path, default=None,
                   help="start from this bundle's interpreter (same dictionary), e.g. to "
                        "fine-tune it with --faith-in/--faith-out")
    add_model_args(i)

    lmac_cli.add_train_parser(tsub, _add_data_args)

    a = tsub.add_parser("all", help="classifier, dictionary, interpreter, evaluation, bundle")
    _add_data_args(a)
    _add_nmf_args(a, beta_flag="--nmf-beta")
    _add_interp_args(a)
    a.add_argument("--out", type=Path, required=True, help="bundle folder or .l2i file")
    a.add_argument("--epochs", type=int, default=60, help="classifier epochs")
    a.add_argument("--widths", default=None,
                   help="the classifier's channels per block (default 16,32,64,128,256,512)")
    a.add_argument("--val-by-recording", action="store_true", help=VAL_BY_RECORDING)
    a.add_argument("--resume", action="store_true", help=RESUME)
    a.add_argument("--work", type=Path, default=None,
                   help="folder for intermediate products (default: OUT.work)")
    a.add_argument("--with-lmac", action="store_true",
                   help="also train an L-MAC decoder into the bundle (its flags below)")
    lmac_cli.add_lmac_options(a.add_argument_group("with --with-lmac"), prefix="lmac-")
    add_model_args(a)
    return ap


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    with verbose_logging(args.verbose):
        try:
            from trainer import dispatch

            return dispatch.run(args)
        except (KeyboardInterrupt, Cancelled):
            print("l2i: interrupted; rerun the same command with --resume to continue",
                  file=sys.stderr)
            return 130
        except (L2IError, FileNotFoundError, PermissionError) as exc:
            # code the user has not agreed to run: said with this command's way to agree
            subject = getattr(exc, "subject", None)
            text = f"{subject}: add --trust-code if you trust it" if subject \
                else str(exc).strip()
            print(f"l2i: error: {text.splitlines()[0] if text else type(exc).__name__}",
                  file=sys.stderr)
            return 2
        except OSError as exc:  # a file system's refusal that no check above foresaw
            from engine.runtime.outputs import reason

            where = f" ({shown(exc.filename, full=True)})" if exc.filename else ""
            print(f"l2i: error: {reason(exc)}{where}", file=sys.stderr)
            return 2
        except Exception as exc:  # noqa: BLE001 - the one place a bug is reported
            if isinstance(exc, MemoryError) or _out_of_memory(exc):
                print(f"l2i: error: {failure_message(exc)}", file=sys.stderr)
                return 1
            return _internal_error(exc, sys.argv[1:] if argv is None else argv)


def _out_of_memory(exc: BaseException) -> bool:
    """torch's OutOfMemoryError (a RuntimeError), or another RuntimeError that says so."""
    return isinstance(exc, RuntimeError) and (type(exc).__name__ == "OutOfMemoryError"
                                              or "out of memory" in str(exc).lower())


def _internal_error(exc: Exception, argv: list[str]) -> int:
    """A bug: one line here, the traceback in the log (on stderr if it cannot be kept)."""
    where = write_traceback(exc, argv)
    if where is None:
        traceback.print_exception(exc)
        print(f"l2i: internal error: {failure_message(exc)}", file=sys.stderr)
    else:
        print(f"l2i: internal error: {failure_message(exc)} "
              f"(details in {shown(where, full=True)})", file=sys.stderr)
    return EX_SOFTWARE


if __name__ == "__main__":
    sys.exit(main())

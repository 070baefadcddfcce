"""``l2i train interpreter|all --model ...``: a classifier the user brings, from the
command line, as the wizard's "Bring your own" page makes it (a ``ClassifierChoice``);
and ``--trust-code``, which every command that may run a bundle's code takes."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from engine.runtime.errors import L2IError, shown

INPUTS = {"waveform": "waveform", "logmel": "log_mel", "log_mel": "log_mel"}
ENTRY_POINT = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")
FUNCTION = re.compile(r"^[A-Za-z_]\w*$")
MODEL_ONLY = ("weights", "input", "sample_rate", "frontend", "classes")
# the wizard's front-end fields, as --frontend takes them: name -> (type, lowest, highest)
FRONTEND_FIELDS = {"n_fft": (int, 64, 16384), "hop_length": (int, 16, 16384),
                   "n_mels": (int, 8, 512), "f_min": (float, 0, 192000),
                   "f_max": (float, 1, 192000), "top_db": (float, 1, 200)}
TRUST_HELP = ("run the Python code a bundle or --model brings (it runs with your "
              "permissions): only for code you trust")


def add_trust_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--trust-code", action="store_true", help=TRUST_HELP)


def add_model_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("bring your own classifier (docs/command-line.md, "
                             "Explain your own model)")
    g.add_argument("--model", default=None,
                   metavar="FILE.py|package.module:function|hf:FOLDER",
                   help="the code that builds your nn.Module: a Python file (function "
                        "build_model, or FILE.py:function) or an importable entry point; "
                        "it is called with the number of classes if it takes an argument. "
                        "hf:FOLDER: a Hugging Face audio classifier saved there by "
                        "save_pretrained (its weights, input, rate and classes come with it)")
    g.add_argument("--weights", type=Path, default=None,
                   help="with --model: its state dict (.safetensors, or a torch.save'd .pt)")
    g.add_argument("--input", choices=sorted(INPUTS), default=None,
                   help="with --model: what it reads, the waveform (B, N) or the log-mel "
                        "in dB (B, mels, T)")
    g.add_argument("--sample-rate", type=int, default=None,
                   help="with --model: the rate it expects, in Hz (default 44100)")
    add_frontend_arg(g)
    g.add_argument("--classes", default=None, metavar="FILE|a,b,c",
                   help="with --model: its class names in output order, a file with one "
                        "per line or a comma list (default: the data's)")
    add_trust_arg(g)


def add_frontend_arg(p) -> None:
    p.add_argument("--frontend", default=None, metavar="n_fft=1024,hop_length=512,...",
                   help="with --model (and for train dictionary): the log-mel settings, of "
                        "n_fft, hop_length, n_mels, f_min, f_max, top_db (default 1024, 512, "
                        "128, 0, Nyquist, 80)")


def frontend_from_args(args: argparse.Namespace):
    """--sample-rate and --frontend as a FrontEndConfig, checked."""
    from engine.dsp.features import FrontEndConfig

    rate = args.sample_rate or FrontEndConfig().sample_rate
    if not 1000 <= rate <= 384_000:
        raise L2IError(f"--sample-rate takes 1000 to 384000 Hz, not {rate}")
    values: dict = {"sample_rate": rate}
    for pair in (args.frontend or "").split(","):
        if not pair.strip():
            continue
        key, _, text = (t.strip() for t in pair.partition("="))
        if key not in FRONTEND_FIELDS:
            raise L2IError(f"--frontend: unknown setting {key!r}; it takes "
                           f"{', '.join(FRONTEND_FIELDS)} as name=value")
        kind, low, high = FRONTEND_FIELDS[key]
        try:
            value = kind(text)
        except ValueError:
            value = None
        if value is None or not low <= value <= high:
            raise L2IError(f"--frontend: {key} takes {kind.__name__}s in [{low}, {high}], "
                           f"not {text!r}")
        values[key] = value
    fe = FrontEndConfig(**values)
    if fe.hop_length > fe.n_fft:
        raise L2IError("--frontend: hop_length must not exceed n_fft")
    if not fe.f_min < (fe.f_max or rate / 2) <= rate / 2:
        raise L2IError(f"--frontend: the mel band must lie in [0, {rate / 2:g}] Hz with "
                       "f_min below f_max")
    return fe


def parse_classes(text: str) -> list[str]:
    path = Path(text)
    if path.is_file():
        try:
            names = [n.strip() for n in path.read_text(encoding="utf-8").splitlines()]
        except (OSError, UnicodeDecodeError) as exc:
            raise L2IError(f"--classes {shown(path, full=True)}: cannot read it ({exc})"
                           ) from None
    else:
        names = [n.strip() for n in text.split(",")]
    names = [n for n in names if n]
    if not names:
        raise L2IError("--classes names no class: give a file with one name per line or "
                       "a,b,c")
    if len(set(names)) != len(names):
        raise L2IError("--classes: class names must be unique")
    return names


def _code(text: str) -> dict:
    """--model as ClassifierChoice fields: a Python file (and function) or an entry point."""
    file, _, function = text.rpartition(":") if text.rpartition(":")[0].endswith(".py") \
        else (text, "", "")
    if file.endswith(".py") or Path(file).is_file():
        if not Path(file).is_file():
            raise L2IError(f"--model {shown(file, full=True)}: no such Python file")
        if function and not FUNCTION.match(function):
            raise L2IError(f"--model: {function!r} is not a Python function name")
        return {"code_file": file, "function": function or "build_model"}
    if not ENTRY_POINT.match(text):
        raise L2IError(f"--model takes FILE.py, FILE.py:function or package.module:function,"
                       f" not {text!r}")
    return {"entry_point": text}


def choice_from_args(args: argparse.Namespace):
    """The ``ClassifierChoice`` that --model and its flags make, or None without --model
    (then none of them may be given). Checked before any data is read."""
    from trainer.plan import ClassifierChoice

    if args.model is None:
        given = [f"--{n.replace('_', '-')}" for n in MODEL_ONLY
                 if getattr(args, n, None) is not None]
        if given:
            raise L2IError(f"{', '.join(given)} only apply with --model")
        return None
    if getattr(args, "classifier", None) is not None:
        raise L2IError("give --classifier (a folder or bundle) or --model (your code), "
                       "not both")
    if args.model.startswith("hf:"):
        return _hf_choice(args)
    code = _code(args.model)
    if args.weights is None or args.input is None:
        raise L2IError("--model needs --weights (its state dict) and --input "
                       "(waveform or logmel)")
    if not args.trust_code:
        raise L2IError(f"--model {shown(args.model, full=True)} is Python code that runs "
                       "with your permissions: add --trust-code if you trust it")
    frontend = frontend_from_args(args)
    return ClassifierChoice(kind="custom", **code, weights=str(args.weights),
                            input=INPUTS[args.input], frontend=frontend.to_dict(),
                            classes=parse_classes(args.classes) if args.classes else None,
                            trust_code=True)


def _hf_choice(args: argparse.Namespace):
    """--model hf:FOLDER: a Hugging Face folder brings its weights, its input (the
    waveform, through its feature extractor), its rate and its classes; it brings no
    code, so it needs no --trust-code."""
    import importlib.util

    from engine.models.hf_classifier import INSTALL, read_folder
    from trainer.plan import ClassifierChoice

    folder = args.model[len("hf:"):]
    given = [f"--{n}" for n in ("weights", "input") if getattr(args, n) is not None]
    if given:
        raise L2IError(f"--model hf:FOLDER brings its own weights and input: drop "
                       f"{', '.join(given)}")
    names, rate = read_folder(folder)
    if importlib.util.find_spec("transformers") is None:
        raise L2IError(INSTALL)
    if args.sample_rate is not None and args.sample_rate != rate:
        raise L2IError(f"--sample-rate {args.sample_rate}: the model's feature extractor "
                       f"reads {rate} Hz (drop --sample-rate)")
    frontend = frontend_from_args(argparse.Namespace(**{**vars(args), "sample_rate": rate}))
    if args.classes:  # other names for the same outputs, in the same order
        renamed = parse_classes(args.classes)
        if len(renamed) != len(names):
            raise L2IError(f"--classes names {len(renamed)} classes, the model has "
                           f"{len(names)} ({', '.join(names[:3])}, ...)")
        names = renamed
    return ClassifierChoice(kind="hf", hf_folder=folder, input="waveform",
                            frontend=frontend.to_dict(), classes=names,
                            trust_code=args.trust_code)

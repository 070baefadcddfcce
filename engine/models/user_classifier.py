"""Classifiers that users bring: their own code builds the nn.Module, weights come from a
state dict (safetensors, or ``torch.load(weights_only=True)``), never from a pickle.

The code is either an entry point ``package.module:function`` (importable where the bundle
is opened) or the text of one Python file, stored inside the bundle as ``classifier.py``.
Both run arbitrary code, so nothing here is called unless the caller chose to trust it;
``engine.bundles.bundle.load_bundle`` refuses such bundles unless asked with ``trust_code=True``.

The function is called with no arguments, or with the number of classes when it takes a
parameter. The model receives, batched, either the log-mel in dB (B, n_mels, T) of the
bundle's front-end, or the mono waveform (B, N) at the bundle's sample rate, and returns
logits (B, C), or an object holding them as ``.logits`` (unwrapped by a hook on the model).
"""

from __future__ import annotations

import ast
import hashlib
import importlib.util
import inspect
import re
import sys
import types
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors.torch import load_file
from torch import nn

from engine.dsp.features import FrontEndConfig, log_mel
from engine.runtime.errors import BundleError, L2IError, shown

ARCHITECTURE = "custom"
SOURCE_FILE = "classifier.py"
INPUT_KINDS = ("log_mel", "waveform")
ENTRY_POINT = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")
IDENTIFIER = re.compile(r"^[A-Za-z_]\w*$")
MAX_SOURCE_BYTES = 1 << 20


class UntrustedCodeError(BundleError):
    """A bundle or choice would run Python code that the caller has not agreed to run.
    ``subject`` says what would run, without how to agree: each front end (a flag, a
    question, a parameter) says that its own way."""

    def __init__(self, message: str, subject: str | None = None) -> None:
        super().__init__(message)
        self.subject = subject or message


class MissingPackage(L2IError):
    """The user's code imports a module that is not installed here."""

    def __init__(self, message: str, package: str) -> None:
        super().__init__(message)
        self.package = package


# import names whose pip package is named otherwise
PIP_NAMES = {"sklearn": "scikit-learn", "cv2": "opencv-python", "PIL": "Pillow",
             "yaml": "PyYAML", "skimage": "scikit-image", "bs4": "beautifulsoup4"}


def install_hint(package: str) -> str:
    return f"install it (pip install {PIP_NAMES.get(package, package)})"


def missing_packages(names: list[str]) -> list[str]:
    """Those of the top-level modules ``names`` that cannot be imported here (found
    without importing them)."""
    missing = []
    for name in names:
        try:
            found = importlib.util.find_spec(name) is not None
        except (ImportError, ValueError):
            found = False
        if not found:
            missing.append(name)
    return missing


def imported_modules(source: str) -> list[str]:
    """The top-level modules a Python text imports, the standard library left out."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return sorted(n for n in names if n not in sys.stdlib_module_names and n != "__future__")


@dataclass(frozen=True)
class ClassifierCode:
    """Where a user classifier's code lives: an entry point, or a file's text."""

    entry_point: str | None = None  # "package.module:function"
    source: str | None = None  # the text of a Python file
    function: str = "build_model"  # the function in ``source``
    origin: str = SOURCE_FILE  # shown in messages and tracebacks

    def __post_init__(self) -> None:
        if (self.entry_point is None) == (self.source is None):
            raise ValueError("give either an entry point or a Python file, not both")
        if self.entry_point is not None and not ENTRY_POINT.match(self.entry_point):
            raise ValueError(f"{self.entry_point!r} is not of the form package.module:function")
        if self.source is not None:
            if not IDENTIFIER.match(self.function):
                raise ValueError(f"{self.function!r} is not a Python function name")
            if len(self.source.encode()) > MAX_SOURCE_BYTES:
                raise ValueError("the classifier's Python file is implausibly large")

    @classmethod
    def from_file(cls, path: str | Path, function: str = "build_model") -> ClassifierCode:
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise L2IError(f"{path}: cannot read the Python file ({exc})") from None
        return cls(source=text, function=function, origin=str(path))

    def describe(self) -> str:
        if self.entry_point is not None:
            return f"the entry point {self.entry_point}"
        return f"the Python file {SOURCE_FILE} (function {self.function})"

    def requirements(self) -> list[str]:
        """The top-level modules the code needs beyond the standard library: what the
        file imports, or the entry point's package and what its module imports."""
        if self.source is not None:
            return imported_modules(self.source)
        module = self.entry_point.split(":")[0]
        names = {module.split(".")[0]}
        try:  # the module's own imports, read without running it (it was trusted anyway)
            spec = importlib.util.find_spec(module)
            if spec is not None and spec.origin and spec.origin.endswith(".py"):
                names.update(imported_modules(Path(spec.origin).read_text(encoding="utf-8")))
        except (ImportError, ValueError, OSError, UnicodeDecodeError):
            pass
        return sorted(n for n in names if n not in sys.stdlib_module_names)

    def to_manifest(self) -> dict:
        if self.entry_point is not None:
            return {"entry_point": self.entry_point}
        return {"file": SOURCE_FILE, "function": self.function}

    @classmethod
    def from_manifest(cls, entry: dict, source: str | None) -> ClassifierCode:
        if "entry_point" in entry:
            return cls(entry_point=entry["entry_point"])
        if source is None:
            raise L2IError(f"the bundle lists {SOURCE_FILE} but does not contain it")
        return cls(source=source, function=entry["function"], origin=f"<bundle {SOURCE_FILE}>")


def validate_code_entry(entry: object) -> str | None:
    """Why a manifest's ``classifier.code`` is not valid, or None when it is."""
    if not isinstance(entry, dict):
        return "'classifier.code' must be an object"
    if set(entry) == {"entry_point"}:
        ok = isinstance(entry["entry_point"], str) and ENTRY_POINT.match(entry["entry_point"])
        return None if ok else "'classifier.code.entry_point' must be package.module:function"
    if set(entry) == {"file", "function"}:
        if entry["file"] != SOURCE_FILE:  # a fixed name: no paths out of the bundle
            return f"'classifier.code.file' must be {SOURCE_FILE}"
        if not (isinstance(entry["function"], str) and IDENTIFIER.match(entry["function"])):
            return "'classifier.code.function' must be a Python function name"
        return None
    return "'classifier.code' needs either entry_point, or file and function"


def _function(code: ClassifierCode):
    if code.entry_point is not None:
        module_name, func = code.entry_point.split(":")
        import importlib

        module = importlib.import_module(module_name)
    else:
        func = code.function
        # a unique module name per text, registered so that dataclasses and the like work
        name = "l2i_user_classifier_" + hashlib.sha256(code.source.encode()).hexdigest()[:16]
        module = types.ModuleType(name)
        module.__file__ = code.origin
        sys.modules[name] = module
        exec(compile(code.source, code.origin, "exec"), module.__dict__)
    fn = getattr(module, func, None)
    if not callable(fn):
        raise L2IError(f"{code.describe()}: there is no function {func!r}")
    return fn


def build_user_model(code: ClassifierCode, n_classes: int) -> nn.Module:
    """Run the user's code to build the model (this executes it: trust it first)."""
    try:
        fn = _function(code)
        try:
            takes_argument = any(p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD,
                                            p.VAR_POSITIONAL)
                                 for p in inspect.signature(fn).parameters.values())
        except (TypeError, ValueError):
            takes_argument = False
        model = fn(n_classes) if takes_argument else fn()
    except L2IError:
        raise
    except ModuleNotFoundError as exc:
        package = (exc.name or str(exc)).split(".")[0]
        raise MissingPackage(f"{code.describe()} needs the Python package {package}: "
                             f"{install_hint(package)}", package) from None
    except Exception as exc:  # anything the user's code raises, in one line
        raise L2IError(f"{code.describe()} failed: {type(exc).__name__}: {exc}") from None
    if not isinstance(model, nn.Module):
        raise L2IError(f"{code.describe()} returned {type(model).__name__}, not a "
                       "torch.nn.Module")
    model.register_forward_hook(_unwrap_logits)
    return model


def logits_of(output: object) -> object:
    """A model's logits: the output itself, or its ``.logits`` tensor (the wrapper objects
    that some libraries return)."""
    if not torch.is_tensor(output):
        inner = getattr(output, "logits", None)
        if torch.is_tensor(inner):
            return inner
    return output


def _unwrap_logits(_module: nn.Module, _inputs: object, output: object) -> object:
    """A forward hook: every caller of the model (taps, explainer, evaluation) sees the
    logits tensor. A module-level function, so the model stays picklable."""
    inner = logits_of(output)
    return None if inner is output else inner


def load_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """Tensors from a safetensors file, or a state dict saved with torch.save (read with
    weights_only=True: a pickle that holds anything but tensors is refused)."""
    path = Path(path)
    if not path.is_file():
        raise L2IError(f"{path}: no such weights file")
    try:
        if path.suffix == ".safetensors":
            state = load_file(str(path))
        else:
            state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # both libraries raise their own types for bad files
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise L2IError(f"{shown(path, full=True)}: not a safetensors file or a plain state dict "
                       f"({first[:200]})") from None
    if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
        state = state["state_dict"]  # the common {"state_dict": ...} checkpoint layout
    if not isinstance(state, dict) or not all(
            isinstance(k, str) and torch.is_tensor(v) for k, v in state.items()):
        raise L2IError(f"{shown(path, full=True)}: expected a dict of named tensors (a state dict)")
    return state


def load_user_classifier(code: ClassifierCode, weights: str | Path, n_classes: int
                         ) -> nn.Module:
    model = build_user_model(code, n_classes)
    state = load_state_dict(weights)
    try:
        model.load_state_dict(state)
    except RuntimeError as exc:
        lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
        detail = lines[1] if len(lines) > 1 else (lines[0] if lines else "")
        raise L2IError(f"{shown(weights, full=True)} does not fit the model: {detail[:200]}") \
            from None
    return model.eval()


def classifier_input(kind: str, wave: torch.Tensor, cfg: FrontEndConfig) -> torch.Tensor:
    """What a classifier of this input kind reads for (B, N) waveforms."""
    if kind == "waveform":
        return wave
    if kind == "log_mel":
        return log_mel(wave, cfg, wave.device)
    raise ValueError(f"unknown classifier input {kind!r}")


def example_input(kind: str, cfg: FrontEndConfig, frames: int = 64) -> torch.Tensor:
    """A batch of one silent input of ``frames`` STFT frames, for shape checks."""
    if kind == "waveform":
        return torch.zeros(1, frames * cfg.hop_length)
    return torch.zeros(1, cfg.n_mels, frames)

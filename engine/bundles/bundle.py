"""Model bundles: manifest.json + weights.safetensors, in a folder or a `.l2i` zip.

Loading never unpickles: the manifest is JSON, the weights are safetensors, and every
shape is checked against the manifest before any tensor is read. Anything newer than
this version, or inconsistent, is refused with a message that says what is wrong.
"""

from __future__ import annotations

import json
import os
import shutil
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import save_file
from torch import nn

from engine.bundles import lmac_part
from engine.bundles.fill import fill_module as _fill
from engine.bundles.manifest import SCHEMA_VERSION, validate_manifest
from engine.bundles.read import (
    MANIFEST,
    MAX_MANIFEST_BYTES,
    WEIGHTS,
    decode_source,
    load_tensors,
    parse_manifest,
    read_zip,
)
from engine.dsp.features import FrontEndConfig
from engine.models.classifier import build_classifier
from engine.models.interpreter import Interpreter, InterpreterConfig
from engine.models.lmac_decoder import LMACDecoder
from engine.models.taps import LayerTaps
from engine.models.user_classifier import (
    ARCHITECTURE,
    MAX_SOURCE_BYTES,
    SOURCE_FILE,
    ClassifierCode,
    MissingPackage,
    UntrustedCodeError,
    build_user_model,
    example_input,
    install_hint,
    missing_packages,
)
from engine.runtime.atomic import replace_folder, write_atomically
from engine.runtime.errors import BundleError, L2IError
from engine.runtime.outputs import public_mode, staging_folder


@dataclass
class Bundle:
    manifest: dict[str, Any]
    classifier: nn.Module
    interpreter: Interpreter
    W: torch.Tensor  # F x K, unit-norm columns
    path: Path | None = None
    extra: dict[str, torch.Tensor] = field(default_factory=dict)
    classifier_source: str | None = None  # the text of classifier.py, if the code is a file
    lmac: LMACDecoder | None = None  # the L-MAC decoder, where the bundle has one

    @property
    def name(self) -> str:
        return str(self.manifest.get("name", "unnamed"))

    @property
    def frontend(self) -> FrontEndConfig:
        return FrontEndConfig.from_dict(self.manifest["frontend"])

    @property
    def classes(self) -> list[str]:
        return list(self.manifest["classes"])

    @property
    def multilabel(self) -> bool:
        return bool(self.manifest["multilabel"])

    @property
    def layers(self) -> list[str]:
        return list(self.manifest["layers"])

    @property
    def k(self) -> int:
        return int(self.manifest["dictionary"]["k"])

    @property
    def classifier_input(self) -> str:
        """'log_mel' (the built-in CNN and most) or 'waveform'."""
        return str(self.manifest["classifier"].get("input", "log_mel"))

    @property
    def classifier_code(self) -> ClassifierCode | None:
        """The user code that builds the classifier, or None for a registered one."""
        code = self.manifest["classifier"].get("code")
        return None if code is None else ClassifierCode.from_manifest(code,
                                                                      self.classifier_source)

    @property
    def lmac_layers(self) -> list[str]:
        """The layers the L-MAC decoder taps (none without a decoder)."""
        return list(self.manifest.get(lmac_part.SECTION, {}).get("layers", []))

    def with_lmac(self, decoder: LMACDecoder, layers: list[str], provenance: dict) -> Bundle:
        """This bundle with ``decoder`` as its L-MAC decoder, declared in the manifest."""
        self.lmac = decoder
        self.manifest[lmac_part.SECTION] = lmac_part.section(decoder, layers, provenance)
        return self

    def to(self, device: str | torch.device) -> Bundle:
        self.classifier.to(device)
        self.interpreter.to(device)
        if self.lmac is not None:
            self.lmac.to(device)
        self.W = self.W.to(device)
        return self


def make_manifest(*, name: str, frontend: FrontEndConfig, classes: list[str],
                  multilabel: bool, classifier_arch: str, classifier_config: dict,
                  layers: list[str], dictionary: dict, interpreter: InterpreterConfig,
                  clip_seconds: float = 5.0, provenance: dict | None = None,
                  metrics: dict | None = None, classifier_input: str = "log_mel",
                  classifier_code: dict | None = None,
                  classifier_requires: list[str] | None = None) -> dict:
    """``classifier_requires``: the top-level modules the classifier's code imports
    (``ClassifierCode.requirements``), so a missing one is named when the bundle opens."""
    classifier = {"architecture": classifier_arch, "config": classifier_config,
                  "input": classifier_input}
    interp = interpreter.to_dict()
    if not interp.get("refine_iterations"):
        # the paper's method: written as schema 1 exactly, which older versions read
        interp = {k: v for k, v in interp.items() if not k.startswith("refine_")}
    if classifier_code is not None:
        classifier["code"] = dict(classifier_code)
        if classifier_requires:  # beside "code": versions that do not know it ignore it
            classifier["requires"] = sorted(classifier_requires)
    return {
        "format": "l2i-bundle",
        "schema_version": SCHEMA_VERSION if "refine_iterations" in interp else 1,
        "name": name,
        "frontend": frontend.to_dict(),
        "clip_seconds": clip_seconds,
        "classes": list(classes),
        "multilabel": bool(multilabel),
        "classifier": classifier,
        "layers": list(layers),
        "dictionary": dict(dictionary),
        "interpreter": interp,
        "provenance": provenance or {},
        "metrics": metrics or {},
    }


def save_bundle(bundle: Bundle, path: str | os.PathLike, half: bool = False) -> Path:
    """Write atomically: a folder, or a zip when the path ends in `.l2i`."""
    path = Path(path)
    validate_manifest(bundle.manifest)
    has_file = "file" in bundle.manifest["classifier"].get("code", {})
    if has_file and bundle.classifier_source is None:
        raise BundleError(f"the manifest lists {SOURCE_FILE} but the bundle has no source text")
    tensors = {f"classifier.{k}": v for k, v in bundle.classifier.state_dict().items()}
    tensors |= {f"interpreter.{k}": v for k, v in bundle.interpreter.state_dict().items()}
    tensors["dictionary.W"] = bundle.W
    if (bundle.lmac is None) != (lmac_part.SECTION not in bundle.manifest):
        raise BundleError("the bundle's L-MAC decoder and its manifest section disagree")
    if bundle.lmac is not None:
        tensors |= {lmac_part.PREFIX + k: v for k, v in bundle.lmac.state_dict().items()}
    tensors |= {f"extra.{k}": v for k, v in bundle.extra.items()}

    def prep(t: torch.Tensor) -> torch.Tensor:
        t = t.detach().cpu().contiguous()
        return t.half() if half and t.is_floating_point() else t

    tmp = staging_folder(path)
    try:
        (tmp / MANIFEST).write_text(json.dumps(bundle.manifest, indent=2, allow_nan=False))
        save_file({k: prep(v) for k, v in tensors.items()}, str(tmp / WEIGHTS))
        members = [MANIFEST, WEIGHTS]
        if has_file:
            (tmp / SOURCE_FILE).write_text(bundle.classifier_source, encoding="utf-8")
            members.append(SOURCE_FILE)
        for member in members:  # safetensors writes 0600 whatever the umask
            public_mode(tmp / member, folder=False)
        if path.suffix == ".l2i":
            def zip_members(zipped: Path) -> None:
                with zipfile.ZipFile(zipped, "w", zipfile.ZIP_DEFLATED) as zf:
                    for member in members:
                        zf.write(tmp / member, member)
            write_atomically(path, zip_members)
        else:
            replace_folder(tmp, path)
            return path
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return path


def _take(tensors: dict[str, torch.Tensor], prefix: str) -> dict[str, torch.Tensor]:
    return {k[len(prefix):]: v for k, v in tensors.items() if k.startswith(prefix)}


def load_bundle(path: str | os.PathLike, trust_code: bool = False) -> Bundle:
    """Open a bundle folder or `.l2i` archive, validated; models in eval mode on CPU.

    A bundle whose classifier is user code (an entry point or its own classifier.py)
    runs that code to build the model: it is refused unless ``trust_code`` is True."""
    path = Path(path)
    where = path.name or str(path)
    if not path.exists():
        raise BundleError(f"{path}: no such bundle")
    if path.is_dir():
        mpath, wpath = path / MANIFEST, path / WEIGHTS
        for p in (mpath, wpath):
            if not p.is_file():
                raise BundleError(f"{where}: the bundle folder has no {p.name}")
        manifest = parse_manifest(mpath.read_bytes()[: MAX_MANIFEST_BYTES + 1], where)
        spath = path / SOURCE_FILE
        raw_source = spath.read_bytes()[: MAX_SOURCE_BYTES + 1] if spath.is_file() else None
        _refuse_untrusted(manifest, where, trust_code)
        tensors = load_tensors(wpath, where)
    else:
        raw_manifest, raw_weights, raw_source = read_zip(path)
        manifest = parse_manifest(raw_manifest, where)
        _refuse_untrusted(manifest, where, trust_code)
        tensors = load_tensors(raw_weights, where)
    return _assemble(manifest, tensors, where, path, decode_source(raw_source, where))


def read_manifest(path: str | os.PathLike) -> dict:
    """A bundle's validated manifest alone: no weights read, no code run."""
    path = Path(path)
    where = path.name or str(path)
    if path.is_dir():
        mpath = path / MANIFEST
        if not mpath.is_file():
            raise BundleError(f"{where}: the bundle folder has no {MANIFEST}")
        return parse_manifest(mpath.read_bytes()[: MAX_MANIFEST_BYTES + 1], where)
    if not path.is_file():
        raise BundleError(f"{path}: no such bundle")
    return parse_manifest(read_zip(path)[0], where)


def _refuse_untrusted(manifest: dict, where: str, trust_code: bool) -> None:
    code = manifest["classifier"].get("code")
    if code is None or trust_code:
        return
    what = (f"the entry point {code['entry_point']}" if "entry_point" in code
            else f"its own {SOURCE_FILE}")
    subject = f"{where} contains Python code ({what}) that runs when its classifier is built"
    raise UntrustedCodeError(
        f"{subject}; open it only if you trust where it came from (in Python: "
        "load_bundle(path, trust_code=True); in the app: answer Yes when asked)", subject)


def _user_classifier(manifest: dict, source: str | None, n_classes: int,
                     where: str) -> nn.Module:
    try:
        code = ClassifierCode.from_manifest(manifest["classifier"]["code"], source)
    except (L2IError, ValueError) as exc:
        raise BundleError(f"{where}: {exc}") from None
    # named before the code runs: a missing package is the likeliest failure elsewhere
    missing = missing_packages(manifest["classifier"].get("requires", []))
    if missing:
        raise BundleError(_needs(where, missing[0]))
    try:
        return build_user_model(code, n_classes)
    except MissingPackage as exc:  # one the manifest did not list (an older bundle)
        raise BundleError(_needs(where, exc.package)) from None
    except L2IError as exc:
        raise BundleError(f"{where}: {exc}") from None


def _needs(where: str, package: str) -> str:
    return (f"{where}: the bundle's classifier code needs the Python package {package}: "
            f"{install_hint(package)}")


def _assemble(manifest: dict, tensors: dict[str, torch.Tensor], where: str,
              path: Path | None, source: str | None = None) -> Bundle:
    classes = manifest["classes"]
    fe = FrontEndConfig.from_dict(manifest["frontend"])
    k = manifest["dictionary"]["k"]
    W = tensors.get("dictionary.W")
    if W is None:
        raise BundleError(f"{where}: weights.safetensors has no dictionary.W")
    if W.ndim != 2 or tuple(W.shape) != (fe.n_freqs, k):
        raise BundleError(f"{where}: dictionary.W has shape {tuple(W.shape)}, expected "
                          f"({fe.n_freqs}, {k}) from n_fft {fe.n_fft} and K {k}")
    W = W.float()
    if not torch.isfinite(W).all() or (W < 0).any():
        raise BundleError(f"{where}: dictionary.W must be finite and non-negative")
    # Build on the meta device first: a hostile manifest with huge layers costs nothing
    # until its shapes have been matched against the tensors actually in the file.
    clf_state = _take(tensors, "classifier.")
    interp_state = _take(tensors, "interpreter.")
    custom = manifest["classifier"]["architecture"] == ARCHITECTURE
    for device in ("meta", "cpu"):
        try:
            with torch.device(device):
                # user code (already trusted) is built once, on the CPU: it may not
                # survive the meta device, and its size is the user's own choice
                if not custom:
                    clf = build_classifier(manifest["classifier"]["architecture"],
                                           len(classes), manifest["classifier"]["config"])
                else:
                    clf = _user_classifier(manifest, source, len(classes), where) \
                        if device == "cpu" else None
                icfg = InterpreterConfig(**manifest["interpreter"])
                interp = Interpreter(icfg)
        except BundleError:
            raise
        except L2IError as exc:  # an hf model without transformers installed
            raise BundleError(f"{where}: {exc}") from None
        except (TypeError, ValueError, RuntimeError) as exc:
            raise BundleError(f"{where}: the manifest describes an impossible model "
                              f"({str(exc).splitlines()[0]})") from None
        if clf is not None:
            _fill(clf, clf_state, "classifier", where, load=device != "meta")
        _fill(interp, interp_state, "interpreter", where, load=device != "meta")
    clf.eval()
    interp.eval()
    _check_taps(clf, manifest, icfg, fe, where)
    decoder = lmac_part.build(manifest, tensors, fe, clf, where)
    return Bundle(manifest=manifest, classifier=clf, interpreter=interp, W=W, path=path,
                  extra=_take(tensors, "extra."), classifier_source=source, lmac=decoder)


def _check_taps(clf: nn.Module, manifest: dict, icfg: InterpreterConfig,
                fe: FrontEndConfig, where: str) -> None:
    """The tapped layers must exist and give the channel counts the interpreter expects."""
    try:
        taps = LayerTaps(clf, manifest["layers"])
    except ValueError as exc:
        raise BundleError(f"{where}: {exc}") from None
    kind = manifest["classifier"].get("input", "log_mel")
    try:
        with taps, torch.no_grad():
            _, maps = taps(example_input(kind, fe))
    except BundleError:
        raise
    except Exception as exc:  # user code may fail on silence in any way it likes
        raise BundleError(f"{where}: the classifier fails on a silent test input "
                          f"({type(exc).__name__}: {str(exc).splitlines()[0][:160]})"
                          ) from None
    for name, m, shape in zip(manifest["layers"], maps, icfg.map_shapes):
        if m.ndim - 1 != len(shape) or m.shape[1] != shape[0] or \
                (len(shape) == 3 and m.shape[2] != shape[1]):
            raise BundleError(f"{where}: layer {name} gives maps of shape "
                              f"{tuple(m.shape[1:])}, the interpreter expects {tuple(shape)}")

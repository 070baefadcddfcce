"""The compute device a user names (``auto``, ``cpu``, ``cuda``, ``cuda:N``), checked
against what this machine has, with one message a user can act on when it lacks it.

>>> resolve_device("cpu")
device(type='cpu')
>>> resolve_device("gpu")
Traceback (most recent call last):
engine.runtime.errors.L2IError: unknown device 'gpu': use auto, cpu, cuda or cuda:N
"""

from __future__ import annotations

import re

import torch

from engine.runtime.errors import L2IError

_NAME = re.compile(r"^(auto|cpu|cuda)(?::(\d+))?$")


def resolve_device(name: str | torch.device = "auto") -> torch.device:
    """``auto``: the first GPU when there is one, else the CPU."""
    if isinstance(name, torch.device):
        name = str(name)
    m = _NAME.match(str(name).strip().lower())
    if m is None or (m.group(2) is not None and m.group(1) != "cuda"):
        raise L2IError(f"unknown device {str(name)!r}: use auto, cpu, cuda or cuda:N")
    kind, index = m.group(1), m.group(2)
    if kind == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if kind == "cpu":
        return torch.device("cpu")
    if not torch.cuda.is_available():
        raise L2IError(f"--device {name} was asked for, but this machine has no usable "
                       "CUDA GPU (no driver, or a torch build without CUDA); use --device "
                       "cpu or auto")
    if index is not None and int(index) >= torch.cuda.device_count():
        n = torch.cuda.device_count()
        raise L2IError(f"--device {name}: this machine has {n} CUDA "
                       f"GPU{'s' if n != 1 else ''} (cuda:0 to cuda:{n - 1})")
    return torch.device(str(name).strip().lower())

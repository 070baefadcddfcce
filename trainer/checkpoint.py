"""Resumable training state, written atomically (``engine.runtime.atomic``).

Checkpoints hold only tensors, numbers, strings and dicts and are read back with
``torch.load(weights_only=True)``, so a checkpoint cannot execute code either.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import numpy as np
import torch

from engine.runtime import atomic


def atomic_write_json(path: Path, obj: Any) -> None:
    """The training's JSON records (plans, metrics), written as every file is."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    atomic.write_json(path, obj)


def save_checkpoint(path: Path, state: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic.write_atomically(path, lambda tmp: torch.save(state, tmp))


def load_checkpoint(path: Path) -> dict[str, Any] | None:
    if not path.is_file():
        return None
    return torch.load(path, map_location="cpu", weights_only=True)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)


def rng_state() -> dict[str, Any]:
    return {"torch": torch.get_rng_state()}


def set_rng_state(state: dict[str, Any]) -> None:
    if "torch" in state:
        torch.set_rng_state(state["torch"])

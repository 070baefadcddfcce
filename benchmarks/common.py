"""Timing helpers shared by the benchmarks: medians of repeated runs, side by side."""

from __future__ import annotations

import json
import platform
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
ESC10 = DATA / "esc10"


def side_by_side(fns: dict[str, Callable[[], object]], repeats: int = 5) -> dict[str, float]:
    """Median time of each function, interleaved round by round so that a burst of load
    on a shared machine hits all of them alike."""
    for fn in fns.values():
        fn()
    times: dict[str, list[float]] = {k: [] for k in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            t0 = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t0)
    return {k: statistics.median(v) for k, v in times.items()}


def machine() -> dict:
    import os
    return {"cpu": platform.processor() or platform.machine(), "cores": os.cpu_count(),
            "torch_threads": torch.get_num_threads(), "torch": torch.__version__,
            "python": platform.python_version(),
            "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
            "load_average": os.getloadavg()}


def write_json(path: Path | None, result: dict) -> None:
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(result, indent=2))


def esc10_clip(fold: int = 1) -> Path:
    """A fixed real ESC-10 clip (a dog bark of the given fold)."""
    return sorted((ESC10 / "001 - Dog bark").glob(f"{fold}-*.ogg"))[0]

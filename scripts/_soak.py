"""What both soaks (soak_window.py, soak_live.py) sample and how they sum it up."""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path


def sample() -> dict:
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return {"rss_mb": pages * os.sysconf("SC_PAGE_SIZE") / 2**20,
            "threads": threading.active_count(),
            "os_threads": len(os.listdir("/proc/self/task")),
            "fds": len(os.listdir("/proc/self/fd"))}


def slope_per_hour(points: list[tuple[float, float]]) -> float:
    """Least-squares slope of (minutes, MB), in MB per hour."""
    n = len(points)
    if n < 2:
        return 0.0
    mx = sum(t for t, _ in points) / n
    my = sum(v for _, v in points) / n
    var = sum((t - mx) ** 2 for t, _ in points)
    return 60 * sum((t - mx) * (v - my) for t, v in points) / var if var else 0.0


def memory_summary(samples: list[dict]) -> dict:
    """Slope and range of resident memory after the first minute (start-up allocations
    and the first clip's caches are not growth)."""
    rss = [(x["minute"], x["rss_mb"]) for x in samples if x["minute"] >= 1]
    return {"rss_slope_mb_per_hour_after_minute_1": round(slope_per_hour(rss), 2),
            "rss_range_mb_after_minute_1": [round(min(v for _, v in rss), 1),
                                            round(max(v for _, v in rss), 1)]
            if rss else None}


def write_result(out: Path, result: dict) -> None:
    """The whole result as JSON at ``out``; its summary (no samples) on stdout."""
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1))
    print(json.dumps({k: v for k, v in result.items() if k != "samples"}))

"""A TaskState for terminals: one tqdm bar per stage, with ETA and the latest losses."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from engine.runtime.progress import Report, TaskState

if TYPE_CHECKING:
    from tqdm import tqdm


class TerminalProgress(TaskState):
    def __init__(self, enabled: bool = True) -> None:
        super().__init__(self._show)
        self.enabled = enabled
        self.bars: dict[str, tqdm] = {}

    def _show(self, rep: Report) -> None:
        if not self.enabled:
            return
        # imported on the first report: tqdm costs some 40 ms (importlib.metadata) that
        # --help and usage errors need not pay
        from tqdm import tqdm

        if rep.stage.endswith(" epochs"):
            shown = {k: v for k, v in rep.metrics.items()
                     if k.startswith("val_") or k == "loss"}
            tqdm.write(f"{rep.message}: " + "  ".join(f"{k} {v:.4g}" for k, v in shown.items()),
                       file=sys.stderr)
            return
        total, done = _whole(rep.total), _whole(rep.done)
        bar = self.bars.get(rep.stage)
        if bar is None:
            bar = tqdm(total=total, desc=rep.stage, file=sys.stderr, leave=True,
                       dynamic_ncols=True, mininterval=0.5)
            self.bars[rep.stage] = bar
        bar.total = total
        bar.n = done
        if rep.metrics:
            bar.set_postfix({k: f"{v:.4g}" for k, v in list(rep.metrics.items())[:4]},
                            refresh=False)
        bar.refresh()
        if rep.done >= rep.total:
            bar.close()

    def close(self) -> None:
        for bar in self.bars.values():
            bar.close()


def _whole(x: float) -> float | int:
    """Counts of clips or steps show as 3/3, not 3.0/3.0."""
    return int(x) if float(x).is_integer() else x

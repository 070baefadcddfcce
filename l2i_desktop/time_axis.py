"""Time on an axis: seconds for a clip, the clock (m:ss.s) for a window of a long
recording, whose views start at 0 but whose time does not."""

from __future__ import annotations

import pyqtgraph as pg


def clock(seconds: float) -> str:
    """m:ss, h:mm:ss past an hour, with tenths when the time is not whole seconds.

    >>> clock(97.5), clock(3725)
    ('1:37.5', '1:02:05')
    """
    tenths = int(round(seconds * 10))
    s, t = divmod(tenths, 10)
    text = f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}" if s >= 3600 else \
        f"{s // 60}:{s % 60:02d}"
    return f"{text}.{t}" if t else text


class ClockAxis(pg.AxisItem):
    """Time as m:ss (h:mm:ss past an hour) instead of kiloseconds."""

    def tickStrings(self, values, scale, spacing):  # noqa: N802 - pyqtgraph's name
        return [clock(v) if spacing >= 1 else f"{v:.1f}" for v in values]


class TimeAxis(pg.AxisItem):
    """A time axis whose ticks read ``origin`` + x: views keep x at 0..duration, the
    labels say where in the recording that is (as a clock once it is a minute in)."""

    def __init__(self, orientation: str = "bottom", **kwargs) -> None:
        super().__init__(orientation, **kwargs)
        self.origin = 0.0

    def set_origin(self, origin: float) -> None:
        self.origin = float(origin)
        self.setLabel("time", units=None if self.origin else "s")
        self.picture = None  # pyqtgraph caches the drawn ticks
        self.update()

    def tickStrings(self, values, scale, spacing):  # noqa: N802 - pyqtgraph's name
        if not self.origin:
            return super().tickStrings(values, scale, spacing)
        return [clock(self.origin + v) if spacing >= 0.1 else
                f"{self.origin + v:.2f}" for v in values]

    def label_of(self, x: float) -> str:
        """How a time ``x`` on the views reads here (for hover text)."""
        return clock(self.origin + x) if self.origin else f"{x:.3f} s"

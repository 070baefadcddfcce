"""Typed change events: a list of callbacks called in order, on the emitting thread.

>>> seen = []
>>> changed: Event[int] = Event("changed")
>>> _ = changed.connect(seen.append)
>>> changed.emit(3)
>>> seen
[3]
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")
log = logging.getLogger(__name__)


class Event(Generic[T]):
    def __init__(self, name: str) -> None:
        self.name = name
        self._callbacks: list[Callable[[T], object]] = []

    def connect(self, callback: Callable[[T], object]) -> Callable[[T], object]:
        """Call ``callback(value)`` on every emit; returns it (usable as a decorator)."""
        self._callbacks.append(callback)
        return callback

    def disconnect(self, callback: Callable[[T], object]) -> None:
        """Forget ``callback``; forgetting one never connected is not an error (a view
        closing twice must not raise)."""
        try:
            self._callbacks.remove(callback)
        except ValueError:
            log.debug("%s: disconnect of a callback not connected", self.name)

    def emit(self, value: T) -> None:
        # a copy: a callback may disconnect itself (a closing dialog) while we iterate
        for callback in list(self._callbacks):
            callback(value)

    def __len__(self) -> int:
        return len(self._callbacks)

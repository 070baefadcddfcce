"""Undo and redo of the user's choices, as command objects on a stack.

An ``Edit`` holds the choices before and after; undoing puts the earlier ones back
through the session, which then asks the engine again like any other change.

>>> applied = []
>>> stack = UndoStack(applied.append)
>>> stack.push(Edit("tau 0.2", before=0.1, after=0.2))
>>> stack.undo(); stack.redo(); applied
[0.2, 0.1, 0.2]
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from l2i_desktop.model.events import Event

MERGE_S = 0.8  # edits of one field this close together are one gesture (a slider drag)


@dataclass
class Edit:
    text: str  # what the menu says: "Undo tau 0.20"
    before: Any
    after: Any
    merge_key: str | None = None  # the one field changed, if one: lets a drag merge
    at: float = dataclasses.field(default_factory=time.monotonic)

    def merged(self, newer: Edit) -> Edit | None:
        """One edit for both when ``newer`` continues this gesture, else None."""
        key = self.merge_key
        if key is None or newer.merge_key != key or newer.at - self.at > MERGE_S:
            return None
        return Edit(newer.text, self.before, newer.after, self.merge_key, newer.at)


class UndoStack:
    def __init__(self, apply: Callable[[Any], None], limit: int = 200) -> None:
        self._apply = apply
        self._done: list[Edit] = []
        self._undone: list[Edit] = []
        self.limit = limit
        self.changed: Event[UndoStack] = Event("history changed")

    def push(self, edit: Edit) -> None:
        """Apply ``edit`` and remember it; anything undone before is no longer redoable."""
        merged = self._done[-1].merged(edit) if self._done and not self._undone else None
        if merged is not None:
            self._done[-1] = merged
        else:
            self._done.append(edit)
            del self._done[:-self.limit]
        self._undone.clear()
        self._apply(edit.after)
        self.changed.emit(self)

    def undo(self) -> None:
        if self._done:
            edit = self._done.pop()
            self._undone.append(edit)
            self._apply(edit.before)
            self.changed.emit(self)

    def redo(self) -> None:
        if self._undone:
            edit = self._undone.pop()
            self._done.append(edit)
            self._apply(edit.after)
            self.changed.emit(self)

    def clear(self) -> None:
        if self._done or self._undone:
            self._done.clear()
            self._undone.clear()
            self.changed.emit(self)

    def undo_text(self) -> str | None:
        return self._done[-1].text if self._done else None

    def redo_text(self) -> str | None:
        return self._undone[-1].text if self._undone else None

"""The state of one analysis, without Qt: what is open, what the user chose, what the
engine answered, and the history of the user's edits.

Views subscribe to the session's events and never own this state; the window composes
views and turns the session's changes into engine jobs. Nothing here imports Qt (an
import-linter contract), so the model is tested without a ``QApplication``.
"""

from l2i_desktop.model.clip import ClipResult, ClipSource
from l2i_desktop.model.edits import Edit, UndoStack
from l2i_desktop.model.events import Event
from l2i_desktop.model.session import Choices, Session

__all__ = ["Choices", "ClipResult", "ClipSource", "Edit", "Event", "Session", "UndoStack"]

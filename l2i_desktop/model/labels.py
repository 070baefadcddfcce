"""Labels on the open clip (Audacity-style regions with text), and their files.

The labels live in the session's ``Choices`` so that adding, editing and deleting one is
an undoable edit like any other choice; ``LabelSet`` is the evented way to change them.
Files are Audacity label tracks (``start<TAB>end<TAB>text`` per line) or CSV
(``start,end,label``); a bad file raises one ``L2IError`` naming the line, before
anything changes.

>>> from l2i_desktop.model.session import Session
>>> labels = LabelSet(Session())
>>> labels.add(Label(1.0, 2.0, "crow")), labels.add(Label(0.2, 0.5, "hen"))
(0, 0)
>>> [x.text for x in labels.labels]
['hen', 'crow']
>>> labels.session.history.undo_text()
'add label "hen"'
"""

from __future__ import annotations

import csv
import io
import math
import os
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Protocol

from engine.runtime.atomic import write_text
from engine.runtime.errors import L2IError, shown
from l2i_desktop.model.events import Event

SUFFIXES = (".txt", ".csv")  # Audacity label track, CSV


@dataclass(frozen=True, order=True)
class Label:
    """A region of the clip, in seconds on its time axis, with its text (a point label,
    as Audacity has them, starts where it ends)."""

    start: float
    end: float
    text: str = ""

    def __post_init__(self) -> None:
        if not (math.isfinite(self.start) and math.isfinite(self.end)):
            raise ValueError("a label's times must be finite numbers")
        if self.end < self.start:
            raise ValueError(f"the label ends ({self.end:g} s) before it starts "
                             f"({self.start:g} s)")

    @property
    def duration(self) -> float:
        return self.end - self.start

    def shifted(self, seconds: float) -> Label:
        return replace(self, start=self.start + seconds, end=self.end + seconds)


def describe(before: tuple[Label, ...], after: tuple[Label, ...]) -> str:
    """What Edit > Undo says for a change of the labels from ``before`` to ``after``."""
    added = [x for x in after if x not in before]
    removed = [x for x in before if x not in after]
    if len(added) > 1 and not removed:
        return f"import {len(added)} labels"
    if len(added) == 1 and not removed:
        return f'add label "{_short(added[0].text)}"'
    if len(removed) == 1 and not added:
        return f'delete label "{_short(removed[0].text)}"'
    if len(added) == 1 and len(removed) == 1:
        return f'edit label "{_short(added[0].text)}"'
    return "labels"


def _short(text: str, n: int = 24) -> str:
    return text if len(text) <= n else text[:n - 1] + "\u2026"


class _Session(Protocol):
    """What a LabelSet needs of the session (model/session.py imports this module)."""

    choices: Any  # Choices, whose ``labels`` this set edits
    choices_changed: Event[frozenset[str]]

    def choose(self, **changes: Any) -> None: ...


class LabelSet:
    """The session's labels, kept sorted by time; each change is one undoable edit.
    ``changed`` says the new labels whenever they change (an edit, undo, a new clip)."""

    def __init__(self, session: _Session) -> None:
        self.session = session
        self.changed: Event[tuple[Label, ...]] = Event("labels changed")
        session.choices_changed.connect(self._on_choices)

    def _on_choices(self, changed: frozenset[str]) -> None:
        if "labels" in changed:
            self.changed.emit(self.labels)

    @property
    def labels(self) -> tuple[Label, ...]:
        return self.session.choices.labels

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int) -> Label:
        return self.labels[index]

    def _set(self, labels: Iterable[Label]) -> None:
        self.session.choose(labels=tuple(sorted(labels)))

    def add(self, label: Label) -> int:
        """Add ``label``; returns its index among the sorted labels."""
        self._set(self.labels + (label,))
        return self.labels.index(label)

    def add_many(self, labels: Iterable[Label]) -> int:
        """Add labels as one edit (an import), leaving out those already here; returns
        how many were added."""
        new = [x for x in dict.fromkeys(labels) if x not in self.labels]
        if new:
            self._set(self.labels + tuple(new))
        return len(new)

    def edit(self, index: int, *, text: str | None = None, start: float | None = None,
             end: float | None = None) -> int:
        """Change the text or the times of label ``index``; returns its new index."""
        old = self.labels[index]
        new = Label(old.start if start is None else float(start),
                    old.end if end is None else float(end),
                    old.text if text is None else text)
        if new == old:
            return index
        rest = self.labels[:index] + self.labels[index + 1:]
        self._set(rest + (new,))
        return self.labels.index(new)

    def remove(self, index: int) -> Label:
        old = self.labels[index]
        self._set(self.labels[:index] + self.labels[index + 1:])
        return old


# ---- files ----------------------------------------------------------------------------
def _number(cell: str, what: str, where: str) -> float:
    try:
        value = float(cell.strip())
    except ValueError:
        raise L2IError(f"{where}: the {what} time {cell.strip()[:30]!r} is not a number "
                       "of seconds") from None
    if not math.isfinite(value):
        raise L2IError(f"{where}: the {what} time {cell.strip()!r} is not finite")
    return value


def _label(start: str, end: str, text: str, where: str) -> Label:
    try:
        return Label(_number(start, "start", where), _number(end, "end", where), text)
    except ValueError as exc:
        raise L2IError(f"{where}: {exc}") from None


def parse_audacity(text: str, name: str = "labels") -> list[Label]:
    """Labels of an Audacity label track. Audacity writes a spectral label's frequency
    range on a line of its own that starts with a backslash (or a tab): skipped."""
    labels = []
    for n, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.startswith(("\\", "\t")):
            continue
        cells = line.split("\t")
        where = f"{name}, line {n}"
        if len(cells) < 2:
            raise L2IError(f"{where}: expected start, end and text separated by tabs, "
                           f"found {line.strip()[:40]!r}")
        labels.append(_label(cells[0], cells[1], "\t".join(cells[2:]).strip(), where))
    return labels


def parse_csv(text: str, name: str = "labels") -> list[Label]:
    """Labels of a CSV file with the columns start, end, label (a header that names
    them in another order is followed; without a header they are taken in that order)."""
    rows = csv.reader(io.StringIO(text))
    labels: list[Label] = []
    columns, first = (0, 1, 2), True
    for row in rows:
        where = f"{name}, line {rows.line_num}"
        if not row or not "".join(row).strip():
            continue
        header, first = first and _is_header(row), False
        if header:
            heads = [c.strip().lower() for c in row]
            if "start" not in heads or "end" not in heads:
                raise L2IError(f"{where}: the header must name the columns start, end "
                               f"and label, found {','.join(row)[:60]!r}")
            text_col = next((heads.index(h) for h in ("label", "text") if h in heads), -1)
            columns = (heads.index("start"), heads.index("end"), text_col)
            continue
        if len(row) <= max(columns[:2]):
            raise L2IError(f"{where}: expected start,end,label, found {','.join(row)[:40]!r}")
        text_cell = row[columns[2]] if 0 <= columns[2] < len(row) else ""
        labels.append(_label(row[columns[0]], row[columns[1]], text_cell.strip(), where))
    return labels


def _is_header(row: list[str]) -> bool:
    try:
        float(row[0])
    except ValueError:
        return True
    return False


def read_labels(path: str | os.PathLike) -> list[Label]:
    """The labels of an Audacity label file (any suffix but .csv) or a CSV file."""
    path = Path(path)
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError:
        raise L2IError(f"{shown(path)} is not a text file of labels (not UTF-8)") from None
    except OSError as exc:
        raise L2IError(f"cannot read {shown(path)}: {exc.strerror or exc}") from None
    parse = parse_csv if path.suffix.lower() == ".csv" else parse_audacity
    return parse(text, shown(path))


def audacity_text(labels: Iterable[Label]) -> str:
    """An Audacity label track: times with 6 decimals, text on one line."""
    return "".join(f"{x.start:.6f}\t{x.end:.6f}\t{_one_line(x.text)}\n" for x in labels)


def csv_text(labels: Iterable[Label]) -> str:
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(["start", "end", "label"])
    for x in labels:
        w.writerow([f"{x.start:.6f}", f"{x.end:.6f}", _one_line(x.text)])
    return out.getvalue()


def _one_line(text: str) -> str:
    return " ".join(text.split())  # a tab or newline would split the label's line


def write_labels(path: str | os.PathLike, labels: Iterable[Label]) -> Path:
    """Write ``labels`` as CSV (a .csv path) or as an Audacity label track (any other),
    atomically: a failed write leaves the file that was there."""
    path = Path(path)
    text = csv_text(labels) if path.suffix.lower() == ".csv" else audacity_text(labels)
    try:
        return write_text(path, text)
    except OSError as exc:
        raise L2IError(f"cannot write {shown(path)}: {exc.strerror or exc}") from None

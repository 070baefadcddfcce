"""One analysis session: the open model, the clip, the user's choices and the engine's
answers, each change announced by a typed event.

>>> s = Session(tau=0.1)
>>> seen = []
>>> _ = s.choices_changed.connect(seen.append)
>>> s.choose(tau=0.25)
>>> s.tau, sorted(seen[-1])
(0.25, ['tau'])
>>> s.history.undo(); s.tau
0.1
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from l2i_desktop.model.clip import ClipResult
from l2i_desktop.model.display import Display
from l2i_desktop.model.edits import Edit, UndoStack
from l2i_desktop.model.events import Event
from l2i_desktop.model.labels import Label, describe

if TYPE_CHECKING:  # the window starts before torch is imported
    from engine.explanation.explain import Explanation, Rendering


@dataclass(frozen=True)
class Choices:
    """What the user chose for the open clip: each can be undone."""

    target: int | None = None  # the class to explain; None: the classifier's top one
    tau: float = 0.1
    muted: frozenset[int] = frozenset()
    soloed: frozenset[int] = frozenset()
    region: tuple[float, float] | None = None  # what plays; None: the whole clip
    labels: tuple[Label, ...] = ()  # the user's labelled regions, sorted (model/labels.py)

    def changes(self, other: Choices) -> frozenset[str]:
        return frozenset(f.name for f in dataclasses.fields(self)
                         if getattr(self, f.name) != getattr(other, f.name))


class Session:
    def __init__(self, tau: float = 0.1) -> None:
        self.explainer: Any = None  # engine.explanation.explain.Explainer once loaded
        self.clip: ClipResult | None = None
        self.explanation: Explanation | None = None
        self.rendering: Rendering | None = None
        self.choices = Choices(tau=float(tau))
        self.playing: str | None = None  # original, interpretation, residual, component
        self.focused: int | None = None  # the component the user is looking at
        self.trust: Any = None  # engine.explanation.trust.Trust of the rendering shown
        self.history = UndoStack(self._restore)
        self.display = Display()  # how spectrograms look: not an edit, never undone
        self.bundle_changed: Event[Any] = Event("bundle changed")
        self.clip_changed: Event[ClipResult] = Event("clip changed")
        self.explanation_changed: Event[Explanation] = Event("explanation changed")
        self.rendering_changed: Event[Rendering] = Event("rendering changed")
        self.choices_changed: Event[frozenset[str]] = Event("choices changed")
        self.playing_changed: Event[str | None] = Event("playing changed")
        self.focused_changed: Event[int | None] = Event("focused component changed")
        self.trust_changed: Event[Any] = Event("trust changed")

    # ---- reading ------------------------------------------------------------------
    @property
    def target(self) -> int | None:
        return self.choices.target

    @property
    def tau(self) -> float:
        return self.choices.tau

    def explained_class(self) -> int | None:
        """The class explained now: the one chosen, else the classifier's top one."""
        if self.choices.target is not None:
            return self.choices.target
        return self.clip.analysis.predicted if self.clip is not None else None

    def class_name(self, index: int) -> str:
        classes = self.explainer.bundle.classes if self.explainer is not None else []
        return classes[index] if 0 <= index < len(classes) else f"class {index}"

    def active_components(self) -> list[int]:
        """What the interpretation plays: the soloed components, else all selected ones
        but the muted."""
        selected = list(self.explanation.selected) if self.explanation is not None else []
        c = self.choices
        if c.soloed:
            return [k for k in selected if k in c.soloed]
        return [k for k in selected if k not in c.muted]

    # ---- the user's edits (undoable) ----------------------------------------------
    def choose(self, **changes: Any) -> None:
        """Change what the user chose, as one undoable edit. A new class or tau makes a
        new selection of components, so mute and solo start over with it."""
        if "tau" in changes:
            changes["tau"] = round(float(changes["tau"]), 2)
        after = dataclasses.replace(self.choices, **changes)
        if {"target", "tau"} & self.choices.changes(after):
            after = dataclasses.replace(after, muted=frozenset(), soloed=frozenset())
        changed = self.choices.changes(after)
        if not changed:
            return
        only = next(iter(changed)) if len(changed) == 1 else None
        self.history.push(Edit(self._describe(changes, after), self.choices, after,
                               only if only in ("tau", "region") else None))

    def toggle(self, k: int, kind: str, on: bool) -> None:
        """Mute (``kind='muted'``) or solo (``'soloed'``) component ``k``."""
        current = getattr(self.choices, kind)
        self.choose(**{kind: current | {k} if on else current - {k}})

    def _describe(self, changes: dict, after: Choices) -> str:
        if "target" in changes:
            t = after.target
            return "explain " + (self.class_name(t) if t is not None else "the top class")
        if "tau" in changes:
            return f"tau {after.tau:.2f}"
        if "region" in changes:
            return "play range"
        if "labels" in changes:
            return describe(self.choices.labels, after.labels)
        for kind, word in (("muted", "mute"), ("soloed", "solo")):
            if kind in changes:
                added = sorted(after.__getattribute__(kind) - getattr(self.choices, kind))
                removed = sorted(getattr(self.choices, kind) - getattr(after, kind))
                return f"{word} {added[0]}" if added else f"un{word} {removed[0]}" \
                    if removed else word
        return "change"

    def explain_top_class(self) -> None:
        """A new clip (or window, or take) is explained for its own top class first: not
        an edit to undo, the start of a new history."""
        self.set_choices(dataclasses.replace(self.choices, target=None, muted=frozenset(),
                                             soloed=frozenset()))

    def _restore(self, choices: Choices) -> None:
        self.set_choices(choices)

    def set_choices(self, choices: Choices) -> frozenset[str]:
        """Replace the choices without an undo entry (undo itself, a new clip)."""
        changed = self.choices.changes(choices)
        self.choices = choices
        if changed:
            self.choices_changed.emit(changed)
        return changed

    # ---- the engine's answers -------------------------------------------------------
    def set_bundle(self, explainer: Any) -> None:
        self.explainer = explainer
        self.clip, self.explanation, self.rendering = None, None, None
        self.history.clear()
        self.focus(None)
        self.bundle_changed.emit(explainer)

    def set_clip(self, clip: ClipResult) -> None:
        """A new analysis. Another source starts a new history; the same source again
        (live input, a window of the same file) keeps the choices that still apply."""
        new = self.clip is None or clip.source.path != self.clip.source.path \
            or clip.source.name != self.clip.source.name
        # labels are times in this clip: another window of the same file moves them
        same = self.clip is not None and clip.source == self.clip.source
        if new:
            self.history.clear()
        self.clip = clip
        kept = dataclasses.replace(self.choices, region=None,
                                   labels=self.choices.labels if same else ())
        self.set_choices(kept if not new else
                         dataclasses.replace(kept, muted=frozenset(), soloed=frozenset()))
        self.clip_changed.emit(clip)
        self.set_explanation(clip.explanation)

    def set_explanation(self, explanation: Explanation,
                        rendering: Rendering | None = None) -> None:
        """Mute and solo keep only the components the new explanation selects."""
        from engine.explanation.explain import Rendering  # loaded with the model

        self.explanation = explanation
        selected = set(explanation.selected)
        c = self.choices
        kept = dataclasses.replace(c, muted=c.muted & selected, soloed=c.soloed & selected)
        if kept != c:
            self.choices = kept  # quietly: the rendering below already reflects it
        self.explanation_changed.emit(explanation)
        self.set_rendering(rendering or Rendering(
            explanation.selected, explanation.interpretation_log_mag,
            explanation.interpretation, explanation.residual))

    def set_rendering(self, rendering: Rendering) -> None:
        self.rendering = rendering
        self.rendering_changed.emit(rendering)

    def focus(self, k: int | None) -> None:
        """Look at component ``k`` (a bar or a row clicked): every view shows it. Not an
        edit: it changes nothing that is heard."""
        if k != self.focused:
            self.focused = k
            self.focused_changed.emit(k)

    def set_trust(self, trust: Any) -> None:
        """How far to trust the rendering shown (None: being measured)."""
        self.trust = trust
        self.trust_changed.emit(trust)

    def set_playing(self, kind: str | None) -> None:
        if kind != self.playing:
            self.playing = kind
            self.playing_changed.emit(kind)

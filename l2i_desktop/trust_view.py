"""The trust readout: how far the current explanation can be trusted, in plain words and
numbers. ``TrustMeter`` has engine/explanation/trust.py measure what plays, on the engine
thread; ``TrustView`` says it."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel

from engine.explanation.trust_verdict import GOOD_SHARE, NOT_RANDOM, RANDOM_DRAWS, Trust
from l2i_desktop import theme
from l2i_desktop.model import Session
from l2i_desktop.worker import EngineWorker, Lane

TRUST = Lane("trust")

# each verdict's text and background colours, as the theme names them (theme.Theme);
# pending and unmeasured are muted text on the window
VERDICT_COLOURS = {"good": ("good", "good_bg"), "weak": ("warning", "warning_bg"),
                   "unfaithful": ("error", "error_bg"), "empty": ("warning", "warning_bg")}
TIP = (
    "<p><b>How far to trust this explanation.</b> The components the interpretation "
    "plays (mute and solo applied) are checked through the classifier itself:</p>"
    "<ul><li><b>Removing them</b>: the clip without them (the residual) is classified; "
    "the drop in the explained class's probability is the faithfulness FF.</li>"
    f"<li><b>Random components</b>: the same number of components chosen at random are "
    f"removed instead ({RANDOM_DRAWS} seeded draws, their mean); a faithful explanation "
    "drops the class far more than they do.</li>"
    "<li><b>Alone</b>: the components alone (the interpretation) are classified; if they "
    "are still heard as the class, they carry its evidence (Fid-In).</li></ul>"
    f"<p><b>Faithful</b>: removing them takes at least {GOOD_SHARE:.0%} of the probability "
    f"away, more than random ones do by over {NOT_RANDOM:.2f}, and alone they are heard "
    "as the class. <b>Not faithful</b>: no better than random components. <b>Weak</b>: "
    "anything between.</p>")


def describe(t: Trust, classes: list[str], selected: int, tau: float) -> tuple[str, str]:
    """(verdict key, rich text) of a Trust for the window."""
    name = classes[t.target] if 0 <= t.target < len(classes) else f"class {t.target}"
    n = len(t.components)
    these = f"these {n} components" if n != 1 else "this component"
    played = "" if n == selected else f" (mute/solo: {n} of the {selected} selected)"
    if t.verdict == "empty":
        if selected == 0:
            return "empty", (f"<b>No component above tau = {tau:.2f}</b> for {name}: "
                             "lower tau to hear an explanation.")
        return "empty", ("<b>Nothing plays</b>: every selected component is muted. "
                         "Unmute one to hear the explanation.")
    if t.verdict == "unmeasured":
        return "unmeasured", ("Trust is not measured on a clip this long: open a window "
                              "of it on the timeline.")
    removed = (f"Removing {these}{played} drops <b>{name}</b> from {t.p:.2f} to "
               f"<b>{t.p_removed:.2f}</b> ({n} random: {t.p_random:.2f}).")
    if t.top_alone == t.target:
        alone = f"Alone, they are still heard as {name} ({t.p_alone:.2f})."
    else:
        other = classes[t.top_alone] if 0 <= t.top_alone < len(classes) else "another class"
        alone = f"Alone, they are heard as {other}, not {name} ({t.p_alone:.2f})."
    title = {"good": "Faithful.", "weak": "Weak.", "unfaithful": "Not faithful."}[t.verdict]
    if t.verdict == "unfaithful":
        removed = (f"Removing {these}{played} changes <b>{name}</b> no more than removing "
                   f"{n} random ones ({t.p:.2f} to {t.p_removed:.2f}; random: "
                   f"{t.p_random:.2f}).")
    hint = "" if t.verdict == "good" else \
        " Lower tau to include more of the evidence, or look at another class."
    return t.verdict, f"<b>{title}</b> {removed} {alone}{hint}"


class TrustView(QLabel):
    def __init__(self) -> None:
        super().__init__("")
        self.setObjectName("trust")
        self.setWordWrap(True)
        self.setTextFormat(Qt.TextFormat.RichText)
        self.setToolTip(TIP)
        self.setMargin(6)
        self.verdict: str | None = None
        self.show_text(None, "")

    def show_text(self, verdict: str | None, text: str) -> None:
        self.verdict = verdict
        self.restyle()
        self.setText(text)

    def restyle(self) -> None:
        """The verdict's colours in the scheme shown now (theme.shown)."""
        t = theme.shown()
        roles = VERDICT_COLOURS.get(self.verdict or "")
        colour, background = (getattr(t, roles[0]), getattr(t, roles[1])) if roles \
            else (t.muted, "transparent")
        self.setStyleSheet(f"QLabel#trust {{ color: {colour}; background: {background}; "
                           f"border: 1px solid {colour if roles else t.border};"
                           " border-radius: 3px; }")

    def pending(self) -> None:
        self.show_text("pending", "Measuring how far to trust this explanation...")

    def show_trust(self, t: Trust | None, classes: list[str], selected: int,
                   tau: float) -> None:
        if t is None:
            self.pending()
        else:
            self.show_text(*describe(t, classes, selected, tau))

    def show_session(self, session: Session) -> None:
        if session.explanation is not None and session.explainer is not None:
            self.show_trust(session.trust, session.explainer.bundle.classes,
                            len(session.explanation.selected), session.explanation.threshold)


class TrustMeter:
    """Measures the trust of each rendering the session shows, once per clip, class and
    set of components (cached: toggling back and forth costs nothing)."""

    def __init__(self, session: Session, worker: EngineWorker) -> None:
        self.session = session
        self.worker = worker
        self._cache: dict = {}
        self._clip = None
        session.rendering_changed.connect(self.measure)

    def measure(self, rendering) -> None:
        from engine.explanation.trust import assess  # a rendering: the model is loaded

        s = self.session
        if s.clip is None or s.explanation is None:
            return
        if self._clip is not s.clip.analysis:
            self._cache, self._clip = {}, s.clip.analysis
        key = (s.explanation.target, tuple(rendering.indices))
        if key in self._cache:
            s.set_trust(self._cache[key])
            return
        if not rendering.indices:  # nothing plays: said at once, nothing to compute
            s.set_trust(assess(s.explainer, s.clip.analysis, key[0], []))
            return
        s.set_trust(None)
        cache = self._cache

        def measured(trust: Trust) -> None:
            cache[key] = trust
            if s.rendering is rendering:
                s.set_trust(trust)
        self.worker.submit(TRUST, assess, s.explainer, s.clip.analysis, key[0],
                           list(rendering.indices), rendering, done=measured)

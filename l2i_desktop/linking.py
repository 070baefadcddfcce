"""The component in focus, linked across the views: a relevance bar or a row of the
components table clicked makes ``session.focus(k)``; the session's ``focused_changed``
then outlines the bar, selects the row, highlights row k of H, lays the component's
part of the clip over the spectrogram and draws its spectral pattern.

Focus is a way of looking, not an edit (nothing heard changes), so it is not undone;
it is cleared by a new clip (of another source) or a new bundle.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable

import numpy as np
from PySide6.QtCore import QTimer

from l2i_desktop.model import ClipResult, Session
from l2i_desktop.relevance_view import RelevanceView
from l2i_desktop.side_panels import ComponentsPanel
from l2i_desktop.time_views import TimeViews

# above this many F x T cells (about 23 s at 44.1 kHz, hop 512) the overlay of
# W[:, k] H[k] is left out: its outer product and picture (30 ms here) would stall
# the UI thread on a click
OVERLAY_CELLS = 1_000_000
_linked: weakref.WeakSet[Session] = weakref.WeakSet()  # sessions already linked


def focus_parts(session: Session, k: int
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Component ``k``'s frequencies in Hz, spectral pattern W[:, k] and part of the
    clip W[:, k] H[k, :] (None without a clip, or for a clip too long to draw it)."""
    W = session.explainer.bundle.W
    pattern = W[:, k].detach().cpu().numpy().astype(np.float32)
    clip = session.clip
    rate = clip.analysis.sample_rate if clip is not None else \
        session.explainer.cfg.sample_rate
    freqs = np.linspace(0.0, rate / 2, len(pattern))
    contribution = None
    if clip is not None and k < clip.analysis.H.shape[0] \
            and len(pattern) * clip.analysis.H.shape[1] <= OVERLAY_CELLS:
        contribution = np.outer(pattern, clip.analysis.H[k].detach().cpu().numpy())
    return freqs, pattern, contribution


def connect_linking(session: Session, views: TimeViews, relevance: RelevanceView,
                    components: ComponentsPanel, status: Callable[[str], None]) -> None:
    """Wire the views to the session's focus. Calling it again for the same session
    does nothing (the window and a test may both call it)."""
    if session in _linked:
        return
    _linked.add(session)
    relevance.tau_source = lambda: session.tau  # keys step from the session's tau
    relevance.component_clicked.connect(session.focus)
    relevance.hovered.connect(status)
    components.focus_requested.connect(session.focus)
    last = {"source": _source(session.clip)}  # whose clip the focus belongs to

    def show(k: int | None) -> None:
        if k is not None and (session.explainer is None
                              or k >= session.explainer.bundle.W.shape[1]):
            k = None
        if k is None:
            views.show_focus(None)
            relevance.show_focus(None)
            components.show_focus(None)
            return
        freqs, pattern, contribution = focus_parts(session, k)
        views.show_focus(k, contribution)
        relevance.show_focus(k)
        components.show_focus(k, freqs, pattern)
        if len(relevance.order):
            note = "" if contribution is not None or session.clip is None else \
                "; too long a clip to lay it over the spectrogram"
            status(relevance.describe(k) + note)

    def on_clip(clip: ClipResult) -> None:
        before, last["source"] = last["source"], _source(clip)
        if before != last["source"]:
            session.focus(None)
            show(None)  # the views may still show a focus of the last bundle's clip
        elif session.focused is not None:
            # the same source again (live input, another window of a file): its new H,
            # drawn after the window has shown the clip
            QTimer.singleShot(0, lambda: show(session.focused))

    def on_bundle(_explainer: object) -> None:
        last["source"] = None
        show(session.focused)  # None: set_bundle clears the focus

    def on_choices(changed: frozenset[str]) -> None:
        if "tau" in changed:
            relevance.set_tau(session.tau)  # at once, before the new explanation

    session.focused_changed.connect(show)
    session.clip_changed.connect(on_clip)
    session.bundle_changed.connect(on_bundle)
    session.choices_changed.connect(on_choices)
    show(session.focused)


def _source(clip: ClipResult | None) -> tuple | None:
    # as the session tells sources apart (set_clip): by file and name, not by window
    return None if clip is None else (clip.source.path, clip.source.name)

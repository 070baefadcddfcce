"""Headless implementation of Listen to Interpret (Parekh et al., NeurIPS 2022).

Audio I/O, the STFT front-end, sparse NMF, classifiers, hidden-layer taps, the
interpreter networks, explanations, model bundles and metrics. Never imports Qt.
"""

from engine.errors import L2IError

__all__ = ["L2IError"]

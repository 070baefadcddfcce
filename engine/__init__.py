"""Headless implementation of Listen to Interpret (Parekh et al., NeurIPS 2022).

Never imports Qt. Sub-packages are layers: each imports only those below it (an
import-linter contract in pyproject.toml), from the top:

- ``engine.tools``: SLIME, corruption, timelines of long recordings, live input,
  explaining folders of files, the batch report.
- ``engine.explanation``: ``explain.Explainer`` (analyse, explain, render), masks,
  synthesis, metrics, explanation quality, focus on mixtures, long clips in blocks.
- ``engine.bundles``: ``bundle.load_bundle`` / ``save_bundle``, the manifest, safe reading.
- ``engine.models``: the built-in classifier, taps, user classifiers, the interpreter.
- ``engine.dsp``: ``audio.load_audio`` / ``save_audio``, the STFT front-end, sparse NMF.
- ``engine.runtime``: errors, progress and cancellation, child processes, devices,
  output checks, atomic replacement.

The names most code needs::

    from engine.bundles.bundle import load_bundle
    from engine.explanation.explain import Explainer
    from engine.dsp.audio import load_audio
    from engine.runtime.errors import L2IError
"""

from engine.runtime.errors import L2IError

__all__ = ["L2IError"]

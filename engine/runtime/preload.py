"""torch's shared libraries, loaded without holding the GIL.

``import torch`` spends much of its time in ``dlopen`` (libtorch, the CUDA libraries of a
CUDA build), and Python holds the GIL through each: imported on a worker thread, it
froze the window's thread for 500-700 ms at a time. A ``ctypes`` call of a C function
releases the GIL, so ``dlopen``-ing the same files that way first, in torch's order and
with its flags (its global dependencies RTLD_GLOBAL, then its extension module as Python
opens it), leaves the import only libraries already loaded. Nothing here imports torch;
when anything fails the import simply loads them itself.
"""

from __future__ import annotations

import ctypes
import importlib.util
import logging
import os
import sys
from pathlib import Path

log = logging.getLogger(__name__)


def torch_libraries() -> list[tuple[Path, int]]:
    """(file, dlopen flags) in the order torch's own import opens them; [] if unknown."""
    spec = importlib.util.find_spec("torch")
    if spec is None or spec.origin is None:
        return []
    root = Path(spec.origin).parent
    extension = sorted(root.glob("_C.*.so"))
    global_deps = root / "lib" / "libtorch_global_deps.so"
    if not extension or not global_deps.is_file():
        return []
    return [(global_deps, os.RTLD_NOW | os.RTLD_GLOBAL),
            (extension[0], sys.getdlopenflags())]


def preload_torch_libraries() -> bool:
    """True when torch's libraries are now loaded; False when torch is imported already,
    on a platform other than Linux, or when a library did not load (logged)."""
    if "torch" in sys.modules or not sys.platform.startswith("linux"):
        return False
    try:
        dlopen = ctypes.CDLL(None).dlopen  # a foreign call: the GIL is released
        dlopen.restype = ctypes.c_void_p
        dlopen.argtypes = [ctypes.c_char_p, ctypes.c_int]
    except (OSError, AttributeError) as exc:
        log.info("no dlopen to preload torch with: %s", exc)
        return False
    libraries = torch_libraries()
    for path, flags in libraries:
        if not dlopen(os.fsencode(path), flags):
            log.info("could not preload %s; torch's import will load it", path)
            return False
    return bool(libraries)

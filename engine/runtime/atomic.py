"""Replace a folder by another in one step, so that a crash leaves the old or the new.

POSIX rename cannot replace a non-empty folder; two renames (old aside, new in) leave a
moment with nothing at the path. Linux (3.15+) swaps two paths atomically with
renameat2(RENAME_EXCHANGE); where that call is missing (another system, an old kernel,
a file system without it) the two renames are the fallback.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import shutil
from pathlib import Path

_AT_FDCWD = -100
_RENAME_EXCHANGE = 2


def _renameat2():
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        fn = libc.renameat2
    except (OSError, AttributeError):
        return None
    fn.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p,
                   ctypes.c_uint]
    fn.restype = ctypes.c_int
    return fn


_RENAMEAT2 = _renameat2()


def exchange(a: Path, b: Path) -> bool:
    """Swap two existing paths atomically; False when the system cannot."""
    if _RENAMEAT2 is None:
        return False
    rc = _RENAMEAT2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE)
    return rc == 0


def replace_folder(new: Path, path: Path) -> None:
    """Put the folder ``new`` at ``path`` (replacing what is there) and remove the old."""
    if not path.exists():
        os.replace(new, path)
        return
    if exchange(new, path):  # ``new`` now holds the old content
        shutil.rmtree(new, ignore_errors=True)
        return
    old = path.with_name(f".{path.name}.old")
    shutil.rmtree(old, ignore_errors=True)
    os.replace(path, old)
    os.replace(new, path)
    shutil.rmtree(old, ignore_errors=True)

"""Replace a file or a folder in one step, so that a crash leaves the old or the new.

Files: ``write_atomically`` has the caller write a hidden temporary file beside the
target (same folder, so the rename stays on one file system), gives it the mode the
umask asks for (mkstemp's 0600, or a library's, would leak into the result), flushes it
to the disk, renames it over the target and flushes the folder, so that after a power
cut the name points at complete data. The temporary file is removed on any failure.

Folders: POSIX rename cannot replace a non-empty folder; two renames (old aside, new in)
leave a moment with nothing at the path. Linux (3.15+) swaps two paths atomically with
renameat2(RENAME_EXCHANGE); where that call is missing (another system, an old kernel,
a file system without it) the two renames are the fallback.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import json
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from engine.runtime.outputs import public_mode

_AT_FDCWD = -100
_RENAME_EXCHANGE = 2


def write_atomically(path: str | os.PathLike, write: Callable[[Path], Any]) -> Path:
    """Call ``write(tmp)`` to fill a temporary file beside ``path`` (in its folder, which
    must exist), then put it at ``path``. The temporary name keeps the suffix of ``path``
    (writers such as soundfile pick the format from it).

    An OSError about the temporary file (from this machinery or from ``write``) is
    raised naming ``path`` instead; anything else ``write`` raises passes unchanged.
    """
    path = Path(path)
    try:
        fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=path.suffix,
                                    dir=path.parent)
    except OSError as exc:
        raise _naming(exc, path) from exc
    os.close(fd)
    tmp = Path(name)
    try:
        public_mode(tmp, folder=False)
        write(tmp)
        public_mode(tmp, folder=False)  # a writer may have made the file anew (safetensors)
        _fsync(tmp)
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        if exc.filename not in (None, name, os.fspath(tmp)):
            raise  # about another file (one the writer read): its own name says more
        raise _naming(exc, path) from exc
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync(path.parent, folder=True)
    return path


def write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    return write_atomically(path, lambda tmp: tmp.write_bytes(data))


def write_text(path: str | os.PathLike, text: str) -> Path:
    """UTF-8, line ends as given (no translation)."""
    return write_atomically(path, lambda tmp: tmp.write_text(text, encoding="utf-8",
                                                             newline=""))


def write_json(path: str | os.PathLike, obj: Any, indent: int | None = 2) -> Path:
    return write_bytes(path, json.dumps(obj, indent=indent).encode())


def _naming(exc: OSError, path: Path) -> OSError:
    """The same error about ``path`` (the user's name, not our temporary one)."""
    if exc.errno is None:
        return exc
    return OSError(exc.errno, exc.strerror, os.fspath(path))  # -> the matching subclass


def _fsync(path: Path, folder: bool = False) -> None:
    flags = os.O_RDONLY | (getattr(os, "O_DIRECTORY", 0) if folder else 0)
    try:
        fd = os.open(path, flags)
    except OSError:
        if folder:  # a system that cannot open folders: the rename is still atomic
            return
        raise
    try:
        os.fsync(fd)
    except OSError:
        if not folder:  # some file systems refuse a folder's fsync: nothing to be done
            raise
    finally:
        os.close(fd)


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

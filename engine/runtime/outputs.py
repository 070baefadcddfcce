"""Where the user asked for output: checked before any work is done, refused with one
message that names the path as the user typed it and the real reason, and written with
the permissions the user's umask asks for (tempfile's 0700 / 0600 would otherwise leak
into the finished folders and files).

>>> import tempfile
>>> folder = Path(tempfile.mkdtemp())
>>> (folder / "a_file").write_text("x")
1
>>> check_output(folder / "a_file" / "sub", "folder")  # doctest: +ELLIPSIS
Traceback (most recent call last):
engine.runtime.errors.L2IError: cannot write .../a_file/sub: .../a_file is a file, not a folder
"""

from __future__ import annotations

import errno
import os
import tempfile
from pathlib import Path

from engine.runtime.errors import L2IError, shown

_REASONS = {errno.EROFS: "the file system is read-only",
            errno.EACCES: "permission denied", errno.EPERM: "permission denied",
            errno.ENOSPC: "no space left on the device",
            errno.EDQUOT: "the disk quota is exceeded",
            errno.ENOTDIR: "a part of the path is a file, not a folder",
            errno.ENOENT: "that place does not accept new files"}


def umask() -> int:
    """The process's umask, read without changing it where the system allows."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)  # elsewhere: the classic read (set and put back)
    os.umask(mask)
    return mask


def public_mode(path: str | os.PathLike, folder: bool | None = None) -> None:
    """Give ``path`` the mode a plain ``mkdir`` / ``open`` would have given it."""
    folder = Path(path).is_dir() if folder is None else folder
    os.chmod(path, (0o777 if folder else 0o666) & ~umask())


def reason(exc: OSError) -> str:
    """Why an OSError happened, in words (never naming our temporary files)."""
    return _REASONS.get(exc.errno or 0) or (exc.strerror or type(exc).__name__).lower()


def check_output(path: str | os.PathLike, kind: str = "file", option: str = "--out") -> None:
    """Raise L2IError unless ``path`` can be written as a ``kind`` ("file" or "folder";
    "any" for either) without writing anything but a probe that is removed at once."""
    path = Path(path)
    if path.exists():
        if kind == "folder" and not path.is_dir():
            raise L2IError(f"{option} {shown(path, full=True)} is a file; give a folder")
        if kind == "file" and path.is_dir():
            raise L2IError(f"{option} {shown(path, full=True)} is a folder; give a file name")
    where = path.parent
    while not where.exists() and where != where.parent:
        where = where.parent
    if not where.is_dir():
        raise L2IError(f"cannot write {shown(path, full=True)}: {shown(where, full=True)} "
                       "is a file, not a folder")
    places = [where] + ([path] if path.is_dir() else [])  # a folder's files are replaced
    for place in places:
        try:
            fd, probe = tempfile.mkstemp(prefix=".l2i-probe-", dir=place)
        except OSError as exc:
            raise L2IError(f"cannot write {shown(path, full=True)}: {reason(exc)} "
                           f"({shown(place, full=True)})") from None
        os.close(fd)
        os.unlink(probe)


def staging_folder(final: str | os.PathLike) -> Path:
    """A hidden folder beside ``final`` (created with its parents) to fill and then rename
    into place, with the mode the umask gives a new folder."""
    final = Path(final)
    try:
        final.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.", dir=final.parent))
    except OSError as exc:
        raise L2IError(f"cannot write {shown(final, full=True)}: {reason(exc)}") from None
    public_mode(tmp, folder=True)
    return tmp


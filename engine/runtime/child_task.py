"""The child-process side of running a long ``fn(*args, task=...)`` away from the GUI.

The parent starts ``python -m engine.runtime.child_task`` and writes one frame to its stdin: the
pickled ``(fn, args)``. The child answers on its stdout with frames ``("report", Report)``
..., then one of ``("finished", result)``, ``("cancelled", None)`` or ``("failed", one line
for the user)``. A byte on stdin, or stdin closing (the parent is gone), cancels the task
at its next safe point. A child that dies sends nothing more; the parent sees the exit.

A frame is a 4-byte big-endian length and a pickle. Both ends are this program, so the
pickles are trusted; nothing read from a user's file is ever unpickled here. The child
imports only ``fn``'s module and what it needs: no GUI toolkit, and not the parent's main
script (which multiprocessing's spawn would re-run).
"""

from __future__ import annotations

import os
import pickle
import struct
import sys
import threading
import traceback
from collections.abc import Callable
from typing import Any, BinaryIO

from engine.runtime.errors import Cancelled, L2IError, failure_message
from engine.runtime.progress import TaskState

_LENGTH = struct.Struct(">I")


def encode_frame(obj: Any) -> bytes:
    data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    return _LENGTH.pack(len(data)) + data


def write_frame(stream: BinaryIO, obj: Any) -> None:
    stream.write(encode_frame(obj))
    stream.flush()


def _read_exact(stream: BinaryIO, n: int) -> bytes:
    parts, left = [], n
    while left:
        chunk = stream.read(left)  # a raw stream may return less than asked
        if not chunk:
            raise EOFError
        parts.append(chunk)
        left -= len(chunk)
    return b"".join(parts)


def read_frame(stream: BinaryIO) -> Any:
    """The next object, or raise EOFError when the stream ends (also mid-frame)."""
    (n,) = _LENGTH.unpack(_read_exact(stream, _LENGTH.size))
    return pickle.loads(_read_exact(stream, n))


def run_task(fn: Callable[..., Any], args: tuple, send: Callable[[str, Any], None],
             cancel: threading.Event) -> None:
    """Run ``fn(*args, task=...)`` and ``send`` its reports and its one ending. The
    window's thread runner uses it too, so both runners end a task the same way."""
    task = TaskState(lambda r: send("report", r), cancel)
    try:
        result = fn(*args, task=task)
    except Cancelled:
        send("cancelled", None)
        return
    except L2IError as exc:
        send("failed", failure_message(exc))
        return
    except Exception as exc:  # a bug must reach the user as a line, with the trace on stderr
        traceback.print_exc()
        send("failed", failure_message(exc))
        return
    if task.cancelled:
        send("cancelled", None)
    else:
        send("finished", result)


def main() -> None:
    out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # whatever a library prints goes to stderr, never into the frames
    # unbuffered: a buffered reader would read past the first frame, and its lock, held by
    # the watching thread, makes the interpreter's shutdown fail
    stdin = sys.stdin.buffer.raw
    fn, args = read_frame(stdin)
    cancel = threading.Event()

    def watch() -> None:  # one byte asks to cancel; end of file means the parent is gone
        stdin.read(1)
        cancel.set()
    threading.Thread(target=watch, name="l2i-cancel-watch", daemon=True).start()
    lock = threading.Lock()

    def send(kind: str, payload: Any) -> None:
        try:
            data = encode_frame((kind, payload))
        except Exception as exc:  # only a result can be unpicklable; say so, not die
            if kind != "finished":
                raise
            data = encode_frame(("failed", "the result could not be sent back: "
                                           f"{failure_message(exc)}"))
        with lock:
            out.write(data)
            out.flush()
    run_task(fn, args, send, cancel)
    out.close()
    sys.stderr.flush()
    # everything is written and sent: skip the interpreter's shutdown (a second or more
    # with torch loaded), which the window would otherwise wait for when it closes
    os._exit(0)


if __name__ == "__main__":
    main()

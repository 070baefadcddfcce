"""Functions that tests run in a child process (engine/runtime/child_task.py). This module imports
no GUI toolkit, so a child that runs them shows what the child itself loads."""

from __future__ import annotations

import os
import sys
import threading
import time

from engine.runtime.errors import L2IError
from engine.runtime.progress import TaskState


def count_to(n: int, task: TaskState) -> dict:
    for i in range(n):
        task.report("counting", i + 1, n, f"step {i + 1}")
    return {"n": n, "pid": os.getpid()}


def raise_error(kind: str, task: TaskState) -> None:
    task.report("working", 0, 1)
    if kind == "l2i":
        raise L2IError("the data folder is empty")
    raise RuntimeError("disk on fire")


def until_cancelled(task: TaskState) -> None:
    while True:
        task.report("waiting", 0, 1)
        time.sleep(0.01)


def die(code: int, task: TaskState) -> None:
    task.report("dying", 0, 1)
    os._exit(code)


def print_then_return(task: TaskState) -> str:
    print("a library that prints to stdout")
    return "the frames survived"


def gui_modules(task: TaskState) -> list[str]:
    return sorted(m for m in sys.modules if m.split(".")[0] in ("PySide6", "pyqtgraph",
                                                                 "shiboken6", "l2i_desktop"))


def unpicklable(task: TaskState):
    return threading.Lock()


def busy_without_reports(task: TaskState) -> None:
    task.report("busy", 0, 1)
    time.sleep(120)  # a long step with no safe point in it


def run_out_of_memory(kind: str, task: TaskState) -> None:
    task.report("training", 0, 1)
    if kind == "cuda":
        import torch

        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
    raise MemoryError()


def trained(task: TaskState) -> str:
    return "trained"

"""Which function runs each ``l2i`` command, and what it writes: one table.

Handlers are named, not imported: torch takes seconds to load, and an output that
cannot be written (or a device this machine lacks) is refused before that.
"""

from __future__ import annotations

import argparse
import importlib
import logging
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass

from trainer.decoder_chatter import decoder_chatter_hidden

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Command:
    handler: str  # "module:function"
    outputs: tuple[tuple[str, str], ...] = ()  # (argument, "folder" | "file" | "any")
    # training: seeded, torchrun-aware, progress bars that Ctrl-C stops (trainer.commands)
    training: bool = True
    quiet_decoder: bool = False  # no live progress to show: stderr may wait (see below)

    def load(self) -> Callable[..., int]:
        module, name = self.handler.split(":")
        return getattr(importlib.import_module(module), name)


# (command, what it trains) -> how it runs
COMMANDS: dict[tuple[str, str | None], Command] = {
    ("explain", None): Command("trainer.commands:explain", (("out", "folder"),),
                               training=False, quiet_decoder=True),
    ("report", None): Command("trainer.report_cli:run", (("out", "folder"),), training=False),
    ("pack", None): Command("trainer.pack_cli:run", (("out", "folder"),), training=False),
    ("corrupt", None): Command("trainer.corruption_cli:run", (("json", "file"),),
                               training=False),
    ("evaluate", None): Command("trainer.commands:evaluate", (("json", "file"),)),
    ("train", "classifier"): Command("trainer.commands:train_classifier", (("out", "folder"),)),
    ("train", "dictionary"): Command("trainer.commands:train_dictionary", (("out", "file"),)),
    ("train", "interpreter"): Command("trainer.commands:train_interpreter", (("out", "any"),)),
    ("train", "lmac"): Command("trainer.lmac_cli:train", (("out", "any"), ("into", "any"))),
    ("train", "all"): Command("trainer.commands:train_all",
                              (("out", "any"), ("work", "folder"))),
}


def command_of(args: argparse.Namespace) -> Command:
    return COMMANDS[(args.command, getattr(args, "what", None))]


def run(args: argparse.Namespace) -> int:
    command = command_of(args)
    _check_outputs(args, command)
    handler = command.load()
    log.debug("%s runs %s", args.command, command.handler)
    if command.training:
        from trainer.commands import in_training_context

        return in_training_context(handler, args)
    # a broken MP3 makes libmpg123 write notes straight to fd 2, around our one line
    with decoder_chatter_hidden() if command.quiet_decoder else nullcontext():
        return handler(args)


def _check_outputs(args: argparse.Namespace, command: Command) -> None:
    """Refuse an output path that cannot be written, or a device this machine lacks,
    before any work starts."""
    from engine.runtime.devices import resolve_device
    from engine.runtime.outputs import check_output

    if getattr(args, "device", None) is not None:
        resolve_device(args.device)
    for dest, kind in command.outputs:
        path = getattr(args, dest, None)
        if path is not None:
            check_output(path, kind, "--" + dest)

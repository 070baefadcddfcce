"""Argument types that ``l2i``'s parsers share: a value out of range is refused by
argparse itself, in one usage line, before anything runs."""

from __future__ import annotations

import argparse


def seconds(text: str) -> float:
    """A clip length in seconds."""
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not 0 < value <= 3600:  # also refuses nan
        raise argparse.ArgumentTypeError(f"takes seconds in (0, 3600], not {text!r}")
    return value


def seed(text: str) -> int:
    """A seed: a whole number >= 0 (numpy's generators refuse negative ones)."""
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"takes a whole number >= 0, not {text!r}")
    return value


def batch_size(text: str) -> int:
    """How many clips go through the model together: 1 to 256."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if not 1 <= value <= 256:
        raise argparse.ArgumentTypeError(f"takes a whole number from 1 to 256, not {text!r}")
    return value

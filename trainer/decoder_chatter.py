"""What libmpg123 (inside libsndfile) prints about broken MP3 data goes straight to file
descriptor 2, around the one line ``l2i`` prints: this hides it."""

from __future__ import annotations

import os
import re
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager

_DECODER_CHATTER = re.compile(r"^(Note: |Warning: |\[src/libmpg123/)")


@contextmanager
def decoder_chatter_hidden() -> Iterator[None]:
    """Divert file descriptor 2 while a clip is decoded and replay it without the
    decoder's notes, so a broken MP3 still ends in exactly one line of ours."""
    try:
        saved = os.dup(2)
    except OSError:
        yield
        return
    with tempfile.TemporaryFile() as sink:
        sys.stderr.flush()
        os.dup2(sink.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            sink.seek(0)
            for line in sink.read().decode(errors="replace").splitlines(keepends=True):
                if not _DECODER_CHATTER.match(line):
                    sys.stderr.write(line)

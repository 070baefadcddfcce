"""Several (n_i, ...) arrays read as one (sum n_i, ...) array, lazily.

The feature cache of a run under torchrun is one shard per rank (trainer/features_cache.py);
the pipeline indexes the whole dataset's rows. Concatenating the shards' memory maps would
read every byte into memory; this view reads only the rows that are asked for, and what it
returns is what indexing the concatenated array would return (a numpy array of the same
dtype). Supported: ``x[i]``, ``x[a:b]`` (any step), ``x[int_array]`` / ``x[bool_array]``,
each optionally followed by basic indices of the other axes (``x[rows, :, a:b]``), and
``np.asarray(x)``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


class RowConcat:
    def __init__(self, parts: Sequence[np.ndarray]) -> None:
        if not parts:
            raise ValueError("RowConcat needs at least one array")
        rest, dtype = parts[0].shape[1:], parts[0].dtype
        for p in parts:
            if p.shape[1:] != rest or p.dtype != dtype:
                raise ValueError(f"arrays differ: {p.shape} {p.dtype} vs (n, *{rest}) {dtype}")
        self.parts = list(parts)
        self.offsets = np.cumsum([0] + [len(p) for p in parts])
        self.dtype = dtype
        self.shape = (int(self.offsets[-1]), *rest)

    @property
    def ndim(self) -> int:
        return len(self.shape)

    def __len__(self) -> int:
        return self.shape[0]

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        whole = self[:]
        return whole if dtype is None else whole.astype(dtype, copy=False)

    def __getitem__(self, key) -> np.ndarray:
        rows, rest = (key[0], tuple(key[1:])) if isinstance(key, tuple) else (key, ())
        if any(not isinstance(k, (slice, int, np.integer)) and k is not Ellipsis
               for k in rest):
            raise TypeError("RowConcat: only basic indices after the row index")
        if isinstance(rows, (int, np.integer)):
            i = int(rows) + (len(self) if rows < 0 else 0)
            if not 0 <= i < len(self):
                raise IndexError(f"row {int(rows)} out of range for {len(self)} rows")
            s = int(np.searchsorted(self.offsets, i, side="right")) - 1
            return np.asarray(self.parts[s][(i - self.offsets[s], *rest)])
        if isinstance(rows, slice):
            start, stop, step = rows.indices(len(self))
            if step == 1:
                return self._span(start, max(start, stop), rest)
            rows = np.arange(start, stop, step)
        return self._gather(np.asarray(rows), rest)

    def _span(self, start: int, stop: int, rest: tuple) -> np.ndarray:
        """Rows start..stop-1: one contiguous read per shard they touch."""
        pieces = []
        for s, part in enumerate(self.parts):
            lo, hi = max(start, self.offsets[s]), min(stop, self.offsets[s + 1])
            if lo < hi:
                pieces.append(part[(slice(lo - self.offsets[s], hi - self.offsets[s]), *rest)])
        if not pieces:  # an empty selection keeps the shape of the other axes
            return np.asarray(self.parts[0][(slice(0, 0), *rest)])
        return np.concatenate(pieces) if len(pieces) > 1 else np.array(pieces[0])

    def _gather(self, rows: np.ndarray, rest: tuple) -> np.ndarray:
        if rows.dtype == bool:
            if rows.shape != (len(self),):
                raise IndexError(f"boolean index of shape {rows.shape} for {len(self)} rows")
            rows = np.flatnonzero(rows)
        if rows.size and not np.issubdtype(rows.dtype, np.integer):
            raise IndexError(f"rows must be integers, not {rows.dtype}")
        shape = rows.shape
        rows = rows.astype(np.int64).reshape(-1)
        rows = np.where(rows < 0, rows + len(self), rows)
        if rows.size and (rows.min() < 0 or rows.max() >= len(self)):
            raise IndexError(f"a row index is out of range for {len(self)} rows")
        shard = np.searchsorted(self.offsets, rows, side="right") - 1
        probe = np.asarray(self.parts[0][(slice(0, 0), *rest)])
        out = np.empty((len(rows), *probe.shape[1:]), dtype=self.dtype)
        for s in np.unique(shard):
            where = np.flatnonzero(shard == s)
            out[where] = self.parts[s][(rows[where] - self.offsets[s], *rest)]
        return out.reshape(*shape, *out.shape[1:])


class RowSubset:
    """``array[rows]`` without the copy: the training clips' rows of a feature cache,
    read a batch at a time. Indexing it as ``x[i]``, ``x[a:b]`` or ``x[int_array]``
    (then basic indices of the other axes) returns what indexing the copy would.

    >>> x = np.arange(12).reshape(6, 2)
    >>> v = RowSubset(x, np.array([4, 1, 5]))
    >>> v.shape, v[1:].tolist(), v[np.array([2, 0])].tolist()
    ((3, 2), [[2, 3], [10, 11]], [[10, 11], [8, 9]])
    """

    def __init__(self, array, rows: np.ndarray) -> None:
        self.array, self.rows = array, np.asarray(rows, dtype=np.int64)
        self.dtype = array.dtype
        self.shape = (len(self.rows), *array.shape[1:])

    @property
    def ndim(self) -> int:
        return len(self.shape)

    def __len__(self) -> int:
        return self.shape[0]

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        whole = self[:]
        return whole if dtype is None else whole.astype(dtype, copy=False)

    def __getitem__(self, key) -> np.ndarray:
        rows, rest = (key[0], tuple(key[1:])) if isinstance(key, tuple) else (key, ())
        picked = self.rows[rows]
        if np.ndim(picked) == 0:
            return np.asarray(self.array[(int(picked), *rest)])
        return np.asarray(self.array[(picked, *rest)])

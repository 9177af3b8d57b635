"""Feeds: what one request gives a model run, keyed by the ONNX input names, rows on axis 0.

Any task (image, text) turns its request into ``Feeds``; the batcher joins the feeds of several
requests into one run with ``collate`` and hands each request back its rows.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

Feeds = dict[str, np.ndarray]


def rows(feeds: Mapping[str, np.ndarray]) -> int:
    """Rows (examples) in one request's feeds; every input must agree."""
    counts = {array.shape[0] for array in feeds.values()}
    if len(counts) != 1:
        raise ValueError(f"feeds disagree on the number of rows: {sorted(counts)}")
    return counts.pop()


def collate(
    requests: Sequence[Mapping[str, np.ndarray]], *, pad_values: Mapping[str, float] | None = None
) -> Feeds:
    """One feed per input: the requests' rows concatenated in order.

    Where trailing axes differ (token sequences of different lengths), each array is padded at the
    end of those axes up to the longest, with ``pad_values[input name]`` (default 0: the pad id,
    attention mask 0 and token type 0 of BERT-style tokenizers).
    """
    pad_values = pad_values or {}
    if len(requests) == 1:
        return dict(requests[0])
    out: Feeds = {}
    for name in requests[0]:
        arrays = [r[name] for r in requests]
        trailing = np.max([a.shape[1:] for a in arrays], axis=0) if arrays[0].ndim > 1 else ()
        padded = [
            a
            if a.shape[1:] == tuple(trailing)
            else np.pad(
                a,
                [(0, 0)] + [(0, int(t) - s) for t, s in zip(trailing, a.shape[1:], strict=True)],
                constant_values=pad_values.get(name, 0),
            )
            for a in arrays
        ]
        out[name] = np.concatenate(padded, axis=0)
    return out

"""The melody frames beside each training window of a `--melody-context` network (`models.melody_context`):
the windows `dataset.windows` cuts, each with its melody from the frame of its first prediction on.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..models.melody_context import PAD, WINDOW_FRAMES, piece_inputs
from .dataset import _starts


def windows(streams: Sequence[Sequence[str]], seq_len: int) -> tuple[np.ndarray, np.ndarray]:
    """(frames (n, WINDOW_FRAMES), at (n, seq_len)) for the windows `dataset.windows` cuts from these
    streams, in its order: each window's melody from the frame of its first prediction on, and per
    step the index of that step's frame in it."""
    frames_out, at_out = [], []
    for symbols in streams:
        if len(symbols) < 2:
            continue
        frames, at = piece_inputs(symbols)
        padded = np.concatenate([frames, np.full(WINDOW_FRAMES, PAD, np.int32)])
        for s in _starts(len(symbols), seq_len):
            idx = np.zeros(seq_len, np.int32)
            chunk = at[s:s + seq_len]
            first = int(chunk[0])
            idx[:len(chunk)] = np.clip(chunk - first, 0, WINDOW_FRAMES - 1)
            frames_out.append(padded[first:first + WINDOW_FRAMES])
            at_out.append(idx)
    if not frames_out:
        return np.zeros((0, WINDOW_FRAMES), np.int32), np.zeros((0, seq_len), np.int32)
    return np.stack(frames_out), np.stack(at_out)


def key_windows(variants: Sequence[Sequence[Sequence[str]]], seq_len: int) -> tuple[np.ndarray, np.ndarray]:
    """`windows` for pieces in several keys (variants[piece][key]), each (n_windows, n_keys, ...)."""
    n_keys = len(variants[0]) if variants else 1
    parts = [windows([v[k] for v in variants], seq_len) for k in range(n_keys)]
    return tuple(np.stack([p[j] for p in parts], axis=1) for j in range(2))

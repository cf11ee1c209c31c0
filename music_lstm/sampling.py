"""Choosing the next symbol: a pure function of probabilities, settings and a numpy Generator.

    >>> import numpy as np
    >>> sample(np.array([[0.1, 0.9]]), np.random.default_rng(0), temperature=0)
    array([1])
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Sampling:
    temperature: float = 1.0  # 0 = always the most likely symbol (argmax); >1 flatter, <1 sharper
    top_k: int = 0  # keep only the k most likely symbols (0 = all)
    top_p: float = 1.0  # keep the smallest set of symbols whose probability reaches p (nucleus)
    max_repeat: int = 4  # a symbol may follow itself at most this many times in a row (0 = no guard)

    def __post_init__(self):
        if not self.temperature >= 0:
            raise ValueError(f"invalid temperature: {self.temperature!r} (must be >= 0)")
        if self.top_k < 0:
            raise ValueError(f"invalid top_k: {self.top_k!r} (must be >= 0)")
        if not 0 < self.top_p <= 1:
            raise ValueError(f"invalid top_p: {self.top_p!r} (must be in (0, 1])")
        if self.max_repeat < 0:
            raise ValueError(f"invalid max_repeat: {self.max_repeat!r} (must be >= 0)")


def sample(
    probs: np.ndarray,
    rng: np.random.Generator,
    temperature: float = 1.0,
    top_k: int = 0,
    top_p: float = 1.0,
    banned: np.ndarray | None = None,
) -> np.ndarray:
    """One id per row of `probs` (batch, vocab). `banned` (batch, vocab) bool rules ids out.

    A row whose every allowed id has probability 0 falls back to its most likely allowed id.
    """
    p = np.asarray(probs, dtype=np.float64)
    if banned is not None:
        p = np.where(banned, 0.0, p)
    if temperature == 0:
        return p.argmax(axis=-1)
    if temperature != 1.0:
        with np.errstate(divide="ignore"):
            logits = np.log(p) / temperature
        p = np.exp(logits - logits.max(axis=-1, keepdims=True))
        p = np.nan_to_num(p)
    if top_k and top_k < p.shape[-1]:
        kth = -np.partition(-p, top_k - 1, axis=-1)[:, top_k - 1 : top_k]
        p = np.where(p >= kth, p, 0.0)
    if top_p < 1.0:
        order = np.argsort(-p, axis=-1)
        sorted_p = np.take_along_axis(p, order, axis=-1)
        cum = np.cumsum(sorted_p, axis=-1)
        total = cum[:, -1:]
        keep_sorted = (cum - sorted_p) < top_p * total  # keep until the mass before reaches p
        keep = np.zeros_like(keep_sorted)
        np.put_along_axis(keep, order, keep_sorted, axis=-1)
        p = np.where(keep, p, 0.0)
    total = p.sum(axis=-1, keepdims=True)
    fallback = p.argmax(axis=-1)
    cum = np.cumsum(p, axis=-1)
    u = rng.random((p.shape[0], 1)) * total
    choice = np.minimum((cum <= u).sum(axis=-1), p.shape[-1] - 1)
    return np.where(total[:, 0] > 0, choice, fallback)


def repeat_ban(history: np.ndarray, vocab_size: int, max_repeat: int) -> np.ndarray | None:
    """(batch, vocab) mask banning, per row, the symbol that already ends `history` max_repeat times."""
    if max_repeat <= 0 or history.shape[1] < max_repeat:
        return None
    tail = history[:, -max_repeat:]
    stuck = (tail == tail[:, :1]).all(axis=1)
    if not stuck.any():
        return None
    ban = np.zeros((history.shape[0], vocab_size), bool)
    ban[np.nonzero(stuck)[0], tail[stuck, 0]] = True
    return ban

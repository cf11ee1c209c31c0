"""Interpolated Kneser-Ney n-gram models over symbol ids: the baseline the LSTM has to beat.

Fit on the training pieces' ids (each piece padded at its start with a begin marker, never across two
pieces), they give a full next-symbol distribution for any context, so they are scored exactly like
the network: cross-entropy, perplexity, top-1/top-5. Id 0 (`<unk>`) is never predicted: it gets
probability 0, and `<unk>` targets are left out of fitting and of scoring, as for the network.

Chen & Goodman's interpolated Kneser-Ney: the highest order uses raw counts, lower orders count
distinct left contexts (continuation counts), one absolute discount per order D = n1 / (n1 + 2 n2),
and the unigram level is interpolated with the uniform distribution, so no known symbol gets 0.

    python -c "from music_lstm.models.ngram import KneserNey; import numpy as np; \
print(KneserNey(2, 5).fit([np.array([1, 2, 3, 1, 2, 4])]).probs((1,)).round(3))"
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np

from ..core.errors import ConfigError

BOS = -1  # begin-of-piece marker in contexts; never a target


class KneserNey:
    def __init__(self, order: int, vocab_size: int):
        if order < 1:
            raise ConfigError(f"invalid n-gram order: {order!r} (must be >= 1)")
        if vocab_size < 2:
            raise ConfigError(f"invalid vocab_size: {vocab_size!r} (need <unk> and at least one symbol)")
        self.order, self.vocab_size = order, vocab_size
        # counts[k][context of length k] = {next id: count}; raw counts for the top order,
        # continuation counts (distinct preceding ids) for the lower ones.
        self.counts: list[dict[tuple, dict[int, int]]] = [defaultdict(dict) for _ in range(order)]
        self.discounts: list[float] = [0.0] * order
        self._cache: dict[tuple, np.ndarray] = {}

    def fit(self, pieces) -> "KneserNey":
        n = self.order
        raw: dict[tuple, int] = defaultdict(int)  # full n-grams (context + target)
        for seq in pieces:
            padded = [BOS] * (n - 1) + [int(i) for i in seq]
            for t in range(n - 1, len(padded)):
                if padded[t] != 0:  # an <unk> target teaches nothing
                    raw[tuple(padded[t - n + 1 : t + 1])] += 1
        grams = raw
        for k in range(n - 1, -1, -1):  # context length k: n-1 (raw counts) down to 0
            table = self.counts[k]
            for gram, c in grams.items():
                table[gram[:-1]][gram[-1]] = c
            self.discounts[k] = _discount([c for nxt in table.values() for c in nxt.values()])
            if k:  # continuation counts for the order below: how many distinct ids precede each shorter gram
                lower: dict[tuple, int] = defaultdict(int)
                for gram in grams:
                    lower[gram[1:]] += 1
                grams = lower
        self._totals = [{h: (sum(nxt.values()), len(nxt)) for h, nxt in table.items()} for table in self.counts]
        self._cache.clear()
        return self

    def probs(self, context) -> np.ndarray:
        """P(next id | context) over the whole vocabulary (sums to 1, 0 for `<unk>`)."""
        ctx = tuple(int(i) for i in context)[-(self.order - 1) :] if self.order > 1 else ()
        ctx = (BOS,) * (self.order - 1 - len(ctx)) + ctx
        return self._probs(ctx)

    def _probs(self, ctx: tuple) -> np.ndarray:
        if ctx in self._cache:
            return self._cache[ctx]
        k = len(ctx)
        if k == 0:
            p = np.zeros(self.vocab_size)
            p[1:] = 1.0 / (self.vocab_size - 1)  # uniform over every known symbol
        else:
            p = self._probs(ctx[1:])
        nxt = self.counts[k].get(ctx)
        if nxt:  # seen context: discounted counts plus the freed mass spread by the order below
            total, types = self._totals[k][ctx]
            d = self.discounts[k]
            p = p * (d * types / total)
            for w, c in nxt.items():
                if w < self.vocab_size:
                    p[w] += max(c - d, 0.0) / total
        self._cache[ctx] = p
        return p

    def sequence_probs(self, seq: np.ndarray) -> np.ndarray:
        """(len(seq) - 1, vocab): the distribution for each of seq[1:], given what came before in seq."""
        padded = [BOS] * (self.order - 1) + [int(i) for i in seq]
        n1 = self.order - 1
        rows = [self._probs(tuple(padded[t - n1 : t])) for t in range(n1 + 1, len(padded))]
        return np.stack(rows) if rows else np.zeros((0, self.vocab_size))


def _discount(counts: list[int]) -> float:
    """Ney's estimate D = n1 / (n1 + 2 n2) from how many n-grams were seen once and twice."""
    n1 = sum(1 for c in counts if c == 1)
    n2 = sum(1 for c in counts if c == 2)
    if n1 == 0:
        return 0.5
    return min(0.95, max(0.05, n1 / (n1 + 2 * n2)))


class NgramStepper:
    """A `KneserNey` model behind the stepper interface the samplers use (`stepper.LSTMStepper`):
    `reset(batch)`, then `step(ids)` gives each row's next-id distribution given what it was fed."""

    def __init__(self, model: KneserNey):
        self.model = model
        self.reset(1)

    def reset(self, batch: int) -> None:
        self.history: list[list[int]] = [[] for _ in range(batch)]

    def select(self, rows) -> None:
        """Keep the histories of `rows` (one index per new row): a beam search's survivors."""
        self.history = [list(self.history[r]) for r in rows]

    def step(self, ids) -> np.ndarray:
        for row, i in zip(self.history, np.asarray(ids).tolist()):
            row.append(int(i))
        return np.stack([self.model.probs(row) for row in self.history])

    def probabilities(self, ids: np.ndarray) -> np.ndarray:
        """(batch, steps, vocab): the distribution after each id of each row, from a fresh start."""
        ids = np.atleast_2d(np.asarray(ids))
        self.reset(ids.shape[0])
        return np.stack([self.step(ids[:, t]) for t in range(ids.shape[1])], axis=1)

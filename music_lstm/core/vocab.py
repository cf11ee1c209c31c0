"""The vocabulary: symbol_to_index / index_to_symbol, saved as `vocab.json` beside the model
(`run_folder.write_vocab`).

Index 0 is `<unk>`, the id any symbol outside the vocabulary is read as; the model never learns to
predict it (no training target is unknown) and generation never samples it. The remaining symbols
are sorted, as in the original tutorial. Pure: no TensorFlow, no music21.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

UNK = "<unk>"


class Vocab:
    def __init__(self, symbols: Iterable[str]):
        self.index_to_symbol: list[str] = [UNK] + sorted(set(symbols) - {UNK})
        self.symbol_to_index: dict[str, int] = {s: i for i, s in enumerate(self.index_to_symbol)}

    @classmethod
    def from_sequences(cls, sequences: Iterable[Iterable[str]]) -> "Vocab":
        return cls(s for seq in sequences for s in seq)

    def __len__(self) -> int:
        return len(self.index_to_symbol)

    def __contains__(self, symbol: str) -> bool:
        return symbol in self.symbol_to_index and symbol != UNK

    def encode(self, symbols: Iterable[str]) -> np.ndarray:
        """int32 ids; a symbol outside the vocabulary becomes 0 (`<unk>`)."""
        get = self.symbol_to_index.get
        return np.fromiter((get(s, 0) for s in symbols), dtype=np.int32)

    def decode(self, ids: Iterable[int]) -> list[str]:
        return [self.index_to_symbol[int(i)] for i in ids]

    def to_json(self) -> dict:
        """What `vocab.json` holds."""
        return {"symbol_to_index": self.symbol_to_index}

    @classmethod
    def from_json(cls, obj: dict) -> "Vocab":
        """The inverse of `to_json`; ValueError (or KeyError, TypeError) if it is not a vocabulary."""
        table = obj["symbol_to_index"]
        order = sorted(table, key=table.__getitem__)
        if [table[s] for s in order] != list(range(len(order))) or order[:1] != [UNK]:
            raise ValueError("indices are not 0..n-1 with <unk> at 0")
        vocab = cls.__new__(cls)
        vocab.index_to_symbol = order
        vocab.symbol_to_index = {s: i for i, s in enumerate(order)}
        return vocab


class Factors:
    """A vocabulary of two-part symbols (`0.4.7|1/2`: a chord and its duration, the
chords encoding with durations) seen as two smaller ones.

    A network with one softmax per part predicts `p(chord) * p(duration)`; `joint` turns the two into
    probabilities over the combined vocabulary (every pair the training pieces hold; `<unk>` gets 0),
    so sampling, the repeat guard and scoring work on combined ids as with one softmax.
    """

    def __init__(self, vocab: Vocab, sep: str = "|"):
        parts = [s.split(sep, 1) if sep in s else None for s in vocab.index_to_symbol]
        self.first = Vocab(p[0] for p in parts if p)
        self.second = Vocab(p[1] for p in parts if p)
        self.first_of = np.array([self.first.symbol_to_index[p[0]] if p else 0 for p in parts], np.int32)
        self.second_of = np.array([self.second.symbol_to_index[p[1]] if p else 0 for p in parts], np.int32)

    @property
    def sizes(self) -> tuple[int, int]:
        return len(self.first), len(self.second)

    def joint(self, p_first: np.ndarray, p_second: np.ndarray) -> np.ndarray:
        """(..., combined vocab) from (..., first vocab) and (..., second vocab); rows sum to 1."""
        p = np.take(p_first, self.first_of, axis=-1) * np.take(p_second, self.second_of, axis=-1)
        p[..., 0] = 0.0
        total = p.sum(axis=-1, keepdims=True)
        return p / np.where(total > 0, total, 1.0)

"""Transposition augmentation: a training piece's symbols in every key of a range of semitones; and the
shift that moves a piece to C major's key signature (`key_shift`, for `train --common-key`).

A transposed piece is the `Piece` moved by `Piece.transpose` and encoded again (chords symbols are not
transposition-invariant: single notes carry octaves, and chords are renamed by normal order); each
encoding may do it faster (`Encoding.transpositions`). Validation pieces are never transposed.

    python -c "from music_lstm.training.augment import transpositions; from music_lstm.core.events import Piece; \
print(transpositions(Piece([(0, 1, 60), (1, 1, 64)]), 'chords', [-1, 0, 1]))"
"""

from __future__ import annotations


from .. import encodings
from ..core.events import Piece



def shifts(low: int, high: int) -> list[int]:
    """The semitone shifts low..high inclusive, 0 first (the key the piece is written in)."""
    return [0] + [s for s in range(low, high + 1) if s != 0]


def transpositions(piece: Piece, encoding: encodings.Encoding | str, semitones: list[int]) -> list[list[str]]:
    """The piece's symbols moved by each of `semitones`. A key that would push a note outside MIDI's
    0..127 (and so change the piece's length) gives the untransposed symbols instead. `encoding` is an
    `Encoding` or its spec (`chords`, `chords+durations`, `voiced`)."""
    enc = encodings.from_spec(encoding) if isinstance(encoding, str) else encoding
    return enc.transpositions(piece, semitones)

"""Transposition augmentation: a training piece's symbols in every key of a range of semitones; and the
shift that moves a piece to C major's key signature (`key_shift`, for `train --common-key`).

A transposed piece is the `Piece` moved by `Piece.transpose` and encoded again (chords symbols are not
transposition-invariant: single notes carry octaves, and chords are renamed by normal order); each
encoding may do it faster (`Encoding.transpositions`). Validation pieces are never transposed.

    python -c "from music_lstm.augment import transpositions; from music_lstm.events import Piece; \
print(transpositions(Piece([(0, 1, 60), (1, 1, 64)]), 'chords', [-1, 0, 1]))"
"""

from __future__ import annotations

import numpy as np

from . import encodings
from .events import Piece

MAJOR = (0, 2, 4, 5, 7, 9, 11)  # pitch classes of a major scale above its tonic


def shifts(low: int, high: int) -> list[int]:
    """The semitone shifts low..high inclusive, 0 first (the key the piece is written in)."""
    return [0] + [s for s in range(low, high + 1) if s != 0]


def transpositions(piece: Piece, encoding: encodings.Encoding | str, semitones: list[int]) -> list[list[str]]:
    """The piece's symbols moved by each of `semitones`. A key that would push a note outside MIDI's
    0..127 (and so change the piece's length) gives the untransposed symbols instead. `encoding` is an
    `Encoding` or its spec (`chords`, `chords+durations`, `voiced`)."""
    enc = encodings.from_spec(encoding) if isinstance(encoding, str) else encoding
    return enc.transpositions(piece, semitones)


def key_shifts(piece: Piece) -> list[int]:
    """All twelve shifts (-6..5), best first: the one that moves the major scale holding most of the
    piece's sounding time onto C's, then the others by how much of the piece their scale holds."""
    weight = np.zeros(12)
    for _, d, p in piece.notes:
        weight[p % 12] += d
    held = [weight[[(r + k) % 12 for k in MAJOR]].sum() for r in range(12)]
    return [(-r + 6) % 12 - 6 for r in sorted(range(12), key=lambda r: (-held[r], r))]


def key_shift(piece: Piece) -> int:
    """The semitones, -6..5, that move `piece` to the key signature of C major (and A minor): the major
    scale that holds the most of its sounding time is moved onto C's."""
    return key_shifts(piece)[0]

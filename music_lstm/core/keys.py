"""Keys: the shift that moves a piece to C major's key signature (`key_shift`, for `train
--common-key`, and for every melody harmonized), by the major scale that holds most of its sounding time.

    python -c "from music_lstm.core.keys import key_shift; from music_lstm.core.events import Piece; print(key_shift(Piece([(0, 1, 62), (1, 1, 66)])))"
"""

from __future__ import annotations

import numpy as np

from .events import Piece

MAJOR = (0, 2, 4, 5, 7, 9, 11)  # pitch classes of a major scale above its tonic


def major_profile(weights) -> np.ndarray:
    """(12,): per tonic pitch class, how much of `weights` (12,: an amount per pitch class, e.g.
    sounding time or note counts) its major scale holds. Its argmax is the key a piece is read in."""
    weights = np.asarray(weights, dtype=float)
    return np.array([weights[[(r + k) % 12 for k in MAJOR]].sum() for r in range(12)])


def key_shifts(piece: Piece) -> list[int]:
    """All twelve shifts (-6..5), best first: the one that moves the major scale holding most of the
    piece's sounding time onto C's, then the others by how much of the piece their scale holds."""
    weight = np.zeros(12)
    for _, d, p in piece.notes:
        weight[p % 12] += d
    held = major_profile(weight)
    return [(-r + 6) % 12 - 6 for r in sorted(range(12), key=lambda r: (-held[r], r))]


def key_shift(piece: Piece) -> int:
    """The semitones, -6..5, that move `piece` to the key signature of C major (and A minor): the major
    scale that holds the most of its sounding time is moved onto C's."""
    return key_shifts(piece)[0]

"""Transposition augmentation: a training piece's symbols in every key of a range of semitones.

A transposed piece is the `Piece` moved by `Piece.transpose` and encoded again (seed symbols are not
transposition-invariant: single notes carry octaves, and chords are renamed by normal order). For the
seed encoding, which looks only at which pitches sound in each onset slice, the slices are cut once
and their pitches shifted, which gives exactly `encode(piece.transpose(s))` at a fraction of the cost.
Validation pieces are never transposed.

    python -c "from music_lstm.augment import transpositions; from music_lstm.events import Piece; \
print(transpositions(Piece([(0, 1, 60), (1, 1, 64)]), 'seed', [-1, 0, 1]))"
"""

from __future__ import annotations

from .encoding import encode_spec, slice_symbol
from .events import Piece, Slice, slices


def shifts(low: int, high: int) -> list[int]:
    """The semitone shifts low..high inclusive, 0 first (the key the piece is written in)."""
    return [0] + [s for s in range(low, high + 1) if s != 0]


def transpositions(piece: Piece, encoding: str, semitones: list[int]) -> list[list[str]]:
    """The piece's symbols moved by each of `semitones`. A key that would push a note outside MIDI's
    0..127 (and so change the piece's length) gives the untransposed symbols instead. `encoding` is an
    encoder spec (`encoding.encoder_spec`), e.g. `seed` or `seed+durations`."""
    original = encode_spec(piece, encoding)
    pitches = [p for _, _, p in piece.notes]
    out = []
    if encoding == "seed":
        cut = [s for s in slices(piece.notes) if not s.is_rest]
        memo: dict[tuple, str] = {}
    for k in semitones:
        if k == 0 or not pitches or not (0 <= min(pitches) + k and max(pitches) + k <= 127):
            out.append(original)
        elif encoding == "seed":
            syms = []
            for s in cut:
                key = tuple(p + k for p in s.pitches)
                if key not in memo:
                    memo[key] = slice_symbol(Slice(s.offset, s.duration, key, s.struck))
                syms.append(memo[key])
            out.append(syms)
        else:
            moved = encode_spec(piece.transpose(k), encoding)
            out.append(moved if len(moved) == len(original) else original)
    return out

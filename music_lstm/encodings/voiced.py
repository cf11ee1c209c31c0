"""`voiced`: for each onset slice of the chordified piece, its sounding pitches from high to low, then
one duration event (`d1/2`: quarter notes to the next slice); a rest is its own event (`r1`).

Pitch events are a pitch name for a newly struck note (`E-4`), with `~` for one held over (`E-4~`).
Every voice's octave, every duration and every rest is kept, with about a hundred symbols.

    python -c "from music_lstm.encodings import get; from music_lstm.core.events import Piece; print(get('voiced').encode(Piece([(0, 1, 64), (0, 2, 48), (1, 1, 65)])))"
"""

from __future__ import annotations

import numpy as np

from ..core.events import Piece, slices
from .common import OPEN_START_SLICES, Decoded, Encoding, Writer, duration_text, parse_duration, parse_pitch_token, pitch_token
from .pitch_events import EventGrammar, kinds, nearest_event, texture


class Voiced(Encoding):
    name = "voiced"

    def encode(self, piece: Piece) -> list[str]:
        out: list[str] = []
        for s in slices(piece.notes):
            if s.is_rest:
                out.append("r" + duration_text(s.duration))
                continue
            out.extend(pitch_token(p, struck) for p, struck in zip(s.pitches, s.struck))
            out.append("d" + duration_text(s.duration))
        return out

    def decode(self, symbols: list[str], open_start: bool = False) -> Decoded:
        w = Writer()
        pending: list[tuple[int, bool]] = []
        events = repairs = 0
        bad_since_last = False  # an unknown symbol inside the slice being read
        for sym in symbols:
            kind = sym[:1]
            if kind in ("d", "r") and sym[1:2].isdigit():
                try:
                    dur = parse_duration(sym[1:])
                except ValueError:
                    bad_since_last = True
                    continue
                events += 1
                repaired = bad_since_last
                if kind == "d" and not pending:
                    repaired = True  # a duration with nothing sounding: a rest
                if kind == "r" and pending:
                    repaired = True  # pitches closed by a rest: they sound for its length
                if pending:
                    repaired |= w.slice(pending, dur, lenient=open_start and events <= OPEN_START_SLICES)
                else:
                    w.slice([], dur)
                repairs += repaired
                pending, bad_since_last = [], False
                continue
            try:
                pending.append(parse_pitch_token(sym))
            except ValueError:
                bad_since_last = True  # <unk> or a malformed symbol: dropped
        # Pitches left without a duration at the end were cut off by the length limit: not written.
        return Decoded(w.result(), events, repairs, w.time)

    def nearest(self, symbol: str, known: list[str]) -> str | None:
        return nearest_event(symbol, known)

    def grammar(self, symbols, batch, sampling, pieces=(), piece_shifts=None, row_shifts=None):
        floor = texture(list(pieces), symbols)
        return EventGrammar(symbols, batch, sampling.max_chord_repeat, floor=floor)

    def rhythm_mask(self, symbols: list[str]) -> np.ndarray:
        """The duration and rest events."""
        return np.isin(kinds(symbols), ("duration", "rest"))

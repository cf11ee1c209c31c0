"""`grid` (BachBot's form): a fixed 16th-note grid; each frame lists its pitches high to low, then `|`.

Pitch events are as in `voiced` (`E-4` struck, `E-4~` held). A grid's rhythm lies in its held marks,
so it has no rhythm symbols of its own, and repeated frames are its way of holding: no chord guard.

    python -c "from music_lstm.encodings import get; from music_lstm.core.events import Piece; print(get('grid').encode(Piece([(0, 0.5, 64), (0, 0.25, 48)])))"
"""

from __future__ import annotations

from ..core.events import Piece
from .common import OPEN_START_SLICES, Decoded, Encoding, Writer, parse_pitch_token, pitch_token
from .pitch_events import FRAME_END, EventGrammar, nearest_event, texture

FRAME = 0.25  # grid step in quarter notes


class Grid(Encoding):
    name = "grid"

    def encode(self, piece: Piece) -> list[str]:
        """Notes snapped to the 16th grid; a note lasts at least one frame; unisons merge (struck wins)."""
        frames: dict[int, dict[int, bool]] = {}
        first = min((o for o, _, _ in piece.notes), default=0.0)
        for o, d, p in piece.notes:
            start = round((o - first) / FRAME)
            end = max(start + 1, round((o - first + d) / FRAME))
            for f in range(start, end):
                frame = frames.setdefault(f, {})
                frame[p] = frame.get(p, False) or f == start
        out: list[str] = []
        for f in range(max(frames) + 1 if frames else 0):
            frame = frames.get(f, {})
            out.extend(pitch_token(p, frame[p]) for p in sorted(frame, reverse=True))
            out.append(FRAME_END)
        return out

    def decode(self, symbols: list[str], open_start: bool = False) -> Decoded:
        w = Writer()
        pending: list[tuple[int, bool]] = []
        events = repairs = 0
        bad = False
        for sym in symbols:
            if sym == FRAME_END:
                events += 1
                repairs += w.slice(pending, FRAME, lenient=open_start and events <= OPEN_START_SLICES) | bad
                pending, bad = [], False
                continue
            try:
                pending.append(parse_pitch_token(sym))
            except ValueError:
                bad = True
        return Decoded(w.result(), events, repairs, w.time)

    def nearest(self, symbol: str, known: list[str]) -> str | None:
        return nearest_event(symbol, known)

    def grammar(self, symbols, batch, sampling, pieces=(), piece_shifts=None, row_shifts=None):
        # a grid repeats frames by design: no chord guard
        return EventGrammar(symbols, batch, 0, silent_frames=True, floor=texture(list(pieces), symbols))

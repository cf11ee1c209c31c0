"""`chords` (formerly `seed`, still accepted by that name): the original tutorial's symbols.

Each sounding slice becomes one symbol, a single pitch as its name with octave (`E-4`) and several
pitches as their normal-order pitch classes joined by dots (`0.4.7`, as music21's `Chord.normalOrder`).
Rests and durations are dropped; decoding places symbols `STEP` quarter notes apart. With `durations`,
each symbol also carries its slice's length (`0.4.7|1/2`) and rests are kept (`rest|1`); the network
then predicts the two parts with two softmaxes (`vocab.Factors`).

    python -c "from music_lstm.encodings.chords import chord_symbol; print(chord_symbol([60, 64, 67, 72]))"
"""

from __future__ import annotations

from ..core.events import Piece, Slice, slices
from .common import Decoded, Encoding, duration_text, parse_duration
from ..core.pitches import parse_pitch_name, pitch_name

STEP = 0.5  # quarter notes between decoded symbols without durations
REST = "rest"  # the symbol of a rest, with durations only
DUR_SEP = "|"  # a symbol with its duration: `E-4|1/2`


def normal_order(pitches) -> list[int]:
    """Normal order of the pitch-class set (Forte's rule: smallest span, then packed to the left).

    Agrees with music21's `Chord.normalOrder` on all 4,095 pitch-class sets.
    """
    pcs = sorted({p % 12 for p in pitches})
    n = len(pcs)
    rotations = [pcs[i:] + [p + 12 for p in pcs[:i]] for i in range(n)]
    best = min(rotations, key=lambda r: (r[-1] - r[0],) + tuple(r[k] - r[0] for k in range(1, n)))
    return [p % 12 for p in best]


def chord_symbol(pitches) -> str:
    return ".".join(str(pc) for pc in normal_order(pitches))


def slice_symbol(s: Slice) -> str:
    return pitch_name(s.pitches[0]) if len(s.pitches) == 1 else chord_symbol(s.pitches)


def split_duration(symbol: str) -> tuple[str, float | None]:
    """`0.4.7|1/2` -> ("0.4.7", 0.5); a symbol without a duration -> (symbol, None). ValueError if bad."""
    if DUR_SEP not in symbol:
        return symbol, None
    head, _, dur = symbol.partition(DUR_SEP)
    return head, parse_duration(dur)


def voice_chord(pcs: list[int], low: int = 57) -> list[int]:
    """Pitch classes stacked upwards from the first one's lowest pitch at or above `low` (A3)."""
    out: list[int] = []
    for pc in pcs:
        base = out[-1] + 1 if out else low
        out.append(base + (pc - base) % 12)
    return out


def symbol_pitches(symbol: str) -> list[int]:
    """The MIDI pitches a symbol is written as; raises ValueError for a malformed symbol."""
    if symbol and symbol[0].isdigit():
        pcs = [int(x) for x in symbol.split(".")]
        if any(not 0 <= pc < 12 for pc in pcs):
            raise ValueError(f"not a chord symbol: {symbol!r}")
        return voice_chord(pcs)
    return [parse_pitch_name(symbol)]


class Chords(Encoding):
    name = "chords"

    def __init__(self, durations: bool = False):
        self.durations = durations

    def encode(self, piece: Piece) -> list[str]:
        """One symbol per sounding slice of the piece (rests skipped unless `durations`)."""
        if not self.durations:
            return [slice_symbol(s) for s in slices(piece.notes) if not s.is_rest]
        return [f"{REST if s.is_rest else slice_symbol(s)}{DUR_SEP}{duration_text(s.duration)}"
                for s in slices(piece.notes)]

    def decode(self, symbols: list[str], open_start: bool = False) -> Decoded:
        """Notes for the symbols, each lasting its own duration or `STEP`; malformed symbols are skipped
        (and counted as repairs). A symbol is a whole slice, so `open_start` changes nothing."""
        notes, time, repairs = [], 0.0, 0
        for sym in symbols:
            try:
                head, dur = split_duration(sym)
                pitches = [] if head == REST and dur is not None else symbol_pitches(head)
            except ValueError:
                repairs += 1
                continue
            dur = STEP if dur is None else dur
            notes.extend((time, dur, p) for p in pitches)
            time += dur
        return Decoded(notes, len(symbols), repairs, time)

    def nearest(self, symbol: str, known: list[str]) -> str | None:
        """Shared pitch classes first, then closeness in pitch, then in duration."""
        try:
            head, tdur = split_duration(symbol)
            target = [] if head == REST else symbol_pitches(head)
        except ValueError:
            return None
        tpcs = {p % 12 for p in target}
        tmean = sum(target) / len(target) if target else 0.0

        def distance(other: str) -> tuple[float, float, float]:
            ohead, odur = split_duration(other)
            if (odur is None) != (tdur is None) or (ohead == REST) != (head == REST):
                raise ValueError("another kind of symbol")
            dur_gap = abs((odur or 0) - (tdur or 0))
            if head == REST:
                return (0.0, 0.0, dur_gap)
            pitches = symbol_pitches(ohead)
            pcs = {p % 12 for p in pitches}
            return (1 - len(tpcs & pcs) / len(tpcs | pcs), abs(sum(pitches) / len(pitches) - tmean), dur_gap)

        candidates = []
        for k in known:
            try:
                candidates.append((distance(k), k))
            except ValueError:
                continue
        return min(candidates)[1] if candidates else None

    def transpositions(self, piece: Piece, shifts: list[int]) -> list[list[str]]:
        """Without durations the symbols depend only on which pitches sound in each onset slice: the
        slices are cut once and their pitches shifted, which gives exactly `encode(piece.transpose(s))`
        at a fraction of the cost."""
        if self.durations:
            return super().transpositions(piece, shifts)
        original = self.encode(piece)
        pitches = [p for _, _, p in piece.notes]
        cut = [s for s in slices(piece.notes) if not s.is_rest]
        memo: dict[tuple, str] = {}
        out = []
        for k in shifts:
            if k == 0 or not pitches or not (0 <= min(pitches) + k and max(pitches) + k <= 127):
                out.append(original)
                continue
            syms = []
            for s in cut:
                key = tuple(p + k for p in s.pitches)
                if key not in memo:
                    memo[key] = slice_symbol(Slice(s.offset, s.duration, key, s.struck))
                syms.append(memo[key])
            out.append(syms)
        return out

"""Symbols for the network, and back: the `seed` encoding.

Pure Python over `events.Slice` lists. The seed encoding is the one the original tutorial used: each
sounding slice becomes one symbol, a single pitch as its name with octave (`E-4`) and several pitches
as their normal-order pitch classes joined by dots (`0.4.7`, as music21's `Chord.normalOrder`). Rests
and durations are dropped; decoding places symbols `STEP` quarter notes apart.

    python -c "from music_lstm.encoding import chord_symbol; print(chord_symbol([60, 64, 67, 72]))"
"""

from __future__ import annotations

from .events import Piece, Slice, slices

NAMES = ("C", "C#", "D", "E-", "E", "F", "F#", "G", "G#", "A", "B-", "B")  # music21's default spelling
STEP = 0.5  # quarter notes between decoded seed symbols
ENCODINGS = ("seed",)


def pitch_name(midi: int) -> str:
    return f"{NAMES[midi % 12]}{midi // 12 - 1}"


def parse_pitch_name(name: str) -> int:
    """Inverse of `pitch_name`; raises ValueError on anything else."""
    for k in sorted(range(12), key=lambda k: -len(NAMES[k])):
        if name.startswith(NAMES[k]):
            rest = name[len(NAMES[k]):]
            if rest.lstrip("-").isdigit():
                midi = (int(rest) + 1) * 12 + k
                if 0 <= midi <= 127:
                    return midi
    raise ValueError(f"not a pitch name: {name!r}")


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


def encode_seed(piece: Piece) -> list[str]:
    """One symbol per sounding slice of the piece (rests skipped)."""
    return [slice_symbol(s) for s in slices(piece.notes) if not s.is_rest]


def voice_chord(pcs: list[int], low: int = 57) -> list[int]:
    """Pitch classes stacked upwards from the first one's lowest pitch at or above `low` (A3)."""
    out: list[int] = []
    for pc in pcs:
        base = out[-1] + 1 if out else low
        out.append(base + (pc - base) % 12)
    return out


def symbol_pitches(symbol: str) -> list[int]:
    """The MIDI pitches a seed symbol is written as; raises ValueError for a malformed symbol."""
    if symbol and symbol[0].isdigit():
        pcs = [int(x) for x in symbol.split(".")]
        if any(not 0 <= pc < 12 for pc in pcs):
            raise ValueError(f"not a chord symbol: {symbol!r}")
        return voice_chord(pcs)
    return [parse_pitch_name(symbol)]


def decode_seed(symbols: list[str]) -> list[tuple[float, float, int]]:
    """Notes `(offset, duration, pitch)` for seed symbols, `STEP` apart; malformed symbols are skipped."""
    notes = []
    for i, sym in enumerate(symbols):
        try:
            pitches = symbol_pitches(sym)
        except ValueError:
            continue
        notes.extend((i * STEP, STEP, p) for p in pitches)
    return notes


def nearest_symbol(symbol: str, known: list[str], encoding: str) -> str | None:
    """The known symbol that sounds most like `symbol` (shared pitch classes, then closeness in pitch)."""
    try:
        target = symbol_pitches(symbol)
    except ValueError:
        return None
    tpcs = {p % 12 for p in target}
    tmean = sum(target) / len(target)

    def distance(other: str) -> tuple[float, float]:
        pitches = symbol_pitches(other)
        pcs = {p % 12 for p in pitches}
        return (1 - len(tpcs & pcs) / len(tpcs | pcs), abs(sum(pitches) / len(pitches) - tmean))

    candidates = []
    for k in known:
        try:
            candidates.append((distance(k), k))
        except ValueError:
            continue
    return min(candidates)[1] if candidates else None


def encode(piece: Piece, encoding: str) -> list[str]:
    if encoding == "seed":
        return encode_seed(piece)
    raise ValueError(f"unknown encoding {encoding!r} (choose from {', '.join(ENCODINGS)})")


def decode(symbols: list[str], encoding: str) -> list[tuple[float, float, int]]:
    if encoding == "seed":
        return decode_seed(symbols)
    raise ValueError(f"unknown encoding {encoding!r} (choose from {', '.join(ENCODINGS)})")

"""Symbols for the network, and back: the encodings (`seed` here, `voiced` and `grid` in `polyphony`).

Pure Python over `events.Slice` lists. The seed encoding is the one the original tutorial used: each
sounding slice becomes one symbol, a single pitch as its name with octave (`E-4`) and several pitches
as their normal-order pitch classes joined by dots (`0.4.7`, as music21's `Chord.normalOrder`). Rests
and durations are dropped; decoding places symbols `STEP` quarter notes apart. With `durations`, each
symbol also carries its slice's length (`0.4.7|1/2`) and rests are kept (`rest|1`): one combined
symbol, so the network and its single softmax stay as they are.

    python -c "from music_lstm.encoding import chord_symbol; print(chord_symbol([60, 64, 67, 72]))"
"""

from __future__ import annotations

from .events import Piece, Slice, slices
from .polyphony import Decoded, decode_grid, decode_voiced, duration_text, encode_grid, encode_voiced, nearest_event, parse_duration

NAMES = ("C", "C#", "D", "E-", "E", "F", "F#", "G", "G#", "A", "B-", "B")  # music21's default spelling
STEP = 0.5  # quarter notes between decoded seed symbols
ENCODINGS = ("seed", "voiced", "grid")
REST = "rest"  # seed symbol of a rest, with durations only
DUR_SEP = "|"  # seed symbol with its duration: `E-4|1/2`


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


def encode_seed(piece: Piece, durations: bool = False) -> list[str]:
    """One symbol per sounding slice of the piece (rests skipped unless `durations`)."""
    if not durations:
        return [slice_symbol(s) for s in slices(piece.notes) if not s.is_rest]
    return [
        f"{REST if s.is_rest else slice_symbol(s)}{DUR_SEP}{duration_text(s.duration)}" for s in slices(piece.notes)
    ]


def split_duration(symbol: str) -> tuple[str, float | None]:
    """`0.4.7|1/2` -> ("0.4.7", 0.5); a symbol without a duration -> (symbol, None). ValueError if bad."""
    if DUR_SEP not in symbol:
        return symbol, None
    head, _, dur = symbol.partition(DUR_SEP)
    try:
        return head, parse_duration(dur)
    except ZeroDivisionError:
        raise ValueError(f"not a duration: {dur!r}") from None


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
    return decode_seed_report(symbols).notes


def decode_seed_report(symbols: list[str]) -> Decoded:
    """Notes for seed symbols, each lasting its own duration or `STEP`; malformed symbols are skipped
    (and counted as repairs)."""
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


def nearest_symbol(symbol: str, known: list[str], encoding: str) -> str | None:
    """The known symbol that sounds most like `symbol` (shared pitch classes, then closeness in pitch,
    then in duration); for `voiced`/`grid`, the nearest event of the same kind."""
    if encoding != "seed":
        return nearest_event(symbol, known)
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


def encode(piece: Piece, encoding: str, durations: bool = False) -> list[str]:
    """The piece as symbols; `durations` applies to the seed encoding (the others always have them)."""
    if encoding == "seed":
        return encode_seed(piece, durations)
    if encoding == "voiced":
        return encode_voiced(piece)
    if encoding == "grid":
        return encode_grid(piece)
    raise ValueError(f"unknown encoding {encoding!r} (choose from {', '.join(ENCODINGS)})")


ENCODER_VERSION = 2  # part of the cached symbols' key: bump whenever an encoder's output changes


def encoder_spec(encoding: str, durations: bool = False) -> str:
    """One string naming an encoder with its options (`seed`, `seed+durations`, `voiced`), for caches."""
    return f"{encoding}+durations" if durations else encoding


def encode_spec(piece: Piece, spec: str) -> list[str]:
    """`encode` as an `encoder_spec` string says."""
    name, _, option = spec.partition("+")
    return encode(piece, name, durations=option == "durations")


def decode_report(symbols: list[str], encoding: str, open_start: bool = False) -> Decoded:
    """Notes, plus how many events were decoded and how many of them had to be repaired.
    `open_start`: the symbols were cut from the middle of a piece (see `polyphony.OPEN_START_SLICES`)."""
    if encoding == "seed":
        return decode_seed_report(symbols)
    if encoding == "voiced":
        return decode_voiced(symbols, open_start)
    if encoding == "grid":
        return decode_grid(symbols, open_start)
    raise ValueError(f"unknown encoding {encoding!r} (choose from {', '.join(ENCODINGS)})")


def decode_continuation(context: list[str], symbols: list[str], encoding: str) -> Decoded:
    """Decode `symbols` as the continuation of `context` (the prompt): a held note or a slice begun in
    the prompt is read in its context, not repaired; the result starts at 0 where the prompt ends."""
    before = decode_report(context, encoding, open_start=True)
    whole = decode_report(list(context) + list(symbols), encoding, open_start=True)
    start = before.end
    notes = sorted(
        (round(max(o, start) - start, 6), round(o + d - max(o, start), 6), p)
        for o, d, p in whole.notes
        if o + d > start + 1e-6
    )
    return Decoded(notes, whole.events - before.events, whole.repairs - before.repairs, whole.end - start)


def decode(symbols: list[str], encoding: str) -> list[tuple[float, float, int]]:
    """Notes `(offset, duration, pitch)` in quarter notes."""
    return decode_report(symbols, encoding).notes

"""The polyphonic event encodings, `voiced` and `grid`, and their repairing decoder.

Both keep every voice's octave, every duration and every rest, with about a hundred symbols:

* pitch events: a pitch name for a newly struck note (`E-4`), with `~` for one held over (`E-4~`);
* `voiced`: for each onset slice of the chordified piece, its sounding pitches from high to low, then
  one duration event (`d1/2`: quarter notes to the next slice); a rest is its own event (`r1`);
* `grid` (BachBot's form): a fixed 16th-note grid; each frame lists its pitches high to low, then `|`.

Decoding never trusts the stream: an ill-formed event (a duration with no pitch, pitches out of
order or repeated, a held pitch that was not sounding, an unknown symbol) is repaired and counted, so
generated music is always well formed and the share of repaired events can be reported.

    python -c "from music_lstm.polyphony import encode_voiced; from music_lstm.events import Piece; print(encode_voiced(Piece([(0, 1, 64), (0, 2, 48), (1, 1, 65)])))"
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from .events import Piece, slices

HELD = "~"  # suffix of a pitch event that continues a note already sounding
FRAME_END = "|"  # grid: end of one 16th-note frame
FRAME = 0.25  # grid step in quarter notes
MAX_DENOMINATOR = 12  # durations are multiples of 1/12 quarter (16ths and triplets)



def pitch_token(midi: int, struck: bool) -> str:
    from .encoding import pitch_name  # encoding imports this module: import at call time

    return pitch_name(midi) + ("" if struck else HELD)


def duration_text(quarters: float) -> str:
    return str(Fraction(quarters).limit_denominator(MAX_DENOMINATOR))


def parse_duration(text: str) -> float:
    """`1/2` -> 0.5; raises ValueError unless a positive number of quarter notes."""
    value = float(Fraction(text))
    if not value > 0:
        raise ValueError(f"not a duration: {text!r}")
    return value


def parse_pitch_token(token: str) -> tuple[int, bool]:
    """`E-4~` -> (63, False); raises ValueError on anything else."""
    from .encoding import parse_pitch_name

    held = token.endswith(HELD)
    return parse_pitch_name(token[:-1] if held else token), not held


def encode_voiced(piece: Piece) -> list[str]:
    out: list[str] = []
    for s in slices(piece.notes):
        if s.is_rest:
            out.append("r" + duration_text(s.duration))
            continue
        out.extend(pitch_token(p, struck) for p, struck in zip(s.pitches, s.struck))
        out.append("d" + duration_text(s.duration))
    return out


def encode_grid(piece: Piece) -> list[str]:
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


@dataclass
class Decoded:
    notes: list[tuple[float, float, int]]  # (offset, duration, pitch), quarter notes
    events: int  # slices (voiced) or frames (grid) decoded
    repairs: int  # of those, how many were ill-formed and repaired
    end: float = 0.0  # time after the last event, quarter notes (a final rest included)

    @property
    def repair_fraction(self) -> float:
        return self.repairs / self.events if self.events else 0.0


class _Writer:
    """Turns (pitches, struck, duration) slices into notes, extending held notes."""

    def __init__(self):
        self.notes: list[list] = []  # [offset, duration, pitch]
        self.sounding: dict[int, int] = {}  # pitch -> index in notes, for the slice just written
        self.time = 0.0

    def slice(self, chord: list[tuple[int, bool]], duration: float, lenient: bool = False) -> bool:
        """Write one slice; returns True if it had to be repaired. `lenient`: a pitch held over from
        nothing is struck without counting as a repair (a stream cut from the middle of a piece)."""
        repaired = False
        ordered = sorted({p for p, _ in chord}, reverse=True)
        if [p for p, _ in chord] != ordered:
            repaired = True  # out of order or a pitch twice: keep each pitch once, high to low
        struck_of = {}
        for p, struck in chord:
            struck_of[p] = struck_of.get(p, False) or struck
        now: dict[int, int] = {}
        for p in ordered:
            if not struck_of[p] and p in self.sounding:
                i = self.sounding[p]
                self.notes[i][1] += duration
            else:
                if not struck_of[p] and not lenient:
                    repaired = True  # held over from nothing: strike it
                i = len(self.notes)
                self.notes.append([self.time, duration, p])
            now[p] = i
        self.sounding = now
        self.time += duration
        return repaired

    def result(self) -> list[tuple[float, float, int]]:
        return sorted((round(o, 6), round(d, 6), p) for o, d, p in self.notes)


# A stream cut from the middle of a piece (`open_start`) may begin inside a slice, and the first whole
# slice may hold notes struck before the cut: in that many slices, held-over-from-nothing is no error.
OPEN_START_SLICES = 2


def decode_voiced(symbols: list[str], open_start: bool = False) -> Decoded:
    w = _Writer()
    pending: list[tuple[int, bool]] = []
    events = repairs = 0
    bad_since_last = False  # an unknown symbol inside the slice being read
    for sym in symbols:
        kind = sym[:1]
        if kind in ("d", "r") and sym[1:2].isdigit():
            try:
                dur = parse_duration(sym[1:])
            except (ValueError, ZeroDivisionError):
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


def decode_grid(symbols: list[str], open_start: bool = False) -> Decoded:
    w = _Writer()
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


def classify(token: str) -> tuple[str, int | float | None, bool]:
    """(kind, value, struck) of a symbol: ('pitch', midi, struck), ('duration'|'rest', quarters) or ('end'|'bad')."""
    if token == FRAME_END:
        return "end", None, True
    if token[:1] in ("d", "r") and token[1:2].isdigit():
        try:
            return ("duration" if token[0] == "d" else "rest"), parse_duration(token[1:]), True
        except (ValueError, ZeroDivisionError):
            return "bad", None, True
    try:
        p, struck = parse_pitch_token(token)
        return "pitch", p, struck
    except ValueError:
        return "bad", None, True


def nearest_event(token: str, known: list[str]) -> str | None:
    """The known symbol of the same kind closest in value (a pitch keeps struck/held if it can)."""
    kind, value, struck = classify(token)
    if kind == "bad":
        return None
    best = None
    for k in known:
        k_kind, k_value, k_struck = classify(k)
        if k_kind != kind:
            continue
        score = (0.0 if value is None else abs(k_value - value), k_struck != struck)
        if best is None or score < best[0]:
            best = (score, k)
    return best[1] if best else None


MAX_VOICES = 8  # most pitches one slice may hold while sampling (the chorales have at most 9, rarely)


class Grammar:
    """What may come next in a voiced or grid stream, per row of a batch, as a ban mask for sampling.

    Pitches within a slice fall strictly; a held pitch must have sounded in the slice before; a
    duration needs a pitch before it and a rest none. Sampling under this mask writes only
    well-formed streams, so the decoder's repairs stay for primers and hand-written input.

    Two guards keep the texture of the music being continued (voiced only for the second):
    `limit_voices` caps the pitches per slice at the most the prompt had (and at least `floor`, the
    training pieces' usual texture), and `max_chord_repeat` stops the same chord (the same sounding
    pitches at consecutive onsets) from following itself more than that many times (0 = no guard).
    """

    def __init__(self, symbols: list[str], encoding: str, batch: int, max_chord_repeat: int = 0):
        kinds = [classify(s) for s in symbols]
        n = len(symbols)
        self.is_pitch = np.array([k == "pitch" for k, _, _ in kinds])
        self.pitch = np.array([v if k == "pitch" else -1 for k, v, _ in kinds])
        self.struck = np.array([s for _, _, s in kinds])
        self.closes = np.array([k in ("duration", "end") for k, _, _ in kinds])  # ends a sounding slice
        self.rest = np.array([k == "rest" for k, _, _ in kinds])
        self.grid = encoding == "grid"
        self.unusable = ~(self.is_pitch | self.closes | self.rest)  # <unk> and malformed symbols
        self.size = n
        self.max_voices = np.full(batch, MAX_VOICES)
        self.max_chord_repeat = 0 if self.grid else max_chord_repeat  # a grid repeats frames by design
        self.pending = [[] for _ in range(batch)]  # pitches of the slice being written
        self.pending_struck = [False] * batch  # does the slice being written strike a note (an onset)?
        self.previous = [np.zeros(128, bool) for _ in range(batch)]  # pitches of the slice before
        self.last_chord = [() for _ in range(batch)]  # sounding pitches at the last onset
        self.chord_run = np.zeros(batch, np.int64)  # onsets in a row with those same pitches
        self.widest = np.zeros(batch, np.int64)  # most pitches in one slice fed so far

    def feed(self, ids) -> None:
        for row, i in enumerate(np.asarray(ids).tolist()):
            if self.is_pitch[i]:
                self.pending[row].append(int(self.pitch[i]))
                self.pending_struck[row] |= bool(self.struck[i])
            elif self.closes[i] or self.rest[i]:
                pending = self.pending[row]
                if self.pending_struck[row]:  # an onset; a rest or a slice of held notes only is no new chord
                    chord = tuple(pending)
                    self.chord_run[row] = self.chord_run[row] + 1 if chord == self.last_chord[row] else 1
                    self.last_chord[row] = chord
                self.widest[row] = max(self.widest[row], len(pending))
                prev = np.zeros(128, bool)
                prev[pending] = True
                self.previous[row], self.pending[row], self.pending_struck[row] = prev, [], False

    def limit_voices(self, floor: int) -> None:
        """Cap each row's pitches per slice at the most it has had so far (the prompt), at least `floor`."""
        self.max_voices = np.clip(np.maximum(self.widest, floor), 1, MAX_VOICES)

    def ban(self) -> np.ndarray:
        """(batch, vocab) bool: True where a symbol would break the grammar."""
        out = np.zeros((len(self.pending), self.size), bool)
        safe_pitch = np.clip(self.pitch, 0, 127)
        for row, pending in enumerate(self.pending):
            lowest = pending[-1] if pending else 128
            ok_pitch = self.is_pitch & (self.pitch < lowest) & (self.struck | self.previous[row][safe_pitch])
            if len(pending) >= self.max_voices[row]:
                ok_pitch[:] = False
            last = self.last_chord[row]
            if self.max_chord_repeat and self.chord_run[row] > self.max_chord_repeat and last and tuple(pending) == last[:-1]:
                ok_pitch &= self.pitch != last[-1]  # this pitch would complete the same chord once more
            ok = ok_pitch | self.rest & (not pending)
            ok |= self.closes & (bool(pending) or self.grid)  # a grid frame may be silent
            out[row] = ~ok | self.unusable
        return out


def texture(pieces: list[np.ndarray], symbols: list[str]) -> int:
    """The usual most pitches in one slice of a piece: the median over `pieces` (id arrays)."""
    kinds = _kinds(symbols)
    is_pitch, bounds = kinds == "pitch", np.isin(kinds, ("duration", "end", "rest"))
    widest = []
    for ids in pieces:
        if not len(ids):
            continue
        count = np.cumsum(is_pitch[ids])
        at = count[np.flatnonzero(bounds[ids])]
        widest.append(int(np.diff(at, prepend=0).max()) if len(at) else int(count[-1]))
    return int(np.median(widest)) if widest else MAX_VOICES


def rhythm_symbols(symbols: list[str], encoding: str) -> np.ndarray | None:
    """(vocab,) bool: the duration and rest events of a voiced vocabulary; None for other encodings
    (a grid's rhythm lies in its held marks, a seed symbol's in the symbol itself)."""
    if encoding != "voiced":
        return None
    return np.isin(_kinds(symbols), ("duration", "rest"))


def _kinds(symbols: list[str]) -> np.ndarray:
    """(vocab,) str: each symbol's kind as `classify` names it."""
    return np.array([classify(s)[0] for s in symbols])

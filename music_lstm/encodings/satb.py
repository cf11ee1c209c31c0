"""The `satb` encoding: four sung lines (soprano, alto, tenor, bass), each kept as a line.

The texture is cut at every onset and release of any voice. Each cut becomes a group of five
symbols: one slot per voice in a fixed order (`ORDER`, soprano first by default), then the group's
length in quarter notes (`d1/2`). A slot holds the voice's pitch, struck (`E-4`) or held over from the
group before (`E-4~`), or `rest`. The slot is known from the position in the group, so pitch symbols
are shared by the four voices, and two voices on one pitch stay two symbols.

    S    A    T    B    length
    E-5  C5   G4   C3   d1
    D5   C5~  F#4  D3   d1/2

Decoding never trusts the stream: a group with too few or too many slots, a held pitch its voice was
not sounding, or an unknown symbol is repaired and counted. `Grammar` is the matching ban mask for
sampling: under it every stream decodes with no repair. Optionally it also keeps the voices from
crossing, inside given ranges, and refuses parallel perfect fifths, octaves and unisons between any
two voices (the voice-leading guard).

`SATB` is the `Encoding` the rest of the package uses (`--encoding satb`, the default).

    python -c "from music_lstm.encodings.satb import encode_satb; print(encode_satb([[(0, 2, 72)], [(0, 1, 67), (1, 1, 65)], [(0, 2, 64)], [(0, 2, 48)]]))"
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from ..core.errors import EncodingError
from ..core.events import GRID, MAX_DENOMINATOR, Note, Piece, common_length, on_grid, quantize
from ..core.lines import monophonic
from ..core.pitches import LEAP, parse_pitch_name, pitch_name
from ..core.ranges import RANGE_PERCENTILES, voice_ranges
from .common import Decoded, Encoding, nearest_of_kind
from .common import Grammar as BaseGrammar

VOICES = "SATB"  # the voices' names, and their index in every returned tuple of lines
ORDER = "SATB"  # the slot order within a group; any permutation of VOICES works (e.g. "BSAT")
HELD = "~"  # suffix of a pitch held over from the group before
REST = "rest"  # a voice that is silent in this group
DUR = "d"  # prefix of a group's length: `d1/2`
BEAT = 1.0  # quarter notes: `keep_beat` lets no group begun between two beats sound past the next one
EIGHTH = 0.5  # and no note struck between two eighths sound past the next one
PERFECT = (0, 7)  # interval classes the guard refuses to move into in parallel: unison/octave, fifth
CLASHES = (1, 11)  # interval classes `no_clash` refuses between two voices struck together: a 2nd, a 7th


def _check_order(order: str) -> list[int]:
    if sorted(order) != sorted(VOICES):
        raise ValueError(f"invalid voice order: {order!r} (a permutation of {VOICES})")
    return [VOICES.index(v) for v in order]


def duration_symbol(quarters: float) -> str:
    return DUR + str(Fraction(quarters).limit_denominator(MAX_DENOMINATOR))


def encode_satb(voices: Sequence[Sequence[Note]], order: str = ORDER) -> list[str]:
    """Four lines (soprano, alto, tenor, bass: lists of (offset, duration, pitch)) as symbols; the
    first group starts at the first onset. A line with overlapping notes is made monophonic first."""
    if len(voices) != len(VOICES):
        raise ValueError(f"need {len(VOICES)} voices (S, A, T, B), got {len(voices)}")
    slots = _check_order(order)
    lines = [monophonic(v, on_grid=True) for v in voices]
    bounds = sorted({t for line in lines for o, d, _ in line for t in (o, quantize(o + d))})
    out: list[str] = []
    at = [0] * len(lines)  # per voice: the first note not yet over
    for a, b in zip(bounds, bounds[1:]):
        tokens = []
        for v, line in enumerate(lines):
            while at[v] < len(line) and quantize(line[at[v]][0] + line[at[v]][1]) <= a:
                at[v] += 1
            if at[v] < len(line) and line[at[v]][0] <= a:
                o, _, p = line[at[v]]
                tokens.append(pitch_name(p) + ("" if o == a else HELD))
            else:
                tokens.append(REST)
        out.extend(tokens[v] for v in slots)
        out.append(duration_symbol(b - a))
    return out


def classify(symbol: str) -> tuple[str, float | int | None, bool]:
    """(kind, value, struck): ('pitch', midi, struck), ('rest', None, True), ('duration', quarters,
    True) or ('bad', None, True)."""
    if symbol == REST:
        return "rest", None, True
    if symbol.startswith(DUR) and symbol[1:2].isdigit():
        try:
            value = float(Fraction(symbol[1:]))
        except (ValueError, ZeroDivisionError):
            return "bad", None, True
        return ("duration", value, True) if value > 0 else ("bad", None, True)
    held = symbol.endswith(HELD)
    try:
        return "pitch", parse_pitch_name(symbol[:-1] if held else symbol), not held
    except ValueError:
        return "bad", None, True


@dataclass
class SATBDecoded:
    voices: tuple[list[Note], ...]  # soprano, alto, tenor, bass: (offset, duration, pitch) each
    events: int  # groups decoded
    repairs: int  # of those, how many were ill-formed and repaired
    end: float = 0.0  # time after the last group, quarter notes

    @property
    def notes(self) -> list[Note]:
        """Every voice's notes together, sorted."""
        return sorted(n for line in self.voices for n in line)

    @property
    def repair_fraction(self) -> float:
        return self.repairs / self.events if self.events else 0.0


def decode_satb(symbols: Sequence[str], open_start: bool = False, order: str = ORDER) -> SATBDecoded:
    """The four lines a stream of symbols stands for.

    Repairs (each group counted once): missing slots are rests, slots past the fourth are dropped, a
    held pitch its voice was not sounding is struck, an unknown symbol is dropped. `open_start`: the
    stream was cut from the middle of a piece, so the symbols before the first length belong to a
    group begun before the cut (dropped, as their voices are unknown) and the first whole group may
    hold notes struck before the cut. Slots after the last length were cut off: not written.
    """
    slots = _check_order(order)
    notes: list[list[list]] = [[] for _ in VOICES]  # per voice: [offset, duration, pitch]
    sounding: list[list | None] = [None] * len(VOICES)  # per voice: its note in the group before
    time = 0.0
    events = repairs = 0
    pending: list[tuple[int, bool] | None] = []  # (pitch, struck) or None for a rest, in slot order
    bad = False
    skipping = open_start  # inside the group begun before the cut
    for sym in symbols:
        kind, value, struck = classify(sym)
        if kind == "bad":
            bad = True
            continue
        if kind != "duration":
            pending.append(None if kind == "rest" else (value, struck))
            continue
        if skipping:
            skipping = False
            if len(pending) != len(slots) or bad:  # a group begun before the cut: its voices are unknown
                pending, bad = [], False
                continue
        events += 1
        repaired = bad or len(pending) != len(slots)
        pending = (pending + [None] * len(slots))[: len(slots)]
        lenient = open_start and events == 1
        for k, token in enumerate(pending):
            v = slots[k]
            if token is None:
                sounding[v] = None
                continue
            pitch, is_struck = token
            note = sounding[v]
            if not is_struck and note is not None and note[2] == pitch:
                note[1] += value
                continue
            if not is_struck and not lenient:
                repaired = True  # held over from nothing: strike it
            sounding[v] = [time, value, pitch]
            notes[v].append(sounding[v])
        time += value
        repairs += repaired
        pending, bad = [], False
    voices = tuple(sorted((round(o, 6), round(d, 6), p) for o, d, p in line) for line in notes)
    return SATBDecoded(voices, events, repairs, time)


def nearest_satb(symbol: str, known: Sequence[str]) -> str | None:
    """The known symbol of the same kind closest in value (a pitch keeps struck/held if it can);
    None for a malformed symbol or when no known symbol has its kind."""
    return nearest_of_kind(symbol, known, classify)


def rhythm_mask(symbols: Sequence[str]) -> np.ndarray:
    """(vocab,) bool: the length symbols, which the sampler may temper on their own."""
    return np.array([classify(s)[0] == "duration" for s in symbols])


class Grammar(BaseGrammar):
    """What may come next in a satb stream, per row of a batch, as a ban mask for sampling.

    Always: a group is four slots then a length; a slot is a struck pitch, the pitch its voice sounded
    in the group before with the held mark, or a rest. Options: `ranges` (per voice, S A T B, the
    lowest and highest pitch it may strike), `no_crossing` (a voice never above the sounding voice
    over it or below the one under it; unisons allowed), and `guard` (no two voices moving in the
    same direction from a perfect fifth, octave or unison into the same interval; and, between soprano and
    bass, no hidden fifth or octave: both moving the same way into a perfect interval they did not
    leave, the soprano by a leap), and `no_clash` (no
    minor second or major seventh, in any octave, between two voices struck together; a held voice
    against a struck one, as in a suspension, stays allowed). These options only ever ban pitches, and a
    rest is always allowed, so a row can never be left without a choice. `keep_beat` keeps the metre: a
    group that begins between two beats ends by the next beat (no voice enters off the beat and sounds
    across it without another voice striking on it: every slice of the four-part chorales keeps this, but
    one 12/8 chorale), so music keeps its place in the bar, and where no length of the vocabulary fits,
    no length is banned; and a note struck between two eighths (a sixteenth's passing or neighbour note)
    is not held past the next eighth, as in the chorales. `common_lengths`: a note whose length so far
    the chorales hardly use (`core.events.common_length`) is held on, neither struck again nor rested,
    where its held symbol is in the vocabulary: no dotted eighths or notes of 7/4. Symbols the grammar
    cannot read (`<unk>`) are always banned.

    `position` holds, per row, where the next group begins in quarter notes: from the lengths fed, after
    the lengths of the music before the prompt (`prime(prompt, before=...)`).
    """

    def __init__(self, symbols: Sequence[str], batch: int, order: str = ORDER, guard: bool = False,
                 no_crossing: bool = False, ranges: Sequence[tuple[int, int]] | None = None, no_clash: bool = False,
                 keep_beat: bool = False, range_offsets: Sequence[int] | None = None, common_lengths: bool = False):
        self.slots = _check_order(order)
        kinds = [classify(s) for s in symbols]
        self.is_pitch = np.array([k == "pitch" for k, _, _ in kinds])
        self.is_rest = np.array([k == "rest" for k, _, _ in kinds])
        self.is_dur = np.array([k == "duration" for k, _, _ in kinds])
        self.pitch = np.array([v if k == "pitch" else -1000 for k, v, _ in kinds], np.int64)
        self.length = np.array([v if k == "duration" else 0.0 for k, v, _ in kinds], float)
        self.struck = np.array([s for _, _, s in kinds]) & self.is_pitch
        self.held = self.is_pitch & ~self.struck
        self.guard, self.no_crossing, self.no_clash, self.keep_beat = guard, no_crossing, no_clash, keep_beat
        self.common_lengths = common_lengths
        n = len(VOICES)
        self.in_range = np.ones((batch, n, len(symbols)), bool)  # per row: its ranges moved by its offset
        if ranges is not None:
            if len(ranges) != n:
                raise ValueError(f"need {n} ranges (S, A, T, B), got {len(ranges)}")
            offsets = np.zeros(batch, np.int64) if range_offsets is None else np.asarray(range_offsets, np.int64)
            for v, (low, high) in enumerate(ranges):
                self.in_range[:, v] = (self.pitch >= low + offsets[:, None]) & (self.pitch <= high + offsets[:, None])
        self.synced = np.zeros(batch, bool)  # has a length been seen (so slot counting is right)?
        self.filled = np.zeros(batch, np.int64)  # slots written in the group being written
        self.current = np.full((batch, n), -1, np.int64)  # per voice: pitch in this group (-1 rest/unwritten)
        self.current_struck = np.zeros((batch, n), bool)  # per voice: struck in this group
        self.previous = np.full((batch, n), -1, np.int64)  # per voice: pitch in the group before
        self.position = np.zeros(batch)  # quarter notes: where the next group begins
        self.struck_at = np.full((batch, n), np.nan)  # per voice: where its sounding note was struck (nan: unseen)

    def prime(self, prompt: np.ndarray, before: Sequence[np.ndarray] | None = None) -> None:
        """Read the prompt (batch, steps); `before`, per row, the ids of the music the prompt continues
        (e.g. the piece a random window was cut from, up to the window), which places it in the bar."""
        if before is not None:
            self.position = np.array([self.length[np.asarray(b, np.int64)].sum() for b in before], float)
        super().prime(prompt)

    def feed(self, ids) -> None:
        for row, i in enumerate(np.asarray(ids).tolist()):
            self.position[row] += self.length[i]
            if self.is_dur[i]:
                if self.synced[row]:
                    self.previous[row] = self.current[row]
                self.synced[row] = True
                self.current[row], self.current_struck[row], self.filled[row] = -1, False, 0
            elif (self.is_pitch[i] or self.is_rest[i]) and self.filled[row] < len(self.slots):
                self.current[row, self.slots[self.filled[row]]] = self.pitch[i] if self.is_pitch[i] else -1
                self.current_struck[row, self.slots[self.filled[row]]] = self.struck[i]
                if self.struck[i]:
                    self.struck_at[row, self.slots[self.filled[row]]] = self.position[row]
                self.filled[row] += 1

    def select(self, rows: np.ndarray) -> None:
        """Keep the state of `rows` (one index per new row): a beam search's survivors."""
        for name in ("synced", "filled", "current", "current_struck", "previous", "position", "struck_at", "in_range"):
            setattr(self, name, getattr(self, name)[rows])

    def ban(self) -> np.ndarray:
        """(batch, vocab) bool: True where a symbol would break the grammar (or an option)."""
        rows, size = len(self.filled), len(self.is_pitch)
        out = np.ones((rows, size), bool)
        for row in range(rows):
            if not self.synced[row]:  # a prompt cut mid-group: only what any group may hold
                out[row] = ~(self.is_pitch | self.is_rest | self.is_dur)
                continue
            k = self.filled[row]
            if k >= len(self.slots):
                out[row] = ~(self.is_dur & self._on_the_beat(self.position[row]))
                continue
            v = self.slots[k]
            before = self.previous[row, v]
            if self.common_lengths and before >= 0 and not common_length(self.position[row] - self.struck_at[row, v]):
                hold = self.held & (self.pitch == before)
                if hold.any():
                    out[row] = ~hold
                    continue
            ok = self.is_pitch & ((self.struck & self.in_range[row, v]) | (self.held & (self.pitch == before)))
            if self.keep_beat and on_grid(self.position[row], EIGHTH) and not on_grid(np.nan_to_num(self.struck_at[row, v]), EIGHTH):
                ok &= ~self.held  # a note struck between two eighths is over by the next one
            cur = self.current[row]
            written = [self.slots[j] for j in range(k)]
            if self.no_crossing:
                above = [cur[u] for u in written if u < v and cur[u] >= 0]
                below = [cur[u] for u in written if u > v and cur[u] >= 0]
                if above:
                    ok &= self.pitch <= min(above)
                if below:
                    ok &= self.pitch >= max(below)
            if self.no_clash:
                for u in written:
                    if self.current_struck[row, u]:
                        ok &= ~(self.struck & np.isin(np.abs(cur[u] - self.pitch) % 12, CLASHES))
            if self.guard and before >= 0:
                motion = np.sign(self.pitch - before)
                for u in written:
                    if cur[u] < 0 or self.previous[row, u] < 0 or cur[u] == self.previous[row, u]:
                        continue
                    interval = abs(self.previous[row, u] - before) % 12
                    if interval not in PERFECT:
                        continue
                    same_way = motion == np.sign(cur[u] - self.previous[row, u])
                    ok &= ~(same_way & (np.abs(cur[u] - self.pitch) % 12 == interval))
                ok &= ~self._hidden(row, v, before)
            out[row] = ~(ok | self.is_rest)
        return out

    def _hidden(self, row: int, v: int, before: int) -> np.ndarray:
        """(vocab,) bool: the pitches for voice `v` that would make a hidden fifth or octave between
        soprano and bass, the other of the two already written in this group (none otherwise)."""
        other = {0: 3, 3: 0}.get(v)
        if other is None or other not in self.slots[:self.filled[row]]:
            return np.zeros(len(self.pitch), bool)
        was, now = self.previous[row, other], self.current[row, other]
        if was < 0 or now < 0 or now == was:
            return np.zeros(len(self.pitch), bool)
        motion = np.sign(self.pitch - before)
        after = np.abs(now - self.pitch) % 12
        soprano_move = np.abs(self.pitch - before) if v == 0 else np.full(len(self.pitch), abs(now - was))
        return (self.struck & (motion == np.sign(now - was)) & np.isin(after, PERFECT)
                & (after != abs(was - before) % 12) & (soprano_move > LEAP))

    def _on_the_beat(self, start: float) -> np.ndarray:
        """(vocab,) bool: the lengths `keep_beat` allows a group begun at `start` (all, without it)."""
        if not self.keep_beat or on_grid(start, BEAT):
            return np.ones(len(self.length), bool)
        fits = self.length <= BEAT - start % BEAT + GRID * 10
        return fits if (fits & self.is_dur).any() else np.ones(len(self.length), bool)


class SATB(Encoding):
    """Four sung lines, one group of four slots and a length per onset or release (the module's layout).
    Sampling keeps the grammar, each voice inside its training range, and by default refuses parallel
    perfect intervals and clashing seconds between voices struck together (`sampling.Sampling`)."""

    name = "satb"
    voices = 4
    empty_hint = "the satb encoding needs files of four parts (soprano, alto, tenor, bass); use --encoding voiced for other music"

    def default_sampling(self):
        """Chosen on the musical and voice-leading measurements of the default run (docs/BENCHMARKS.md, "Four voices")."""
        from ..core.sampling import Sampling

        return Sampling(temperature=0.8, rhythm_temperature=0.8)

    def encode(self, piece: Piece) -> list[str]:
        if piece.voices is None:
            raise EncodingError(f"no four voices: {piece.no_voices or 'the file gives none'}")
        return encode_satb(piece.voices)

    def decode(self, symbols: list[str], open_start: bool = False) -> Decoded:
        d = decode_satb(symbols, open_start=open_start)
        return Decoded(d.notes, d.events, d.repairs, d.end, voices=[list(v) for v in d.voices])

    def nearest(self, symbol: str, known: list[str]) -> str | None:
        return nearest_satb(symbol, known)

    def rhythm_mask(self, symbols: list[str]) -> np.ndarray:
        return rhythm_mask(symbols)

    def grammar(self, symbols, batch, sampling, pieces=(), piece_shifts=None, row_shifts=None):
        """`Grammar` with each voice inside the 1st-99th percentile of its pitches in `pieces` (the
        training pieces as id arrays over `symbols`), and the guards `sampling` turns on. Pieces moved
        by `piece_shifts` semitones (a common-key run) give the ranges of their own keys, and each row
        moved by `row_shifts` gets them moved as much: music moved back lies in the pieces' ranges."""
        try:
            ranges = voice_ranges([training_voices(symbols, pieces, shifts=piece_shifts)], *RANGE_PERCENTILES)
        except ValueError:  # a voice with no note in the training pieces: no range for any
            ranges = None
        return Grammar(symbols, batch, guard=sampling.parallels_guard, no_clash=sampling.no_clash, ranges=ranges,
                       keep_beat=sampling.keep_beat, range_offsets=row_shifts, common_lengths=sampling.common_lengths)


def training_voices(symbols: Sequence[str], pieces, order: str = ORDER, shifts=None) -> tuple[list[Note], ...]:
    """Every note struck in `pieces` (id arrays over `symbols`, each starting at a group, as the corpus
    holds them), per voice, as (0, 1, pitch): what a voice's range is taken from. Read from the slots
    directly, without decoding, as generation does this for every training piece. `shifts`, per piece:
    the semitones it was moved by, taken off again."""
    slots = _check_order(order)
    kinds = [classify(s) for s in symbols]
    is_dur = np.array([k == "duration" for k, _, _ in kinds])
    struck = np.array([k == "pitch" and st for k, _, st in kinds])
    pitch = np.array([v if k == "pitch" else -1 for k, v, _ in kinds], np.int64)
    found: list[list[np.ndarray]] = [[] for _ in VOICES]
    for j, ids in enumerate(pieces):
        ids = np.asarray(ids, np.int64)
        if not len(ids):
            continue
        at = np.arange(len(ids))
        begins = np.r_[True, is_dur[ids][:-1]]  # a group begins at the start and after each length
        position = at - np.maximum.accumulate(np.where(begins, at, 0))  # the slot within its group
        back = 0 if shifts is None else int(shifts[j])
        for k, v in enumerate(slots):
            found[v].append(pitch[ids[(position == k) & struck[ids]]] - back)
    return tuple([(0.0, 1.0, int(p)) for p in np.concatenate(f)] if f else [] for f in found)

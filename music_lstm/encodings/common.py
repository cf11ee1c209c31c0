"""What every encoding shares: pitch names and tokens, durations, `Decoded`, the repairing writer, and
`Encoding`, the one interface `train`, `corpus`, `augment`, `generate` and `evaluate` go through.

An encoding turns a `Piece` into symbols (strings) and back. Decoding never trusts the stream: an
ill-formed event is repaired and counted, so generated music is always well formed and the share of
repaired events can be reported.

    python -c "from music_lstm.core.pitches import pitch_name; print(pitch_name(63))"
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from ..core.events import MAX_DENOMINATOR, Piece

from ..core.pitches import parse_pitch_name, pitch_name
HELD = "~"  # suffix of a pitch event that continues a note already sounding
ENCODER_VERSION = 2  # part of the cached symbols' key: bump whenever an encoder's output changes

# A stream cut from the middle of a piece (`open_start`) may begin inside a slice, and the first whole
# slice may hold notes struck before the cut: in that many slices, held-over-from-nothing is no error.
OPEN_START_SLICES = 2

Note = tuple[float, float, int]  # (offset, duration, pitch), quarter notes


def pitch_token(midi: int, struck: bool) -> str:
    return pitch_name(midi) + ("" if struck else HELD)


def parse_pitch_token(token: str) -> tuple[int, bool]:
    """`E-4~` -> (63, False); raises ValueError on anything else."""
    held = token.endswith(HELD)
    return parse_pitch_name(token[:-1] if held else token), not held


def duration_text(quarters: float) -> str:
    return str(Fraction(quarters).limit_denominator(MAX_DENOMINATOR))


def parse_duration(text: str) -> float:
    """`1/2` -> 0.5; raises ValueError unless a positive number of quarter notes."""
    try:
        value = float(Fraction(text))
    except ZeroDivisionError:
        raise ValueError(f"not a duration: {text!r}") from None
    if not value > 0:
        raise ValueError(f"not a duration: {text!r}")
    return value


@dataclass
class Decoded:
    notes: list[Note]  # (offset, duration, pitch), quarter notes
    events: int  # events decoded (slices, frames or symbols, as the encoding counts them)
    repairs: int  # of those, how many were ill-formed and repaired
    end: float = 0.0  # time after the last event, quarter notes (a final rest included)
    # Four monophonic lines (soprano, alto, tenor, bass) for a four-part encoding; None otherwise.
    voices: list[list[Note]] | None = None

    @property
    def repair_fraction(self) -> float:
        return self.repairs / self.events if self.events else 0.0


class Writer:
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

    def result(self) -> list[Note]:
        return sorted((round(o, 6), round(d, 6), p) for o, d, p in self.notes)


class Encoding:
    """One way of turning pieces into symbols and back. Subclasses set `name` and implement `encode`,
    `decode` and `nearest`; the rest has defaults that fit an encoding without a sampling grammar.

    `voices` is 4 for an encoding whose `Decoded` carries four monophonic lines (written as four
    tracks), None where the output is one stream of notes.
    """

    name: str = ""
    voices: int | None = None
    # The seed's `--durations`: each symbol is `head|duration`, and the network may predict the two parts
    # with two softmaxes (vocab.Factors).
    durations: bool = False
    # What to do when a folder gives no piece this encoding can use (ends the one-line error), or None.
    empty_hint: str | None = None

    @property
    def spec(self) -> str:
        """The encoding with its options in one string (`chords+durations`), for caches and reports."""
        return f"{self.name}+durations" if self.durations else self.name

    @property
    def cache_key(self) -> str:
        """What, besides a file's parse, decides its symbols: the spec and the encoders' version."""
        return f"{self.spec}|{ENCODER_VERSION}"

    def encode(self, piece: Piece) -> list[str]:
        """The piece as symbols. May refuse a piece it cannot represent: `errors.EncodingError`, whose
        one-line message becomes the file's skip reason."""
        raise NotImplementedError

    def decode(self, symbols: list[str], open_start: bool = False) -> Decoded:
        """Notes, plus how many events were decoded and repaired. `open_start`: the symbols were cut
        from the middle of a piece (see OPEN_START_SLICES)."""
        raise NotImplementedError

    def decode_continuation(self, context: list[str], symbols: list[str]) -> Decoded:
        """Decode `symbols` as the continuation of `context` (the prompt): a held note or a slice begun in
        the prompt is read in its context, not repaired; the result starts at 0 where the prompt ends."""
        before = self.decode(context, open_start=True)
        whole = self.decode(list(context) + list(symbols), open_start=True)
        start = before.end

        def cut(notes):
            return sorted((round(max(o, start) - start, 6), round(o + d - max(o, start), 6), p)
                          for o, d, p in notes if o + d > start + 1e-6)

        voices = None if whole.voices is None else [cut(v) for v in whole.voices]
        return Decoded(cut(whole.notes), whole.events - before.events, whole.repairs - before.repairs,
                       whole.end - start, voices)

    def nearest(self, symbol: str, known: list[str]) -> str | None:
        """The known symbol that sounds most like `symbol` (for a primer's symbols the vocabulary lacks)."""
        raise NotImplementedError

    def default_sampling(self):
        """The sampling settings (`sampling.Sampling`) used unless the caller sets them: an encoding
        may have its own, chosen by measurement."""
        from ..core.sampling import Sampling

        return Sampling()

    def grammar(self, symbols: list[str], batch: int, sampling, pieces=(), piece_shifts=None,
                row_shifts=None) -> Grammar | None:
        """A sampling grammar over the vocabulary `symbols` for `batch` rows, or None for no grammar.
        `sampling` (sampling.Sampling) holds the guards' settings; `pieces` are the training pieces as id
        arrays, for the texture a grammar may keep; `piece_shifts` (per piece) and `row_shifts` (per row)
        the semitones a common-key run moved them by, for a grammar that keeps voices in their ranges."""
        return None

    def rhythm_mask(self, symbols: list[str]) -> np.ndarray | None:
        """(vocab,) bool: the symbols sampled at the rhythm temperature, or None where there are none."""
        return None

    def transpositions(self, piece: Piece, shifts: list[int]) -> list[list[str]]:
        """The piece's symbols moved by each of `shifts` semitones. A key that would push a note outside
        MIDI's 0..127, or change the number of symbols, gives the untransposed symbols instead."""
        original = self.encode(piece)
        pitches = [p for _, _, p in piece.notes]
        out = []
        for k in shifts:
            if k == 0 or not pitches or not (0 <= min(pitches) + k and max(pitches) + k <= 127):
                out.append(original)
                continue
            moved = self.encode(piece.transpose(k))
            out.append(moved if len(moved) == len(original) else original)
        return out

    def __repr__(self) -> str:
        return f"<encoding {self.spec}>"


class Grammar:
    """What may come next in a stream, per row of a batch: `feed` the ids drawn, `ban` what must not follow."""

    def feed(self, ids) -> None:
        raise NotImplementedError

    def ban(self) -> np.ndarray:
        """(batch, vocab) bool: True where a symbol would break the grammar."""
        raise NotImplementedError

    def prime(self, prompt: np.ndarray, before=None) -> None:
        """Read the prompt (batch, steps) before sampling begins. `before`, per row, the ids of the music
        the prompt continues, for a grammar that keeps time (the others ignore it)."""
        for column in np.asarray(prompt).T:
            self.feed(column)


def nearest_of_kind(token: str, known, classify) -> str | None:
    """The known symbol of `token`'s kind closest in value (a pitch keeps struck/held if it can), where
    `classify(symbol) -> (kind, value, struck)` is the encoding's own; None for a malformed token ("bad")
    or when no known symbol has its kind."""
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

"""Plain-value music: a `Piece` of notes, and its onset slices (what music21's `chordify` gives).

Pure Python, no music21: notes come in from `io.midi_read` as `(offset, duration, midi_pitch)` in quarter
notes, and every voice of every part is kept. `slices` cuts the piece at every onset and release, so each
slice lists the pitches sounding in it, which of them are struck there and which are held over, and
its duration; a stretch where nothing sounds is a rest slice.
"""

from __future__ import annotations

from dataclasses import dataclass, field

GRID = 1e-6  # offsets are compared after rounding to this, so float noise never makes a new slice or group
MAX_DENOMINATOR = 12  # lengths are multiples of 1/12 quarter note (16ths and triplets)


Note = tuple[float, float, int]  # (offset, duration, midi pitch), quarter notes
VOICE_NAMES = ("Soprano", "Alto", "Tenor", "Bass")


@dataclass(frozen=True)
class Piece:
    notes: list[Note] = field(default_factory=list)  # every note of every part
    bpm: float | None = None  # first tempo mark, if the file has one
    # The four sung lines (soprano, alto, tenor, bass), each a monophonic list of notes, when the file
    # gives them (`io.voice_parts` decides by its part-selection rule); None otherwise.
    voices: tuple[list[Note], ...] | None = None
    # Why the file gives no four voices (one line), when `voices` is None.
    no_voices: str | None = None

    def transpose(self, semitones: int) -> "Piece":
        """The piece moved by `semitones`; notes pushed outside MIDI's 0..127 are dropped."""
        moved = [(o, d, p + semitones) for o, d, p in self.notes if 0 <= p + semitones <= 127]
        voices = None
        if self.voices is not None:
            voices = tuple([(o, d, p + semitones) for o, d, p in v if 0 <= p + semitones <= 127] for v in self.voices)
        return Piece(notes=moved, bpm=self.bpm, voices=voices, no_voices=self.no_voices)


@dataclass(frozen=True)
class Slice:
    offset: float
    duration: float
    pitches: tuple[int, ...]  # sounding pitches, high to low; () is a rest
    struck: tuple[bool, ...]  # per pitch: True if it starts here, False if held over

    @property
    def is_rest(self) -> bool:
        return not self.pitches


def quantize(x: float) -> float:
    """`x` (quarter notes) rounded to `GRID`: two times that float noise tells apart become one."""
    return round(x / GRID) * GRID


def slices(notes: list[tuple[float, float, int]]) -> list[Slice]:
    """Cut notes into onset slices: one per stretch between consecutive onsets/releases."""
    spans = sorted((quantize(o), quantize(o + d), p) for o, d, p in notes if d > 0)
    if not spans:
        return []
    bounds = sorted({t for s, e, _ in spans for t in (s, e)})
    out: list[Slice] = []
    active: list[tuple[float, float, int]] = []
    i = 0
    for a, b in zip(bounds, bounds[1:]):
        active = [n for n in active if n[1] > a]
        while i < len(spans) and spans[i][0] <= a:
            active.append(spans[i])
            i += 1
        sounding: dict[int, bool] = {}
        for s, _, p in active:
            sounding[p] = sounding.get(p, False) or s == a
        pitches = tuple(sorted(sounding, reverse=True))
        out.append(Slice(a, b - a, pitches, tuple(sounding[p] for p in pitches)))
    return out


def bar_phase(voices, bar: float = 4.0, step: float = 0.25) -> float:
    """Where in the bar a piece cut from the middle of another should start, so that its notes fall on
    the beats: the shift `p` (a multiple of `step`, below `bar`) that puts most onsets on a beat, long
    notes on the bar's strong beats most of all. Time `t` of the piece then sits at `(t + p) % bar` of a
    bar; written as a score, the first bar is an upbeat of `(bar - p) % bar` quarter notes."""
    def score(p: float) -> float:
        total = 0.0
        for voice in voices:
            for o, d, _ in voice:
                at = (o + p) % bar
                total += on_grid(at, 1.0) + on_grid(at, 2.0) * (d >= 1.0) + 2 * on_grid(at, bar) * (d >= 2.0)
        return total

    shifts = [k * step for k in range(int(round(bar / step)))]
    return max(shifts, key=lambda p: (score(p), -p))


# The note lengths (quarter notes) of the four-part chorales in bach/: each of these is at least 0.3% of
# their notes; a dotted eighth (0.14%), 5/4, 7/4, 5/2 and 7/2 (under 0.05% each) are not, and notes longer
# than a whole note last a multiple of a half note.
COMMON_LENGTHS = (0.25, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0)


def common_length(length: float) -> bool:
    """Is `length` (quarter notes) a note length of the chorales (`COMMON_LENGTHS`)? Lengths off the
    sixteenths' grid (triplets) and unknown ones (nan) always are: the rule only judges the sixteenths."""
    if not (length == length) or not on_grid(length, 0.25):
        return True
    if length > COMMON_LENGTHS[-1]:
        return on_grid(length, 2.0)
    return any(abs(length - x) < 1e-6 for x in COMMON_LENGTHS)


def on_grid(at: float, beat: float) -> bool:
    """Does time `at` fall on a multiple of `beat` (quarter notes, float noise aside)?"""
    r = at % beat
    return r < GRID * 10 or beat - r < GRID * 10

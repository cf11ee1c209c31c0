"""`Score4`: four sung voices with what a score says about them besides the notes: the metre, where
the first barline falls, the key signature and mode, and the phrase ends (fermatas).

Plain values, no music21: `io.chorale_scores` reads one from MusicXML (fermatas as written) or from
notes alone (phrase ends by `core.phrases.phrase_ends`).

    python -c "from music_lstm.core.scores import Score4; print(Score4(([(0, 4, 67)], [], [], [])).bar_length)"
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from .events import Note


@dataclass(frozen=True)
class Score4:
    voices: tuple[list[Note], list[Note], list[Note], list[Note]]  # S A T B, each monophonic, quarter notes
    meter: tuple[int, int] = (4, 4)  # time signature (numerator, denominator)
    pickup: float = 0.0  # quarter notes before the first barline (0: the piece starts on a downbeat)
    sharps: int = 0  # key signature: sharps (> 0) or flats (< 0)
    mode: str = "major"  # "major" or "minor"
    fermatas: tuple[float, ...] = ()  # onsets (quarter notes) of the soprano notes that end a phrase
    name: str = ""
    fermatas_written: bool = False  # True: the fermatas are the score's own; False: found by the phrase rule
    extra: dict = field(default_factory=dict, compare=False, repr=False)

    @property
    def bar_length(self) -> float:
        """Quarter notes per bar."""
        return self.meter[0] * 4.0 / self.meter[1]

    @property
    def end(self) -> float:
        return max((o + d for v in self.voices for o, d, _ in v), default=0.0)

    @property
    def tonic(self) -> int:
        """The tonic's pitch class, from the key signature and the mode."""
        major = (7 * self.sharps) % 12
        return major if self.mode == "major" else (major + 9) % 12

    @property
    def key_name(self) -> str:
        names = ("C", "C#", "D", "E-", "E", "F", "F#", "G", "A-", "A", "B-", "B")
        flat_names = ("C", "D-", "D", "E-", "E", "F", "G-", "G", "A-", "A", "B-", "B")
        pc = self.tonic
        name = (flat_names if self.sharps < 0 else names)[pc]
        return f"{name} {self.mode}"

    def bar_of(self, t: float) -> int:
        """The 1-based bar number that time `t` falls in (a pickup is bar 0)."""
        if t < self.pickup - 1e-9:
            return 0
        return int((t - self.pickup + 1e-9) // self.bar_length) + 1

    def bar_span(self, first: int, last: int) -> tuple[float, float]:
        """(start, end) in quarter notes of bars `first`..`last` (1-based, inclusive; bar 0 is a pickup)."""
        start = 0.0 if first == 0 else self.pickup + (first - 1) * self.bar_length
        return start, self.pickup + last * self.bar_length

    @property
    def bars(self) -> int:
        """How many bars (after the pickup) the piece reaches into."""
        return self.bar_of(max(self.end - 1e-6, 0.0))

    def with_voices(self, voices) -> "Score4":
        return replace(self, voices=tuple(list(v) for v in voices))

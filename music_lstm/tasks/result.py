"""`Chorale`: what the Python API's `compose` and `harmonize` return (api.py).

Four voices as plain notes, the key and metre they were written in, and the network's own score of
them; `.write(path)` writes MIDI or MusicXML by the path's suffix, `.to_music21()` gives a four-part
music21 `Score` (streams.py), `.show()` shows it as music21 does.

    python -c "import music_lstm as m; print(m.harmonize(\\"tinyNotation: 4/4 c'4 d' e' f' g'2\\"))"
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from ..core.errors import ConfigError
from ..core.events import VOICE_NAMES, Note

MIDI_SUFFIXES = (".mid", ".midi")
MUSICXML_SUFFIXES = (".musicxml", ".xml")
MXL_SUFFIX = ".mxl"


@dataclass(frozen=True, repr=False)
class Chorale:
    """Four voices written by a network: a harmonization of a melody (`task` "harmonize", the soprano
    the melody itself) or a composed piece (`task` "compose")."""

    voices: tuple[list[Note], list[Note], list[Note], list[Note]]  # S A T B: (offset, duration, midi pitch), quarter notes
    key: str  # the key it is in, e.g. "G major" (music21's analysis; a harmonization's is its melody's)
    time_signature: str  # e.g. "4/4": a melody's own, else 4/4
    log_prob: float  # natural log of the network's probability of the symbols it chose (the soprano's not counted)
    task: str  # "harmonize" or "compose"
    run_dir: Path  # the run folder whose network wrote it
    bpm: float = 90.0  # the tempo it is written at
    pickup: float = 0.0  # quarter notes before the first barline (composed music starts anywhere in a bar)
    remark: str | None = None  # what was done to the melody first (its top line taken, moved by octaves), if anything
    sharps: int | None = None  # the key signature written (> 0 sharps, < 0 flats); None: none is known
    fermatas: tuple[float, ...] = ()  # onsets of the soprano notes that end a phrase
    fermatas_written: bool = False  # True: the tune's own fermatas (written in the score); False: found by rule

    @property
    def minor(self) -> bool:
        return self.key.endswith("minor")

    def to_score4(self):
        """The four voices with their metre, pickup, key signature and phrase ends, as `core.scores.Score4`."""
        from ..core.scores import Score4

        num, den = (int(x) for x in self.time_signature.split("/"))
        return Score4(tuple(list(v) for v in self.voices), (num, den), self.pickup, self.sharps or 0,
                      "minor" if self.minor else "major", tuple(self.fermatas), self.title, self.fermatas_written)

    @classmethod
    def from_score4(cls, score, log_prob: float, task: str, run_dir, bpm: float = 90.0, remark: str | None = None,
                    key: str | None = None) -> "Chorale":
        return cls(tuple(list(v) for v in score.voices), key or score.key_name, f"{score.meter[0]}/{score.meter[1]}",
                   log_prob, task, Path(run_dir), bpm, score.pickup, remark, score.sharps, tuple(score.fermatas),
                   bool(score.fermatas_written))

    @property
    def melody(self) -> list[Note]:
        """The soprano: for a harmonization, the melody given."""
        return self.voices[0]

    @property
    def end(self) -> float:
        """Where the last note ends, in quarter notes."""
        return max((o + d for v in self.voices for o, d, _ in v), default=0.0)

    @property
    def title(self) -> str:
        return f"{'Harmonization' if self.task == 'harmonize' else 'Chorale'} in {self.key}"

    def write(self, path: str | os.PathLike) -> Path:
        """Write the four voices at `path`, atomically, as the suffix says: .mid/.midi a MIDI file of four
        named tracks; .musicxml/.xml a chorale score on two staves; .mxl the same score compressed.
        Returns the path."""
        from ..io import midi_write
        from ..io import musicxml

        path = Path(path)
        suffix = path.suffix.lower()
        score = {"bpm": self.bpm, "title": self.title, "time_signature": self.time_signature, "pickup": self.pickup,
                 "sharps": self.sharps, "minor": self.minor}
        if self.fermatas_written:  # the tune's own fermatas are notation; phrase ends found by rule are not
            score["fermatas"] = tuple(self.fermatas)
        if suffix in MIDI_SUFFIXES:
            midi_write.write_voices_midi(self.voices, path, bpm=self.bpm, sharps=self.sharps, minor=self.minor)
        elif suffix in MUSICXML_SUFFIXES:
            musicxml.write_chorale_musicxml(self.voices, path, **score)
        elif suffix == MXL_SUFFIX:
            from ..io.streams import write_mxl

            write_mxl(self.voices, path, **score)
        else:
            known = ", ".join((*MIDI_SUFFIXES, *MUSICXML_SUFFIXES, MXL_SUFFIX))
            raise ConfigError(f"{path}: cannot tell what to write from its suffix {path.suffix or '(none)'!r} "
                              f"(give one of {known})")
        return path

    def to_music21(self):
        """A music21 `Score` of four parts (Soprano, Alto, Tenor, Bass) in measures, in this key and metre."""
        from ..io.streams import four_part_score

        return four_part_score(self.voices, self.key, self.time_signature, self.bpm, self.title)

    def show(self, *args, **kwargs):
        """`self.to_music21().show(...)`: in a notebook the score (with MuseScore set up in music21), or
        `show("midi")` a player, `show("text")` a listing."""
        return self.to_music21().show(*args, **kwargs)

    def __repr__(self) -> str:
        counts = " ".join(f"{name[0]} {len(v)}" for name, v in zip(VOICE_NAMES, self.voices))
        return (f"<Chorale: {self.title}, {self.time_signature}, {self.end:g} quarter notes, "
                f"notes {counts}, log_prob {self.log_prob:.2f}, from {self.run_dir}>")

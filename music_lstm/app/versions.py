"""The page's versions: `Version` (one result, its Chorale, files and parent, and what the page is answered
about it), the keys the page may send (`parse_key`, `key_signature`), and small helpers of the jobs.

    python -c "from music_lstm.app.versions import key_signature; print(key_signature('Bb minor'))"
"""

from __future__ import annotations

import dataclasses
import inspect
import math

from ..core.errors import MusicLSTMError

MAJOR_SHARPS = {"C": 0, "G": 1, "D": 2, "A": 3, "E": 4, "B": 5, "F#": 6, "C#": 7, "F": -1, "Bb": -2, "Eb": -3,
                "Ab": -4, "Db": -5, "Gb": -6, "Cb": -7}
MINOR_SHARPS = {"A": 0, "E": 1, "B": 2, "F#": 3, "C#": 4, "G#": 5, "D#": 6, "A#": 7, "D": -1, "G": -2, "C": -3,
                "F": -4, "Bb": -5, "Eb": -6, "Ab": -7}


class BadKey(MusicLSTMError):
    """A key the page sent that is not one (the server answers it 400)."""


@dataclasses.dataclass(frozen=True)
class Version:
    """One result the page holds (a harmonization, a chorale, a rewrite of one): its request's id, the
    `tasks.result.Chorale`, the files written, and the version it was made from."""

    id: str
    chorale: object
    paths: list
    stem: str  # its files' name: harmonized, chorale
    title: str
    parent: str | None = None
    change: str | None = None  # what the rewrite changed, e.g. "bar 2: alto, tenor"

    @property
    def bar_length(self) -> float:
        num, den = (int(x) for x in self.chorale.time_signature.split("/")[:2])
        return 4.0 * num / den

    @property
    def bars(self) -> int:
        """Bars in the piece, an upbeat counting as bar 1 (as the score numbers them)."""
        pickup = self.chorale.pickup
        rest = max(self.chorale.end - pickup, 0.0)
        return (1 if pickup > 0 else 0) + max(1, math.ceil(rest / self.bar_length - 1e-9))

    def summary(self) -> dict:
        """What the page needs to play, show and edit it, without another request."""
        c = self.chorale
        return {"title": f"{self.title} in {c.key}", "key": c.key, "time_signature": c.time_signature,
                "bpm": c.bpm, "pickup": c.pickup, "bar_length": self.bar_length, "bars": self.bars,
                "parent": self.parent, "change": self.change, "task": c.task,
                "voices": [[[o, d, p] for o, d, p in v] for v in c.voices]}


def key_signature(key: str) -> tuple[int, bool]:
    """("G major") -> (1, False): the sharps (< 0: flats) and mode of a key's signature; C major's when the
    key is not one of them."""
    tonic, _, mode = str(key).partition(" ")
    table = MINOR_SHARPS if mode == "minor" else MAJOR_SHARPS
    return table.get(tonic, 0), mode == "minor"


def parse_key(value) -> str | None:
    """A key the page sends ("G major", "F# minor"), checked; None when none is given."""
    if value is None or value == "":
        return None
    tonic, _, mode = str(value).partition(" ") if isinstance(value, str) else ("", "", "")
    if (mode == "major" and tonic in MAJOR_SHARPS) or (mode == "minor" and tonic in MINOR_SHARPS):
        return value
    shown = repr(value)[:40]
    raise BadKey(f"key: {shown} is not a key (a tonic such as G, F# or Bb, then major or minor)")


def accepted(fn, options: dict) -> dict:
    """Those of `options` that `fn` takes (the key signature, where the writer has it)."""
    taken = inspect.signature(fn).parameters
    return {k: v for k, v in options.items() if k in taken}


def cut(voice: list, end: float) -> list:
    """The notes of `voice` that begin before `end`, the last one ending there at the latest."""
    return [(o, min(d, end - o), p) for o, d, p in voice if o < end - 1e-9]

"""The encodings: how a piece becomes symbols for the network, and back. One module per encoding, each
an `Encoding` (common.py); `get(name)` gives one by the name `--encoding` takes.

    chords   one symbol per onset slice (a pitch, or a chord's pitch classes); `--durations` adds lengths
    voiced   each slice's pitches high to low, then its duration
    grid     16th-note frames of pitches, high to low
    satb     four sung lines: a pitch (struck or held) or a rest per voice, then a length, per onset

An encoding plugs in with its module and one line in `_ENCODINGS`. Beside them: `jsb` (the JSB
Chorales benchmark files, their frames as tokens, and the exact frame score) and `ingest` (a folder of
MIDI files as one encoding's symbols).

May import: `core`, `io`.

    python -c "from music_lstm import encodings; print(encodings.NAMES, encodings.get('voiced'))"
"""

from __future__ import annotations

from ..core.errors import ConfigError
from .chords import Chords
from .common import ENCODER_VERSION, Decoded, Encoding, Grammar
from .grid import Grid
from .satb import SATB
from .voiced import Voiced

_ENCODINGS: dict[str, type[Encoding]] = {
    "chords": Chords,
    "voiced": Voiced,
    "grid": Grid,
    "satb": SATB,
}
DEFAULT = "satb"  # measured best on voice leading (docs/BENCHMARKS.md, "Four voices")
ALIASES = {"seed": "chords"}  # the name the chords encoding had first; runs saved with it still load
NAMES = tuple(_ENCODINGS)
CHOICES = NAMES + tuple(ALIASES)  # what the command line accepts


def canonical(name: str) -> str:
    """The encoding's own name for `name` (an alias resolved); ConfigError if there is none."""
    name = ALIASES.get(name, name)
    if name not in _ENCODINGS:
        raise ConfigError(f"invalid encoding: {name!r} (choose from {', '.join(NAMES)})")
    return name


def get(name: str, durations: bool = False) -> Encoding:
    """The encoding called `name` (or an alias), with `durations` for those that take that option."""
    cls = _ENCODINGS[canonical(name)]
    if not durations:
        return cls()
    try:
        return cls(durations=True)
    except TypeError:
        raise ConfigError(f"invalid durations: the {cls.name} encoding always has them") from None


def from_spec(spec: str) -> Encoding:
    """`get` as an `Encoding.spec` string says (`chords+durations`)."""
    name, _, option = spec.partition("+")
    return get(name, durations=option == "durations")


__all__ = ["ALIASES", "CHOICES", "DEFAULT", "ENCODER_VERSION", "NAMES", "Decoded", "Encoding", "Grammar", "canonical", "from_spec", "get"]

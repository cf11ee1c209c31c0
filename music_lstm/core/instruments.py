"""General MIDI instruments by name or number: what `--instrument` accepts, for one part or four voices.

    python -c "from music_lstm.core.instruments import voice_programs; print(voice_programs('choir,choir,strings,organ'))"
"""

from __future__ import annotations

from .errors import ConfigError
from .events import VOICE_NAMES

# General MIDI programs (0-based) by a name a user might type; any number 0-127 works too.
INSTRUMENTS = {"piano": 0, "harpsichord": 6, "organ": 19, "guitar": 24, "strings": 48, "choir": 52, "flute": 73}


def program_number(instrument: str | int) -> int:
    """`--instrument`: a General MIDI program number 0-127, or one of INSTRUMENTS' names."""
    text = str(instrument).strip().lower()
    if text in INSTRUMENTS:
        return INSTRUMENTS[text]
    if text.isdigit() and 0 <= int(text) <= 127:
        return int(text)
    raise ConfigError(f"invalid instrument: {instrument!r} (a General MIDI program 0-127, or one of {', '.join(INSTRUMENTS)})")


def voice_programs(instrument) -> tuple[int, int, int, int]:
    """`--instrument` for four voices: one instrument for all ("organ", "19"), or four separated by
    commas, soprano to bass ("choir,choir,strings,organ", "52,52,48,19"). Names and numbers are the
    ones `program_number` takes. Raises ConfigError with a one-line message on bad input."""
    items = [t.strip() for t in str(instrument).split(",")]
    if len(items) not in (1, 4) or not all(items):
        raise ConfigError(
            f"invalid instrument: {instrument!r} (one instrument for all voices, or four separated by commas: soprano,alto,tenor,bass)"
        )
    if len(items) == 1:
        return (program_number(items[0]),) * 4
    programs = []
    for name, item in zip(VOICE_NAMES, items):
        try:
            programs.append(program_number(item))
        except ValueError as e:
            raise ConfigError(f"{name.lower()}: {e}") from None
    return tuple(programs)

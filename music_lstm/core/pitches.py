"""Pitch names: MIDI numbers to music21's default spelling (`E-4`, `C#5`) and back; what a leap is.

    python -c "from music_lstm.core.pitches import pitch_name; print(pitch_name(60))"
"""

from __future__ import annotations

PITCH_NAMES = ("C", "C#", "D", "E-", "E", "F", "F#", "G", "G#", "A", "B-", "B")  # music21's default spelling
LEAP = 2  # semitones: a larger melodic move is a leap (a hidden fifth's soprano, the leaps measured)


def pitch_name(midi: int) -> str:
    return f"{PITCH_NAMES[midi % 12]}{midi // 12 - 1}"


def parse_pitch_name(name: str) -> int:
    """Inverse of `pitch_name`; raises ValueError on anything else."""
    for k in sorted(range(12), key=lambda k: -len(PITCH_NAMES[k])):
        if name.startswith(PITCH_NAMES[k]):
            rest = name[len(PITCH_NAMES[k]):]
            if rest.lstrip("-").isdigit():
                midi = (int(rest) + 1) * 12 + k
                if 0 <= midi <= 127:
                    return midi
    raise ValueError(f"not a pitch name: {name!r}")

"""The four sung voices' pitch ranges, each in one place: the ones measured from Bach, the wider ones
the HMM voices its chords in, a soprano's reach for a melody, and the percentiles the satb grammar
takes from a run's own training pieces (`voice_ranges`).

    python -c "from music_lstm.core.ranges import BACH_RANGES, voice_ranges; print(BACH_RANGES)"
"""

from __future__ import annotations

import numpy as np

from .events import VOICE_NAMES, Note

Voices = tuple[list[Note], ...] | list[list[Note]]

# Each a (lowest, highest) MIDI pitch per voice, soprano to bass.
BACH_RANGES = ((62, 78), (57, 71), (52, 67), (40, 60))  # Bach's chorales, each voice's 1st-99th percentile
VOICING_RANGES = ((60, 81), (55, 74), (48, 69), (38, 62))  # a little wider: where the HMM voices its chords
SOPRANO_REACH = VOICING_RANGES[0]  # C4..A5: what a soprano line may hold; a melody outside is moved by octaves
RANGE_PERCENTILES = (1, 99)  # the satb grammar's range per voice: these percentiles of the run's training pitches


def voice_ranges(pieces: list[Voices], low: float = RANGE_PERCENTILES[0],
                 high: float = RANGE_PERCENTILES[1]) -> list[tuple[int, int]]:
    """Per voice, the (`low`th, `high`th) percentile of its pitches over all notes of `pieces`, as whole
    semitones widened outwards (floor, ceiling)."""
    out = []
    for i in range(4):
        ps = np.array([p for v in pieces for _, d, p in v[i] if d > 0], dtype=float)
        if not len(ps):
            raise ValueError(f"no {VOICE_NAMES[i]} notes to take a range from")
        out.append((int(np.floor(np.percentile(ps, low))), int(np.ceil(np.percentile(ps, high)))))
    return out

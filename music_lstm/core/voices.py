"""The four sung voices' pitch ranges: measured from pieces (`voice_ranges`).
"""

from __future__ import annotations

import numpy as np

from .events import VOICE_NAMES, Note

Voices = tuple[list[Note], ...] | list[list[Note]]


def voice_ranges(pieces: list[Voices], low: float = 1, high: float = 99) -> list[tuple[int, int]]:
    """Per voice, the (`low`th, `high`th) percentile of its pitches over all notes of `pieces`, as whole
    semitones widened outwards (floor, ceiling)."""
    out = []
    for i in range(4):
        ps = np.array([p for v in pieces for _, d, p in v[i] if d > 0], dtype=float)
        if not len(ps):
            raise ValueError(f"no {VOICE_NAMES[i]} notes to take a range from")
        out.append((int(np.floor(np.percentile(ps, low))), int(np.ceil(np.percentile(ps, high)))))
    return out

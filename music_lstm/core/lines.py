"""One line of notes, one note at a time: `monophonic` (a part made one voice: the highest note of each
onset, the lowest for a bass) and `top_line` (the melody on top of a polyphonic texture, inner voices
under a higher held note left out).

    python -c "from music_lstm.core.lines import monophonic; print(monophonic([(0, 2, 60), (0, 1, 64), (1, 1, 62)]))"
"""

from __future__ import annotations

from .events import Note, quantize


def monophonic(notes: list[Note], lowest: bool = False, on_grid: bool = False) -> list[Note]:
    """One note at a time: of the notes struck together keep the highest (the lowest when `lowest`,
    for the bass), the longer of two on the same pitch; a note still sounding when the next one is
    struck is cut short there. `on_grid`: times are first rounded to `events.GRID` and notes without
    length left out (as the satb encoding reads its lines)."""
    by_onset: dict[float, Note] = {}
    for o, d, p in notes:
        if on_grid:
            if d <= 0:
                continue
            o, end = quantize(o), quantize(o + d)
            d = end - o
        best = by_onset.get(o)
        if best is None or (p < best[2] if lowest else p > best[2]) or (p == best[2] and d > best[1]):
            by_onset[o] = (o, d, p)
    line = [by_onset[o] for o in sorted(by_onset)]
    return [(o, min(d, nxt[0] - o), p) for (o, d, p), nxt in zip(line, line[1:])] + line[-1:]


def top_line(notes: list[Note]) -> list[Note]:
    """The highest line of a polyphonic texture: at each onset its highest struck note, unless a
    higher note struck earlier is still sounding; each kept note cut short where the next starts."""
    highest: dict[float, Note] = {}
    for o, d, p in notes:
        key = round(o, 6)
        if key not in highest or p > highest[key][2] or (p == highest[key][2] and d > highest[key][1]):
            highest[key] = (o, d, p)
    line: list[Note] = []
    for key in sorted(highest):
        o, d, p = highest[key]
        if line:
            po, pd, pp = line[-1]
            if po + pd > o + 1e-6 and pp > p:  # under a higher note still sounding: an inner voice
                continue
            line[-1] = (po, min(pd, o - po), pp)
        line.append((o, d, p))
    return line

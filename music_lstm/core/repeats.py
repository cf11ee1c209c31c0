"""Stretches of a melody that repeat an earlier stretch note for note: `repeats`.

A chorale tune repeats its opening phrases very often (the Stollen of a bar form, AAB: the first two
phrases sung again to the next lines of the verse), and a harmonization may treat a repeat as such.
A repeat here is a run of consecutive notes equal to an earlier run in pitch, duration and position
in the bar, with the same rests between them, `min_length` bars long at least (two by default: a
chorale's phrase is two bars or more, and a shorter match is a motif, not a repeated phrase).

    python -c "from music_lstm.core.repeats import repeats; print(repeats([(0, 2, 67), (2, 2, 69), (4, 4, 71), (8, 2, 67), (10, 2, 69), (12, 4, 71)], 4.0, 0.0))"
"""

from __future__ import annotations

from .events import Note

MIN_BARS = 2.0  # a repeat is two bars long at least (a chorale phrase's length; shorter ones are motifs)
_EPS = 1e-6


def repeats(soprano: list[Note], bar_length: float, pickup: float = 0.0,
            min_length: float = MIN_BARS) -> list[tuple[float, float, float]]:
    """The stretches of `soprano` that repeat an earlier one: `(source_start, repeat_start, length)` in
    quarter notes, sorted by `repeat_start`.

    Notes match when pitch, duration and position in the bar (`(onset - pickup) % bar_length`) are
    equal (so a repeat lies a whole number of bars after its source, wherever the barlines fall:
    `pickup` moves every position alike and never changes what matches); a stretch matches when its notes match one by one and the gaps between them are the same.
    Each repeat is maximal (it cannot be made longer at either end), at least `min_length` bars long
    (from the first onset to the last note's end), and lies after its source without overlapping it.
    Repeats do not overlap one another: where candidates overlap, the longest is kept (then the
    earliest, with the earliest source), and a note is in one repeat at most.
    """
    notes = sorted(n for n in soprano if n[1] > 0)
    n = len(notes)
    if n < 2 or bar_length <= 0:
        return []

    def pos(o: float) -> float:
        r = (o - pickup) % bar_length
        return 0.0 if bar_length - r < _EPS else r

    def same(a: Note, b: Note) -> bool:
        return a[2] == b[2] and abs(a[1] - b[1]) < _EPS and abs(pos(a[0]) - pos(b[0])) < _EPS

    def gap_same(k: int, m: int) -> bool:  # the step from note k-1 to k equals that from k-1+m to k+m
        return abs((notes[k][0] - notes[k - 1][0]) - (notes[k + m][0] - notes[k - 1 + m][0])) < _EPS

    shortest = min_length * bar_length - _EPS
    candidates = []  # (length, repeat_start, source_start, first note of source, notes, index offset)
    for m in range(1, n):
        k = 0
        while k + m < n:
            if not same(notes[k], notes[k + m]):
                k += 1
                continue
            start = k
            while k + 1 + m < n and same(notes[k + 1], notes[k + 1 + m]) and gap_same(k + 1, m):
                k += 1
            # The source ends before the repeat begins: a run longer than m notes overlaps itself and
            # is cut to m notes (A said three times is A again at m, and A again at 2m from the first).
            count = min(m, k - start + 1)
            src, rep = notes[start], notes[start + m]
            length = notes[start + count - 1][0] + notes[start + count - 1][1] - src[0]
            if length >= shortest and src[0] + length <= rep[0] + _EPS:
                candidates.append((length, rep[0], src[0], start, count, m))
            k += 1
    candidates.sort(key=lambda c: (-c[0], c[1], c[2]))
    taken = [False] * n
    out = []
    for length, rep_start, src_start, a, count, m in candidates:
        span = range(a + m, a + m + count)
        if any(taken[i] for i in span):
            continue
        for i in span:
            taken[i] = True
        out.append((float(src_start), float(rep_start), float(length)))
    return sorted(out, key=lambda r: r[1])

"""Where phrases end when a score does not say (a MIDI file has no fermatas): `phrase_ends`.

The rule, on the soprano: a phrase ends on a note that is followed by a rest or by nothing (the last
note), and on a note that lasts at least `LONG` of a bar and at least as long as the note before
it, starting on a beat. Bach's chorales write a fermata over such notes; benchmarks/phrase_rule.py
gives how often the rule finds his fermatas (on the corpus's 402 chorales with fermatas: precision
0.52, recall 0.55, F1 0.53 within a quarter note; asking twice the note before, as before, F1 0.49).

    python -c "from music_lstm.core.phrases import phrase_ends; print(phrase_ends([(0, 1, 67), (1, 1, 69), (2, 2, 71), (4, 1, 72), (5, 3, 71)]))"
"""

from __future__ import annotations

from .events import Note

LONG = 0.5  # a note this share of a bar or longer may end a phrase (a half note in 4/4)


def phrase_ends(soprano: list[Note], meter: tuple[int, int] = (4, 4), pickup: float = 0.0) -> tuple[float, ...]:
    """Onsets of the soprano notes that end a phrase, by the rule in the module docstring."""
    notes = sorted(n for n in soprano if n[1] > 0)
    bar = meter[0] * 4.0 / meter[1]
    beat = 4.0 / meter[1] * (3 if meter[1] == 8 and meter[0] % 3 == 0 else 1)
    ends = []
    for k, (o, d, _) in enumerate(notes):
        last = k == len(notes) - 1
        rest_after = not last and notes[k + 1][0] > o + d + 1e-6
        on_beat = abs(((o - pickup) / beat) - round((o - pickup) / beat)) < 1e-6
        longer = k > 0 and d >= notes[k - 1][1] - 1e-9  # no shorter than the note before
        if last or rest_after or (on_beat and longer and d >= LONG * bar - 1e-9):
            ends.append(float(o))
    return tuple(ends)

"""Choosing a piece's four sung voices among its parts, and making each one line.

Reading (`midi_read`) gives a piece's four sung lines, `Piece.voices`
(Soprano, Alto, Tenor, Bass), or `Piece.no_voices`, a one-line reason why the file has none. The parts
are the ones music21 makes of the tracks, in score order, parts without notes left out:

- fewer than four parts: no voices (a piano piece, or a chorale with all voices in one track);
- if the part names (MIDI track names) name each voice exactly once, those four parts are the voices,
  whatever else the score holds. A name names a voice by its first word: Soprano/Sopran/Canto/Cantus/
  Discantus/Treble/S., Alto/Alt/Altus/Contralto/A., Tenor/Tenore/T., Bass/Basso/Bassus/B.
  ("Soprano 1" and "Bass Continuo" count, "Basso continuo" does not);
- otherwise exactly four parts are S, A, T, B in score order;
- more than four parts where names give one voice to two parts ("Soprano 1", "Soprano 2"): no voices,
  the texture has more than four voices;
- more than four parts without a name for each voice: parts that double another part are left out
  (most of a part's notes struck with the same pitch class, at unison or octaves, in another part;
  of two such parts the later in score order stays). If four remain they are S, A, T, B from the
  highest average pitch down; otherwise no voices.

Each voice is then made monophonic: of notes struck together in one part the highest is kept (the
lowest in the bass), and a note still sounding at the next onset is cut short there. Notes tied
across barlines are one note, as in `notes`.

    python -c "from music_lstm.io.voice_parts import voice_of_name; print(voice_of_name('Basso'))"
"""

from __future__ import annotations

import re

from ..core.events import VOICE_NAMES, Note
from ..core.lines import monophonic

# Part names that say which voice a part sings: the first word of the name, lower case, without dots
# or numbers ("Soprano 1" -> "soprano", "S." -> "s", "Bass\rContinuo" -> "bass").
VOICE_WORDS = (
    frozenset({"soprano", "sopran", "sopr", "canto", "cantus", "discantus", "discant", "treble", "s"}),
    frozenset({"alto", "alt", "altus", "contralto", "a"}),
    frozenset({"tenor", "tenore", "ten", "t"}),
    frozenset({"bass", "basso", "bassus", "bajo", "b"}),
)
DOUBLING_SHARE = 0.8  # a part whose notes are this share of another part's (same onset, same pitch class) doubles it


def voice_of_name(name: str | None) -> int | None:
    """0-3 (Soprano, Alto, Tenor, Bass) when a part name names a sung voice, else None."""
    words = re.split(r"[^a-z]+", (name or "").lower())
    words = [w for w in words if w]
    first = words[0] if words else ""
    if words[:2] == ["basso", "continuo"]:  # the instrumental bass line, not the sung one
        return None
    return next((v for v, table in enumerate(VOICE_WORDS) if first in table), None)


def select_voices(parts: list[tuple[str | None, list[Note]]]) -> tuple[tuple[list[Note], ...] | None, str | None]:
    """The four voices (S, A, T, B) of a score's parts, or None and a one-line reason.

    `parts` are (name, notes) in score order, parts without notes already left out. The rule is in
    the module docstring; each chosen part is then made monophonic by `monophonic`.
    """
    n = len(parts)
    if n < 4:
        return None, f"{n} part{'s' if n != 1 else ''} with notes (four voices need four parts)"
    by_voice: list[list[int]] = [[], [], [], []]
    for i, (name, _) in enumerate(parts):
        v = voice_of_name(name)
        if v is not None:
            by_voice[v].append(i)
    if all(len(ix) == 1 for ix in by_voice):
        chosen = [ix[0] for ix in by_voice]
    elif n == 4:
        chosen = [0, 1, 2, 3]
    else:
        crowded = next((v for v, ix in enumerate(by_voice) if len(ix) > 1), None)
        if crowded is not None:
            names = ", ".join(repr(parts[i][0]) for i in by_voice[crowded])
            return None, f"{len(by_voice[crowded])} parts sing the {VOICE_NAMES[crowded].lower()} ({names}): more than four voices"
        kept = _without_doublings([notes for _, notes in parts])
        if len(kept) != 4:
            return None, (
                f"{n} parts without a name for each voice, {len(kept)} after leaving out doublings: "
                "cannot tell which four are S, A, T, B"
            )
        chosen = sorted(kept, key=lambda i: -sum(p for _, _, p in parts[i][1]) / len(parts[i][1]))
    return tuple(monophonic(parts[i][1], lowest=(v == 3)) for v, i in enumerate(chosen)), None


def _without_doublings(parts: list[list[Note]]) -> list[int]:
    """Indices of the parts that double no other part, in score order. Part X doubles part Y when at
    least DOUBLING_SHARE of X's notes start with a note of the same pitch class in Y (unison or
    octaves); of two parts that double each other the later one is kept (scores list the instruments
    above the choir)."""
    onsets = [{(round(o, 6), p % 12) for o, _, p in notes} for notes in parts]
    kept = list(range(len(parts)))
    for i in range(len(parts)):
        for j in kept:
            if j != i:
                shared = sum((round(o, 6), p % 12) in onsets[j] for o, _, p in parts[i])
                if shared >= DOUBLING_SHARE * len(parts[i]):
                    kept.remove(i)
                    break
    return kept

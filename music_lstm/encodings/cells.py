"""Four voices as a grid of cells, one per voice per sixteenth, for the network that fills in any
cells given the others (`models.fill`, `tasks.fill`).

A cell holds a token: `HOLD` (the voice's note goes on), `REST`, or a pitch struck there; `MASK`
(only ever an input) marks a cell to be written. Pieces are moved to the key signature of C major /
A minor first (`common_shift`), so the network learns one key; the shift is undone on the way back.

Beside the tokens, every step has its features (`features`): where it falls in the beat and the bar,
whether the soprano holds a fermata there, how far the next phrase end is, and the mode. They are what
the network knows of the metre, the phrase and the key.

    python -c "from music_lstm.encodings.cells import VOCAB, FEATURES; print(VOCAB, FEATURES)"
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..core.errors import MelodyError
from ..core.events import Note
from ..core.scores import Score4

STEPS = 4  # cells per quarter note (sixteenths)
MASK, HOLD, REST = 0, 1, 2
LOW, HIGH = 28, 91  # pitches a cell may hold, in the common key (E1..G6)
VOCAB = 3 + HIGH - LOW + 1  # tokens per cell
BEATS = 6  # a bar's quarter notes told apart (3/2 has six); later ones share the last
AHEAD = 8  # quarter notes to the next phrase end told apart (0..AHEAD-1, then "further")
FEATURES = STEPS + BEATS + 1 + 1 + (AHEAD + 1) + 1


def pitch_token(midi: int) -> int:
    return 3 + int(midi) - LOW


def token_pitch(token: int) -> int:
    return int(token) - 3 + LOW


def common_shift(sharps: int) -> int:
    """Semitones (-6..5) moving a key signature of `sharps` to C major's."""
    return ((-7 * sharps) + 6) % 12 - 6


def steps_of(t: float, name: str = "score") -> int:
    """`t` quarter notes as a whole number of cells; a MelodyError when it is not on the sixteenth grid."""
    s = t * STEPS
    if abs(s - round(s)) > 1e-3:
        raise MelodyError(name, f"a note at {t:g} quarter notes is not on the sixteenth-note grid")
    return int(round(s))


@dataclass
class Cells:
    """One piece as cells: `tokens` (4, T) int, `features` (T, FEATURES) float32, `shift` (the semitones
    the pitches were moved by), and the score it came from (its metre, pickup, key, fermatas)."""

    tokens: np.ndarray
    features: np.ndarray
    shift: int
    score: Score4

    @property
    def steps(self) -> int:
        return self.tokens.shape[1]


def encode(score: Score4, shift: int | None = None, steps: int | None = None, snap: bool = False) -> Cells:
    """`score` as cells, moved by `shift` (default: to C major's key signature). `snap`: notes off the
    sixteenth grid are moved to the nearest sixteenth (training data); otherwise they are a MelodyError.
    Pitches outside LOW..HIGH after the shift are a MelodyError."""
    shift = common_shift(score.sharps) if shift is None else shift
    end = score.end
    T = steps if steps is not None else max(1, int(np.ceil(end * STEPS - 1e-6)))
    tokens = np.full((4, T), REST, dtype=np.int16)
    for v, line in enumerate(score.voices):
        for o, d, p in sorted(line):
            if snap:
                a, b = int(round(o * STEPS)), int(round((o + d) * STEPS))
            else:
                a, b = steps_of(o, score.name), steps_of(o + d, score.name)
            a, b = max(a, 0), min(b, T)
            if b <= a:
                continue
            q = p + shift
            if not LOW <= q <= HIGH:
                raise MelodyError(score.name or "score", f"pitch {p} is outside what the network writes")
            tokens[v, a] = pitch_token(q)
            tokens[v, a + 1:b] = HOLD
    return Cells(tokens, features(score, T), shift, score)


def features(score: Score4, T: int) -> np.ndarray:
    """(T, FEATURES): per sixteenth, the one-hot place in the beat, the one-hot quarter of the bar, a
    downbeat flag, a fermata flag (the soprano's fermata note sounds), the one-hot quarters to the next
    phrase end, and a minor flag."""
    f = np.zeros((T, FEATURES), dtype=np.float32)
    t = np.arange(T) / STEPS
    in_bar = np.mod(t - score.pickup, score.bar_length)
    f[np.arange(T), np.mod(np.arange(T), STEPS)] = 1
    beat = np.minimum(np.floor(in_bar + 1e-6).astype(int), BEATS - 1)
    f[np.arange(T), STEPS + beat] = 1
    f[:, STEPS + BEATS] = in_bar < 1e-6
    sop = sorted(score.voices[0])
    ends = sorted(score.fermatas)
    col = STEPS + BEATS + 1
    for o in ends:
        d = next((n[1] for n in sop if abs(n[0] - o) < 1e-6), 1.0)
        a, b = int(round(o * STEPS)), int(round((o + d) * STEPS))
        f[max(a, 0):min(b, T), col] = 1
    ahead = np.full(T, AHEAD)
    nxt = np.searchsorted(np.array(ends) * STEPS - 1e-6, np.arange(T)) if ends else np.full(T, 0)
    for k in range(T):
        if ends and nxt[k] < len(ends):
            ahead[k] = min(int((ends[nxt[k]] * STEPS - k) // STEPS), AHEAD)
    f[np.arange(T), col + 1 + ahead] = 1
    f[:, -1] = score.mode == "minor"
    return f


def decode(tokens: np.ndarray, shift: int = 0) -> tuple[list[Note], ...]:
    """The four voices of (4, T) `tokens`, moved back by `shift`. A HOLD with nothing to hold is a rest."""
    voices = []
    for v in range(4):
        line: list[Note] = []
        cur = None
        for k, tok in enumerate(tokens[v]):
            tok = int(tok)
            if tok == HOLD and cur is not None:
                cur[1] += 1
                continue
            if cur is not None:
                line.append((cur[0] / STEPS, cur[1] / STEPS, cur[2]))
                cur = None
            if tok >= 3:
                cur = [k, 1, token_pitch(tok) - shift]
        if cur is not None:
            line.append((cur[0] / STEPS, cur[1] / STEPS, cur[2]))
        voices.append(line)
    return tuple(voices)

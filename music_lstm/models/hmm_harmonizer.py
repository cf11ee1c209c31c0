"""A classical harmonizer to measure the LSTM against: a hidden Markov model of one chord per beat.

Per quarter-note beat the hidden state is the chord sounding at the beat: the bass's pitch class and
the set of pitch classes of all four voices. The soprano's pitch class at the beat (or a rest) is
what the state emits. Fit on the training pieces' four voices, in all twelve keys: transitions
previous chord -> chord and emissions chord -> soprano pitch class are counted and smoothed
(transitions back off to how common each chord is; emissions add a small count to every pitch
class). Chords seen in fewer than `min_pieces` training pieces (counted up to transposition) are
pooled into one `other` state, which decoding never chooses.

Harmonizing a melody: Viterbi gives the likeliest chord per beat; `voice` writes alto, tenor and
bass under the melody (see `voice`), so the soprano is the melody exactly.

`nll_bits` scores Bach's own chords given his soprano, in bits per quarter note: it scores the chord
labels per beat only (not the voicing or the rhythm of the alto, tenor and bass, which the LSTM's
figure also pays for), so the two figures are not the same quantity.

    python -m music_lstm evaluate --harmonize --run-dir RUN
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..core.events import Note
from ..core.ranges import VOICING_RANGES  # where each voice may go when voiced

REST = 12  # the soprano symbol of a beat where the soprano is silent
OTHER = -1  # the state code of every rare chord
# Chords a state can stand for: a bass pitch class and a set of pitch classes holding it.
POSSIBLE_CHORDS = 12 * 2**11
START = (72, 65, 58, 48)  # the voices' notional previous pitches before the first beat


def state_code(bass_pc: int, pcs: Sequence[int]) -> int:
    mask = 0
    for pc in pcs:
        mask |= 1 << (pc % 12)
    return (bass_pc % 12) << 12 | mask


def state_parts(code: int) -> tuple[int, tuple[int, ...]]:
    """(bass pitch class, sorted pitch classes) of a state code."""
    return code >> 12, tuple(pc for pc in range(12) if code >> pc & 1)


def _transpose_code(code: int, k: int) -> int:
    if code == OTHER:
        return code
    bass, pcs = state_parts(code)
    return state_code(bass + k, [pc + k for pc in pcs])


def _sounding(line: Sequence[Note], t: float) -> int | None:
    for o, d, p in line:
        if o <= t + 1e-6 < o + d:
            return p
    return None


def beats(voices: Sequence[Sequence[Note]]) -> range:
    """The beats (integer quarter-note times) a piece spans."""
    notes = [n for v in voices for n in v]
    start = math.floor(min(o for o, _, _ in notes) + 1e-6)
    end = math.ceil(max(o + d for o, d, _ in notes) - 1e-6)
    return range(start, end)


def soprano_symbols(soprano: Sequence[Note], grid: range) -> list[int]:
    """Per beat: the soprano's pitch class sounding at the beat, else the first one struck within
    it, else REST."""
    out = []
    for b in grid:
        p = _sounding(soprano, b)
        if p is None:
            p = next((q for o, _, q in soprano if b <= o < b + 1), None)
        out.append(REST if p is None else p % 12)
    return out


def chord_states(voices: Sequence[Sequence[Note]], grid: range) -> list[int | None]:
    """Per beat: the state code of the four voices sounding at the beat (bass = the lowest
    sounding voice), or None where none sounds."""
    out = []
    for b in grid:
        pitches = [p for p in (_sounding(v, b) for v in voices) if p is not None]
        out.append(state_code(min(pitches), pitches) if pitches else None)
    return out


@dataclass
class Voicing:
    cost: float
    pitches: tuple[int, int, int]  # alto, tenor, bass


class HMMHarmonizer:
    def __init__(self, transition_backoff: float = 5.0, emission_smoothing: float = 0.5, min_pieces: int = 2,
                 all_keys: bool = True):
        self.all_keys = all_keys  # fit on the pieces moved to all twelve keys, not only their own
        self.transition_backoff = transition_backoff  # pseudo-counts of the chord-frequency backoff
        self.emission_smoothing = emission_smoothing  # pseudo-count per soprano symbol and chord
        self.min_pieces = min_pieces
        self.states: list[int] = []

    # --- fitting ---------------------------------------------------------------------------------

    def fit(self, pieces: Sequence[Sequence[Sequence[Note]]]) -> "HMMHarmonizer":
        """Count chords, chord pairs and soprano symbols over the pieces' beats (S, A, T, B voices
        each), in all twelve keys (`all_keys`) or in their own."""
        seqs = []
        for voices in pieces:
            if not any(voices):
                continue
            grid = beats(voices)
            seqs.append((chord_states(voices, grid), soprano_symbols(voices[0], grid)))
        # How many pieces hold each chord, up to transposition (its class: the code moved to bass C).
        pieces_of: Counter = Counter()
        for states, _ in seqs:
            pieces_of.update({_transpose_code(s, -(s >> 12)) for s in states if s is not None})
        keys = range(12) if self.all_keys else [0]
        kept = {c for c, n in pieces_of.items() if n >= self.min_pieces}
        states = {_transpose_code(c, k) for c in kept for k in range(12)}
        if not self.all_keys:
            states &= {s for states, _ in seqs for s in states if s is not None}
        self.states = sorted(states) + [OTHER]
        index = {s: i for i, s in enumerate(self.states)}
        n = len(self.states)
        start, unigram = np.zeros(n), np.zeros(n)
        pairs, emit = np.zeros((n, n)), np.zeros((n, REST + 1))
        for states, sop in seqs:
            for k in keys:
                ids = [None if s is None else index.get(_transpose_code(s, k), n - 1) for s in states]
                obs = [o if o == REST else (o + k) % 12 for o in sop]
                prev = None
                for i, o in zip(ids, obs):
                    if i is None:  # a silent beat: the chain starts again after it
                        prev = None
                        continue
                    unigram[i] += 1
                    emit[i, o] += 1
                    if prev is None:
                        start[i] += 1
                    else:
                        pairs[prev, i] += 1
                    prev = i
        uni = (unigram + 1) / (unigram.sum() + n)
        a = self.transition_backoff
        self.log_start = np.log((start + a * uni) / (start.sum() + a))
        self.trans = (pairs + a * uni) / (pairs.sum(axis=1, keepdims=True) + a)  # (from, to)
        self.log_trans = np.log(self.trans)
        self._log_trans_to = np.ascontiguousarray(self.log_trans.T)  # (to, from): Viterbi reduces along rows
        e = self.emission_smoothing
        self.log_emit = np.log((emit + e) / (emit.sum(axis=1, keepdims=True) + e * (REST + 1)))  # (state, symbol)
        self.index = index
        return self

    # --- decoding --------------------------------------------------------------------------------

    def decode(self, symbols: Sequence[int]) -> list[int]:
        """The likeliest state codes for a sequence of soprano symbols (Viterbi; never `other`)."""
        usable = np.zeros(len(self.states))
        usable[-1] = -np.inf
        score = self.log_start + self.log_emit[:, symbols[0]] + usable
        back = []
        for o in symbols[1:]:
            cand = self._log_trans_to + score  # (to, from)
            best = cand.argmax(axis=1)
            back.append(best)
            score = cand[np.arange(len(best)), best] + self.log_emit[:, o] + usable
        path = [int(score.argmax())]
        for best in reversed(back):
            path.append(int(best[path[-1]]))
        return [self.states[i] for i in reversed(path)]

    def harmonize(self, melody: Sequence[Note]) -> tuple[list[Note], ...]:
        """Four voices (S, A, T, B) under `melody`, the soprano the melody itself."""
        melody = sorted(melody)
        grid = beats([melody])
        return voice(melody, self.decode(soprano_symbols(melody, grid)), grid)

    # --- scoring ---------------------------------------------------------------------------------

    def nll_bits(self, voices: Sequence[Sequence[Note]]) -> tuple[float, float]:
        """(bits, quarter notes): -log2 P(the piece's chord per beat | its soprano) under the model,
        summed over stretches of sounding beats, and the number of beats scored. A rare chord pays
        for `other` and then for one chord among all those `other` may stand for."""
        grid = beats(voices)
        states, sop = chord_states(voices, grid), soprano_symbols(voices[0], grid)
        other_share = math.log(POSSIBLE_CHORDS - (len(self.states) - 1))
        nats, counted = 0.0, 0
        run: list[tuple[int, int]] = []
        for s, o in list(zip(states, sop)) + [(None, REST)]:
            if s is not None:
                i = self.index.get(s, len(self.states) - 1)
                run.append((i, o))
                nats += other_share if i == len(self.states) - 1 else 0.0
                continue
            if run:
                ids, obs = zip(*run)
                nats -= self._joint(ids, obs) - self._evidence(obs)
                counted += len(run)
                run = []
        return nats / math.log(2), float(counted)

    def _joint(self, ids, obs) -> float:
        total = self.log_start[ids[0]] + self.log_emit[ids[0], obs[0]]
        for a, b, o in zip(ids, ids[1:], obs[1:]):
            total += self.log_trans[a, b] + self.log_emit[b, o]
        return float(total)

    def _evidence(self, obs) -> float:
        """log P(soprano symbols), the forward algorithm in log space."""
        alpha = self.log_start + self.log_emit[:, obs[0]]
        for o in obs[1:]:
            m = alpha.max()
            alpha = np.log(np.exp(alpha - m) @ self.trans) + m + self.log_emit[:, o]
        m = alpha.max()
        return float(m + np.log(np.exp(alpha - m).sum()))


# --- voicing -----------------------------------------------------------------------------------------

def _candidates(pcs: Sequence[int], low: int, high: int) -> list[int]:
    return [p for p in range(low, high + 1) if p % 12 in pcs]


def _parallels(before: Sequence[int | None], after: Sequence[int]) -> int:
    """Pairs of voices moving the same way from a perfect fifth, octave or unison into the same."""
    count = 0
    for i in range(4):
        for j in range(i + 1, 4):
            a, b = before[i], before[j]
            if a is None or b is None or a == after[i] or b == after[j]:
                continue
            interval = abs(a - b) % 12
            if interval in (0, 7) and abs(after[i] - after[j]) % 12 == interval \
                    and np.sign(after[i] - a) == np.sign(after[j] - b):
                count += 1
    return count


def best_voicing(soprano: int, state: int, previous: Sequence[int | None]) -> Voicing:
    """Alto, tenor and bass for one beat: the bass on the chord's bass pitch class, alto and tenor
    on chord tones, no voice above the one over it, each voice within `VOICING_RANGES`; of those,
    the one that moves the voices least, with penalties for a chord tone left out (6), a parallel
    fifth or octave (10 each), and more than an octave between soprano and alto or alto and tenor (4)."""
    bass_pc, pcs = state_parts(state)
    (_, _), (alo, ahi), (tlo, thi), (blo, bhi) = VOICING_RANGES
    prev = [START[k] if p is None else p for k, p in enumerate(previous)]
    best = None
    for b in _candidates([bass_pc], blo, bhi):
        for t in _candidates(pcs, max(tlo, b), thi):
            for a in _candidates(pcs, max(alo, t), min(ahi, soprano)):
                cost = 0.5 * abs(b - prev[3]) + abs(t - prev[2]) + abs(a - prev[1])
                cost += 6 * len(set(pcs) - {soprano % 12, a % 12, t % 12, b % 12})
                cost += 10 * _parallels(previous, (soprano, a, t, b))
                cost += 4 * ((soprano - a > 12) + (a - t > 12))
                if best is None or cost < best.cost:
                    best = Voicing(cost, (a, t, b))
    if best is None:  # a soprano too low for the ranges: take the chord's tones just under it
        a = max(_candidates(pcs, soprano - 12, soprano))
        t = max(_candidates(pcs, a - 12, a))
        b = max(_candidates([bass_pc], t - 12, t))
        best = Voicing(math.inf, (a, t, b))
    return best


def voice(melody: Sequence[Note], states: Sequence[int], grid: range) -> tuple[list[Note], ...]:
    """Alto, tenor and bass for a chord per beat under `melody`; a voice that keeps its pitch while
    the chord stays the same is held, not struck again. The lower voices sound from the melody's
    first onset to its last release."""
    start = min(o for o, _, _ in melody)
    end = max(o + d for o, d, _ in melody)
    lines: list[list[list]] = [[], [], []]
    previous: list[int | None] = [None] * 4
    last_state = None
    for b, state in zip(grid, states):
        s = _sounding(melody, b)
        if s is None:
            s = next((q for o, _, q in melody if b <= o < b + 1), previous[0] or START[0])
        a, t, bass = best_voicing(s, state, previous).pitches
        lo, hi = max(b, start), min(b + 1, end)
        for k, p in enumerate((a, t, bass)):
            line = lines[k]
            if line and state == last_state and line[-1][2] == p and abs(line[-1][0] + line[-1][1] - lo) < 1e-9:
                line[-1][1] += hi - lo
            else:
                line.append([lo, hi - lo, p])
        previous = [s, a, t, bass]
        last_state = state
    return (list(melody),) + tuple([(float(o), float(d), int(p)) for o, d, p in line] for line in lines)

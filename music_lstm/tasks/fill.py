"""Writing any cells of four voices given the others, with the `fill_lstm` network: harmonizing a
melody, writing the voices a file does not give (`--keep`), rewriting a passage (`rewrite`).

The sampler is blocked Gibbs sampling with an annealed mask (as Coconet's): all cells to write start
masked and are drawn from the network's distributions; then, round after round, a random share of
them (falling from all to `FINAL_SHARE`) is masked again and redrawn given everything else, the music
after a cell as well as before it. So a note written early can still be revised when what follows
makes it wrong, which left-to-right writing cannot do.

What every draw respects: each voice's range (Bach's, `core.ranges.BACH_RANGES`, two semitones wider);
no rest while a given voice sounds; a held note only after a note. In the last rounds, and in a check
at the end, each cell is drawn under the voice-leading guard: no parallel fifths or octaves with any
other voice (both voices moving the same way into the same perfect interval), no crossing; and, where
those allow, no note ended at a length the chorales hardly use (a dotted eighth, 7/4), and a sixteenth
only as a passing or neighbour note (after a note, over by the next eighth). Cells that
repeat an earlier stretch of the melody (`links`) copy the harmony written there.

After the rounds, `SWEEPS` rounds redraw the pitch of every other note of one written voice at a
time, each knowing the notes either side, with its rhythm kept. Where the run folder has move weights
(`moves.json`, `runs.fill_run.read_moves`), every draw under the guard weighs the move into the note
and out of it by its size: fitted on the training chorales (experiments/fill_moves.py) so that the
network, given Bach's own notes either side, moves each voice by each size as often as Bach does; and
a note struck off the beat that does not come and go by step, as passing and neighbour notes do, is
weighed down (`PASSING`), as is a bass note that makes the bass swing between two pitches, A B A B
(`BASS_SWING`).

    python -m music_lstm harmonize "c'4 d' e' f' g'2^" --seed 1
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np

from ..core.errors import MelodyError
from ..core.events import common_length
from ..core.ranges import BACH_RANGES
from ..core.scores import Score4
from ..encodings import cells
from ..encodings.cells import HOLD, MASK, REST, VOCAB
from ..models.fill import voice_rows
from ..runs.fill_run import MOVE_BINS

TEMPERATURE = 0.3  # among the pitches of each draw (chosen on training-side pieces: experiments/fill_sampling.py)
ROUNDS = 4  # resampling rounds after the first draw (chosen on training-side pieces: BENCHMARKS.md)
FINAL_SHARE = 0.05  # the share of cells redrawn in the last rounds
GUARD_FROM = 0.25  # rounds redrawing this share or less draw under the voice-leading guard
CADENCE_ROUNDS = 0  # rounds more, each redrawing CADENCE_SHARE of the cells near a phrase end (none: `_arrivals`
# draws each phrase end with its approach, which made these rounds gain nothing)
CADENCE_SHARE = 0.3
CADENCE_REACH = 2.0  # quarter notes before a fermata that count as its approach
ARRIVALS = True  # each phrase ends on a root-position triad (`_arrivals`), where the network offers one
APPROACHES = True  # drawn with it, the chord a beat before: V-I, IV-I, or an arrival on the home key's V
HOLD_AT_ENDS = True  # and held while the given voices hold the phrase's last note
OTHER_ENDS = 0.002  # the weight of an approach and arrival that make no cadence, against 1 for those that do
TOP = 96  # the likeliest chords kept for each of the two when they are drawn together
KEEP_REPEAT_ODDS = True  # striking the same pitch again keeps the network's odds (`_tempered`)
REPEAT_WEIGHT = 0.25  # and then this weight (chosen on training-side pieces, BENCHMARKS.md)
CONTEXT = 32  # cells (two bars of 4/4) the network reads either side of a passage it rewrites
REWRITE_ROUNDS = 6  # resampling rounds for a rewritten passage (both chosen on training-side pieces: BENCHMARKS.md)
WIDEN = 2  # semitones each voice may go beyond Bach's range
COMMON_LENGTHS = True  # under the guard, a written note ends only at a length the chorales use (`core.events.common_length`)
SIXTEENTHS = True  # and a note struck between two eighths follows a note and is over by the next eighth (`_sixteenths_ok`)
PASSING = 0.1  # under the guard, the weight of a note struck off the beat for a move into it or out of it
# that is no step (1 or 2 semitones), once for each (`_passing_weights`; chosen on
# training-side pieces: BENCHMARKS.md)
BASS_SWING = 0.01  # under the guard, the weight of a bass note that makes four notes swing between two pitches
# (A B A B) (chosen on training-side pieces: BENCHMARKS.md)
SWEEPS = 9  # rounds more under the guard, each redrawing the pitch of every other note of one written voice,
# knowing the notes either side (chosen with ROUNDS on training-side pieces: BENCHMARKS.md)
VOICES = ("soprano", "alto", "tenor", "bass")

PITCHES = np.arange(VOCAB) - 3 + cells.LOW  # the pitch of each token (meaningless for MASK/HOLD/REST)
# Pitch classes outside the scale of the common key (`encodings.cells`: C major, or A minor with both its
# sixth and seventh degrees), for the guard against a chromatic clash (as `eval.bach_style` defines it).
OUTSIDE = {mode: ~np.isin(np.arange(12), [(tonic + k) % 12 for k in steps])
           for mode, tonic, steps in (("major", 0, (0, 2, 4, 5, 7, 9, 11)), ("minor", 9, (0, 2, 3, 5, 7, 8, 9, 10, 11)))}
_STEPS = np.isin(np.abs(np.subtract.outer(PITCHES[3:], PITCHES[3:])), (1, 2))  # token pitch to pitch: a step?
_SEMITONE = np.abs(np.subtract.outer(np.arange(12), np.arange(12))) % 10 == 1  # 1 or 11 apart
CLASHES = {mode: _SEMITONE & (out[:, None] | out[None, :]) for mode, out in OUTSIDE.items()}  # (12, 12) bool


def voice_index(name: str) -> int:
    """0-3 for soprano/alto/tenor/bass (or S/A/T/B); a MelodyError naming the word otherwise."""
    key = name.strip().lower()
    for v, full in enumerate(VOICES):
        if key in (full, full[0]):
            return v
    raise MelodyError("voices", f"unknown voice {name!r} (choose from {', '.join(VOICES)})")


def _next_onset(s: np.ndarray, v: int, t: int) -> int:
    """The first cell after `t` of voice `v` in `s` (4, T) that does not hold (T: none)."""
    t2, T = t + 1, s.shape[1]
    while t2 < T and s[v, t2] == HOLD:
        t2 += 1
    return t2


def _note_start(s: np.ndarray, v: int, t: int) -> int:
    """The cell where the note or rest sounding at cell `t` of voice `v` in `s` began (0 at the latest)."""
    while t > 0 and s[v, t] == HOLD:
        t -= 1
    return t


class FillWriter:
    """A `fill_lstm` network with its sampler. `net` is a `models.fill_numpy.FillNet`."""

    def __init__(self, net, path: Path | None = None, moves: np.ndarray | None = None):
        self.net, self.path = net, path
        self.moves = moves  # (4, MOVE_BINS): a weight per voice and move size, into and out of a note drawn under the guard

    @classmethod
    def from_run(cls, path) -> "FillWriter":
        from ..models.fill_numpy import FillNet
        from ..runs.fill_run import load_fill_model, read_fill_config, read_moves

        read_fill_config(Path(path))  # a one-line error when the folder is not of this kind
        return cls(FillNet.from_keras(load_fill_model(Path(path))), Path(path), read_moves(Path(path)))

    # --- the three tasks ---------------------------------------------------------------------------

    def harmonize(self, score: Score4, keep: Sequence[int] = (0,), **options) -> list[Score4]:
        """The voices not in `keep` written for the whole piece, those in `keep` kept note for note."""
        T = self._steps(score)
        writable = np.ones((4, T), bool)
        writable[list(keep)] = False
        if not writable.any():
            raise MelodyError(score.name or "score", "every voice is kept: nothing to write")
        for v in keep:
            if not score.voices[v]:
                raise MelodyError(score.name or "score", f"the {VOICES[v]} to keep has no notes")
        return self.fill(score, writable, **options)

    def rewrite(self, score: Score4, bars: tuple[int, int], voices: Sequence[int] = (0, 1, 2, 3),
                **options) -> list[Score4]:
        """Bars `bars` (1-based, inclusive; 0 is a pickup) of `voices` written again; every other note
        as it was. A note belongs to the passage when it starts inside it."""
        first, last = bars
        if first > last or first < 0 or last > score.bars or (first == 0 and score.pickup <= 0):
            raise MelodyError(score.name or "score",
                              f"bars {first}-{last} are not in the piece (it has bars 1-{score.bars})")
        start, end = score.bar_span(first, last)
        T = self._steps(score)
        writable = np.zeros((4, T), bool)
        a, b = cells.steps_of(start), min(T, cells.steps_of(end))
        for v in voices:
            writable[v, a:b] = True
            for o, d, _ in score.voices[v]:
                s, e = cells.steps_of(o), cells.steps_of(o + d)
                if s < a < e:  # a note from before the passage: kept whole
                    writable[v, a:e] = False
                if a <= s < b:  # a note of the passage: rewritten whole, though it lasts past the end
                    writable[v, s:min(e, T)] = True
        if not writable.any():
            raise MelodyError(score.name or "score", f"bars {first}-{last} of {', '.join(VOICES[v] for v in voices)} "
                                                     "leave nothing to write")
        tail = writable.copy()
        tail[:, :b] = False  # past the passage: its last note may go on or stop, nothing new starts there
        options.setdefault("rounds", REWRITE_ROUNDS)
        return self.fill(score, writable, hold_only=tail, **options)

    # --- the sampler ---------------------------------------------------------------------------------

    def fill(self, score: Score4, writable: np.ndarray, seed=None, num_outputs: int = 1,
             temperature: float = TEMPERATURE, rounds: int = ROUNDS, links: Sequence[tuple[float, float, float]] = (),
             guard: bool = True, cadence_rounds: int = CADENCE_ROUNDS, hold_only: np.ndarray | None = None,
             end_on_tonic: bool = False, rests: bool = True, widen: int = WIDEN) -> list[Score4]:
        """`num_outputs` copies of `score` with the cells `writable` (4, T) written; `links` (source,
        repeat, length in quarter notes) make a repeated stretch copy the harmony of its source; cells in
        `hold_only` (4, T) may only hold or rest (no note starts there); with `end_on_tonic`, the last
        phrase end arrives on the home key's tonic, from its V, where the network offers it; without
        `rests`, no written cell rests (otherwise a cell may rest where no given voice sounds); `widen`: the
        semitones a written voice may go beyond Bach's range (`core.ranges.BACH_RANGES`). BLAS runs
        on one thread: the network's products are small, and a second thread only waits when the other
        core is busy."""
        from threadpoolctl import threadpool_limits

        with threadpool_limits(1, user_api="blas"):
            return self._fill(score, writable, seed, num_outputs, temperature, rounds, links, guard, cadence_rounds,
                              hold_only, end_on_tonic, rests, widen)

    def _fill(self, score, writable, seed, num_outputs, temperature, rounds, links, guard, cadence_rounds, hold_only,
              end_on_tonic=False, rests=True, widen=WIDEN):
        rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
        enc = cells.encode(score, steps=writable.shape[1])
        hold_only = np.zeros_like(writable) if hold_only is None else hold_only
        whole, lo = enc.tokens, 0
        cols = np.nonzero(writable.any(axis=0))[0]
        if not links and len(cols) and (cols[0] > CONTEXT or cols[-1] + 1 + CONTEXT < enc.steps):
            # A passage: the network reads CONTEXT cells either side of it, not the whole piece.
            lo, hi = max(0, cols[0] - CONTEXT), min(enc.steps, cols[-1] + 1 + CONTEXT)
            enc = cells.Cells(enc.tokens[:, lo:hi], enc.features[lo:hi], enc.shift, enc.score)
            writable, hold_only = writable[:, lo:hi], hold_only[:, lo:hi]
        B, T = num_outputs, enc.steps
        allowed = self._allowed(enc, writable, widen)
        allowed[hold_only, 3:] = False
        if not rests:
            allowed[:, :, REST] = False
        state = np.repeat(enc.tokens[None].astype(np.int64), B, axis=0)
        state[:, writable] = MASK
        copy_src, copy_dst = self._links(links, writable)
        drawn = writable.copy()
        drawn[copy_dst[0], copy_dst[1]] = False  # copies are never drawn
        feats = np.repeat(enc.features[None], B, axis=0)
        cells_v, cells_t = np.nonzero(drawn)
        clashes = CLASHES.get(enc.score.mode, CLASHES["major"])
        grid = (np.arange(T) + lo) / cells.STEPS - score.pickup  # quarter notes from the first beat
        on_eighth = np.abs(grid / 0.5 % 1 - 0.5) > 0.5 - 1e-6  # (T,)
        on_beat = np.abs(grid % 1 - 0.5) > 0.5 - 1e-6
        for n in range(rounds + 1):
            share = 1.0 if n == 0 else max(FINAL_SHARE, 1.0 - n / (0.7 * rounds))
            pick = rng.random((B, len(cells_v))) < share
            if n > 0:
                pick[np.arange(B), rng.integers(len(cells_v), size=B)] = True
            mask = np.zeros_like(state, dtype=bool)
            for b in range(B):
                mask[b, cells_v[pick[b]], cells_t[pick[b]]] = True
            state[mask] = MASK
            self._copy(state, copy_src, copy_dst)
            probs = self._probs(state, feats)  # (B, 4, T, V)
            self._draw(state, probs, mask, allowed, rng, temperature, guard and share <= GUARD_FROM, clashes=clashes,
                       on_eighth=on_eighth, on_beat=on_beat)
            self._copy(state, copy_src, copy_dst)
        written = [v for v in range(4) if drawn[v].any()]
        for n in range(SWEEPS if written else 0):  # every other note of one written voice, knowing the notes either side
            one = np.zeros_like(drawn)
            one[written[n % len(written)]] = drawn[written[n % len(written)]]
            mask = self._alternate_notes(state, one, (n // len(written)) % 2)
            old = state.copy()
            state[mask] = MASK
            probs = self._probs(state, feats)
            self._draw(state, probs, mask, allowed, rng, temperature, guard, clashes=clashes, on_eighth=on_eighth,
                       on_beat=on_beat, pitch_only=old)
            self._copy(state, copy_src, copy_dst)
        near = self._cadence_cells(enc, drawn, lo)
        for _ in range(cadence_rounds if near.any() else 0):  # the approach to each phrase end drawn again
            mask = np.zeros_like(state, dtype=bool)
            mask[:, near] = rng.random((B, int(near.sum()))) < CADENCE_SHARE
            state[mask] = MASK
            probs = self._probs(state, feats)
            self._draw(state, probs, mask, allowed, rng, temperature, guard, clashes=clashes, on_eighth=on_eighth,
                       on_beat=on_beat)
            self._copy(state, copy_src, copy_dst)
        if ARRIVALS:
            self._arrivals(state, enc, drawn, feats, allowed, rng, temperature, lo, end_on_tonic)
            self._copy(state, copy_src, copy_dst)
        if guard:
            last = None
            for _ in range(3):
                bad = self._violations(state, writable, clashes, on_eighth)
                if not bad.any() or last is not None and np.array_equal(bad, last):
                    break  # none left, or the same cells as the redraw before: it would draw them the same way
                last = bad
                masked = state.copy()
                masked[bad] = MASK
                probs = self._probs(masked, feats)
                self._draw(state, probs, bad, allowed, rng, temperature, True, greedy=True, clashes=clashes,
                           on_eighth=on_eighth, on_beat=on_beat)
                self._copy(state, copy_src, copy_dst)
        out = []
        for b in range(B):
            tokens = whole.copy()
            tokens[:, lo:lo + T] = state[b]
            voices = cells.decode(tokens, enc.shift)
            out.append(replace(score, voices=tuple(list(v) for v in voices)))
        return out

    # --- pieces of the sampler -------------------------------------------------------------------------

    def _probs(self, state: np.ndarray, feats: np.ndarray) -> np.ndarray:
        """(B, 4, T, VOCAB): the network's distributions for every cell of `state` (B, 4, T)."""
        rows = voice_rows(state.transpose(0, 2, 1))
        return self.net.probs(rows, feats).transpose(0, 2, 1, 3)

    @staticmethod
    def _alternate_notes(state: np.ndarray, drawn: np.ndarray, parity: int) -> np.ndarray:
        """(B, 4, T) bool: the first cell of every other note (the `parity`-th, 0 or 1, of each run of
        notes) among the cells `drawn` (4, T) of `state` (B, 4, T)."""
        onset = (state >= 3) & drawn[None]
        count = np.cumsum(onset, axis=2)
        return onset & (count % 2 == parity)

    def _move_weights(self, v: int, before: int, after: int) -> np.ndarray:
        """(VOCAB,) the weight `moves` gives each pitch of voice `v` for its move from `before` and to
        `after` (-1: no note there); a hold, a rest and the pitch struck again weigh 1."""
        w = np.ones(VOCAB)
        for other in (before, after):
            if other >= 0:
                size = np.minimum(np.abs(PITCHES[3:] - other), MOVE_BINS - 1)
                w[3:] *= np.where(size == 0, 1.0, self.moves[v, size])
        return w

    @staticmethod
    def _passing_weights(s: np.ndarray, v: int, t: int, sound: np.ndarray, on_beat: np.ndarray) -> np.ndarray:
        """(VOCAB,) the weight of each token of cell (v, t) of `s` (4, T) off the beat (`on_beat` (T,): the
        cells on a beat): `PASSING` for a pitch no step (1 or 2 semitones) from the note sounding before,
        and again for one no step from the next note where that is known; 1 for a hold, a rest, and every
        token on a beat. Bach's notes off the beat are mostly passing and neighbour notes."""
        w = np.ones(VOCAB)
        if on_beat[t]:
            return w
        before = sound[v, t - 1] if t > 0 else -1
        if before >= 0:
            w[3:] *= np.where(_STEPS[cells.pitch_token(before) - 3], 1.0, PASSING)
        t2 = _next_onset(s, v, t)
        if t2 < s.shape[1] and s[v, t2] >= 3:
            w[3:] *= np.where(_STEPS[s[v, t2] - 3], 1.0, PASSING)
        return w

    @staticmethod
    def _swing_weights(s: np.ndarray, t: int) -> np.ndarray:
        """(VOCAB,) `BASS_SWING` for each pitch of the bass's cell t of `s` (4, T) that makes four notes in
        a row, with the bass's notes either side, swing between two pitches (A B A B); 1 for every other
        token and where no note starts at t."""
        w = np.ones(VOCAB)
        line = s[3]
        b = [int(x) for x in line[:t][line[:t] >= 3][-3:]]  # the notes before, the nearest last
        a = [int(x) for x in line[t + 1:][line[t + 1:] >= 3][:3]]  # the notes after
        swinging = set()  # for each window of four with this note in it, the one pitch that makes it swing
        if len(b) == 3 and b[0] == b[2] != b[1]:
            swinging.add(b[1])  # A B A [B]
        if len(b) >= 2 and a and b[-1] == a[0] != b[-2]:
            swinging.add(b[-2])  # A B [A] B
        if b and len(a) >= 2 and b[-1] == a[0] != a[1]:
            swinging.add(a[1])  # A [B] A B
        if len(a) == 3 and a[0] == a[2] != a[1]:
            swinging.add(a[1])  # [A] B A B
        for k in swinging:
            w[k] = BASS_SWING
        return w

    @staticmethod
    def _cadence_cells(enc: cells.Cells, drawn: np.ndarray, lo: int = 0) -> np.ndarray:
        """(4, T) bool: cells drawn that lie in a fermata note or the CADENCE_REACH quarter notes before it
        (the cells from `lo` of the piece on)."""
        near = np.zeros(drawn.shape[1], bool)
        for o in enc.score.fermatas:
            a = max(0, int(round((o - CADENCE_REACH) * cells.STEPS)) - lo)
            b = min(drawn.shape[1], int(round(o * cells.STEPS)) + cells.STEPS - lo)
            if b <= 0:
                continue
            near[a:b] = True
        return drawn & near[None, :]

    def _arrivals(self, state, enc, drawn, feats, allowed, rng, temperature, lo=0, end_on_tonic=False) -> None:
        """The written voices' cells at each phrase end (a fermata's onset) drawn again together, among the
        chords that make a root-position major or minor triad with the given voices (its third present,
        nothing outside it, no voice crossing), each chord as likely as the product of the network's
        tempered odds for its notes; left as they are where no such chord is offered. With `APPROACHES`,
        the written voices a beat before are drawn with them, the pair among those that make a cadence as
        `eval.bach_style` counts one (a dominant on the arrival's fifth, a triad on its fourth, or an
        arrival on the home key's V), no parallels into either chord; the written voices then hold the
        approach's notes until the arrival. Where no such pair is offered, the arrival alone is drawn. With
        `HOLD_AT_ENDS` the written voices then hold the arrival while every given voice holds its note. With
        `end_on_tonic` the last phrase end takes only a triad on the home key's tonic."""
        B, _, T = state.shape
        beat = 6 if enc.score.meter[1] == 8 and enc.score.meter[0] % 3 == 0 and enc.score.meter[0] > 3 else 4
        home_v = 7 if enc.score.mode == "major" else 4  # the common key's V: of C major, of A minor
        home = 0 if enc.score.mode == "major" else 9  # and its tonic
        last = max(enc.score.fermatas, default=None)
        ends = []
        for o in enc.score.fermatas:
            t = int(round(o * cells.STEPS)) - lo
            free = [v for v in range(4) if 0 <= t < T and drawn[v, t]]
            a = t - beat
            before = [v for v in range(4) if APPROACHES and 0 < a < T and drawn[v, a]] if free else []
            if free:
                ends.append((t, free, a, before, end_on_tonic and o == last))
        if not ends:
            return
        masked = state.copy()
        for t, free, a, before, _ in ends:
            masked[:, free, t] = MASK
            masked[:, before, a] = MASK
        probs = self._probs(masked, feats)  # one reading for all of them: they lie a phrase apart
        for t, free, a, before, tonic_only in ends:
            for b in range(B):
                sound = self._sounding(state[b])
                held = [v for v in before if drawn[v, a + 1:t].all()]  # hold the approach's note to the arrival
                arrival = self._chords(state[b], sound, probs[b], allowed, t, free, temperature)
                if arrival is None:
                    continue
                tokens, pitches, weight = arrival
                triads = weight * self._root_triads(pitches)
                if tonic_only:  # the piece's last chord: its tonic (the bass, a root-position triad's root)
                    triads = triads * (pitches[:, 3] % 12 == home)
                weight = triads * self._no_parallels_into(pitches, sound[:, t - 1]) if t > 0 else triads
                pair = None
                if before:  # the pair checks its own move into the arrival; a held voice strikes it
                    struck = triads * (tokens[:, held] != HOLD).all(axis=1)
                    if struck.sum() > 0:
                        pair = self._approach(state[b], sound, probs[b], allowed, a, before, temperature,
                                              tokens, pitches, struck, home_v, rng, home if tonic_only else None)
                if pair is None and weight.sum() <= 0:
                    continue
                if pair is not None:
                    tokens, pick, app_tokens, app_pick = pair
                    for v in before:
                        state[b, v, a] = app_tokens[app_pick, v]
                    for v in held:
                        state[b, v, a + 1:t] = HOLD
                else:
                    pick = self._pick(weight, rng)
                for v in free:
                    state[b, v, t] = tokens[pick, v]
                given = [v for v in range(4) if v not in free]
                if HOLD_AT_ENDS and given:  # the chord held while the given voices hold the phrase's last note
                    stop = t + 1
                    while stop < T and all(state[b, v, stop] == HOLD for v in given):
                        stop += 1
                    for v in free:
                        if drawn[v, t + 1:stop].all():
                            state[b, v, t + 1:stop] = HOLD

    @staticmethod
    def _pick(weight: np.ndarray, rng) -> int:
        pick = int(np.searchsorted(np.cumsum(weight), rng.random() * weight.sum(), side="right"))
        return min(pick, len(weight) - 1)

    @staticmethod
    def _chords(s, sound, probs, allowed, t, free, temperature):
        """Every chord the voices `free` may take at cell t of `s` (4, T), the others as they sound:
        (tokens (N, 4), pitches (N, 4), the product of the free voices' tempered odds (N,)); None where a
        given voice rests there."""
        options = []  # per voice: (tokens, pitches, tempered odds)
        for v in range(4):
            if v not in free:
                if sound[v, t] < 0:
                    return None
                options.append((np.array([s[v, t]]), np.array([sound[v, t]]), np.ones(1)))
                continue
            tok = np.nonzero(allowed[v, t] & (np.arange(VOCAB) >= 3))[0]
            pitch = PITCHES[tok]
            if allowed[v, t, HOLD] and t > 0 and sound[v, t - 1] >= 0:
                tok, pitch = np.append(tok, HOLD), np.append(pitch, sound[v, t - 1])
            odds = probs[v, t, tok] ** (1.0 / max(temperature, 1e-3))
            options.append((tok, pitch, odds))
        grid = np.meshgrid(*[np.arange(len(o[0])) for o in options], indexing="ij")
        idx = [g.ravel() for g in grid]
        tokens = np.stack([options[v][0][idx[v]] for v in range(4)], axis=1)
        pitches = np.stack([options[v][1][idx[v]] for v in range(4)], axis=1)
        weight = np.prod([options[v][2][idx[v]] for v in range(4)], axis=0)
        return tokens, pitches, weight

    def _approach(self, s, sound, probs, allowed, a, before, temperature, arr_tokens, arr_pitches, arr_weight,
                  home_v, rng, tonic=None):
        """The approach (the cells at `a` of the voices `before`) and the arrival drawn as a pair that
        makes a cadence (`_arrivals`): (arrival tokens, its pick, approach tokens, its pick), or None. With
        `tonic` (a pitch class), only approaches that are its V (or V7) are drawn."""
        found = self._chords(s, sound, probs, allowed, a, before, temperature)
        if found is None:
            return None
        tokens, pitches, weight = found
        ordered = (np.diff(pitches, axis=1) <= 0).all(axis=1)
        weight = weight * ordered * self._no_parallels_into(pitches, sound[:, a - 1])
        if tonic is not None:  # the piece's last cadence: the approach its V, before the likeliest are kept
            weight = weight * self._dominant_of(pitches, tonic)
        keep = np.argsort(-weight)[:TOP]
        keep = keep[weight[keep] > 0]
        arr = np.argsort(-arr_weight)[:TOP]
        arr = arr[arr_weight[arr] > 0]
        if not len(keep) or not len(arr):
            return None
        tokens, pitches, weight = tokens[keep], pitches[keep], weight[keep]
        ap, ar = arr_pitches[arr], arr_pitches[arr] % 12
        root = ar[:, 3]  # a root-position triad: the bass is its root
        major = ((ar - root[:, None]) % 12 == 4).any(axis=1)
        bits = np.bitwise_or.reduce(1 << (pitches % 12), axis=1)  # (Np,) the approach's pitch classes
        fifth, fourth = (root + 7) % 12, (root + 5) % 12
        dom = sum(1 << ((fifth[:, None] + k) % 12) for k in (0, 4, 7, 10))  # (Na, 1)
        is_dom = ((bits[None, :] & ~dom) == 0) & ((bits[None, :] >> fifth[:, None]) & 1 == 1) \
            & ((bits[None, :] >> ((fifth[:, None] + 4) % 12)) & 1 == 1)
        is_iv = np.zeros_like(is_dom)
        for third in (3, 4):
            tri = sum(1 << ((fourth[:, None] + k) % 12) for k in (0, third, 7))
            is_iv |= ((bits[None, :] & ~tri) == 0) & ((bits[None, :] >> fourth[:, None]) & 1 == 1) \
                & ((bits[None, :] >> ((fourth[:, None] + third) % 12)) & 1 == 1)
        half = (major & (root == home_v))[:, None]
        cadence = is_dom | is_iv | half  # (Na, Np)
        ok = self._no_parallels_into(ap[:, None, :], pitches[None, :, :])  # the approach, then the arrival
        joint = arr_weight[arr][:, None] * weight[None, :] * ok * np.where(cadence, 1.0, OTHER_ENDS)
        if joint.sum() <= 0:
            return None
        k = self._pick(joint.ravel(), rng)
        return arr_tokens, int(arr[k // len(keep)]), tokens, k % len(keep)

    @staticmethod
    def _dominant_of(pitches: np.ndarray, tonic: int) -> np.ndarray:
        """(N,) 1.0 where the chords `pitches` (N, 4), soprano to bass, are the dominant of `tonic` in root
        position, a triad or a seventh chord with its third (the leading tone): a final cadence's V; else 0.0."""
        bits = np.bitwise_or.reduce(1 << (pitches % 12), axis=1)
        five = tonic + 7
        dom = sum(1 << ((five + k) % 12) for k in (0, 4, 7, 10))
        has = lambda pc: (bits >> (pc % 12)) & 1 == 1
        return (((bits & ~dom) == 0) & has(five + 4) & (pitches[:, 3] % 12 == five % 12)).astype(float)

    @staticmethod
    def _no_parallels_into(pitches: np.ndarray, before: np.ndarray) -> np.ndarray:
        """1.0 where the chords `pitches` are reached from the chords `before` (both (..., 4), broadcast
        against each other; -1 in `before`: a voice not sounding) without parallel fifths or octaves
        between any two voices; else 0.0."""
        pitches, before = np.asarray(pitches), np.asarray(before)
        ok = np.ones(np.broadcast_shapes(pitches.shape, before.shape)[:-1], bool)
        for v in range(4):
            for u in range(v + 1, 4):
                mv, mu = pitches[..., v] - before[..., v], pitches[..., u] - before[..., u]
                i1 = np.abs(before[..., v] - before[..., u]) % 12
                i2 = np.abs(pitches[..., v] - pitches[..., u]) % 12
                sounding = (before[..., v] >= 0) & (before[..., u] >= 0)
                ok &= ~(sounding & (mv != 0) & (np.sign(mv) == np.sign(mu)) & (i1 == i2) & ((i1 == 0) | (i1 == 7)))
        return ok.astype(float)

    @staticmethod
    def _root_triads(pitches: np.ndarray) -> np.ndarray:
        """(N,) 1.0 where the four pitches (N, 4), soprano to bass, make a root-position major or minor
        triad (the bass its root, its third present, no pitch class outside it) with no voice below the
        one under it; else 0.0."""
        pcs = pitches % 12
        bits = np.bitwise_or.reduce(1 << pcs, axis=1)
        root = pcs[:, 3]
        ok = np.zeros(len(pitches), bool)
        for third in (3, 4):
            chord = (1 << root) | (1 << ((root + third) % 12)) | (1 << ((root + 7) % 12))
            ok |= (bits & (1 << ((root + third) % 12)) > 0) & (bits & ~chord == 0)
        ordered = (np.diff(pitches, axis=1) <= 0).all(axis=1)
        return (ok & ordered).astype(float)

    @staticmethod
    def _steps(score: Score4) -> int:
        return max(1, int(np.ceil(score.end * cells.STEPS - 1e-6)))

    @staticmethod
    def _allowed(enc: cells.Cells, writable: np.ndarray, widen: int = WIDEN) -> np.ndarray:
        """(4, T, VOCAB) bool: the tokens each writable cell may take before any guard, each voice's
        pitches within `widen` semitones of Bach's range."""
        T = enc.steps
        allowed = np.zeros((4, T, VOCAB), bool)
        given = ~writable
        sounding_given = (given & (enc.tokens != REST)).any(axis=0)  # (T,)
        for v in range(4):
            lo, hi = BACH_RANGES[v]
            ok = (PITCHES >= lo - widen + enc.shift) & (PITCHES <= hi + widen + enc.shift)
            ok[:3] = False
            allowed[v, :, :] = ok
            allowed[v, :, HOLD] = True
            allowed[v, 0, HOLD] = False
            allowed[v, 1:, HOLD] &= writable[v, :-1]  # never lengthen a given note
            allowed[v, :, REST] = ~sounding_given
            held_next = np.zeros(T, bool)  # a given cell holding on whatever is struck before it
            held_next[:-1] = given[v, 1:] & (enc.tokens[v, 1:] == HOLD)
            allowed[v, held_next, REST] = False
        allowed[~writable] = False
        return allowed

    @staticmethod
    def _links(links, writable):
        src_v, src_t, dst_v, dst_t = [], [], [], []
        T = writable.shape[1]
        for source, repeat, length in links:
            a, b, n = cells.steps_of(source), cells.steps_of(repeat), cells.steps_of(length)
            for k in range(n):
                if b + k >= T or a + k >= T:
                    break
                for v in range(4):
                    if writable[v, a + k] and writable[v, b + k]:
                        src_v.append(v), src_t.append(a + k), dst_v.append(v), dst_t.append(b + k)
        return (np.array(src_v, int), np.array(src_t, int)), (np.array(dst_v, int), np.array(dst_t, int))

    @staticmethod
    def _copy(state, src, dst):
        if len(dst[0]):
            state[:, dst[0], dst[1]] = state[:, src[0], src[1]]

    def _draw(self, state, probs, mask, allowed, rng, temperature, guard, greedy=False, clashes=None,
              on_eighth=None, on_beat=None, pitch_only=None):
        """Draw every masked cell of `state` (B, 4, T) from `probs` under `allowed`; under `guard`, one
        cell at a time in time order, each under the voice-leading guard given the others (`clashes`: which
        pitch classes clash, `CLASHES`), then the rules of the rhythm where they leave a choice (`on_eighth`
        (T,): the cells on the eighths' grid, for `SIXTEENTHS`; `on_beat` (T,), the beats', for `PASSING`).
        `pitch_only` (B, 4, T): the tokens before the cells were masked; only a pitch is drawn, and a note
        the guard leaves no pitch keeps its own."""
        b_idx, v_idx, t_idx = np.nonzero(mask)
        same = None
        if KEEP_REPEAT_ODDS:
            sound = np.stack([self._sounding(st) for st in state])  # (B, 4, T): before this round's draws
            before = np.where(t_idx > 0, sound[b_idx, v_idx, np.maximum(t_idx - 1, 0)], -1)
            same = np.where(before >= cells.LOW, before - cells.LOW + 3, -1)
        raw = probs[b_idx, v_idx, t_idx] * allowed[v_idx, t_idx]
        if pitch_only is not None:  # a note's pitch drawn again, its rhythm kept
            raw[:, :3] = 0
        p = self._tempered(raw, temperature, same)
        empty = p.sum(axis=1) <= 0
        p[empty] = allowed[v_idx[empty], t_idx[empty]]
        p /= p.sum(axis=1, keepdims=True)
        if not guard:
            u = rng.random((len(p), 1))
            choice = (p.cumsum(axis=1) < u).sum(axis=1)
            state[b_idx, v_idx, t_idx] = np.minimum(choice, VOCAB - 1)
            self._repair(state, mask, probs, allowed)
            return
        order = np.lexsort((v_idx, t_idx, b_idx))
        sound = {}  # b -> the pitch sounding in each cell, kept up to date as cells are drawn
        for k in order:
            b, v, t = b_idx[k], v_idx[k], t_idx[k]
            if b not in sound:
                sound[b] = self._sounding(state[b])
            row = p[k]
            if same is not None and t > 0:  # the note before as drawn so far this round, not as the round began
                now = sound[b][v, t - 1]
                now = cells.pitch_token(now) if now >= cells.LOW else -1
                if now != same[k]:
                    row = self._tempered(raw[k:k + 1], temperature, np.array([now]))[0]
                    row = row / row.sum() if row.sum() > 0 else p[k]
            if self.moves is not None:
                t2 = _next_onset(state[b], v, t)
                row = row * self._move_weights(v, sound[b][v, t - 1] if t > 0 else -1,
                                               sound[b][v, t2] if t2 < state.shape[2] else -1)
            if PASSING != 1.0 and on_beat is not None:
                row = row * self._passing_weights(state[b], v, t, sound[b], on_beat)
            if BASS_SWING != 1.0 and v == 3:
                row = row * self._swing_weights(state[b], t)
            g = self._guard(state[b], v, t, sound[b], clashes)
            q = row * g
            if pitch_only is not None and q.sum() <= 0:
                state[b, v, t] = pitch_only[b, v, t]
                self._resound(state[b], sound[b], v, t)
                continue
            if q.sum() <= 0:
                q = row
            rules = ([self._lengths_ok(state[b], v, t, sound[b])] if COMMON_LENGTHS else []) + \
                ([self._sixteenths_ok(state[b], v, t, sound[b], on_eighth)] if SIXTEENTHS and on_eighth is not None else [])
            for rule in rules:  # the rhythm's rules, each where the guard, the range and those before it leave a choice
                ok = rule * g * allowed[v, t]
                if ok.any():  # (floored: the network may give the one choice left no probability at all)
                    q = np.maximum(q, 1e-12) * ok
                    g = g * rule
            if greedy:
                state[b, v, t] = int(np.argmax(q))
            else:
                cum = np.cumsum(q)
                state[b, v, t] = min(int(np.searchsorted(cum, rng.random() * cum[-1], side="right")), VOCAB - 1)
            if state[b, v, t] == HOLD and (t == 0 or state[b, v, t - 1] in (REST, MASK)):
                state[b, v, t] = self._best_pitch(probs[b, v, t], allowed[v, t])
            self._resound(state[b], sound[b], v, t)
        self._repair(state, mask, probs, allowed)

    @staticmethod
    def _tempered(p: np.ndarray, temperature: float, same: np.ndarray | None = None) -> np.ndarray:
        """(N, VOCAB) probabilities with `temperature` applied among the pitches only: whether a cell holds,
        rests or strikes keeps the network's own odds (the rhythm stays the network's), and which pitch it
        strikes is sharpened (below 1) or flattened (above 1). `same` (N,): the token that strikes again
        the pitch sounding just before (-1: none); whether to strike it again keeps the network's odds
        too, so sharpening does not turn a voice's moves into repeated notes, and is then weighted by
        `REPEAT_WEIGHT` (the network alone strikes a note again more often than Bach does)."""
        out = p.copy()
        keep = np.zeros_like(p, dtype=bool)
        keep[:, :3] = True
        if same is not None:
            rows = np.nonzero(same >= 3)[0]
            keep[rows, same[rows]] = True
        free = np.where(keep, 0, p)
        mass = free.sum(axis=1, keepdims=True)
        sharp = np.where(free > 0, free, 0) ** (1.0 / max(temperature, 1e-3))
        total = sharp.sum(axis=1, keepdims=True)
        out[~keep] = np.where(total > 0, sharp / np.where(total > 0, total, 1) * mass, 0)[~keep]
        if same is not None and REPEAT_WEIGHT != 1.0:
            out[rows, same[rows]] *= REPEAT_WEIGHT
        return out

    @staticmethod
    def _best_pitch(p, ok):
        """The likeliest pitch `ok` allows; a rest where it allows none."""
        q = p * ok
        q[:3] = 0
        if q.max() > 0:
            return int(np.argmax(q))
        return int(np.argmax(ok[3:]) + 3) if ok[3:].any() else REST

    def _repair(self, state, mask, probs, allowed):
        """A held note with no note before it (after a rest, or a cell still masked) becomes a note: any
        writable cell, not only this round's, since a rest drawn now can orphan the hold after it. (A cell
        mended becomes a note, which never makes the cell after it wrong, so all are found at once.)"""
        prev = np.concatenate([np.full(state.shape[:2] + (1,), REST), state[:, :, :-1]], axis=2)
        writable = mask | allowed.any(axis=-1)[None]
        bad = writable & (state == HOLD) & ((prev == REST) | (prev == MASK))
        for b, v, t in zip(*np.nonzero(bad)):
            state[b, v, t] = self._best_pitch(probs[b, v, t], allowed[v, t])

    @staticmethod
    def _sounding(s: np.ndarray) -> np.ndarray:
        """(4, T) tokens -> the pitch sounding in each cell (-1: none)."""
        T = s.shape[-1]
        idx = np.where(s != HOLD, np.arange(T), 0)
        last = np.maximum.accumulate(idx, axis=-1)
        tok = np.take_along_axis(s, last, axis=-1)
        return np.where(tok >= 3, PITCHES[np.clip(tok, 0, VOCAB - 1)], -1)

    @staticmethod
    def _resound(s: np.ndarray, sound: np.ndarray, v: int, t: int) -> None:
        """`sound` (`_sounding` of `s`) brought up to date after cell (v, t) of `s` changed."""
        t2 = _next_onset(s, v, t)
        tok = s[v, t]
        sound[v, t:t2] = PITCHES[tok] if tok >= 3 else (sound[v, t - 1] if tok == HOLD and t > 0 else -1)

    def _guard(self, s: np.ndarray, v: int, t: int, sound: np.ndarray | None = None,
               clashes: np.ndarray | None = None) -> np.ndarray:
        """(VOCAB,) 1 for each token cell (v, t) of `s` (4, T) may take without parallel fifths or octaves
        with another voice, crossing one, or (with `clashes`, `CLASHES`: which pitch classes clash)
        a chromatic clash with one, given every other cell as it is (`sound`: `_sounding(s)`)."""
        T = s.shape[1]
        ok = np.ones(VOCAB)
        ok[MASK] = 0
        sound = self._sounding(s) if sound is None else sound
        t2 = _next_onset(s, v, t)
        before = sound[v, t - 1] if t > 0 else -1
        after = sound[v, t2] if t2 < T else -1
        cand = PITCHES.copy()
        cand[HOLD] = before
        cand[REST] = -1
        cand[MASK] = -1
        heard = np.zeros(12, bool)  # the pitch classes other voices sound over the note
        for u in range(4):
            if u == v:
                continue
            # into the cell at t
            if t > 0 and before >= 0 and sound[u, t - 1] >= 0 and sound[u, t] >= 0 and sound[u, t] != sound[u, t - 1]:
                mv, mu = cand - before, sound[u, t] - sound[u, t - 1]
                i1, i2 = abs(before - sound[u, t - 1]) % 12, np.abs(cand - sound[u, t]) % 12
                bad = (cand >= 0) & (mv != 0) & (np.sign(mv) == np.sign(mu)) & (i1 == i2) & ((i1 == 0) | (i1 == 7))
                ok[bad] = 0
            # out of the note at t2
            if t2 < T and after >= 0 and sound[u, t2] >= 0 and sound[u, t2 - 1] >= 0 and sound[u, t2] != sound[u, t2 - 1]:
                mv, mu = after - cand, sound[u, t2] - sound[u, t2 - 1]
                i1, i2 = np.abs(cand - sound[u, t2 - 1]) % 12, abs(after - sound[u, t2]) % 12
                bad = (cand >= 0) & (mv != 0) & (np.sign(mv) == np.sign(mu)) & (i1 == i2) & ((i2 == 0) | (i2 == 7))
                ok[bad] = 0
            # crossing, over the note's length
            span = sound[u, t:t2]
            span = span[span >= 0]
            if len(span):
                if u < v:
                    ok[(cand >= 0) & (cand > span.min())] = 0
                else:
                    ok[(cand >= 0) & (cand < span.max())] = 0
            heard[span % 12] = True
        if clashes is not None:  # a chromatic clash with what sounds over the note (E-flat with E in C)
            ok[(cand >= 0) & (clashes & heard).any(axis=1)[cand % 12]] = 0
        return ok

    @staticmethod
    def _sixteenths_ok(s: np.ndarray, v: int, t: int, sound: np.ndarray, on_eighth: np.ndarray) -> np.ndarray:
        """(VOCAB,) 1 for the tokens of cell (v, t) of `s` (4, T) that keep a sixteenth as the chorales'
        are, a passing or neighbour note: a note struck between two eighths, or one a sixteenth long,
        follows a note, not a rest, and one struck between two eighths is over by the next eighth
        (`on_eighth` (T,): the cells on the eighths' grid). A length that runs into a cell still masked is
        not judged."""
        T = s.shape[1]
        ok = np.ones(VOCAB)
        t2 = _next_onset(s, v, t)
        known = t2 < T and s[v, t2] != MASK
        after_rest = t == 0 or sound[v, t - 1] < 0
        if not on_eighth[t] and (after_rest or (known and t2 - t > 1)):
            ok[3:] = 0
        if on_eighth[t] and after_rest and known and t2 - t == 1:
            ok[3:] = 0
        if on_eighth[t] and not after_rest:
            t0 = _note_start(s, v, t - 1)
            if not on_eighth[t0]:  # the note before began between two eighths: it ends here
                ok[HOLD] = 0
        return ok

    @staticmethod
    def _lengths_ok(s: np.ndarray, v: int, t: int, sound: np.ndarray) -> np.ndarray:
        """(VOCAB,) 1 for the tokens of cell (v, t) of `s` (4, T) that leave no note of a length the
        chorales hardly use (a dotted eighth, 7/4: `core.events.common_length`): holding makes the note
        before last to the next onset; striking or resting ends it here, and a note struck lasts to the
        next onset. A length that runs into a cell still masked, or to the end, is not judged."""
        T = s.shape[1]
        t2 = _next_onset(s, v, t)
        before = sound[v, t - 1] if t > 0 else -1
        ok = np.ones(VOCAB)
        quarters = 1.0 / cells.STEPS
        known_end = t2 < T and s[v, t2] != MASK
        if before >= 0:
            t0 = _note_start(s, v, t - 1)
            if known_end and not common_length((t2 - t0) * quarters):
                ok[HOLD] = 0
            if not common_length((t - t0) * quarters):
                ok[3:] = 0
                ok[REST] = 0
        if known_end and not common_length((t2 - t) * quarters):
            ok[3:] = 0
        return ok

    def _violations(self, state: np.ndarray, writable: np.ndarray, clashes: np.ndarray | None = None,
                    on_eighth: np.ndarray | None = None) -> np.ndarray:
        """(B, 4, T) bool: onset cells of written voices that move in parallel fifths or octaves with
        another voice, or (with `clashes`) whose note sounds a chromatic clash with another's (the note
        that began later is marked); with `COMMON_LENGTHS`, the end (else the start) of a written note of a
        length the chorales hardly use; with `SIXTEENTHS` and `on_eighth`, a written sixteenth after a rest,
        or a note struck between two eighths held past the next one."""
        B, _, T = state.shape
        bad = np.zeros(state.shape, bool)
        for b in range(B):
            sound = self._sounding(state[b])
            if clashes is not None:
                onset = np.maximum.accumulate(np.where(state[b] != HOLD, np.arange(T), 0), axis=-1)
                for v in range(4):
                    for u in range(v + 1, 4):
                        clash = (sound[v] >= 0) & (sound[u] >= 0) & clashes[sound[v] % 12, sound[u] % 12]
                        for t in np.nonzero(clash)[0]:
                            for w in sorted((v, u), key=lambda w: -onset[w, t]):
                                if writable[w, onset[w, t]]:
                                    bad[b, w, onset[w, t]] = True
                                    break
            if COMMON_LENGTHS:  # a written note of a length the chorales hardly use: its end, else its start
                for v in range(4):
                    starts = np.nonzero((state[b, v] != HOLD) & (sound[v] >= 0))[0]
                    ends = np.r_[np.nonzero(state[b, v] != HOLD)[0], T]
                    for a in starts:
                        e = ends[np.searchsorted(ends, a, side="right")]
                        if e < T and not common_length((e - a) / cells.STEPS):
                            for w in (e, a):
                                if writable[v, w]:
                                    bad[b, v, w] = True
                                    break
            if SIXTEENTHS and on_eighth is not None:
                for v in range(4):
                    for a in np.nonzero((state[b, v] >= 3) & writable[v])[0]:
                        if not self._sixteenths_ok(state[b], v, int(a), sound, on_eighth)[state[b, v, a]]:
                            bad[b, v, a] = True
            moved = np.zeros((4, T), bool)
            moved[:, 1:] = (sound[:, 1:] != sound[:, :-1]) & (sound[:, 1:] >= 0) & (sound[:, :-1] >= 0)
            for v in range(4):
                for u in range(v + 1, 4):
                    both = moved[v] & moved[u]
                    for t in np.nonzero(both)[0]:
                        mv, mu = sound[v, t] - sound[v, t - 1], sound[u, t] - sound[u, t - 1]
                        i1, i2 = abs(sound[v, t - 1] - sound[u, t - 1]) % 12, abs(sound[v, t] - sound[u, t]) % 12
                        if np.sign(mv) == np.sign(mu) and i1 == i2 and i1 in (0, 7):
                            for w in (v, u):
                                if writable[w, t]:
                                    bad[b, w, t] = True
                                    break
        return bad

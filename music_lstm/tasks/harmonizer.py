"""Harmonizing a melody with a trained `satb` network: the soprano forced, alto, tenor and bass sampled.

The network reads the satb stream left to right (encodings/satb.py: groups of four voice slots, S A T B,
then the group's length). To harmonize, the stream is written group by group:

- the S slot is forced to the melody at the group's start: its pitch struck where a melody note
  begins, held (`~`) where one goes on, `rest` where the melody is silent;
- A, T and B are sampled from the network under the satb `Grammar`, so they see the soprano of their
  own group and everything before it, nothing after. A harmonizer made from a run folder (`from_run`)
  samples under the guards `generate` samples that run's music under (`run_grammar`: those the run's
  sampling settings turn on, parallels, clashes and the beat), with voices that do not cross and Bach's
  voice ranges (`BACH_RANGES`) besides; one made from a bare network, under the parallels guard, no
  crossing and `BACH_RANGES`;
- the length slot is sampled too, but only among lengths that end the group no later than the
  melody's next onset or release (and leave a gap the vocabulary's lengths can fill). So groups follow
  the union of the melody's onsets and those the sampled voices choose; where a group starts inside
  a melody note, the soprano is held and at least one lower voice must change (strike, or fall
  silent), as in every group of Bach's own streams.

The soprano of every output is therefore the melody, note for note. Many harmonizations are
sampled as one batch; `best_of` keeps, of each `best_of` samples, the one whose sampled symbols
the network finds likeliest (its unmodified probabilities, so fewer, longer groups score higher).

A network trained with `--melody-context` (`models/melody_context.py`) also reads the whole melody, what
comes later included, at the start of the group it writes; the loop is the same. With `beam`, a beam
search keeps the likeliest partial harmonizations at every A, T, B and length slot instead of sampling.

`nll_bits` scores Bach's own alto, tenor and bass given his soprano: his stream is read with the
soprano and length slots given, and only the A, T and B slots are counted, in bits per quarter note.

`eval.harmonization` harmonizes the soprano of held-out chorales with this and with the HMM baseline
(`models.hmm_harmonizer`) and compares both with Bach; `tasks.harmonize` is the file task.

    python -m music_lstm evaluate --harmonize --run-dir RUN
"""

from __future__ import annotations

import bisect
import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from functools import lru_cache

import numpy as np

from ..models import factory, melody_context
from ..core.keys import key_shift, key_shifts
from ..encodings import satb
from ..core.errors import MelodyError
from ..core.events import MAX_DENOMINATOR, Note, Piece
from ..core.ranges import BACH_RANGES
from ..core.sampling import sample
from ..core.vocab import Vocab


DEFAULT_TEMPERATURE = 0.5  # chosen on chord agreement with Bach (docs/BENCHMARKS.md, "Harmonizing a melody")


def run_grammar(run, ranges: Sequence[tuple[int, int]] | None = BACH_RANGES):
    """`grammar(symbols, batch, shift)` making the satb `Grammar` a harmonization of `run` is sampled under:
    the guards `generate` samples the run's music under (its sampling settings, the encoding's defaults then
    its `sampling.json`: parallels, clashes, the beat), voices that do not cross, and `ranges` (S A T B,
    in the network's key, so `shift` leaves them where they are). Not generate's ranges, taken from the
    training pieces: with a forced soprano they leave a lower voice of a small run too little room, and
    its stream breaks (tests/test_harmonize.py, the tiny satb run)."""
    from ..runs.run_folder import read_sampling

    encoding = run.config.encoder()
    sampling = dataclasses.replace(encoding.default_sampling(), **read_sampling(run.path))

    def grammar(symbols, batch: int, shift: int = 0):
        return satb.Grammar(symbols, batch, guard=sampling.parallels_guard, no_crossing=True, ranges=ranges,
                            no_clash=sampling.no_clash, keep_beat=sampling.keep_beat)

    return grammar


@dataclass
class Harmonization:
    voices: tuple[list[Note], ...]  # S A T B, the soprano the melody itself
    log_prob: float  # natural log of the network's probability of the sampled symbols
    symbols: list[str] = field(repr=False)


def _fraction(x: float, what: str, name: str = "melody") -> Fraction:
    f = Fraction(x).limit_denominator(MAX_DENOMINATOR)
    if abs(float(f) - x) > 1e-6:
        raise MelodyError(name, f"{what} {x:g} is not on the grid of sixteenths and triplets")
    return f


class LSTMHarmonizer:
    def __init__(self, stepper, vocab: Vocab, guard: bool = True, no_crossing: bool = True,
                 ranges: Sequence[tuple[int, int]] | None = BACH_RANGES, order: str = satb.ORDER,
                 label: str | None = None, common_key: bool = False, grammar=None):
        """`stepper` the NumPy stepper of a network trained on satb symbols (`models.factory.stepper`),
        `vocab` its vocabulary. `ranges` (S A T B) bound the sampled voices; the
        soprano is never bound by them. `label` tells it apart in a report (`system_name`).
        `grammar(symbols, batch, shift)`, when given, makes the satb `Grammar` to sample under instead of
        `guard` and `ranges` (`run_grammar`: generate's, for a run), for music moved `shift` semitones.
        `common_key`: the network learned every piece in C major's key signature (`train --common-key`),
        so a melody is moved there (`core.keys.key_shift`) and its harmonization moved back."""
        self.label, self.common_key = label, common_key
        if not order.startswith("S"):
            raise ValueError(f"the soprano slot must come first to be forced before the others, not {order!r}")
        self.stepper, self.vocab, self.order = stepper, vocab, order
        # What each position of a group holds: the soprano, a sampled voice, the length.
        self.roles = ["S", "v", "v", "v", "D"]
        self.guard, self.no_crossing, self.ranges, self.make_grammar = guard, no_crossing, ranges, grammar
        self.symbols = vocab.index_to_symbol
        self.durations = {}  # length -> id
        for i, s in enumerate(self.symbols):
            kind, value, _ = satb.classify(s)
            if kind == "duration":
                self.durations[Fraction(s[len(satb.DUR):])] = i
        self.rest = vocab.symbol_to_index.get(satb.REST)  # None when the training pieces had no rests
        self._fits = lru_cache(maxsize=None)(self._fits_uncached)
        self._lengths_filling = lru_cache(maxsize=None)(self._lengths_filling_uncached)

    @classmethod
    def from_keras(cls, model, vocab: Vocab, kind: str = "lstm", **options) -> "LSTMHarmonizer":
        """A network of `kind` (`models.factory.KINDS`): an `lstm` of `model.build_model` (left to right),
        or a `melody_lstm` of `melody_context.build_model` (reads the whole melody too)."""
        return cls(factory.stepper(kind, model), vocab, **options)

    @property
    def reads_melody(self) -> bool:
        return isinstance(self.stepper, melody_context.MelodyStepper)

    @classmethod
    def from_run(cls, run, **options) -> "LSTMHarmonizer":
        """A `run_folder.Run` of the satb encoding."""
        if run.config.encoding != satb.SATB.name:
            raise MelodyError(run.path, f"a {run.config.encoding} run cannot harmonize: "
                                        f"train one with --encoding {satb.SATB.name}")
        if run.config.task == "jsb":
            raise MelodyError(run.path, "a run trained on JSB Chorales frames (--jsb) cannot harmonize: "
                                        f"train one on MIDI files with --encoding {satb.SATB.name}")
        options = {"grammar": run_grammar(run), **options}
        return cls.from_keras(run.model, run.vocab, run.config.kind, common_key=run.config.common_key, **options)

    def key_shift(self, notes: Sequence[Note], name: str = "melody") -> int:
        """The semitones this network wants `notes` moved by: 0 unless `common_key`; then the shift to C
        major's key signature (`core.keys.key_shifts`), or where a melody alone leaves that in doubt and
        the network never saw a moved pitch, the next best shift whose pitches it knows."""
        if not self.common_key:
            return 0
        shifts = key_shifts(Piece(list(notes)))
        for shift in shifts:
            try:
                self._plan([(o, d, p + shift) for o, d, p in notes], name)
                return shift
            except MelodyError:
                continue
        return shifts[0]  # none fits: harmonizing says why

    # --- the melody's grid --------------------------------------------------------------------------

    def _fits_uncached(self, gap: Fraction) -> bool:
        """Can lengths of the vocabulary fill `gap` exactly?"""
        return gap == 0 or any(d <= gap and self._fits(gap - d) for d in self.durations)

    def _plan(self, melody: Sequence[Note], name: str = "melody"):
        """(start, bounds, soprano): the melody's onsets and releases as Fractions from its start, and
        per stretch between two bounds the melody's note (onset, pitch) or None."""
        melody = sorted(melody)
        start = _fraction(melody[0][0], "onset", name)
        notes = [(_fraction(o, "onset", name) - start, _fraction(o + d, "release", name) - start, p)
                 for o, d, p in melody]
        for (_, e, _), (o, _, _) in zip(notes, notes[1:]):
            if o < e:
                raise MelodyError(name, "notes overlap: a melody is one note at a time")
        bounds = sorted({t for o, e, _ in notes for t in (o, e)})
        soprano = []
        for a, b in zip(bounds, bounds[1:]):
            note = next(((o, p) for o, e, p in notes if o <= a < e), None)
            soprano.append(note)
            if note is None and self.rest is None:
                raise MelodyError(name, f"a rest at {float(a + start):g}, but this model was trained without rests")
            if not self._fits(b - a):
                raise MelodyError(name, f"a stretch of {b - a} quarter notes at {float(a + start):g} cannot be "
                                            f"written with this model's lengths")
            if note is not None:
                struck = satb.pitch_name(note[1])
                if struck not in self.vocab:
                    raise MelodyError(name, f"pitch {struck} is outside what this model was trained on")
                if struck + satb.HELD not in self.vocab and b - a not in self.durations:
                    raise MelodyError(name, f"a {struck} of {b - a} quarter notes at {float(a + start):g}: this model "
                                            "never holds that pitch over two groups, nor has that length")
        self._onsets = [(o, p) for o, _, p in notes]
        return start, bounds, soprano

    def _soprano_id(self, t: Fraction, bounds, soprano) -> tuple[int, int]:
        """(id, stretch index) of the soprano slot at time t."""
        k = min(bisect.bisect_right(bounds, t), len(bounds) - 1) - 1
        note = soprano[k]
        if note is None:
            return self.rest, k
        onset, pitch = note
        symbol = satb.pitch_name(pitch) + ("" if onset == t else satb.HELD)
        return self.vocab.symbol_to_index[symbol], k

    def _lengths_filling_uncached(self, gap: Fraction) -> list[int]:
        """The length ids that leave a rest of `gap` the vocabulary's lengths can still fill."""
        return [i for d, i in self.durations.items() if d <= gap and self._fits(gap - d)]

    def _allowed_lengths(self, t: Fraction, bounds, k: int, soprano) -> list[int]:
        gap = bounds[k + 1] - t
        ok = self._lengths_filling(gap)
        if soprano[k] is not None and satb.pitch_name(soprano[k][1]) + satb.HELD not in self.vocab:
            ok = [self.durations[gap]]  # no held form: the note is one group (`_plan` checked the length exists)
        return ok

    # --- sampling -----------------------------------------------------------------------------------

    def harmonize(self, melody: Sequence[Note], num_outputs: int = 1, best_of: int = 1,
                  temperature: float = DEFAULT_TEMPERATURE, seed: int | np.random.Generator = 0,
                  name: str = "melody", beam: int = 0) -> list[Harmonization]:
        """`num_outputs` harmonizations of `melody` ((offset, duration, pitch), one note at a time),
        each the likeliest of `best_of` samples; or, with `beam` > 0, the `num_outputs` likeliest
        found by a beam search of that width (no sampling: `temperature`, `best_of` and `seed` do not
        apply). A melody this model cannot write (a pitch or a rest it never saw, a rhythm its lengths
        cannot fill) is a MelodyError naming `name`."""
        if num_outputs < 1 or best_of < 1 or beam < 0 or (beam and num_outputs > beam):
            raise ValueError(f"num_outputs and best_of must be >= 1 and beam 0 or >= num_outputs, "
                             f"got {num_outputs}, {best_of} and {beam}")
        from threadpoolctl import threadpool_limits

        shift = self.key_shift(melody, name)
        if shift:
            melody = [(o, d, p + shift) for o, d, p in melody]
        with threadpool_limits(1, user_api="blas"):  # small products: a second BLAS thread only waits on a busy machine
            outs = self._harmonize(melody, num_outputs, best_of, temperature, seed, name, beam, shift)
        if shift:
            outs = [dataclasses.replace(h, voices=tuple([(o, d, p - shift) for o, d, p in v] for v in h.voices))
                    for h in outs]
        return outs

    def _grammar(self, batch: int, shift: int = 0):
        """The satb `Grammar` the lower voices are sampled under, for music moved `shift` semitones."""
        if self.make_grammar is None:
            return satb.Grammar(self.symbols, batch, order=self.order, guard=self.guard,
                                no_crossing=self.no_crossing, ranges=self.ranges)
        return self.make_grammar(self.symbols, batch, shift)

    def _harmonize(self, melody, num_outputs, best_of, temperature, seed, name, beam=0, shift=0) -> list[Harmonization]:
        rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
        start, bounds, soprano = self._plan(melody, name)
        end = bounds[-1]
        batch = beam or num_outputs * best_of
        grammar = self._grammar(batch, shift)
        grammar.synced[:] = True  # the stream begins at a group's first slot
        times = [Fraction(0)] * batch
        stretch = [0] * batch
        rows: list[list[int]] = [[] for _ in range(batch)]
        log_prob = np.zeros(batch)
        if beam:
            log_prob[1:] = -np.inf  # every row starts the same: only the first one is expanded
        self.stepper.reset(batch)
        if self.reads_melody:
            self.stepper.set_melody(melody_context.frame_symbols(melody, float(start)))
        probs = None
        slot = 0
        last_voice = len(self.roles) - 2
        while True:
            live = [t < end for t in times]
            role = self.roles[slot]
            if role == "S":
                if not any(live):
                    break
                ids = np.zeros(batch, np.int64)  # a finished row is fed <unk>, and nothing of it is kept
                for r in range(batch):
                    if live[r]:
                        ids[r], stretch[r] = self._soprano_id(times[r], bounds, soprano)
            elif role == "v":
                banned = grammar.ban()
                if slot == last_voice:
                    self._require_change(grammar, banned)
                if beam:
                    ids, live = self._prune(probs, banned, live, log_prob, grammar, times, stretch, rows)
                else:
                    ids = sample(probs, rng, temperature=temperature, banned=banned)
            else:
                banned = np.ones_like(probs, dtype=bool)
                by_grammar = grammar.ban()  # the beat guard's lengths, where the melody leaves a choice
                for r in range(batch):
                    if live[r]:
                        ok = self._allowed_lengths(times[r], bounds, stretch[r], soprano)
                        banned[r, [i for i in ok if not by_grammar[r, i]] or ok] = False
                    else:
                        banned[r, next(iter(self.durations.values()))] = False
                if beam:
                    ids, live = self._prune(probs, banned, live, log_prob, grammar, times, stretch, rows)
                else:
                    ids = sample(probs, rng, temperature=temperature, banned=banned)
                for r in range(batch):
                    if live[r]:
                        times[r] += Fraction(self.symbols[ids[r]][len(satb.DUR):])
            for r in range(batch):
                if live[r]:
                    rows[r].append(int(ids[r]))
                    if role in "vD" and not beam:  # a beam search scored its rows as it chose them
                        log_prob[r] += math.log(max(probs[r, ids[r]], 1e-300))
            grammar.feed(ids)
            if self.reads_melody:  # the melody where the next symbol's group begins (times move at a length)
                probs = self.stepper.step(ids, np.array([melody_context.frame_of(float(t)) for t in times]))
            else:
                probs = self.stepper.step(ids)
            slot = (slot + 1) % len(self.roles)
        out = []
        if beam:
            best = np.argsort(-log_prob, kind="stable")[:num_outputs]
            return [Harmonization(self._voices(self.vocab.decode(rows[r]), start, melody), float(log_prob[r]),
                                  self.vocab.decode(rows[r])) for r in best]
        for g in range(num_outputs):
            r = g * best_of + int(np.argmax(log_prob[g * best_of:(g + 1) * best_of]))
            symbols = self.vocab.decode(rows[r])
            out.append(Harmonization(self._voices(symbols, start, melody), float(log_prob[r]), symbols))
        return out

    def _prune(self, probs, banned, live, log_prob, grammar, times, stretch, rows):
        """One step of the beam search, in place: of every row's allowed next symbols (a finished row
        keeps its one placeholder at no cost), the `batch` likeliest continuations survive. Returns their
        symbols and whether each surviving row is live; the state of every row is its parent's."""
        batch = len(live)
        with np.errstate(divide="ignore"):
            scores = np.where(banned, -np.inf, np.log(np.maximum(np.asarray(probs, np.float64), 1e-300)))
        for r in range(batch):
            if not live[r]:  # finished: carried as it is, once
                keep = int(np.argmin(banned[r]))
                scores[r] = -np.inf
                scores[r, keep] = 0.0
        scores += log_prob[:, None]
        flat = np.argsort(-scores, axis=None, kind="stable")[:batch]
        parents, ids = np.unravel_index(flat, scores.shape)
        log_prob[:] = scores[parents, ids]
        self.stepper.select(parents)
        grammar.select(parents)
        times[:] = [times[p] for p in parents]
        stretch[:] = [stretch[p] for p in parents]
        rows[:] = [list(rows[p]) for p in parents]
        return ids, [live[p] for p in parents]

    def _require_change(self, grammar: satb.Grammar, banned: np.ndarray) -> None:
        """At the last voice slot: where the three voices before it neither struck nor fell silent, the
        last one must (a group where nothing changes is not a group of a satb stream)."""
        written = [satb.VOICES.index(v) for v in self.order[:3]]
        last = satb.VOICES.index(self.order[3])
        for r in range(banned.shape[0]):
            changed = any(grammar.current_struck[r, v] or (grammar.current[r, v] < 0 <= grammar.previous[r, v])
                          for v in written)
            if changed:
                continue
            before = grammar.previous[r, last]
            banned[r] |= grammar.held & (grammar.pitch == before)
            if before < 0:
                banned[r] |= grammar.is_rest
            if banned[r].all():  # the guards leave nothing that changes: any struck pitch (never a length)
                banned[r] = ~grammar.struck

    def _voices(self, symbols: list[str], start: Fraction, melody: Sequence[Note]) -> tuple[list[Note], ...]:
        decoded = satb.decode_satb(symbols, order=self.order)
        shift = float(start)
        voices = [[(round(o + shift, 6), d, p) for o, d, p in v] for v in decoded.voices]
        given = sorted(melody)
        same = len(voices[0]) == len(given) and all(
            abs(a[0] - b[0]) < 1e-5 and abs(a[1] - b[1]) < 1e-5 and a[2] == b[2] for a, b in zip(voices[0], given))
        if not same or decoded.repairs:
            raise AssertionError(f"the forced soprano did not decode to the melody ({decoded.repairs} repairs)")
        return (list(given),) + tuple(voices[1:])

    # --- scoring ------------------------------------------------------------------------------------

    def nll_bits(self, voices: Sequence[Sequence[Note]]) -> tuple[float, float, int]:
        """(bits, quarter notes, unknown): -log2 of the network's probability of the piece's A, T
        and B symbols, its S and length symbols given, summed; the piece's length; and how many A, T,
        B symbols were outside the vocabulary (not counted)."""
        shift = key_shift(Piece([n for v in voices for n in v])) if self.common_key else 0  # as training moved it
        voices = [[(o, d, p + shift) for o, d, p in v] for v in voices]
        symbols = satb.encode_satb(voices, self.order)
        ids = self.vocab.encode(symbols)
        if self.reads_melody:
            probs = self.stepper.probabilities(ids[None, :], *melody_context.piece_inputs(symbols))[0]
        else:
            probs = self.stepper.probabilities(ids[None, :])[0]  # (steps, vocab)
        bits, unknown = 0.0, 0
        voice_at = [k for k, role in enumerate(self.roles) if role == "v"]  # the group's voice positions
        slots = {voice_at[self.order.index(v) - 1] for v in "ATB"}
        for t in range(1, len(ids)):
            if t % len(self.roles) not in slots:
                continue
            if ids[t] == 0:
                unknown += 1
                continue
            bits -= math.log2(max(float(probs[t - 1, ids[t]]), 1e-300))
        return bits, satb.decode_satb(symbols, order=self.order).end, unknown

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

A network trained with `--melody-context` (`melody_context.py`) also reads the whole melody, what
comes later included, at the start of the group it writes; the loop is the same. With `beam`, a beam
search keeps the likeliest partial harmonizations at every A, T, B and length slot instead of sampling.

`nll_bits` scores Bach's own alto, tenor and bass given his soprano: his stream is read with the
soprano and length slots given, and only the A, T and B slots are counted, in bits per quarter note.

With `lookahead`, the network reads one symbol more per group, after the soprano slot: the pitch of
the next melody note struck after the group's start (`next:E5`, `next:end`), so it knows where the
tune goes next. Such a network is trained on `lookahead_symbols` streams; when harmonizing that
symbol is forced too.

`evaluate_harmonize` harmonizes the soprano of held-out chorales with this and with the HMM baseline
(`hmm_harmonizer`) and compares both with Bach (`format_table`).

    python -m music_lstm evaluate --harmonize --run-dir RUN
"""

from __future__ import annotations

import bisect
import dataclasses
import math
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from functools import lru_cache
from pathlib import Path

import numpy as np

from . import melody_context
from .augment import key_shift, key_shifts
from .encodings import satb
from .errors import MelodyError
from .events import Note, Piece
from .hmm_harmonizer import HMMHarmonizer, beats, chord_states
from .sampling import sample
from .vocab import Vocab
from . import voice_leading

BACH_RANGES = ((62, 78), (57, 71), (52, 67), (40, 60))  # S A T B: each voice's 1st-99th percentile in bach/'s chorales
DEFAULT_TEMPERATURE = 0.5  # chosen on chord agreement with Bach (docs/BENCHMARKS.md, "Harmonizing a melody")
GRID = 12  # melody onsets and lengths must be multiples of 1/12 quarter note (sixteenths, triplets)


LOOK = "next:"  # prefix of the lookahead symbol


def lookahead_symbols(voices: Sequence[Sequence[Note]], order: str = satb.ORDER) -> list[str]:
    """The satb stream of four voices with, after each group's first slot (the soprano), the next
    soprano note struck after the group's start: `next:` and its pitch, or `next:end`."""
    symbols = satb.encode_satb(voices, order)
    start = min(o for v in voices for o, d, _ in v if d > 0)
    onsets = [(o - start, p) for o, _, p in satb.monophonic(voices[order.index("S")])]
    out: list[str] = []
    t = 0.0
    for i in range(0, len(symbols), 5):
        group = symbols[i:i + 5]
        following = next((p for o, p in onsets if o > t + 1e-6), None)
        out += group[:1] + [LOOK + ("end" if following is None else satb.pitch_name(following))] + group[1:]
        t += satb.classify(group[4])[1]
    return out


def run_grammar(run, ranges: Sequence[tuple[int, int]] | None = BACH_RANGES):
    """`grammar(symbols, batch, shift)` making the satb `Grammar` a harmonization of `run` is sampled under:
    the guards `generate` samples the run's music under (its sampling settings, the encoding's defaults then
    its `sampling.json`: parallels, clashes, the beat), voices that do not cross, and `ranges` (S A T B,
    in the network's key, so `shift` leaves them where they are). Not generate's ranges, taken from the
    training pieces: with a forced soprano they leave a lower voice of a small run too little room, and
    its stream breaks (tests/test_harmonize.py, the tiny satb run)."""
    from .run_folder import read_sampling

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
    f = Fraction(x).limit_denominator(GRID)
    if abs(float(f) - x) > 1e-6:
        raise MelodyError(name, f"{what} {x:g} is not on the grid of sixteenths and triplets")
    return f


class LSTMHarmonizer:
    def __init__(self, stepper, vocab: Vocab, guard: bool = True, no_crossing: bool = True,
                 ranges: Sequence[tuple[int, int]] | None = BACH_RANGES, order: str = satb.ORDER,
                 lookahead: bool = False, label: str | None = None, common_key: bool = False,
                 grammar=None):
        """`stepper` an `LSTMStepper` of a network trained on satb symbols (`lookahead_symbols` with
        `lookahead`), `vocab` its vocabulary. `ranges` (S A T B) bound the sampled voices; the
        soprano is never bound by them. `label` tells it apart in a report (`system_name`).
        `grammar(symbols, batch, shift)`, when given, makes the satb `Grammar` to sample under instead of
        `guard` and `ranges` (`run_grammar`: generate's, for a run), for music moved `shift` semitones.
        `common_key`: the network learned every piece in C major's key signature (`train --common-key`),
        so a melody is moved there (`augment.key_shift`) and its harmonization moved back."""
        self.label, self.common_key = label, common_key
        if not order.startswith("S"):
            raise ValueError(f"the soprano slot must come first to be forced before the others, not {order!r}")
        self.stepper, self.vocab, self.order, self.lookahead = stepper, vocab, order, lookahead
        # What each position of a group holds: the soprano, the lookahead, a sampled voice, the length.
        self.roles = ["S"] + (["N"] if lookahead else []) + ["v", "v", "v", "D"]
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
    def from_keras(cls, model, vocab: Vocab, **options) -> "LSTMHarmonizer":
        """A network of `model.build_model` (left to right), or of `melody_context.build_model` (reads the
        whole melody too)."""
        if melody_context.is_melody_model(model):
            return cls(melody_context.MelodyStepper(model), vocab, **options)
        from .stepper import LSTMStepper

        return cls(LSTMStepper.from_keras(model), vocab, **options)

    @property
    def reads_melody(self) -> bool:
        return isinstance(self.stepper, melody_context.MelodyStepper)

    @classmethod
    def from_run(cls, run, **options) -> "LSTMHarmonizer":
        """A `run_folder.Run` of the satb encoding."""
        if run.config.encoding != satb.SATB.name:
            raise MelodyError(run.path, f"a {run.config.encoding} run cannot harmonize: "
                                        f"train one with --encoding {satb.SATB.name}")
        if run.config.jsb:
            raise MelodyError(run.path, "a run trained on JSB Chorales frames (--jsb) cannot harmonize: "
                                        f"train one on MIDI files with --encoding {satb.SATB.name}")
        options = {"grammar": run_grammar(run), **options}
        return cls.from_keras(run.model, run.vocab, common_key=run.config.common_key, **options)

    def key_shift(self, notes: Sequence[Note], name: str = "melody") -> int:
        """The semitones this network wants `notes` moved by: 0 unless `common_key`; then the shift to C
        major's key signature (`augment.key_shifts`), or where a melody alone leaves that in doubt and
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
        if self.lookahead:
            for symbol in [LOOK + satb.pitch_name(p) for _, _, p in notes] + [LOOK + "end"]:
                if symbol not in self.vocab:
                    raise MelodyError(name, f"{symbol} is outside what this model was trained on")
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

    def _lookahead_id(self, t: Fraction) -> int:
        following = next((p for o, p in self._onsets if o > t), None)
        return self.vocab.symbol_to_index[LOOK + ("end" if following is None else satb.pitch_name(following))]

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
            elif role == "N":
                ids = np.array([self._lookahead_id(t) if t < end else 0 for t in times])
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
            grammar.feed(ids)  # the lookahead symbol is no satb symbol: the grammar skips it
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
        decoded = satb.decode_satb([s for s in symbols if not s.startswith(LOOK)], order=self.order)
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
        symbols = lookahead_symbols(voices, self.order) if self.lookahead else satb.encode_satb(voices, self.order)
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
        plain = [s for s in symbols if not s.startswith(LOOK)]
        return bits, satb.decode_satb(plain, order=self.order).end, unknown


# --- from a melody source to files --------------------------------------------------------------------

def harmonize_to_files(harmonizer: LSTMHarmonizer, source, output, num_outputs: int = 1, best_of: int = 1,
                       temperature: float = DEFAULT_TEMPERATURE, seed: int = 0, fmt: str = "midi", bpm: float = 90.0,
                       log=print) -> list:
    """Read a melody (`midi_io.read_melody`: a MIDI or MusicXML file, or tinyNotation text), harmonize
    it `num_outputs` times, write each as four-track MIDI (`fmt="midi"`) or a chorale score
    (`fmt="musicxml"`) at `output` (numbered `_1`, `_2`... when several), atomically; returns the
    paths. Every check comes before the first file is written, so a bad melody writes nothing."""
    from . import midi_io
    from .generate import output_paths

    if fmt not in ("midi", "musicxml"):
        raise ValueError(f"invalid format: {fmt!r} (midi or musicxml)")
    melody, message = midi_io.read_melody(source)
    if message:
        log(message)
    name = midi_io.TINY if midi_io.is_tune(source) else str(source)
    outs = harmonizer.harmonize(melody, num_outputs=num_outputs, best_of=best_of, temperature=temperature,
                                seed=seed, name=name)
    key = midi_io.melody_key(melody)
    paths = output_paths(output, num_outputs)
    if fmt == "musicxml":  # the score alone, at the name asked for
        paths = [p.with_suffix(Path(output).suffix or ".musicxml") for p in paths]
    for out, path in zip(outs, paths):
        if fmt == "musicxml":
            midi_io.write_chorale_musicxml(out.voices, path, bpm=bpm, title=f"Harmonization in {key}")
        else:
            midi_io.write_voices_midi(out.voices, path, bpm=bpm)
    log(f"wrote {len(paths)} harmonization{'s' if len(paths) > 1 else ''} of {len(melody)} notes in {key}: "
        f"{', '.join(str(p) for p in paths)}")
    return paths


def harmonize_files(run_dir, source, output="harmonized.mid", num_outputs: int = 1, best_of: int = 1,
                    temperature: float = DEFAULT_TEMPERATURE, seed: int | None = 0, fmt: str = "midi",
                    instrument: str | int = 0, plot: bool = False, audio: bool = False, audio_format: str = "wav",
                    soundfont=None, score: bool = False, bpm: float | None = None, beam: int = 0,
                    log=lambda msg: print(msg, file=sys.stderr), run=None, harmonizer=None) -> list:
    """`python -m music_lstm harmonize`: read the melody (`midi_io.read_melody`), then the satb run
    folder (`run_dir`; None: runs/latest, else the model shipped with the package), harmonize it
    `num_outputs` times (sampled, or the likeliest found by a beam search of width `beam` > 0) and
    write each as four-track MIDI at `output` (numbered
    `_1`, `_2`... when several) with what generate writes beside its MIDI files (`generate.write_piece`:
    MusicXML, piano roll, audio, score pages). Returns the MIDI files, then the others. Every check
    (settings, melody, run folder, the model's reach) comes before the first file is written. `run` (a
    loaded `run_folder.Run`) and `harmonizer` (its `LSTMHarmonizer`), when given, are used instead of
    reading the folder again (the local page loads them once)."""
    from . import midi_io
    from .errors import ConfigError
    from .generate import DEFAULT_BPM, check_rendering, output_paths, write_piece
    from .instruments import voice_programs
    from .run_folder import load_run, resolve_run

    programs = voice_programs(instrument)
    check_rendering(fmt, audio, audio_format, soundfont)
    for flag, value in (("num_outputs", num_outputs), ("best_of", best_of)):
        if value < 1:
            raise ConfigError(f"invalid {flag}: {value} (must be >= 1)")
    if temperature < 0:
        raise ConfigError(f"invalid temperature: {temperature} (must be >= 0)")
    if beam < 0 or (beam and beam < num_outputs):
        raise ConfigError(f"invalid beam: {beam} (0 to sample, else at least --num-outputs, {num_outputs})")
    if bpm is not None and not 10 <= bpm <= 400:
        raise ConfigError(f"invalid bpm: {bpm} (must be between 10 and 400)")
    melody, message = midi_io.read_melody(source)
    if message:
        log(message)
    name = midi_io.TINY if midi_io.is_tune(source) else str(source)
    run = run or load_run(resolve_run(run_dir, "harmonize", log))  # None: runs/latest, else the shipped model
    harmonizer = harmonizer or LSTMHarmonizer.from_run(run)
    key = midi_io.melody_key(melody)
    log(f"harmonizing {len(melody)} notes in {key} with the run folder {run.path}")
    outs = harmonizer.harmonize(melody, num_outputs=num_outputs, best_of=best_of, temperature=temperature,
                                seed=np.random.default_rng(seed), name=name, beam=beam)
    bpm = bpm or run.bpm or DEFAULT_BPM
    meter = midi_io.melody_time_signature(source) if fmt == "musicxml" or score else "4/4"
    written, extra = [], []
    for out, path in zip(outs, output_paths(output, num_outputs)):
        notes = sorted(n for v in out.voices for n in v)
        extra += write_piece(path, notes, out.voices, bpm, programs, fmt=fmt, plot=plot, audio=audio,
                             audio_format=audio_format, soundfont=soundfont, score=score,
                             title=f"Harmonization in {key}", time_signature=meter)
        written.append(path)
    return written + extra


# --- evaluation -------------------------------------------------------------------------------------

def agreement(voices: Sequence[Sequence[Note]], reference: Sequence[Sequence[Note]]) -> tuple[int, int, int]:
    """(beats, bass matches, chord matches): per quarter-note beat of `reference` where both sound,
    whether the bass pitch class, and the pitch-class set of all four voices, are the same."""
    grid = beats(reference)
    ours, theirs = chord_states(voices, grid), chord_states(reference, grid)
    n = bass = chord = 0
    for a, b in zip(ours, theirs):
        if a is None or b is None:
            continue
        n += 1
        bass += (a >> 12) == (b >> 12)
        chord += (a & 4095) == (b & 4095)
    return n, bass, chord


@dataclass
class HarmonizeReport:
    rows: dict[str, dict[str, float]]  # system -> measure -> value
    pieces: int
    skipped: list[str] = field(default_factory=list)  # one line each: a piece the LSTM cannot write, and why

    def to_json(self) -> dict:
        rows = {n: {k: None if math.isnan(v) else float(v) for k, v in r.items()} for n, r in self.rows.items()}
        return {"pieces": self.pieces, "rows": rows, "skipped": self.skipped}


MEASURE_NAMES = {
    "nll": "held-out NLL, bits per quarter note",
    "bass": "beats with Bach's bass pitch class",
    "chord": "beats with Bach's chord (pitch-class set)",
    "parallels": "parallel 5ths/8ves per 100 transitions, median",
    "at_or_below_p90": "harmonizations with parallels <= Bach's p90",
    "crossings": "crossings (share of slices), median",
    "sonority": "triad/seventh sonorities (share), median",
}


def system_name(harmonizer: LSTMHarmonizer) -> str:
    """How a harmonizer's row is named in the report."""
    from .ngram import NgramStepper

    if isinstance(harmonizer.stepper, NgramStepper):
        name = f"KN {harmonizer.stepper.model.order}-gram, soprano forced"
    else:
        name = "LSTM, whole melody" if harmonizer.reads_melody else "LSTM, soprano forced"
    return name + (f" ({harmonizer.label})" if harmonizer.label else "")


def evaluate_harmonize(harmonizer, pieces: Sequence[Sequence[Sequence[Note]]],
                       hmm: HMMHarmonizer | None = None, temperature: float = DEFAULT_TEMPERATURE, best_of: int = 1,
                       seed: int = 0, others: Sequence[LSTMHarmonizer] = (), beam: int = 0) -> HarmonizeReport:
    """Harmonize the soprano of each held-out piece (S, A, T, B voices) with the LSTM and the HMM,
    and compare with Bach's own alto, tenor and bass. A piece whose soprano the LSTM cannot write
    (a pitch or a length it never saw) is left out for every system, and listed in `skipped`.
    The LSTM's NLL scores Bach's A, T, B symbols; the HMM's scores only his chord per beat (see
    hmm_harmonizer), so the two are not the same quantity. Bach's row gives his own voice-leading figures on the same pieces. `harmonizer` is an
    LSTMHarmonizer, a satb `run_folder.Run`, or None (the HMM alone); `others` are more harmonizers
    measured the same way (another run's network, an n-gram behind `ngram.NgramStepper`)."""
    if harmonizer is not None and not isinstance(harmonizer, LSTMHarmonizer):
        harmonizer = LSTMHarmonizer.from_run(harmonizer)
    harmonizers = ([harmonizer] if harmonizer is not None else []) + list(others)
    pieces = [tuple(list(v) for v in p) for p in pieces if all(p)]
    skipped = []
    if harmonizers:  # a soprano some network cannot write (a pitch it never saw): left out for all
        kept = []
        for k, p in enumerate(pieces):
            try:
                for h in harmonizers:
                    shift = h.key_shift(p[0])
                    h._plan([(o, d, q + shift) for o, d, q in p[0]], f"piece {k + 1}")
                kept.append(p)
            except MelodyError as e:
                skipped.append(str(e))
        pieces = kept
    if not pieces:
        raise MelodyError("evaluate", f"no piece to harmonize ({len(skipped)} left out: {skipped[:1]})")
    bach = [voice_leading.measure(p) for p in pieces]
    p90 = float(np.percentile([m["parallels"] for m in bach], 90))
    systems: dict[str, list] = {}
    nll: dict[str, tuple[float, float]] = {}
    rng = np.random.default_rng(seed)
    for h in harmonizers:
        name = system_name(h)
        systems[name] = [h.harmonize(p[0], best_of=best_of, temperature=temperature, seed=rng, beam=beam)[0].voices
                         for p in pieces]
        scores = [h.nll_bits(p) for p in pieces]
        nll[name] = (sum(s[0] for s in scores), sum(s[1] for s in scores))
    if hmm is not None:
        systems["HMM, chord per beat"] = [hmm.harmonize(p[0]) for p in pieces]
        scores = [hmm.nll_bits(p) for p in pieces]
        nll["HMM, chord per beat"] = (sum(s[0] for s in scores), sum(s[1] for s in scores))
    rows: dict[str, dict[str, float]] = {}
    for name, outs in systems.items():
        counts = np.array([agreement(o, p) for o, p in zip(outs, pieces)]).sum(axis=0)
        measures = [voice_leading.measure(o) for o in outs]
        rows[name] = {
            "nll": nll[name][0] / nll[name][1],
            "bass": counts[1] / counts[0],
            "chord": counts[2] / counts[0],
            "parallels": float(np.median([m["parallels"] for m in measures])),
            "at_or_below_p90": float(np.mean([m["parallels"] <= p90 + 1e-9 for m in measures])),
            "crossings": float(np.median([m["crossings"] for m in measures])),
            "sonority": float(np.median([m["sonority"] for m in measures])),
        }
    rows["Bach"] = {
        "nll": float("nan"), "bass": 1.0, "chord": 1.0,
        "parallels": float(np.median([m["parallels"] for m in bach])),
        "at_or_below_p90": float(np.mean([m["parallels"] <= p90 + 1e-9 for m in bach])),
        "crossings": float(np.median([m["crossings"] for m in bach])),
        "sonority": float(np.median([m["sonority"] for m in bach])),
    }
    return HarmonizeReport(rows, len(pieces), skipped)


NGRAM_ORDER = 6  # the n-gram harmonizer's order: it reads the group before whole (five symbols)


def evaluate_run(run_dir, data_dir=None, json_path=None, temperature: float = DEFAULT_TEMPERATURE, seed: int = 0,
                 best_of: int = 1, beam: int = 0, against: Sequence = (), ngram_order: int | None = NGRAM_ORDER,
                 log=lambda msg: print(msg, file=sys.stderr)) -> HarmonizeReport:
    """`python -m music_lstm evaluate --harmonize`: `evaluate_harmonize` on the run's held-out pieces
    (`split.json`, read from the run's data folder, recorded in `data.json`, or `data_dir`), with the
    HMM and a Kneser-Ney n-gram of `ngram_order` (None: none) fit on its training pieces, and the satb
    run folders `against` harmonizing the same pieces; the report is also written to `json_path`."""
    from . import run_folder as rf
    from .corpus import load_folder
    from .errors import RunFolderError

    folder = Path(run_dir)
    train_names, val_names = rf.read_split(folder, " (train first, or pass the run folder with --run-dir)")
    if not val_names:
        raise RunFolderError(f"{folder / rf.SPLIT}: no held-out pieces to harmonize (train with --val-fraction > 0)")
    if data_dir is None:
        data_dir = rf.read_data(folder)["data_dir"]
        if data_dir is None:
            raise RunFolderError(f"{folder / rf.DATA}: no data folder recorded (pass --data-dir)")
    run = rf.load_run(folder)
    harmonizer = LSTMHarmonizer.from_run(run)  # a run of another encoding fails here, before the folder is read
    corpus = load_folder(data_dir, recursive=rf.read_data(folder)["recursive"], log=log)

    def voices(names):
        return [corpus.pieces[n].voices for n in names if n in corpus.pieces and corpus.pieces[n].voices is not None]

    held_out, trained = voices(val_names), voices(train_names)
    if not held_out:
        raise RunFolderError(f"{data_dir}: none of the run's held-out pieces is there with four voices")
    if len(held_out) < len(val_names):
        log(f"{data_dir}: {len(val_names) - len(held_out)} of the run's {len(val_names)} held-out pieces "
            "are missing or not in four voices")
    hmm = HMMHarmonizer().fit(trained) if trained else None
    others = [LSTMHarmonizer.from_run(rf.load_run(other), label=str(other)) for other in against]
    if ngram_order and run.corpus["train"]:
        from .ngram import KneserNey, NgramStepper

        kn = KneserNey(ngram_order, len(run.vocab)).fit(run.corpus["train"])
        others.append(LSTMHarmonizer(NgramStepper(kn), run.vocab, grammar=run_grammar(run)))
    report = evaluate_harmonize(harmonizer, held_out, hmm, temperature=temperature, best_of=best_of, seed=seed,
                                others=others, beam=beam)
    if json_path is not None:
        rf.write_json(json_path, report.to_json())
    return report


def format_table(report: HarmonizeReport) -> str:
    """The report as a Markdown table: one row per measure, one column per system."""
    names = list(report.rows)
    lines = [f"| {report.pieces} held-out chorales | " + " | ".join(names) + " |", "|---" * (len(names) + 1) + "|"]
    for key, label in MEASURE_NAMES.items():
        cells = []
        for n in names:
            v = report.rows[n][key]
            cells.append("-" if v != v else f"{v:.2f}" if key in ("nll", "parallels") else f"{v:.3f}")
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    if report.skipped:
        lines.append(f"\n{len(report.skipped)} left out (the network cannot write their soprano), "
                     f"e.g. {report.skipped[0]}")
    return "\n".join(lines)

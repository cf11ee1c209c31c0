"""Write new music from a trained run folder (never retrains, reads nothing outside the folder).

The prompt (a random window of the training pieces, or `--primer FILE.mid`) sets the LSTM state once;
then each symbol costs one NumPy step of the network (`stepper.LSTMStepper`) and one draw from
`sampling.sample` (the loop is `sampling.generate_ids`). `--num-outputs N` steps N pieces together as one batch. The symbols are decoded by the
run's encoding (an ill-formed event stream is repaired, and the share of repaired events reported).
A four-voice encoding (satb) writes four named tracks (Soprano, Alto, Tenor, Bass) and, with
`--format musicxml`, a chorale score on two staves; the others one track and a chordified score.
`--plot` writes a piano-roll PNG, `--audio` a recording through FluidSynth and `--score` the score's
pages as SVG through Verovio (render.py), each beside its MIDI file.

    python -m music_lstm generate --run-dir runs/latest --output generated_midi.mid --length 500
"""

from __future__ import annotations

import dataclasses
import os
import sys
from pathlib import Path

import numpy as np

from ..core.keys import key_shift
from ..encodings.common import Decoded
from ..core.errors import ConfigError, EncodingError, MusicLSTMError, RunFolderError
from ..core.events import bar_phase
from ..core.scores import Score4
from ..runs.run_folder import CORPUS, MODEL, Run, load_run, read_sampling, resolve_run
from ..core.sampling import Sampling, generate_ids

from .outfiles import DEFAULT_BPM, Outputs, output_paths, write_piece

def primer_ids(run: Run, primer: str | os.PathLike, log) -> tuple[np.ndarray, int]:
    """The primer file's symbols as ids, and the semitones it was moved first (a `common_key` run's key,
    else 0); unknown symbols go to the nearest known one, or are dropped."""
    from ..io import midi_read

    encoding = run.config.encoder()
    try:
        piece = midi_read.read_midi(primer)
        shift = key_shift(piece) if run.config.common_key else 0
        symbols = encoding.transpositions(piece, [shift])[0] if shift else encoding.encode(piece)
    except EncodingError as e:
        raise EncodingError(f"{primer}: {e} (the {encoding.name} encoding needs it)") from None
    known = run.vocab.index_to_symbol[1:]
    mapped, changes = [], []
    for s in symbols:
        if s in run.vocab:
            mapped.append(s)
            continue
        near = encoding.nearest(s, known)
        changes.append(f"{s}->{near}" if near else f"{s} dropped")
        if near:
            mapped.append(near)
    if changes:
        log(f"primer {primer}: {len(changes)} symbols not in the vocabulary: {', '.join(changes[:10])}{' ...' if len(changes) > 10 else ''}")
    if not mapped:
        raise MusicLSTMError(f"{primer}: no usable symbols for this model")
    return run.vocab.encode(mapped), shift


def generate(
    run_dir: str | os.PathLike | None = None,
    output: str | os.PathLike = "generated_midi.mid",
    length: int = 500,
    sampling: Sampling | dict | None = None,
    primer: str | os.PathLike | None = None,
    include_primer: bool = False,
    seed: int | None = None,
    num_outputs: int = 1,
    output_dir: str | os.PathLike | None = None,
    run: Run | None = None,
    outputs: Outputs = Outputs(),
    log=lambda msg: print(msg, file=sys.stderr),
    cadence: bool = False,
    cadence_run_dir: str | os.PathLike | None = None,
) -> list[Path]:
    """Generate `num_outputs` pieces of `length` symbols; returns the files written (MIDI first, then
    any MusicXML, PNG, audio and SVG). `sampling`: the settings, or a dict of the ones to change from the
    run's encoding's own defaults (`Encoding.default_sampling`) and the run folder's `sampling.json`, if
    it has one (None = those). `outputs`: what is written beside each MIDI file, the tempo and instruments.
    `cadence`: a four-voice piece ends on a cadence, its last bars written again by the fill_lstm run
    `cadence_run_dir` (`tasks.steer.cadence_ending`; None: the shipped harmonizer)."""
    outputs.check()  # a missing SoundFont is reported before the network runs
    if length < 1:
        raise ConfigError(f"invalid length: {length} (must be >= 1)")
    if num_outputs < 1:
        raise ConfigError(f"invalid num_outputs: {num_outputs} (must be >= 1)")
    run = run or load_run(resolve_run(run_dir, "compose", log))  # None: runs/latest, else the shipped model
    check_composes(run)
    encoding = run.config.encoder()
    if encoding.voices != 4 and len(set(outputs.programs)) > 1:
        raise ConfigError(f"invalid instrument: {outputs.instrument!r} (one per voice needs a four-voice encoding; "
                          f"the run's is {encoding.name})")
    if cadence and encoding.voices != 4:
        raise ConfigError(f"invalid setting: --cadence needs a four-voice run (the run's encoding is {encoding.name})")
    pieces = compose_pieces(run, length, sampling, primer, include_primer, seed, num_outputs, log)
    if cadence:  # loaded after composing: the same seed composes the same pieces with or without an ending
        from ..runs.run_folder import SHIPPED
        from .steer import _writer

        ender = _writer(cadence_run_dir or SHIPPED / "harmonize", log)
        pieces = [ended(ender, piece, None if seed is None else seed + k, log) for k, piece in enumerate(pieces)]
    paths = output_paths(output, num_outputs, output_dir)
    bpm = outputs.bpm or run.bpm or DEFAULT_BPM
    written, extra = [], []
    for path, piece in zip(paths, pieces):
        decoded = piece.decoded
        if decoded.repairs:
            log(f"{path}: repaired {decoded.repairs} of {decoded.events} events ({decoded.repair_fraction:.1%}) that broke the {encoding.name} grammar")
        if not decoded.notes:
            raise MusicLSTMError(f"{path}: the generated symbols hold no note (try a longer --length)")
        key = {} if piece.ending is None else {"sharps": piece.ending.sharps, "minor": piece.ending.mode == "minor",
                                                "fermatas": piece.ending.fermatas}
        extra += write_piece(path, decoded.notes, piece.voices, bpm, outputs, title=f"Chorale: {path.stem}",
                             pickup=piece.pickup, **key)
        written.append(path)
    return written + extra


def ended(writer, piece: "Composition", seed, log) -> "Composition":
    """`piece` with its last bars written again to end on a cadence (`tasks.steer.cadence_ending`; its
    `log_prob` stays the compose network's, for the symbols it wrote; `ending` holds the key and the
    fermata the files are written with); as it was, with a line saying why, when it is too short for one."""
    from .steer import cadence_ending

    try:
        score = cadence_ending(writer, piece.voices, piece.pickup, seed=seed)
    except MusicLSTMError as e:
        log(f"no cadence at the end: {e}")
        return piece
    voices = [list(v) for v in score.voices]
    notes = sorted(n for v in voices for n in v)
    decoded = dataclasses.replace(piece.decoded, notes=notes, voices=voices, end=score.end)
    return dataclasses.replace(piece, decoded=decoded, voices=voices, ending=score)


def check_composes(run: Run) -> None:
    """A ConfigError unless `run` can compose: trained on MIDI files, and not to harmonize a given melody."""
    if run.config.task == "jsb":
        raise ConfigError(f"{run.path}: a run trained on JSB Chorales frames (--jsb); generate writes MIDI only from "
                          "runs trained on MIDI files")
    if run.config.task == "harmonize":
        raise ConfigError(f"{run.path}: a run that harmonizes a given melody (--melody-context) does not compose: "
                          "use harmonize with it, or generate with another run folder")


@dataclasses.dataclass
class Composition:
    """One piece `compose_pieces` sampled, nothing written yet."""

    decoded: Decoded  # its notes, in the key of its prompt, and how many events were repaired
    voices: list | None  # S A T B for a four-voice encoding, else None
    pickup: float  # quarter notes before the first barline (music cut from the middle of a piece)
    log_prob: float  # natural log of the network's probability of the sampled symbols
    ending: Score4 | None = None  # with an ending written (`ended`): the key it closes in, its last fermata


def compose_pieces(run: Run, length: int = 500, sampling: Sampling | dict | None = None,
                   primer: str | os.PathLike | None = None, include_primer: bool = False, seed=None,
                   num_outputs: int = 1, log=lambda msg: print(msg, file=sys.stderr)) -> list[Composition]:
    """The sampling half of `generate`: `num_outputs` pieces of `length` symbols from the loaded `run`,
    decoded, in memory (`generate` writes them; the Python API returns them). `seed` an int, None or a
    `numpy.random.Generator`."""
    from ..models import factory

    if length < 1:
        raise ConfigError(f"invalid length: {length} (must be >= 1)")
    if num_outputs < 1:
        raise ConfigError(f"invalid num_outputs: {num_outputs} (must be >= 1)")
    check_composes(run)
    encoding = run.config.encoder()
    if not isinstance(sampling, Sampling):  # the encoding's defaults, then the run's own, then the caller's
        sampling = dataclasses.replace(encoding.default_sampling(), **{**read_sampling(run.path), **(sampling or {})})
    four = encoding.voices == 4
    rng = np.random.default_rng(seed)
    window = run.config.seq_len
    if primer is not None:
        full, shift = primer_ids(run, primer, log)
        prompt = np.tile(full[-window:], (num_outputs, 1))  # the state is set from the primer's last window
        written_prompt = [full] * num_outputs  # --include-primer writes the whole primer, from its start
        before = [full[: max(len(full) - window, 0)]] * num_outputs
        key_shifts = np.full(num_outputs, shift)
    else:
        prompt, before, picked = random_windows(run.corpus["train"], window, num_outputs, rng, with_before=True)
        written_prompt = list(prompt)  # cut from the middle of a piece: it may start inside a slice
        key_shifts = run.corpus["train_shifts"][picked]  # a common_key run's music goes back to its prompt's key
    try:
        stepper = factory.stepper(run.config.kind, run.model, run.factors)
    except ValueError as e:
        raise RunFolderError(f"{run.path / MODEL}: {e}") from None
    vocabulary = run.vocab.index_to_symbol
    grammar = encoding.grammar(vocabulary, num_outputs, sampling, pieces=run.corpus["train"],
                               piece_shifts=run.corpus["train_shifts"], row_shifts=key_shifts)
    if grammar is not None:  # read the prompt first (an encodings.Grammar also keeps its texture and time)
        if hasattr(grammar, "prime"):
            grammar.prime(prompt, before=before)
        else:  # a grammar with only feed/ban
            for column in prompt.T:
                grammar.feed(column)
    # where the new music begins in its beat, for a grammar that keeps time: written from there
    starts = getattr(grammar, "position", np.zeros(num_outputs)).copy()
    rows = np.arange(num_outputs)
    log_prob = np.zeros(num_outputs)
    last = [stepper.prime(prompt)]

    def step(ids):  # each sampled symbol scored by the network's own probability before stepping on
        log_prob[:] += np.log(np.maximum(last[0][rows, ids], 1e-300))
        last[0] = stepper.step(ids)
        return last[0]

    ids = generate_ids(step, last[0], length, sampling, rng, history=prompt, grammar=grammar,
                       rhythm=encoding.rhythm_mask(vocabulary))
    log_prob += np.log(np.maximum(last[0][rows, ids[:, -1]], 1e-300))  # the last symbol, never stepped on
    pieces = []
    for context, whole, row, start, shift, score in zip(prompt, written_prompt, ids, starts, key_shifts, log_prob):
        context, symbols = run.vocab.decode(context), run.vocab.decode(row)
        if include_primer:
            decoded = encoding.decode(run.vocab.decode(whole) + symbols, open_start=primer is None)
        else:  # the prompt is read too, so a note it holds into the new music is no error
            decoded = on_the_beat(encoding.decode_continuation(context, symbols), start)
        decoded = moved(decoded, -int(shift))
        voices = decoded.voices if four else None
        # music cut from the middle of a piece starts anywhere in the bar: barred where its notes fall on beats
        pickup = (4.0 - bar_phase(voices)) % 4.0 if voices is not None and decoded.notes else 0.0
        pieces.append(Composition(decoded, voices, pickup, float(score)))
    return pieces


def moved(decoded: Decoded, semitones: int) -> Decoded:
    """`decoded` music moved by `semitones` (a `common_key` run's music back to its prompt's key)."""
    return _each_note(decoded, lambda o, d, p: (o, d, p + semitones)) if semitones else decoded


def on_the_beat(decoded: Decoded, start: float, beat: float = 1.0) -> Decoded:
    """`decoded` music that begins `start` quarter notes into its source, moved later by the part of a beat
    `start` falls into, so that its beats fall on whole beats of the file (it opens with a short rest)."""
    shift = round(start % beat, 6) % beat
    return _each_note(decoded, lambda o, d, p: (o + shift, d, p), decoded.end + shift) if shift else decoded


def _each_note(decoded: Decoded, f, end: float | None = None) -> Decoded:
    """`decoded` with `f(offset, duration, pitch)` applied to every note, of the voices too."""
    voices = None if decoded.voices is None else [[f(*n) for n in v] for v in decoded.voices]
    return dataclasses.replace(decoded, notes=[f(*n) for n in decoded.notes], voices=voices,
                               end=decoded.end if end is None else end)


def random_windows(pieces: list[np.ndarray], window: int, n: int, rng: np.random.Generator, with_before: bool = False):
    """`n` prompts of equal length, each a random stretch of a random training piece, as an (n, window)
    array; with `with_before`, also the ids of each prompt's piece that come before it, and the index in
    `pieces` of each prompt's piece."""
    usable = [i for i, p in enumerate(pieces) if len(p)]
    if not usable:
        raise RunFolderError(f"{CORPUS} has no training piece to start from (use --primer)")
    long_enough = [i for i in usable if len(pieces[i]) >= window] or [max(usable, key=lambda i: len(pieces[i]))]
    width = min(window, min(len(pieces[i]) for i in long_enough))
    out = np.zeros((n, width), np.int64)
    before, picked = [], np.zeros(n, np.int64)
    for r in range(n):
        picked[r] = long_enough[rng.integers(len(long_enough))]
        piece = pieces[picked[r]]
        start = rng.integers(len(piece) - width + 1)
        out[r] = piece[start : start + width]
        before.append(piece[:start])
    return (out, before, picked) if with_before else out

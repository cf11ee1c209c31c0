"""Write new music from a trained run folder (never retrains, reads nothing outside the folder).

The prompt (a random window of the training pieces, or `--primer FILE.mid`) sets the LSTM state once;
then each symbol costs one NumPy step of the network (`stepper.LSTMStepper`) and one draw from
`sampling.sample`. `--num-outputs N` steps N pieces together as one batch. The symbols are decoded by the
run's encoding (an ill-formed event stream is repaired, and the share of repaired events reported);
`--format musicxml` also writes MusicXML, `--plot` a piano-roll PNG beside each MIDI file.

    python -m music_lstm generate --run-dir runs/latest --output generated_midi.mid --length 500
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import blas
from .artifacts import read_json
from .config import Config
from .dataset import load_corpus
from .encoding import decode_continuation, decode_report, encode, nearest_symbol
from .errors import MusicLSTMError, RunFolderError
from .polyphony import Grammar, rhythm_symbols, texture
from .sampling import Sampling, sample, trailing_run
from .vocab import Factors, Vocab

DEFAULT_BPM = 90.0  # when neither --bpm nor the training data gives a tempo
FORMATS = ("midi", "musicxml")
# General MIDI programs (0-based) by a name a user might type; any number 0-127 works too.
INSTRUMENTS = {"piano": 0, "harpsichord": 6, "organ": 19, "guitar": 24, "strings": 48, "choir": 52, "flute": 73}


def program_number(instrument: str | int) -> int:
    """`--instrument`: a General MIDI program number 0-127, or one of INSTRUMENTS' names."""
    text = str(instrument).strip().lower()
    if text in INSTRUMENTS:
        return INSTRUMENTS[text]
    if text.isdigit() and 0 <= int(text) <= 127:
        return int(text)
    raise ValueError(f"invalid instrument: {instrument!r} (a General MIDI program 0-127, or one of {', '.join(INSTRUMENTS)})")


@dataclass
class Run:
    """What a run folder holds, loaded and checked against each other."""

    path: Path
    config: Config
    vocab: Vocab
    model: object  # keras.Model
    corpus: dict[str, list[np.ndarray]]
    bpm: float | None
    factors: Factors | None = None  # a chord softmax and a duration softmax (seed --durations)


def load_run(run_dir: str | os.PathLike) -> Run:
    """Load a run folder; a missing, corrupt or mismatched file is a one-line RunFolderError."""
    run = Path(run_dir)
    if not run.is_dir():
        raise RunFolderError(f"{run}: no such run folder (train first: python -m music_lstm train)")
    config = Config.load(run / "config.json")
    vocab = Vocab.load(run / "vocab.json")
    model_path = run / "model.keras"
    if not model_path.is_file():
        raise RunFolderError(f"{model_path}: missing (training never finished an epoch)")
    import zipfile

    if not zipfile.is_zipfile(model_path):  # Keras would call a damaged file "not found"
        raise RunFolderError(f"{model_path}: damaged (not a .keras archive)")
    import keras

    try:
        model = keras.saving.load_model(model_path, compile=False)
    except Exception as e:
        raise RunFolderError(f"{model_path}: cannot be loaded ({str(e).splitlines()[0][:100] if str(e) else type(e).__name__})") from None
    shapes = model.output_shape if isinstance(model.output_shape, list) else [model.output_shape]
    factors = Factors(vocab) if len(shapes) == 2 else None
    if factors is not None and tuple(s[-1] for s in shapes) != factors.sizes:
        raise RunFolderError(f"{model_path}: predicts {shapes[0][-1]} chords and {shapes[1][-1]} durations but vocab.json has "
                             f"{factors.sizes[0]} and {factors.sizes[1]}: the files do not belong together")
    if factors is None and shapes[0][-1] != len(vocab):
        raise RunFolderError(f"{model_path}: predicts {shapes[0][-1]} symbols but vocab.json has {len(vocab)}: the files do not belong together")
    try:
        corpus = load_corpus(run / "corpus.npz")
    except FileNotFoundError:
        raise RunFolderError(f"{run / 'corpus.npz'}: missing") from None
    except Exception as e:
        raise RunFolderError(f"{run / 'corpus.npz'}: corrupt ({type(e).__name__})") from None
    top = max((int(ids.max()) for part in corpus.values() for ids in part if len(ids)), default=0)
    if top >= len(vocab):
        raise RunFolderError(f"{run / 'corpus.npz'}: holds symbol id {top} but vocab.json has {len(vocab)} symbols: the files do not belong together")
    bpm = None
    if (run / "data.json").exists():
        try:
            bpm = read_json(run / "data.json").get("bpm")
        except ValueError:
            pass
    return Run(run, config, vocab, model, corpus, bpm, factors)


def generate_ids(
    step: Callable[[np.ndarray], np.ndarray],
    first_probs: np.ndarray,
    length: int,
    sampling: Sampling,
    rng: np.random.Generator,
    history: np.ndarray | None = None,
    grammar=None,
    rhythm: np.ndarray | None = None,
) -> np.ndarray:
    """Draw `length` ids per row: sample from the current probabilities, feed the choice to `step`.

    `step(ids (batch,)) -> probs (batch, vocab)` carries its own state; `history` (batch, steps) is
    what came before, for the repeat guard. Id 0 (`<unk>`) is never drawn. `grammar` (optional, as
    `polyphony.Grammar`, already fed the history) bans the ids that would break the encoding's grammar;
    `rhythm` (vocab,) bool marks the duration and rest ids, sampled at `sampling.rhythm_temperature`.
    """
    batch, vocab_size = first_probs.shape
    out = np.zeros((batch, length), np.int64)
    banned = np.zeros((batch, vocab_size), bool)  # one mask, edited in place for the guard
    banned[:, 0] = True
    last, run = trailing_run(np.zeros((batch, 0), np.int64) if history is None else history)
    guard = sampling.max_repeat
    probs = first_probs
    for t in range(length):
        stuck = np.flatnonzero(run >= guard) if guard else ()
        if len(stuck):
            banned[stuck, last[stuck]] = True  # this row's last id may not come again
        ids = sample(probs, rng, sampling.temperature, sampling.top_k, sampling.top_p,
                     banned if grammar is None else banned | grammar.ban(), rhythm, sampling.rhythm_temperature)
        if grammar is not None:
            grammar.feed(ids)
        if len(stuck):
            banned[stuck, last[stuck]] = False
            banned[:, 0] = True
        run = np.where(ids == last, run + 1, 1)
        last = ids
        out[:, t] = ids
        if t + 1 < length:
            probs = step(ids)
    return out


def primer_ids(run: Run, primer: str | os.PathLike, log) -> np.ndarray:
    """The primer file's symbols as ids; unknown symbols go to the nearest known one, or are dropped."""
    from . import midi_io

    symbols = encode(midi_io.read_midi(primer), run.config.encoding, run.config.durations)
    known = run.vocab.index_to_symbol[1:]
    mapped, changes = [], []
    for s in symbols:
        if s in run.vocab:
            mapped.append(s)
            continue
        near = nearest_symbol(s, known, run.config.encoding)
        changes.append(f"{s}->{near}" if near else f"{s} dropped")
        if near:
            mapped.append(near)
    if changes:
        log(f"primer {primer}: {len(changes)} symbols not in the vocabulary: {', '.join(changes[:10])}{' ...' if len(changes) > 10 else ''}")
    if not mapped:
        raise MusicLSTMError(f"{primer}: no usable symbols for this model")
    return run.vocab.encode(mapped)


def output_paths(output: str | os.PathLike, n: int, output_dir: str | os.PathLike | None = None) -> list[Path]:
    out = Path(output)
    if output_dir is not None:
        out = Path(output_dir) / out.name
    if n == 1:
        return [out]
    return [out.with_name(f"{out.stem}_{i}{out.suffix}") for i in range(1, n + 1)]


def generate(
    run_dir: str | os.PathLike = "runs/latest",
    output: str | os.PathLike = "generated_midi.mid",
    length: int = 500,
    sampling: Sampling = Sampling(),
    primer: str | os.PathLike | None = None,
    include_primer: bool = False,
    seed: int | None = None,
    num_outputs: int = 1,
    output_dir: str | os.PathLike | None = None,
    run: Run | None = None,
    bpm: float | None = None,
    instrument: str | int = 0,
    fmt: str = "midi",
    plot: bool = False,
    log=lambda msg: print(msg, file=sys.stderr),
) -> list[Path]:
    """Generate `num_outputs` pieces of `length` symbols; returns the files written (MIDI first, then
    any MusicXML and PNG)."""
    from . import midi_io
    from .stepper import LSTMStepper

    program = program_number(instrument)
    if fmt not in FORMATS:
        raise ValueError(f"invalid format: {fmt!r} (choose from {', '.join(FORMATS)})")
    if bpm is not None and not 10 <= bpm <= 400:
        raise ValueError(f"invalid bpm: {bpm} (must be between 10 and 400)")
    if length < 1:
        raise ValueError(f"invalid length: {length} (must be >= 1)")
    if num_outputs < 1:
        raise ValueError(f"invalid num_outputs: {num_outputs} (must be >= 1)")
    run = run or load_run(run_dir)
    rng = np.random.default_rng(seed)
    window = run.config.seq_len
    open_start = primer is None  # a prompt cut from the middle of a piece may start inside a slice
    if primer is not None:
        full = primer_ids(run, primer, log)
        open_start = len(full) > window
        prompt = np.tile(full[-window:], (num_outputs, 1))
    else:
        prompt = random_windows(run.corpus["train"], window, num_outputs, rng)
    stepper = LSTMStepper.from_keras(run.model, run.factors)
    grammar = None
    if run.config.encoding in ("voiced", "grid"):
        grammar = Grammar(run.vocab.index_to_symbol, run.config.encoding, num_outputs, sampling.max_chord_repeat)
        for column in prompt.T:
            grammar.feed(column)
        # keep the prompt's texture: no more voices than it had, or than the training pieces usually have
        grammar.limit_voices(texture(run.corpus["train"], run.vocab.index_to_symbol))
    with blas.threads(blas.GENERATION_THREADS):
        probs = stepper.prime(prompt)
        ids = generate_ids(stepper.step, probs, length, sampling, rng, history=prompt, grammar=grammar,
                           rhythm=rhythm_symbols(run.vocab.index_to_symbol, run.config.encoding))
    paths = output_paths(output, num_outputs, output_dir)
    bpm = bpm or run.bpm or DEFAULT_BPM
    written, extra = [], []
    for path, context, row in zip(paths, prompt, ids):
        context, symbols = run.vocab.decode(context), run.vocab.decode(row)
        if include_primer:
            decoded = decode_report(context + symbols, run.config.encoding, open_start)
        else:  # the prompt is read too, so a note it holds into the new music is no error
            decoded = decode_continuation(context, symbols, run.config.encoding)
        if decoded.repairs:
            log(f"{path}: repaired {decoded.repairs} of {decoded.events} events ({decoded.repair_fraction:.1%}) that broke the {run.config.encoding} grammar")
        if not decoded.notes:
            raise MusicLSTMError(f"{path}: the generated symbols hold no note (try a longer --length)")
        midi_io.write_midi(decoded.notes, path, bpm=bpm, program=program)
        written.append(path)
        if fmt == "musicxml":
            midi_io.write_musicxml(decoded.notes, path.with_suffix(".musicxml"), bpm=bpm)
            extra.append(path.with_suffix(".musicxml"))
        if plot:
            from .plots import piano_roll

            piano_roll(decoded.notes, path.with_suffix(".png"), title=path.stem)
            extra.append(path.with_suffix(".png"))
    return written + extra


def random_windows(pieces: list[np.ndarray], window: int, n: int, rng: np.random.Generator) -> np.ndarray:
    """`n` prompts of equal length, each a random stretch of a random training piece."""
    pieces = [p for p in pieces if len(p)]
    if not pieces:
        raise RunFolderError("corpus.npz has no training piece to start from (use --primer)")
    long_enough = [p for p in pieces if len(p) >= window] or [max(pieces, key=len)]
    width = min(window, min(len(p) for p in long_enough))
    pieces = long_enough
    out = np.zeros((n, width), np.int64)
    for r in range(n):
        piece = pieces[rng.integers(len(pieces))]
        start = rng.integers(len(piece) - width + 1)
        out[r] = piece[start : start + width]
    return out

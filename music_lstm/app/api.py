"""The Python API: compose and harmonize in a notebook, each run folder's network loaded once.

    import music_lstm as m
    chorale = m.harmonize("tinyNotation: 4/4 c'4 d' e' f' g'2", seed=1)
    chorale.write("tune.mid")          # or .musicxml, .mxl
    score = chorale.to_music21()       # a four-part music21 Score
    piece = m.compose(length=200, seed=3)

`harmonize` and `compose` take the command line's options as keywords (docs/API.md) and return a
`result.Chorale`, or a list of `num_outputs` of them when that is given. The run folder is found as the
command line finds it (`run_dir`, else runs/latest, else the model shipped with the package); its
network is loaded once, with TensorFlow's start-up lines hidden, and reused while its files stay as
they were. Bad input raises the project's own errors (`errors.MelodyError`, `ConfigError`,
`RunFolderError`) with the command line's one-line messages.
"""

from __future__ import annotations

import os
import sys
from collections import OrderedDict
from pathlib import Path

from ..core.errors import ConfigError, MelodyError, MusicLSTMError
from ..tasks.result import Chorale

CACHE_SIZE = 4  # run folders kept loaded (a compose and a harmonize model, and two of one's own)
_runs: OrderedDict = OrderedDict()  # (folder, stamp) -> [Run, LSTMHarmonizer or None]


def _stderr(message: str) -> None:
    print(message, file=sys.stderr)


# --- the run folder, loaded once ---------------------------------------------------------------------

def _stamp(folder: Path) -> tuple:
    """What changes when a run folder is trained again: its files' modification times and sizes."""
    from ..runs.run_folder import CONFIG, MODEL, VOCAB

    stamp = []
    for name in (MODEL, CONFIG, VOCAB):  # a fill_lstm folder has no vocab.json: None, the same every time
        try:
            st = (folder / name).stat()
            stamp.append((st.st_mtime_ns, st.st_size))
        except OSError:
            stamp.append(None)  # load_run says what is missing
    return tuple(stamp)


def _entry(run_dir, task: str, log) -> list:
    """The cache entry [Run, harmonizer] of the run folder `run_dir` resolves to (as the command line
    resolves it for `task`), loading it when it is new or its files changed."""
    from ..runs import run_folder

    said = []
    folder = run_folder.resolve_run(run_dir, task, said.append)
    key = (str(folder.resolve()), _stamp(folder))
    if key in _runs:
        _runs.move_to_end(key)
        return _runs[key]
    for line in said:  # which folder was taken: said once, when it is loaded
        log(line)
    from ..core.quiet import quiet_tensorflow

    quiet_tensorflow()
    from ..runs.fill_run import is_fill_run

    if is_fill_run(folder):  # the network that writes any voices or passage: its sampler is the entry
        from ..tasks.fill import FillWriter

        entry = [None, FillWriter.from_run(folder)]
    else:
        entry = [run_folder.load_run(folder), None]
    for old in [k for k in _runs if k[0] == key[0]]:  # the same folder before it was trained again
        del _runs[old]
    _runs[key] = entry
    while len(_runs) > CACHE_SIZE:
        _runs.popitem(last=False)
    return entry


def clear_cache() -> None:
    """Forget every loaded network (the next call loads its run folder again)."""
    _runs.clear()


# --- the melody ----------------------------------------------------------------------------------------

def _melody(melody):
    """(notes, message, name, time signature) of a melody given as tinyNotation text (with or without
    its `tinyNotation:` prefix), a MIDI or MusicXML file's path, or a music21 stream."""
    from ..io import streams
    from ..io import melody_input

    if streams.is_stream(melody):
        name = f"music21 {type(melody).__name__}"
        with streams.stream_file(melody, name) as path:
            try:
                notes, message = melody_input.read_melody(path)
            except MelodyError as e:  # named as the stream, not the temporary file
                raise MelodyError(name, e.reason) from None
            return notes, message, name, melody_input.melody_time_signature(path)
    if not isinstance(melody, (str, os.PathLike)):
        raise MelodyError(type(melody).__name__, "a melody is tinyNotation text, the path of a MIDI or MusicXML "
                                                 "file, or a music21 stream")
    notes, message = melody_input.read_melody(melody)  # text is a typed tune or a file's name by `melody_input.is_tune`
    name = melody_input.TINY if melody_input.is_tune(melody) else str(melody)  # as the command line names it
    return notes, message, name, melody_input.melody_time_signature(melody)


def _setting(name: str, value, check):
    """`value` checked as the command line checks its flag (a `cli_checks` type: the same bounds), a
    ConfigError in the same words; None stays None (the default)."""
    if value is None:
        return None
    from argparse import ArgumentTypeError

    if isinstance(value, bool):  # True is 1 to Python, but no count or temperature
        raise ConfigError(f"invalid {name}: {value} (must be a number)")
    try:
        return check(str(value))
    except ArgumentTypeError as e:
        raise ConfigError(f"invalid {name}: {e}") from None


def _common(num_outputs, seed, bpm) -> int:
    """The outputs to write, once `num_outputs`, `seed` and `bpm` are checked."""
    from . import cli_checks as check

    # keywords, not literals: the string "seed" is an encoding's old name, spelled only in encodings/
    for name, (value, fn) in dict(seed=(seed, check.seed), bpm=(bpm, check.bpm)).items():
        _setting(name, value, fn)
    return 1 if num_outputs is None else _setting("num_outputs", num_outputs, check.count)


# --- the two tasks ---------------------------------------------------------------------------------------

def harmonize(melody, *, run_dir=None, seed: int | None = 0, temperature: float | None = None, best_of: int = 1,
              beam: int = 0, num_outputs: int | None = None, bpm: float | None = None, keep=None, log=_stderr):
    """Write alto, tenor and bass under `melody` with a satb run folder's network, as
    `python -m music_lstm harmonize` does; returns a `Chorale` (a list of `num_outputs` when given).

    `melody`: tinyNotation text (`"tinyNotation: 4/4 c'4 d' e' f' g'2"`, the prefix may be left out), the
    path of a MIDI or MusicXML file (a polyphonic one gives its top line, a four-voice one its soprano),
    or a music21 stream (a Score, Part or Stream). `run_dir`: the run folder (None: runs/latest, else the
    model shipped with music_lstm). `seed`, `temperature` (None: harmonize's default, 0.5; 0 = argmax),
    `best_of` (keep the likeliest of K samples per output), `beam` (a beam search of width K instead of
    sampling), `bpm` (None: the training data's tempo, else 90) as on the command line. `log` takes the
    one-line notes the command line prints on stderr (which run folder, what was done to the melody).

    With a fill_lstm run folder (the shipped one), `keep` ("soprano,bass" or a list of voice names;
    None: the melody is the soprano) keeps those parts of `melody` (a file of up to four parts, or a
    `Chorale`) note for note and writes the others, as `harmonize FILE --keep VOICES` does; `best_of`
    and `beam` are the left-to-right harmonizer's and do not apply."""
    import numpy as np

    from . import cli_checks as check
    from ..tasks.outfiles import DEFAULT_BPM
    from ..tasks.harmonizer import DEFAULT_TEMPERATURE, LSTMHarmonizer
    from ..io.melody_input import melody_key

    n = _common(num_outputs, seed, bpm)
    temperature = None if temperature is None else _setting("temperature", temperature, check.temperature)
    best_of = _setting("best_of", best_of, check.count)
    beam = _setting("beam", beam, check.beam)
    if beam and beam < n:
        raise ConfigError(f"invalid beam: {beam} (0 to sample, else at least num_outputs, {n})")
    from ..runs.fill_run import is_fill_run
    from ..runs.run_folder import resolve_run

    if is_fill_run(resolve_run(run_dir, "harmonize", lambda line: None)):
        if beam or best_of > 1:
            raise ConfigError(f"{run_dir or 'the shipped harmonizer'}: beam and best_of are the left-to-right "
                              "harmonizer's; a fill_lstm run resamples (give run_dir a satb run, e.g. "
                              "music_lstm/shipped/harmonize_lstm)")
        return _fill_harmonize(run_dir, melody, keep, n, seed, temperature, bpm, num_outputs, log)
    if keep is not None:
        raise ConfigError(f"{run_dir or 'runs/latest'}: keep needs a fill_lstm run folder")
    temperature = DEFAULT_TEMPERATURE if temperature is None else temperature
    notes, message, name, meter = _melody(melody)
    if message:
        log(message)
    entry = _entry(run_dir, "harmonize", log)
    run = entry[0]
    if entry[1] is None:
        entry[1] = LSTMHarmonizer.from_run(run)
    outs = entry[1].harmonize(notes, num_outputs=n, best_of=best_of, temperature=temperature,
                              seed=np.random.default_rng(seed), name=name, beam=beam)
    key = melody_key(notes)
    chorales = [Chorale(tuple(list(v) for v in out.voices), key, meter, out.log_prob, "harmonize", run.path,
                        bpm or run.bpm or DEFAULT_BPM, remark=message) for out in outs]
    return chorales if num_outputs is not None else chorales[0]


def _score_of(source, keep, log):
    """The Score4 to write into, and a remark: a `Chorale`, a music21 stream, tinyNotation or a file."""
    from ..io import streams
    from ..tasks import steer

    if isinstance(source, Chorale):
        score = source.to_score4()
        if keep is not None:
            score = score.with_voices([v if k in keep else [] for k, v in enumerate(score.voices)])
        return score, None
    if streams.is_stream(source):
        name = f"music21 {type(source).__name__}"
        with streams.stream_file(source, name) as path:
            try:
                return _score_of(path, keep, log)
            except MelodyError as e:
                raise MelodyError(name, e.reason) from None
    if not isinstance(source, (str, os.PathLike)):
        raise MelodyError(type(source).__name__, "a melody or score is tinyNotation text, the path of a MIDI or "
                                                 "MusicXML file, a music21 stream, or a Chorale")
    if keep is None or keep == (0,) and steer._one_line(source):
        return steer.tune_of(source)
    return steer.parts_score(source, keep), None


def _fill_harmonize(run_dir, melody, keep, n, seed, temperature, bpm, num_outputs, log):
    from ..tasks import steer
    from ..tasks.outfiles import DEFAULT_BPM

    keep_voices = steer.parse_voices(keep) if keep is not None else None
    score, remark = _score_of(melody, keep_voices, log)  # the melody read before the network loads
    if remark:
        log(remark)
    writer = _entry(run_dir, "harmonize", log)[1]
    keep_voices = keep_voices or (0,)
    outs = steer.fill_harmonize(writer, score, keep_voices, n, seed, temperature)
    chorales = [Chorale.from_score4(o, float("nan"), "harmonize", writer.path, bpm or DEFAULT_BPM, remark)
                for o in outs]
    return chorales if num_outputs is not None else chorales[0]


def rewrite(source, *, bars, voices=None, run_dir=None, seed: int | None = 0, temperature: float | None = None,
            num_outputs: int | None = None, bpm: float | None = None, log=_stderr):
    """Write bars `bars` (a pair (A, B), 1-based and inclusive, or "A-B") of `voices` ("alto,tenor" or a
    list; None: all four) of a four-voice `source` again, every other note as it was, as
    `python -m music_lstm rewrite` does; returns a `Chorale` (a list of `num_outputs` when given).
    `source`: a `Chorale`, the path of a four-part MIDI or MusicXML file, or a music21 stream."""
    from . import cli_checks as check
    from ..io.chorale_scores import read_score
    from ..io import streams
    from ..tasks import steer
    from ..tasks.outfiles import DEFAULT_BPM

    n = _common(num_outputs, seed, bpm)
    temperature = None if temperature is None else _setting("temperature", temperature, check.temperature)
    span = steer.parse_bars(bars) if isinstance(bars, str) else tuple(int(b) for b in bars)
    if len(span) != 2:
        raise MelodyError("bars", f"{bars!r} is not a bar range (A, B)")
    which = steer.parse_voices(voices)
    if isinstance(source, Chorale):
        score = source.to_score4()
    elif streams.is_stream(source):
        with streams.stream_file(source, "music21 stream") as path:
            score = read_score(path)
    elif isinstance(source, (str, os.PathLike)):
        score = read_score(source)
    else:
        raise MelodyError(type(source).__name__, "a score is a Chorale, a MIDI or MusicXML file's path, or a music21 stream")
    entry = _entry(run_dir, "harmonize", log)
    if entry[0] is not None:
        raise ConfigError(f"{entry[0].path}: a left-to-right run rewrites no passage (give a fill_lstm run folder)")
    outs = steer.fill_rewrite(entry[1], score, span, which, n, seed, temperature)
    tempo = bpm or (source.bpm if isinstance(source, Chorale) else None) or DEFAULT_BPM
    chorales = [Chorale.from_score4(o, float("nan"), "harmonize", entry[1].path, tempo) for o in outs]
    return chorales if num_outputs is not None else chorales[0]


def compose(*, length: int = 500, seed: int | None = None, temperature: float | None = None,
            rhythm_temperature: float | None = None, rhythm_top_p: float | None = None, top_k: int | None = None,
            top_p: float | None = None, max_repeat: int | None = None, max_chord_repeat: int | None = None,
            allow_parallels: bool = False, allow_clashes: bool = False, allow_syncopation: bool = False,
            primer=None, include_primer: bool = False, run_dir=None, num_outputs: int | None = None,
            bpm: float | None = None, cadence: bool = False, cadence_run_dir=None, log=_stderr):
    """Write a new piece with a four-voice run folder's network, as `python -m music_lstm generate` does;
    returns a `Chorale` (a list of `num_outputs` when given). `cadence`: each piece ends on a V-I
    cadence, its last two bars written again by the fill_lstm run `cadence_run_dir` (None: the shipped
    harmonizer), as `generate --cadence` does.

    `length` symbols; `seed` (None: a new piece each call); the sampling settings (None: the run's
    `sampling.json`, else its encoding's defaults); `allow_parallels`, `allow_clashes`, `allow_syncopation`
    lift the guards; `primer` a MIDI file whose symbols start the piece (`include_primer`: kept in it);
    `run_dir` (None: runs/latest, else the model shipped with music_lstm); `bpm` as on the command line."""
    from . import cli_checks as check
    from ..tasks.outfiles import DEFAULT_BPM
    from ..tasks.generate import check_composes, compose_pieces
    from ..io.melody_input import melody_key
    from ..core.sampling import Sampling

    n = _common(num_outputs, seed, bpm)
    length = _setting("length", length, check.length)
    settings = {"temperature": (temperature, check.temperature),
                "rhythm_temperature": (rhythm_temperature, check.rhythm_temperature),
                "rhythm_top_p": (rhythm_top_p, check.probability_mass), "top_k": (top_k, check.top_k),
                "top_p": (top_p, check.probability_mass), "max_repeat": (max_repeat, check.repeats),
                "max_chord_repeat": (max_chord_repeat, check.repeats)}
    given = {k: _setting(k, v, c) for k, (v, c) in settings.items() if v is not None}
    given.update({k: False for k, lifted in (("parallels_guard", allow_parallels), ("no_clash", allow_clashes),
                                             ("keep_beat", allow_syncopation), ("common_lengths", allow_syncopation))
                  if lifted})
    Sampling(**given)  # a bad setting is a ConfigError before the network loads
    run = _entry(run_dir, "compose", log)[0]
    check_composes(run)
    encoding = run.config.encoder()
    if encoding.voices != 4:
        raise ConfigError(f"{run.path}: a {encoding.name} run writes no four voices; the Python API composes "
                          "with a satb run (python -m music_lstm generate writes this one's MIDI)")
    pieces = compose_pieces(run, length, given, primer, include_primer, seed, n, log)
    if cadence:
        from ..runs.run_folder import SHIPPED
        from ..tasks.generate import ended

        writer = _entry(cadence_run_dir or SHIPPED / "harmonize", "harmonize", log)[1]
        if writer is None:
            raise ConfigError(f"{cadence_run_dir}: a left-to-right run writes no ending (give a fill_lstm run folder)")
        pieces = [ended(writer, p, None if seed is None else seed + k, log) for k, p in enumerate(pieces)]
    chorales = []
    for k, piece in enumerate(pieces, start=1):
        decoded = piece.decoded
        if decoded.repairs:
            log(f"piece {k}: repaired {decoded.repairs} of {decoded.events} events "
                f"({decoded.repair_fraction:.1%}) that broke the {encoding.name} grammar")
        if not decoded.notes:
            raise MusicLSTMError(f"piece {k}: the generated symbols hold no note (try a longer length)")
        tempo = bpm or run.bpm or DEFAULT_BPM
        if piece.ending is not None:  # the key the ending closes in, and its fermata
            chorales.append(Chorale.from_score4(piece.ending, piece.log_prob, "compose", run.path, tempo))
            continue
        chorales.append(Chorale(tuple(list(v) for v in piece.voices), melody_key(sorted(decoded.notes)), "4/4",
                                piece.log_prob, "compose", run.path, tempo, piece.pickup))
    return chorales if num_outputs is not None else chorales[0]

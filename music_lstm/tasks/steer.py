"""The steering tasks of a `fill_lstm` run folder, as files: a melody harmonized, the voices a file
does not give written under those it does (`harmonize FILE --keep VOICES`), a passage rewritten
(`rewrite FILE --bars A-B --voices ...`). Each reads its input, checks everything before writing,
samples with `tasks.fill.FillWriter`, and writes MIDI (and what `Outputs` asks for) with the key
signature and the metre of the piece.

    python -m music_lstm rewrite chorale.mid --bars 2-3 --voices alto,tenor --output new.mid
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import replace

import numpy as np

from ..core.errors import MelodyError
from ..core.events import Note, Piece
from ..core.keys import key_shift
from ..core.phrases import phrase_ends
from ..core.scores import Score4
from .fill import REWRITE_ROUNDS, VOICES, FillWriter, voice_index


def parse_voices(text: str | Sequence[str] | None, default=VOICES) -> tuple[int, ...]:
    """"alto,tenor" (or a list of names) -> (1, 2); an unknown or repeated voice is a MelodyError."""
    if text is None:
        names = list(default)
    elif isinstance(text, str):
        names = [w for w in text.split(",") if w.strip()]
    else:
        names = list(text)
    if not names:
        raise MelodyError("voices", "no voice named (give some of soprano,alto,tenor,bass)")
    out = [voice_index(n) for n in names]
    if len(set(out)) < len(out):
        raise MelodyError("voices", f"a voice is named twice in {','.join(names)!r}")
    return tuple(out)


def parse_bars(text: str) -> tuple[int, int]:
    """"2-3" -> (2, 3); "4" -> (4, 4); anything else is a MelodyError."""
    parts = str(text).strip().split("-")
    try:
        nums = [int(p) for p in parts]
    except ValueError:
        nums = []
    if len(nums) not in (1, 2) or any(n < 0 for n in nums):
        raise MelodyError("bars", f"{text!r} is not a bar range like 2-3 (1-based, inclusive)")
    a, b = nums[0], nums[-1]
    if a > b:
        raise MelodyError("bars", f"{text!r}: the first bar comes after the last")
    return a, b


def sharps_of_shift(shift: int) -> int:
    """The key signature (-5..6 sharps) whose major tonic `shift` semitones moves to C."""
    return (7 * (-shift % 12) + 5) % 12 - 5


def tune_score(notes: list[Note], meter=(4, 4), pickup: float = 0.0, fermatas: Sequence[float] | None = None,
               sharps: int | None = None, mode: str | None = None, name: str = "melody") -> Score4:
    """A melody as the soprano of a `Score4`: its key signature (when not given, the major scale holding
    most of its sounding time, `core.keys.key_shift`), its mode (when not given: minor when the tune
    ends on the relative minor's tonic, else major), and its phrase ends (`core.phrases` when none given)."""
    notes = sorted(notes)
    if sharps is None:
        sharps = sharps_of_shift(key_shift(Piece(notes)))
    if mode is None:
        major_tonic = (7 * sharps) % 12
        mode = "minor" if notes and notes[-1][2] % 12 == (major_tonic + 9) % 12 else "major"
    written = fermatas is not None and len(fermatas) > 0
    ends = tuple(fermatas) if written else phrase_ends(notes, meter, pickup)
    return Score4((notes, [], [], []), tuple(meter), pickup, sharps, mode, ends, name, written)


def links_for(score: Score4) -> list[tuple[float, float, float]]:
    """Stretches of the soprano that repeat an earlier one (`core.repeats`), to be harmonized alike."""
    from ..core.repeats import repeats

    return list(repeats(score.voices[0], score.bar_length, score.pickup))


def fill_harmonize(writer: FillWriter, score: Score4, keep: Sequence[int] = (0,), num_outputs: int = 1,
                   seed=None, temperature: float | None = None, alike: bool = True) -> list[Score4]:
    """`score`'s voices in `keep` kept, the others written; a repeated stretch of a kept soprano is
    harmonized as its first statement was (`alike`)."""
    options = {} if temperature is None else {"temperature": temperature}
    links = links_for(score) if alike and 0 in keep else []
    return writer.harmonize(score, keep=keep, seed=np.random.default_rng(seed), num_outputs=num_outputs,
                            links=links, **options)


def fill_rewrite(writer: FillWriter, score: Score4, bars: tuple[int, int], voices: Sequence[int],
                 num_outputs: int = 1, seed=None, temperature: float | None = None) -> list[Score4]:
    options = {} if temperature is None else {"temperature": temperature}
    return writer.rewrite(score, bars, voices, seed=np.random.default_rng(seed), num_outputs=num_outputs, **options)


def piece_key(voices: Sequence[Sequence[Note]]) -> tuple[int, str]:
    """(sharps, mode) of four voices with no key written: the major scale holding most of their sounding
    time (`core.keys.key_shift`), minor when the bass dwells longer on its relative minor's tonic than on
    its own."""
    notes = sorted(n for v in voices for n in v)
    sharps = sharps_of_shift(key_shift(Piece(notes)))
    major = (7 * sharps) % 12
    dwell = lambda pc: sum(d for _, d, p in voices[3] if p % 12 == pc)
    return sharps, "minor" if dwell((major + 9) % 12) > dwell(major) else "major"


ENDING_BARS = 2  # the bars a composed piece's ending is written in, its last chord a half note on beat 3


def cadence_ending(writer: FillWriter, voices: Sequence[Sequence[Note]], pickup: float = 0.0, seed=None,
                   name: str = "piece") -> Score4:
    """Four composed voices (4/4, `pickup` quarter notes before the first barline) cut to whole bars and
    their last ENDING_BARS bars written again, all four voices, to end on a fermata: a half-note chord on
    the third beat of the last bar, the home key's tonic (`piece_key`) reached from its V (or V7) where the
    network offers one (`FillWriter.fill`'s `end_on_tonic`), every voice singing to the end (no rest
    written) and none beyond Bach's range (`core.ranges.BACH_RANGES`, as the composing network keeps to its
    training pieces' range). Returns the piece as a `Score4`: the key it closes in and the fermata on its last chord.
    A piece shorter than ENDING_BARS + 1 whole bars, or off the sixteenth-note grid, is a MelodyError."""
    from ..encodings import cells

    total = max((o + d for v in voices for o, d, _ in v), default=0.0)
    bars = int((total - pickup + 1e-9) // 4.0)
    if bars < ENDING_BARS + 1:
        raise MelodyError(name, f"{bars} whole bars: too short for an ending of {ENDING_BARS} (it needs {ENDING_BARS + 1})")
    end = pickup + 4.0 * bars
    start, last = end - 4.0 * ENDING_BARS, end - 2.0
    kept = [[(o, min(d, start - o), p) for o, d, p in v if o < start - 1e-9] for v in voices]
    # the last chord's place, one note a voice; its pitches are written with the rest
    placed = [v + [(last, 2.0, p)] for v, p in zip(kept, (72, 64, 57, 48))]
    sharps, mode = piece_key(voices)
    score = Score4(tuple(placed), (4, 4), pickup, sharps, mode, (last,), name, True)
    T = cells.steps_of(end)
    writable = np.zeros((4, T), bool)
    writable[:, cells.steps_of(start):cells.steps_of(last) + 1] = True  # then each voice holds its last note
    return writer.fill(score, writable, seed=np.random.default_rng(seed), rounds=REWRITE_ROUNDS, end_on_tonic=True,
                       rests=False, widen=0)[0]


def keep_score(parts: list[list[Note]], keep: Sequence[int], name: str, meter=(4, 4), pickup: float = 0.0,
               sharps: int | None = None, mode: str | None = None, fermatas=None) -> Score4:
    """The `Score4` for `--keep`: a file's parts mapped to voices. Four parts are S, A, T, B and `keep`
    names those kept; fewer parts are the voices `keep` names, in that order (a one-part file is the
    voice named). More parts than voices named (but not four) cannot be mapped: a MelodyError."""
    if len(parts) > 4:
        raise MelodyError(name, f"{len(parts)} parts; --keep maps at most four")
    voices: list[list[Note]] = [[], [], [], []]
    if len(parts) == 4:
        for v in keep:
            voices[v] = sorted(parts[v])
    elif len(parts) == len(keep):
        for v, part in zip(sorted(keep), sorted(parts, key=lambda p: -np.mean([n[2] for n in p]) if p else 0)):
            voices[v] = sorted(part)
    else:
        raise MelodyError(name, f"{len(parts)} parts but {len(keep)} voices to keep "
                                f"({', '.join(VOICES[v] for v in keep)}): name one voice per part")
    # the phrase ends: the file's fermatas, else the rule (`core.phrases`) on the highest voice kept (on a
    # bass it finds Bach's fermatas more precisely than on his soprano: benchmarks/phrase_rule.py --voice bass)
    line = voices[0] if voices[0] else next(v for v in voices if v)
    base = tune_score(line, meter, pickup, fermatas, sharps, mode, name)
    return replace(base, voices=tuple(voices))


def write_scores(scores: list[Score4], output, outputs, bpm: float, title: str,
                 log=lambda m: print(m, file=sys.stderr)) -> list:
    """Each score as MIDI at `output` (numbered when several) with `outputs`' extras beside it."""
    from .outfiles import output_paths, write_piece

    written, extra = [], []
    for score, path in zip(scores, output_paths(output, len(scores))):
        notes = sorted(n for v in score.voices for n in v)
        extra += write_piece(path, notes, score.voices, bpm, outputs, title=title, pickup=score.pickup,
                             time_signature=f"{score.meter[0]}/{score.meter[1]}", sharps=score.sharps,
                             minor=score.mode == "minor",
                             fermatas=score.fermatas if score.fermatas_written else ())
        written.append(path)
    return written + extra


# --- the commands ----------------------------------------------------------------------------------

def _writer(run_dir, log) -> FillWriter:
    from ..core.errors import RunFolderError
    from ..runs.fill_run import is_fill_run
    from ..runs.run_folder import resolve_run

    folder = resolve_run(run_dir, "harmonize", log)
    if not is_fill_run(folder):
        raise RunFolderError(f"{folder}: a left-to-right run writes no given voices or passages "
                             "(give a fill_lstm run folder: train-fill)")
    return FillWriter.from_run(folder)


def tune_of(source) -> tuple[Score4, str | None]:
    """A melody (typed or a file) as the soprano of a Score4, and what was done to it (or None)."""
    from ..io import melody_input

    tune = melody_input.read_tune(source)
    name = melody_input.TINY if melody_input.is_tune(source) else str(source)
    score = tune_score(tune.notes, tune.meter, tune.pickup, tune.fermatas if tune.fermatas_written else None,
                       tune.sharps, tune.mode, name)
    return score, tune.remark


def parts_score(source, keep: Sequence[int]) -> Score4:
    """A file's parts as the Score4 `--keep` writes under (`keep_score`)."""
    from ..io.score_parts import read_parts

    got = read_parts(source)
    return keep_score(got.parts, keep, str(source), got.meter, got.pickup, got.sharps, got.mode,
                      got.fermatas or None)


def harmonize_fill_files(run_dir, source, keep: Sequence[int] | None = None, output="harmonized.mid",
                         num_outputs: int = 1, seed=0, temperature: float | None = None, outputs=None,
                         log=lambda m: print(m, file=sys.stderr), writer: FillWriter | None = None) -> list:
    """`harmonize MELODY` (keep None: the tune is the soprano) or `harmonize FILE --keep VOICES` with a
    fill_lstm run folder; returns the files written."""
    from .outfiles import DEFAULT_BPM, Outputs

    outputs = outputs or Outputs()
    outputs.check()
    if keep is None or (tuple(keep) == (0,) and _one_line(source)):
        score, remark = tune_of(source)
        keep = (0,)
        if remark:
            log(remark)
    else:
        score = parts_score(source, keep)
    writer = writer or _writer(run_dir, log)
    kept = ", ".join(VOICES[v] for v in keep)
    log(f"writing the {', '.join(VOICES[v] for v in range(4) if v not in keep)} under the {kept} "
        f"in {score.key_name} with the run folder {writer.path}")
    outs = fill_harmonize(writer, score, keep, num_outputs, seed, temperature)
    title = f"Harmonization in {score.key_name}"
    return write_scores(outs, output, outputs, outputs.bpm or DEFAULT_BPM, title, log)


def _one_line(source) -> bool:
    from ..io import melody_input

    return melody_input.is_tune(source)


def rewrite_files(run_dir, source, bars: tuple[int, int], voices: Sequence[int] = (0, 1, 2, 3),
                  output="rewritten.mid", num_outputs: int = 1, seed=0, temperature: float | None = None,
                  outputs=None, log=lambda m: print(m, file=sys.stderr), writer: FillWriter | None = None) -> list:
    """`rewrite FILE --bars A-B --voices ...`: the four-voice file with that passage written again."""
    from ..io.chorale_scores import read_score
    from .outfiles import DEFAULT_BPM, Outputs

    outputs = outputs or Outputs()
    outputs.check()
    score = read_score(source)
    writer = writer or _writer(run_dir, log)
    log(f"rewriting bars {bars[0]}-{bars[1]} of the {', '.join(VOICES[v] for v in voices)} of {source}")
    outs = fill_rewrite(writer, score, bars, voices, num_outputs, seed, temperature)
    return write_scores(outs, output, outputs, outputs.bpm or DEFAULT_BPM,
                        f"Bars {bars[0]}-{bars[1]} rewritten, {score.key_name}", log)

"""`python -m music_lstm harmonize`: a melody read (`io.melody_input`), the satb run folder loaded, the
melody harmonized (`tasks.harmonizer`), and each harmonization written as files (`tasks.outfiles`).

    python -m music_lstm harmonize "tinyNotation: 4/4 c'4 d' e' f' g'2" --output harmonized.mid
"""

from __future__ import annotations

import sys

import numpy as np

from .harmonizer import DEFAULT_TEMPERATURE, LSTMHarmonizer
from .outfiles import Outputs


def harmonize_files(run_dir, source, output="harmonized.mid", num_outputs: int = 1, best_of: int = 1,
                    temperature: float = DEFAULT_TEMPERATURE, seed: int | None = 0, outputs: Outputs = Outputs(),
                    beam: int = 0, log=lambda msg: print(msg, file=sys.stderr), run=None, harmonizer=None) -> list:
    """`python -m music_lstm harmonize`: read the melody (`melody_input.read_melody`), then the satb run
    folder (`run_dir`; None: runs/latest, else the model shipped with the package), harmonize it
    `num_outputs` times (sampled, or the likeliest found by a beam search of width `beam` > 0) and
    write each as four-track MIDI at `output` (numbered
    `_1`, `_2`... when several) with what `outputs` asks for beside each (`outfiles.write_piece`:
    MusicXML, piano roll, audio, score pages). Returns the MIDI files, then the others. Every check
    (settings, melody, run folder, the model's reach) comes before the first file is written. `run` (a
    loaded `run_folder.Run`) and `harmonizer` (an `LSTMHarmonizer`, its own or another one), when given,
    are used instead of reading the folder again (the local page and the Python API load them once)."""
    from ..core.errors import ConfigError
    from ..io import melody_input
    from ..runs.run_folder import load_run, resolve_run
    from .outfiles import DEFAULT_BPM, output_paths, write_piece

    outputs.check()
    for flag, value in (("num_outputs", num_outputs), ("best_of", best_of)):
        if value < 1:
            raise ConfigError(f"invalid {flag}: {value} (must be >= 1)")
    if temperature < 0:
        raise ConfigError(f"invalid temperature: {temperature} (must be >= 0)")
    if beam < 0 or (beam and beam < num_outputs):
        raise ConfigError(f"invalid beam: {beam} (0 to sample, else at least --num-outputs, {num_outputs})")
    melody, message = melody_input.read_melody(source)
    if message:
        log(message)
    name = melody_input.TINY if melody_input.is_tune(source) else str(source)
    if harmonizer is None:
        run = run or load_run(resolve_run(run_dir, "harmonize", log))  # None: runs/latest, else the shipped model
        harmonizer = LSTMHarmonizer.from_run(run)
    where = f"the run folder {run.path}" if run is not None else harmonizer.label or "the harmonizer given"
    key = melody_input.melody_key(melody)
    if not harmonizer.reads_melody:  # a compose run harmonizes too, but hears none of the tune ahead
        where += (" (a run trained to compose: it reads the tune only up to the chord it writes; "
                  "train --melody-context for one that reads the whole tune)")
    log(f"harmonizing {len(melody)} notes in {key} with {where}")
    outs = harmonizer.harmonize(melody, num_outputs=num_outputs, best_of=best_of, temperature=temperature,
                                seed=np.random.default_rng(seed), name=name, beam=beam)
    bpm = outputs.bpm or (run.bpm if run is not None else None) or DEFAULT_BPM
    meter = melody_input.melody_time_signature(source) if outputs.fmt == "musicxml" or outputs.score else "4/4"
    written, extra = [], []
    for out, path in zip(outs, output_paths(output, num_outputs)):
        notes = sorted(n for v in out.voices for n in v)
        extra += write_piece(path, notes, out.voices, bpm, outputs, title=f"Harmonization in {key}",
                             time_signature=meter)
        written.append(path)
    return written + extra

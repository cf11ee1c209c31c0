"""Harmonizing held-out chorales: the soprano of each given to this run's harmonizer (and to the HMM
baseline, `models.hmm_harmonizer`, and to an n-gram), each compared with Bach's own alto, tenor and
bass (`evaluate_harmonize`, `format_table`); `evaluate_run` does it for a run folder
(`python -m music_lstm evaluate --harmonize`).

    python -m music_lstm evaluate --harmonize --run-dir runs/latest
"""

from __future__ import annotations

import math
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..core.errors import MelodyError
from ..core.events import Note
from ..models.hmm_harmonizer import HMMHarmonizer, beats, chord_states
from . import voice_leading
from ..tasks.harmonizer import DEFAULT_TEMPERATURE, LSTMHarmonizer, run_grammar


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
    from ..models.ngram import NgramStepper

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
    from ..core.errors import RunFolderError
    from ..io.corpus import load_folder
    from ..runs import run_folder

    folder = Path(run_dir)
    train_names, val_names = run_folder.read_split(folder, " (train first, or pass the run folder with --run-dir)")
    if not val_names:
        raise RunFolderError(f"{folder / run_folder.SPLIT}: no held-out pieces to harmonize (train with --val-fraction > 0)")
    if data_dir is None:
        data_dir = run_folder.read_data(folder)["data_dir"]
        if data_dir is None:
            raise RunFolderError(f"{folder / run_folder.DATA}: no data folder recorded (pass --data-dir)")
    run = run_folder.load_run(folder)
    harmonizer = LSTMHarmonizer.from_run(run)  # a run of another encoding fails here, before the folder is read
    corpus = load_folder(data_dir, recursive=run_folder.read_data(folder)["recursive"], log=log)

    def voices(names):
        return [corpus.pieces[n].voices for n in names if n in corpus.pieces and corpus.pieces[n].voices is not None]

    held_out, trained = voices(val_names), voices(train_names)
    if not held_out:
        raise RunFolderError(f"{data_dir}: none of the run's held-out pieces is there with four voices")
    if len(held_out) < len(val_names):
        log(f"{data_dir}: {len(val_names) - len(held_out)} of the run's {len(val_names)} held-out pieces "
            "are missing or not in four voices")
    hmm = HMMHarmonizer().fit(trained) if trained else None
    others = [LSTMHarmonizer.from_run(run_folder.load_run(other), label=str(other)) for other in against]
    if ngram_order and run.corpus["train"]:
        from ..models.ngram import KneserNey, NgramStepper

        kn = KneserNey(ngram_order, len(run.vocab)).fit(run.corpus["train"])
        others.append(LSTMHarmonizer(NgramStepper(kn), run.vocab, grammar=run_grammar(run)))
    report = evaluate_harmonize(harmonizer, held_out, hmm, temperature=temperature, best_of=best_of, seed=seed,
                                others=others, beam=beam)
    if json_path is not None:
        run_folder.write_json(json_path, report.to_json())
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

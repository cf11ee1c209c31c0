"""Musical metrics of a piece, and generated pieces compared with held-out Bach pieces on them.

Every metric is a pure function of `(offset, duration, pitch)` notes. Pieces are compared at equal
length: each is cropped to the same number of onsets (by default the median of the training pieces).
The Bach reference is the held-out pieces of a run (`split.json`); a generated value outside the Bach
pieces' 5th-95th percentile band is marked. The copy rate is the share of a piece's 8-grams of chords
found verbatim in the training pieces.

    python -m music_lstm evaluate --run-dir runs/latest --generated generated_midi.mid
"""

from __future__ import annotations

import math
import os
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..core.errors import ConfigError, MusicLSTMError, RunFolderError
from . import two_sample
from ..core.ranges import Voices, voice_ranges
from . import voice_leading
from ..core.events import slices
from ..core.keys import MAJOR
from .tables import band_table, outside_lines

Note = tuple[float, float, int]
NGRAM = 8  # chords per n-gram for the copy rate
HARMONIC_MINOR = (0, 2, 3, 5, 7, 8, 11)
SCALES = [frozenset((root + step) % 12 for step in steps) for steps in (MAJOR, HARMONIC_MINOR) for root in range(12)]

# name -> (label, format)
METRICS = {
    "pitch_range": ("pitch range (semitones)", "{:.0f}"),
    "pitches_used": ("pitches used", "{:.0f}"),
    "pitch_class_entropy": ("pitch-class entropy (bits)", "{:.2f}"),
    "scale_consistency": ("scale consistency", "{:.3f}"),
    "polyphony": ("polyphony (notes per onset)", "{:.2f}"),
    "distinct_durations": ("distinct note durations", "{:.0f}"),
    "half_beat_onsets": ("onsets 0.5 beats apart", "{:.3f}"),
    "longest_chord_run": ("longest run of one chord", "{:.0f}"),
    "copy_rate": (f"copy rate ({NGRAM}-grams of chords)", "{:.3f}"),
}


def onset_slices(notes: list[Note]):
    """The slices in which at least one note starts: one per onset."""
    return [s for s in slices(notes) if any(s.struck)]


def crop(notes: list[Note], n_onsets: int) -> list[Note]:
    """The piece up to its `n_onsets`-th onset; notes still sounding there are cut short."""
    onsets = sorted({round(o, 6) for o, d, _ in notes if d > 0})
    if len(onsets) <= n_onsets:
        return list(notes)
    cut = onsets[n_onsets]
    return [(o, min(d, cut - o), p) for o, d, p in notes if round(o, 6) < cut]


def chords(notes: list[Note]) -> list[tuple[int, ...]]:
    """The sounding pitches at each onset, high to low."""
    return [s.pitches for s in onset_slices(notes)]


def ngrams(seq: list, n: int = NGRAM) -> list[tuple]:
    return [tuple(seq[i : i + n]) for i in range(len(seq) - n + 1)]


def measure(notes: list[Note], train_ngrams: set | None = None) -> dict[str, float]:
    """Every metric of one piece (copy rate only if the training n-grams are given)."""
    notes = [n for n in notes if n[1] > 0]
    if not notes:
        raise ValueError("no notes to measure")
    pitches = [p for _, _, p in notes]
    pcs = Counter(p % 12 for p in pitches)
    total = sum(pcs.values())
    onset_chords = chords(notes)
    onsets = sorted({round(o, 6) for o, _, _ in notes})
    gaps = np.diff(onsets)
    run = best = 1
    for a, b in zip(onset_chords, onset_chords[1:]):
        run = run + 1 if a == b else 1
        best = max(best, run)
    out = {
        "pitch_range": float(max(pitches) - min(pitches)),
        "pitches_used": float(len(set(pitches))),
        "pitch_class_entropy": -sum(c / total * math.log2(c / total) for c in pcs.values()),
        "scale_consistency": max(sum(c for pc, c in pcs.items() if pc in scale) for scale in SCALES) / total,
        "polyphony": float(np.mean([len(c) for c in onset_chords])),
        "distinct_durations": float(len({round(d * 12) for _, d, _ in notes})),
        "half_beat_onsets": float(np.mean(np.isclose(gaps, 0.5))) if len(gaps) else 0.0,
        "longest_chord_run": float(best),
    }
    if train_ngrams is not None:
        grams = ngrams(onset_chords)
        out["copy_rate"] = sum(g in train_ngrams for g in grams) / len(grams) if grams else 0.0
    return out


def check_crop(crop_onsets: int | None) -> None:
    if crop_onsets is not None and crop_onsets < NGRAM:
        raise ConfigError(f"invalid crop: {crop_onsets} (must be >= {NGRAM}, one n-gram of chords for the copy rate)")


def median_onsets(pieces: list[list[Note]]) -> int:
    return int(np.median([len({round(o, 6) for o, _, _ in notes}) for notes in pieces]))


@dataclass
class Comparison:
    """Generated pieces against the reference band; `to_json()` is what `--json` writes."""

    crop_onsets: int
    reference: dict[str, dict[str, float]]  # metric -> mean, p5, p95
    generated: dict[str, dict[str, float]]  # file -> metric -> value
    outside: dict[str, list[str]] = field(default_factory=dict)  # file -> metrics outside the band
    # `voice_report_pieces`' table and dict, when some generated piece has four voices; None otherwise
    voices_text: str | None = None
    voices: dict | None = None

    def inside_counts(self) -> dict[str, int]:
        return {m: sum(m not in self.outside[f] for f in self.generated) for m in self.reference}

    def to_json(self) -> dict:
        n = len(self.generated)
        return {
            **({"voice_leading": self.voices} if self.voices is not None else {}),
            "crop_onsets": self.crop_onsets,
            "reference": self.reference,
            "generated": self.generated,
            "outside": self.outside,
            "summary": {
                m: {
                    "generated_mean": float(np.mean([v[m] for v in self.generated.values()])) if n else None,
                    "inside": k,
                    "pieces": n,
                }
                for m, k in self.inside_counts().items()
            },
        }


def compare(
    generated: dict[str, list[Note]],
    reference: list[list[Note]],
    train: list[list[Note]],
    crop_onsets: int | None = None,
) -> Comparison:
    """Measure generated and reference pieces, all cropped to `crop_onsets` (default: the median
    number of onsets of the training pieces), against the reference's 5th-95th percentile band."""
    if not reference:
        raise ValueError("no reference pieces to compare with")
    check_crop(crop_onsets)
    n = crop_onsets or median_onsets(train or reference)
    grams = {g for notes in train for g in ngrams(chords(notes))}
    ref_values = [measure(crop(notes, n), grams) for notes in reference]
    band = {}
    for m in METRICS:
        vals = np.array([v[m] for v in ref_values])
        band[m] = {"mean": float(vals.mean()), "p5": float(np.percentile(vals, 5)), "p95": float(np.percentile(vals, 95))}
    values = {name: measure(crop(notes, n), grams) for name, notes in generated.items()}
    outside = {
        name: [m for m in METRICS if not band[m]["p5"] - 1e-9 <= v[m] <= band[m]["p95"] + 1e-9] for name, v in values.items()
    }
    return Comparison(n, band, values, outside)


def format_table(c: Comparison) -> str:
    """One row per metric: the Bach mean and band, the generated mean and how many fall inside."""
    lines = band_table("metric", METRICS, c.reference, c.generated, c.outside,
                       f"pieces cropped to {c.crop_onsets} onsets")
    lines += outside_lines(METRICS, c.outside)
    if c.voices_text:
        lines += ["", c.voices_text]
    return "\n".join(lines)


def evaluate_generated(
    files: list[str],
    run_dir: str | os.PathLike = "runs/latest",
    data_dir: str | os.PathLike | None = None,
    crop_onsets: int | None = None,
    json_path: str | os.PathLike | None = None,
    log=lambda msg: print(msg, file=sys.stderr),
) -> Comparison:
    """Compare generated MIDI files with the run's held-out pieces (read from the run's data folder,
    recorded in `data.json`, or `data_dir`). An unreadable generated file is skipped and counted."""
    from ..io import midi_read
    from ..runs import run_folder
    from ..io.corpus import load_folder

    check_crop(crop_onsets)
    run = Path(run_dir)
    train_names, val_names = run_folder.read_split(run, " (train first, or pass the run folder with --run-dir)")
    if data_dir is None:
        data_dir = run_folder.read_data(run)["data_dir"]
        if data_dir is None:
            raise RunFolderError(f"{run / run_folder.DATA}: no data folder recorded (pass --data-dir)")
    if not val_names:
        raise RunFolderError(f"{run / run_folder.SPLIT}: no held-out pieces to compare with")
    pieces = {}
    for f in sorted(files, key=str):  # in one order whatever the order given: the classifier's folds follow it
        try:
            pieces[str(f)] = midi_read.read_midi(f)
        except MusicLSTMError as e:
            log(f"skipped {e}")
    if not pieces:
        raise MusicLSTMError(f"no usable generated file ({len(files)} skipped)")
    generated = {name: p.notes for name, p in pieces.items()}
    corpus = load_folder(data_dir, log=log)
    missing = [n for n in val_names + train_names if n not in corpus.pieces]
    if missing:
        log(f"{data_dir}: {len(missing)} pieces of the run's split are missing or unusable, e.g. {missing[0]}")
    reference = [corpus.pieces[n].notes for n in val_names if n in corpus.pieces]
    train = [corpus.pieces[n].notes for n in train_names if n in corpus.pieces]
    if not reference:
        raise MusicLSTMError(f"{data_dir}: none of the run's held-out pieces is there")
    result = compare(generated, reference, train, crop_onsets)
    if any(p.voices is not None for p in pieces.values()):  # four voices: their voice leading against Bach's
        held_out = [corpus.pieces[n] for n in val_names if n in corpus.pieces]
        trained = [corpus.pieces[n].voices for n in train_names if n in corpus.pieces and corpus.pieces[n].voices]
        try:
            ranges = voice_ranges(trained) if trained else None
            result.voices_text, result.voices = voice_report_pieces(pieces, held_out, ranges=ranges)
        except ValueError as e:  # no held-out piece with four voices, or a voice without notes
            log(f"no voice-leading comparison: {e}")
    if json_path is not None:
        run_folder.write_json(json_path, result.to_json())
    return result

def voice_report(
    generated: dict[str, Voices],
    reference: list[Voices],
    crop_slices: int | None = None,
    seed: int = 0,
    excerpt_slices: int | None = None,
    ranges: list[tuple[int, int]] | None = None,
) -> tuple[str, dict]:
    """The voice-leading comparison and the classifier two-sample test (generated vs Bach, and Bach vs Bach
    as calibration), as the text table and a JSON-able dict. `ranges` as in `voice_leading.compare` (e.g. `voice_ranges`
    of the training pieces; by default the reference's)."""
    c = voice_leading.compare(generated, reference, crop_slices, ranges)
    length = excerpt_slices or two_sample.EXCERPT
    ts = {}
    try:
        result = two_sample.two_sample_test(list(generated.values()), reference, length=length, seed=seed)
        ts["generated_vs_bach"] = result.to_json()
    except ValueError as e:
        ts["generated_vs_bach"] = None
        ts["error"] = str(e)
    try:
        ts["bach_vs_bach"] = two_sample.calibrate(reference, length=length, seed=seed).to_json()
    except ValueError as e:
        ts["bach_vs_bach"] = None
        ts["calibration_error"] = str(e)
    c.two_sample = ts
    return voice_leading.format_table(c), c.to_json()


def voice_report_pieces(
    generated: dict,
    reference: list,
    crop_slices: int | None = None,
    seed: int = 0,
    ranges: list[tuple[int, int]] | None = None,
) -> tuple[str, dict]:
    """`voice_report` on `events.Piece`s: those whose `voices` is None are left out, and the text and the dict say
    how many and which generated ones."""
    gen = {name: p.voices for name, p in generated.items() if p.voices is not None}
    ref = [p.voices for p in reference if p.voices is not None]
    left_gen = [name for name, p in generated.items() if p.voices is None]
    left_ref = len(reference) - len(ref)
    if not gen:
        raise ValueError(f"none of the {len(generated)} generated pieces has four voices")
    text, out = voice_report(gen, ref, crop_slices, seed, ranges=ranges)
    out["left_out"] = {"generated": left_gen, "reference": left_ref}
    if left_gen or left_ref:
        text += f"\nleft out, no four voices: {len(left_gen)} generated, {left_ref} held-out Bach"
        if left_gen:
            text += f" (e.g. {left_gen[0]})"
    return text, out

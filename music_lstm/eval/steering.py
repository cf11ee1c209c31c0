"""Measuring a fill_lstm run on the held-out chorales, every system side by side (`evaluate_fill`,
`python -m music_lstm evaluate --harmonize --run-dir FILL_RUN`).

Bach's held-out chorales are read from music21's corpus as MusicXML (`io.chorale_scores`), so each
has its written fermatas, key signature and metre; the held-out names are the run's split's
"validation" list. The tasks:

    soprano        his soprano given, the other three written (every system)
    bass           his bass given (`harmonize --keep bass`)
    soprano,bass   his soprano and bass given (`--keep soprano,bass`)
    rewrite        the alto and tenor written again two bars at a time, bars 1-2, 3-4, ... in turn,
                   each rewrite reading Bach's soprano and bass and the alto and tenor around it

Systems: the fill_lstm run; a left-to-right satb run (`--against`), with the n-gram fit on that
run's training symbols; the HMM fit on the training chorales; the peer's harmonizations, a folder of
MIDI files named as the pieces (`--peer`, benchmarks/peer_deepbach.py writes one). Each is measured by
`eval.bach_style.style_table` (Bach's band, cadences, clashes, the classifier two-sample test against
Bach's own harmonizations of the same pieces, chord and bass agreement) and by parallels per 100
transitions (`eval.voice_leading`). Sampled systems are run at each seed and their figures averaged.

    python -m music_lstm evaluate --harmonize --run-dir music_lstm/shipped/harmonize --seeds 1,2,3
"""

from __future__ import annotations

import math
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ..core.scores import Score4
from . import voice_leading
from .bach_style import format_style_table, style_table

TASKS = ("soprano", "bass", "soprano,bass", "rewrite")
KEEP = {"soprano": (0,), "bass": (3,), "soprano,bass": (0, 3)}


def held_out(run_dir, log=print) -> tuple[list[Score4], list[str]]:
    """The run's held-out chorales (music21's MusicXML) and its training pieces' names."""
    from ..runs.run_folder import read_split
    from ..training.fill_train import load_scores

    train, val = read_split(Path(run_dir))
    names = [piece_name(n) for n in val]
    scores = load_scores(names, _cache(), log=log)
    return [scores[n] for n in names if n in scores], [piece_name(n) for n in train]


def training_side(run_dir, limit: int | None = None, log=lambda m: None) -> list[Score4]:
    """The run's training-side chorales (its split's "validation_loss" list: kept out of training, and
    never the held-out ones), those the cells encoding can hold, the first `limit`: where experiments
    choose the sampler's settings."""
    import json

    from ..runs.run_folder import SPLIT
    from ..training.fill_train import load_scores

    names = json.loads((Path(run_dir) / SPLIT).read_text())["validation_loss"]
    scores = load_scores(names, _cache(), log=log)
    return encodable([scores[n] for n in names if n in scores], log)[:limit]


def encodable(pieces: Sequence[Score4], log=print) -> list[Score4]:
    """The pieces the cells encoding can hold; each left out said in one line (a note off the sixteenth
    grid, a triplet)."""
    from ..core.errors import MelodyError
    from ..encodings import cells

    kept = []
    for s in pieces:
        try:
            cells.encode(s)
            kept.append(s)
        except MelodyError as e:
            log(f"left out {s.name}: {e.reason}")
    return kept


def piece_name(name: str) -> str:
    """A chorale's corpus name from a split's entry: bwv11.6.mid -> bwv11.6 (bwv11.6 stays)."""
    for suffix in (".mid", ".midi", ".mxl", ".musicxml", ".xml"):
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return name


def _cache():
    import os

    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "music_lstm" / "chorale_scores.pkl"


def rewrite_in_turn(writer, score: Score4, voices=(1, 2), span: int = 2, seed=0) -> tuple:
    """`score` with `voices` rewritten `span` bars at a time, from the first bar to the last, each
    rewrite given the music around it (what was rewritten before it included)."""
    rng = np.random.default_rng(seed)
    current = score
    first = 0 if score.pickup > 0 else 1
    for a in range(first, score.bars + 1, span):
        b = min(a + span - 1, score.bars)
        current = writer.rewrite(current, (a, b), voices, seed=rng)[0]
    return current.voices


def _lr_system(run_dir, seed):
    from ..runs.run_folder import load_run
    from ..tasks.harmonizer import DEFAULT_TEMPERATURE, LSTMHarmonizer

    h = LSTMHarmonizer.from_run(load_run(run_dir))
    rng = np.random.default_rng(seed)
    return lambda s: h.harmonize(s.voices[0], temperature=DEFAULT_TEMPERATURE, seed=rng)[0].voices


def _ngram_system(run_dir, seed):
    from ..models.ngram import KneserNey, NgramStepper
    from ..runs.run_folder import load_run
    from ..tasks.harmonizer import DEFAULT_TEMPERATURE, LSTMHarmonizer, run_grammar
    from .harmonization import NGRAM_ORDER

    run = load_run(run_dir)
    kn = KneserNey(NGRAM_ORDER, len(run.vocab)).fit(run.corpus["train"])
    h = LSTMHarmonizer(NgramStepper(kn), run.vocab, grammar=run_grammar(run))
    rng = np.random.default_rng(seed)
    return lambda s: h.harmonize(s.voices[0], temperature=DEFAULT_TEMPERATURE, seed=rng)[0].voices


def _peer_system(folder):
    from ..core.errors import MelodyError
    from ..io.chorale_scores import read_score

    def peer(s: Score4):
        voices = read_score(Path(folder) / f"{s.name}.mid").voices
        if list(voices[0]) != list(s.voices[0]):  # harmonized a tune other than the one it is measured against
            raise MelodyError(s.name, "the peer's soprano is not the held-out chorale's")
        return voices

    return peer


def _run_system(fn, pieces, name, log) -> list | None:
    from ..core.errors import MusicLSTMError

    outs = []
    for s in pieces:
        try:
            outs.append(fn(s))
        except MusicLSTMError as e:  # a piece a system cannot write: that system's column is left out
            log(f"{name}: {s.name}: {e}")
            return None
    return outs


def _average(tables: list[dict]) -> dict:
    """Column by column, the mean of each figure over the tables (one per seed)."""
    out = dict(tables[0])
    cols = {}
    for name in tables[0]["columns"]:
        cols[name] = {k: float(np.nanmean([t["columns"][name][k] for t in tables]))
                      if not all(math.isnan(t["columns"][name][k]) for t in tables) else math.nan
                      for k in tables[0]["columns"][name]}
    out["columns"] = cols
    return out


def evaluate_fill(run_dir, tasks: Sequence[str] = TASKS, seeds: Sequence[int] = (1,), against=None,
                  peer=None, limit: int | None = None, log=lambda m: print(m, file=sys.stderr)) -> dict:
    """task -> the averaged style table (with a `parallels` row per system) over `seeds`."""
    from ..models.hmm_harmonizer import HMMHarmonizer
    from ..tasks.fill import FillWriter
    from ..tasks.steer import fill_harmonize
    from ..training.fill_train import load_scores

    writer = FillWriter.from_run(run_dir)
    pieces, train_names = held_out(run_dir, log)
    pieces = encodable(pieces[:limit], log)  # a note off the sixteenth grid: left out for every system
    log(f"{len(pieces)} held-out chorales")
    train = load_scores(train_names, _cache(), log=log)
    hmm = HMMHarmonizer().fit([s.voices for s in train.values()])
    report = {}
    for task in tasks:
        tables = []
        for seed in seeds:
            systems = {}
            if task == "rewrite":
                systems["fill_lstm"] = _run_system(lambda s: rewrite_in_turn(writer, s, seed=seed), pieces,
                                                   "fill_lstm", log)
            else:
                keep = KEEP[task]

                def fill(s, keep=keep):
                    given = s.with_voices([v if k in keep else [] for k, v in enumerate(s.voices)])
                    return fill_harmonize(writer, given, keep, 1, seed)[0].voices

                systems["fill_lstm"] = _run_system(fill, pieces, "fill_lstm", log)
            if task == "soprano":
                if against is not None:
                    systems["left-to-right LSTM"] = _run_system(_lr_system(against, seed), pieces, "LSTM", log)
                    systems["KN n-gram"] = _run_system(_ngram_system(against, seed), pieces, "n-gram", log)
                systems["HMM"] = _run_system(lambda s: hmm.harmonize(s.voices[0]), pieces, "HMM", log)
                if peer is not None:
                    systems["DeepBach (peer)"] = _run_system(_peer_system(peer), pieces, "peer", log)
            systems = {k: v for k, v in systems.items() if v is not None}
            table = style_table(pieces, systems, seed=seed)
            for name in [*systems, "Bach"]:
                outs = systems[name] if name != "Bach" else [s.voices for s in pieces]
                table["columns"][name]["parallels"] = float(np.median([voice_leading.measure(v)["parallels"]
                                                                       for v in outs]))
            table.pop("per_piece", None)
            tables.append(table)
            log(f"{task}, seed {seed}: done")
        report[task] = _average(tables)
        report[task]["seeds"] = list(seeds)
    return report


def format_report(report: dict) -> str:
    out = []
    for task, table in report.items():
        out.append(f"### {task} given" if task != "rewrite" else "### alto and tenor rewritten two bars at a time")
        out.append(format_style_table(table))
        names = list(table["columns"])
        out.append("| parallel 5ths/8ves per 100 transitions, median | "
                   + " | ".join(f"{table['columns'][n]['parallels']:.2f}" for n in names) + " |")
        out.append(f"(mean over seeds {', '.join(map(str, table['seeds']))})\n")
    return "\n".join(out)

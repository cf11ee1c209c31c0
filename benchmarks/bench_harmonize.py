"""Time harmonizing a 16-bar melody (64 quarter notes) once the model is loaded, and rewriting two bars
of its alto and tenor: the fill_lstm sampler (the shipped harmonizer) against today's left-to-right
satb harmonizer (the baseline) and the HMM, median of 5 runs each, in one run.

The melody is the soprano of the first held-out chorale of the baseline run (its corpus.npz), repeated
end to end and cut at 64 quarter notes.

    python benchmarks/bench_harmonize.py
    python benchmarks/bench_harmonize.py --run-dir runs/fill --against runs/harmonize
    python benchmarks/bench_harmonize.py --smoke   # 16 quarter notes, one run each: seconds
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

QUARTERS = 64


def melody_of(soprano, quarters=QUARTERS):
    """The soprano repeated end to end and cut at `quarters` (the last note shortened)."""
    start = soprano[0][0]
    length = max(o + d for o, d, _ in soprano) - start
    out, shift = [], 0.0
    while True:
        for o, d, p in soprano:
            o = o - start + shift
            if o >= quarters:
                return out
            out.append((o, min(d, quarters - o), p))
        shift += length


def median_seconds(fn, runs=5) -> float:
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> int:
    from music_lstm.runs import run_folder

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--run-dir", default=str(run_folder.SHIPPED / "harmonize"), help="a fill_lstm run folder")
    ap.add_argument("--against", default=str(run_folder.SHIPPED / "harmonize_lstm"),
                    help="today's left-to-right satb run folder (the baseline)")
    ap.add_argument("--quarters", type=int, default=QUARTERS, help=f"melody length in quarter notes (default: {QUARTERS})")
    ap.add_argument("--runs", type=int, default=5, help="timed runs per system, the median shown (default: 5)")
    ap.add_argument("--smoke", action="store_true", help="--quarters 16 --runs 1: checks that the benchmark runs")
    args = ap.parse_args()
    if args.smoke:
        args.quarters, args.runs = 16, 1
    from music_lstm.core.quiet import quiet_tensorflow

    quiet_tensorflow()  # TensorFlow's C++ start-up lines are not the benchmark's output
    from music_lstm.encodings.satb import decode_satb
    from music_lstm.models.hmm_harmonizer import HMMHarmonizer
    from music_lstm.tasks.fill import FillWriter
    from music_lstm.tasks.harmonizer import LSTMHarmonizer
    from music_lstm.tasks.steer import fill_harmonize, fill_rewrite, tune_score

    base = run_folder.load_run(args.against)
    held_out = [decode_satb(base.vocab.decode(ids)).voices for ids in base.corpus["val"]]
    chorales = [decode_satb(base.vocab.decode(ids)).voices for ids in base.corpus["train"]]
    melody = melody_of(held_out[0][0], args.quarters)
    lr = LSTMHarmonizer.from_run(base)
    writer = FillWriter.from_run(args.run_dir)
    score = tune_score(melody)
    hmm = HMMHarmonizer().fit(chorales[: 20 if args.smoke else None])
    lr.harmonize(melody)  # warm up
    first = fill_harmonize(writer, score, (0,), 1, 1)[0]
    bars = (min(5, first.bars - 1), min(6, first.bars)) if first.bars > 1 else (1, 1)
    rows = [
        ("fill_lstm, 16 bars harmonized", median_seconds(lambda: fill_harmonize(writer, score, (0,), 1, 1), args.runs)),
        (f"fill_lstm, bars {bars[0]}-{bars[1]} of alto and tenor rewritten",
         median_seconds(lambda: fill_rewrite(writer, first, bars, (1, 2), 1, 2), args.runs)),
        ("left-to-right LSTM, 1 sample (baseline)", median_seconds(lambda: lr.harmonize(melody, seed=1), args.runs)),
        ("left-to-right LSTM, beam of 8", median_seconds(lambda: lr.harmonize(melody, beam=8), args.runs)),
        ("HMM, chord per beat (Viterbi + voicing)", median_seconds(lambda: hmm.harmonize(melody), args.runs)),
    ]
    load = os.getloadavg()[0]
    print(f"{len(melody)} notes, {args.quarters} quarter notes; {os.cpu_count()} CPUs, load {load:.1f}; "
          f"median of {args.runs}, seconds")
    print("| system | seconds | x baseline |\n|---|---|---|")
    baseline = rows[2][1]
    for name, s in rows:
        print(f"| {name} | {s:.3f} | {s / baseline:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())

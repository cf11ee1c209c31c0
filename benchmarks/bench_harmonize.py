"""Time harmonizing a 16-bar melody (64 quarter notes) once the model is loaded: the network that reads
the whole melody, the forced-soprano LSTM (the baseline, BachBot's way) and the HMM, median of 5 runs
each: one sample, the best of 8 (one batch), and a beam search of width 8.

The melody is the soprano of the first held-out chorale of the run (its corpus.npz), repeated end to
end and cut at 64 quarter notes. Both run folders default to the ones shipped with the package.

    python benchmarks/bench_harmonize.py
    python benchmarks/bench_harmonize.py --run-dir runs/harmonize --against runs/long
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

from music_lstm.runs import run_folder  # noqa: E402
from music_lstm.encodings.satb import decode_satb  # noqa: E402
from music_lstm.tasks.harmonizer import LSTMHarmonizer
from music_lstm.eval.harmonization import system_name  # noqa: E402
from music_lstm.models.hmm_harmonizer import HMMHarmonizer  # noqa: E402

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
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--run-dir", default=str(run_folder.SHIPPED / "harmonize"), help="a --melody-context run folder")
    ap.add_argument("--against", default=str(run_folder.SHIPPED / "compose"), help="a satb run folder, soprano forced")
    ap.add_argument("--quarters", type=int, default=QUARTERS, help=f"melody length in quarter notes (default: {QUARTERS})")
    ap.add_argument("--runs", type=int, default=5, help="timed runs per harmonizer, the median shown (default: 5)")
    ap.add_argument("--smoke", action="store_true", help="--quarters 16 --runs 1, the HMM fit on 20 chorales: checks that the benchmark runs")
    args = ap.parse_args()
    if args.smoke:
        args.quarters, args.runs = 16, 1
    from music_lstm.core.quiet import quiet_tensorflow

    quiet_tensorflow()  # TensorFlow's C++ start-up lines are not the benchmark's output
    run = run_folder.load_run(args.run_dir)
    chorales = [decode_satb(run.vocab.decode(ids)).voices for ids in run.corpus["train"] + run.corpus["val"]]
    held_out = [decode_satb(run.vocab.decode(ids)).voices for ids in run.corpus["val"]]
    melody = melody_of(held_out[0][0], args.quarters)
    systems = [LSTMHarmonizer.from_run(run), LSTMHarmonizer.from_run(run_folder.load_run(args.against))]
    hmm = HMMHarmonizer().fit(chorales[: 20 if args.smoke else len(run.corpus["train"])])
    rows = []
    for h in systems:
        h.harmonize(melody)  # warm up
        name = system_name(h)
        rows.append((f"{name}, 1 sample", median_seconds(lambda: h.harmonize(melody, seed=1), args.runs)))
        rows.append((f"{name}, best of 8", median_seconds(lambda: h.harmonize(melody, best_of=8, seed=1), args.runs)))
        rows.append((f"{name}, beam of 8", median_seconds(lambda: h.harmonize(melody, beam=8), args.runs)))
    rows.append(("HMM, chord per beat (Viterbi + voicing)", median_seconds(lambda: hmm.harmonize(melody), args.runs)))
    load = os.getloadavg()[0]
    print(f"{len(melody)} notes, {args.quarters} quarter notes; {os.cpu_count()} CPUs, load {load:.1f}; "
          f"median of {args.runs}, seconds")
    print("| harmonizer | seconds | x baseline |\n|---|---|---|")
    base = rows[3][1]  # the forced-soprano LSTM, one sample
    for name, s in rows:
        print(f"| {name} | {s:.3f} | {s / base:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""How long one symbol repeats in a row: in the Bach pieces themselves, and in generated pieces.

The repeat guard (`--max-repeat`) should stop a model from getting stuck without cutting what the
music itself does. This prints, for the run's training and held-out pieces, how often runs of each
length occur; then it generates `--pieces` pieces at the default settings with the guard on, with
it off, and the seed's way (argmax, no guard), and prints the longest run in each.

    python benchmarks/repeat_runs.py --run-dir runs/latest
    python benchmarks/repeat_runs.py --smoke   # the shipped compose model, 2 short pieces: seconds
"""

from __future__ import annotations

import argparse
import collections
import os
import sys
from dataclasses import replace
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the package, from a checkout

import numpy as np  # noqa: E402


def runs(ids: np.ndarray) -> np.ndarray:
    """Lengths of the runs of one repeated id in `ids`."""
    edges = np.flatnonzero(np.diff(np.r_[-1, ids, -1]) != 0)
    return np.diff(edges)


def describe(pieces: list[np.ndarray]) -> tuple[collections.Counter, np.ndarray]:
    counts, longest = collections.Counter(), []
    for p in pieces:
        r = runs(p)
        counts.update(r.tolist())
        longest.append(r.max())
    return counts, np.asarray(longest)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--run-dir", default="runs/latest")
    ap.add_argument("--pieces", type=int, default=20)
    ap.add_argument("--length", type=int, default=500)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--smoke", action="store_true", help="the shipped compose model, --pieces 2 --length 40: checks that it runs")
    args = ap.parse_args(argv)
    if args.smoke:
        from music_lstm.runs.run_folder import SHIPPED

        args.run_dir, args.pieces, args.length = str(SHIPPED / "compose"), 2, 40
    from music_lstm.core.quiet import quiet_tensorflow

    quiet_tensorflow()  # TensorFlow's C++ start-up lines are not the benchmark's output

    from music_lstm.tasks.generate import random_windows
    from music_lstm.runs.run_folder import load_run, read_history
    from music_lstm.core.sampling import Sampling, generate_ids
    from music_lstm.models.stepper import LSTMStepper

    run = load_run(args.run_dir)
    history = read_history(run.path)
    best = min((h["val_loss"] for h in history if "val_loss" in h), default=float("nan"))
    print(f"run {run.path}: 2x{run.config.units} units, vocabulary {len(run.vocab)}, "
          f"{len(history)} epochs, best validation loss {best:.3f}")
    print("\nruns of one symbol in the pieces themselves")
    print(f"{'pieces':>10}  {'n':>4}  {'symbols':>7}  {'runs of length 1, 2, 3, ...':<44}  "
          "longest per piece: median/90%/99%/max")
    for part in ("train", "val"):
        pieces = [p for p in run.corpus[part] if len(p)]
        if not pieces:
            continue
        counts, longest = describe(pieces)
        hist = ", ".join(f"{k}:{counts[k]}" for k in sorted(counts))
        pct = "/".join(f"{np.percentile(longest, q):g}" for q in (50, 90, 99)) + f"/{longest.max()}"
        print(f"{part:>10}  {len(pieces):>4}  {sum(map(len, pieces)):>7}  {hist:<44}  {pct}")

    stepper = LSTMStepper.from_keras(run.model)
    default = Sampling()
    settings = [(f"defaults (max_repeat={default.max_repeat})", default),
                ("defaults, guard off (max_repeat=0)", replace(default, max_repeat=0)),
                (f"argmax, guard on (max_repeat={default.max_repeat})", replace(default, temperature=0)),
                ("seed: argmax, no guard", Sampling(temperature=0, max_repeat=0))]
    print(f"\n{args.pieces} generated pieces of {args.length} symbols, "
          f"prompts from the training pieces (seed {args.seed})")
    print(f"{'settings':<36}  {'longest run':>11}  {'median longest':>14}  {'runs > 4':>8}  "
          f"{'distinct symbols/piece':>22}")
    for name, sampling in settings:
        rng = np.random.default_rng(args.seed)
        prompts = random_windows(run.corpus["train"], run.config.seq_len, args.pieces, rng)
        if True:  # BLAS's own thread count, as `generate` runs
            ids = generate_ids(stepper.step, stepper.prime(prompts), args.length, sampling, rng, history=prompts)
        counts, longest = describe(list(ids))
        long_runs = sum(v for k, v in counts.items() if k > 4)
        distinct = np.median([len(set(row.tolist())) for row in ids])
        print(f"{name:<36}  {longest.max():>11}  {np.median(longest):>14g}  {long_runs:>8}  {distinct:>22g}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

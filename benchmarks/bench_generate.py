"""Generation speed: the seed's loop against ours, on one 2x512 model, in one run.

(a) the seed's loop: `model.predict` over the whole 100-symbol window for every new symbol, argmax;
(b) ours: the window primes a NumPy `LSTMStepper` once, then one step and one draw per symbol, for
1, 8 and 32 pieces stepped as one batch. Both make `--length` symbols after the same window. With
`--cli` it also times `python -m music_lstm generate` at `--length 1020` and `--length 20` (MIDI
writing included), alternating the two. Prints tables; the figures go in docs/BENCHMARKS.md.

    python benchmarks/bench_generate.py --run-dir /tmp/bench512 --cli
    python benchmarks/bench_generate.py --smoke   # the shipped compose model, a few symbols: seconds
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the package, from a checkout

import numpy as np  # noqa: E402


def load_or_train(run_dir: Path, data_dir: str, minutes: float):
    from music_lstm.runs.config import Config
    from music_lstm.runs.run_folder import load_run

    if not (run_dir / "model.keras").exists():
        from music_lstm.training.train import train

        print(f"training a 2x512 model on {data_dir} for at most {minutes} min into {run_dir}", file=sys.stderr)
        train(Config(units=512, epochs=1, max_minutes=minutes), data_dir, run_dir, verbose=0)
    return load_run(run_dir)


def seed_loop(model, window: np.ndarray, n: int) -> tuple[float, np.ndarray]:
    """The seed's generator: predict on the last `len(window)` symbols, take the argmax, slide on."""
    seq = list(window)
    width = len(window)
    model.predict(np.asarray([seq[-width:]], np.int32), verbose=0)  # compile outside the clock
    start = time.perf_counter()
    for _ in range(n):
        probs = model.predict(np.asarray([seq[-width:]], np.int32), verbose=0)[0, -1]
        seq.append(int(np.argmax(probs)))
    return time.perf_counter() - start, np.asarray(seq[width:])


def ours(stepper, prompts: np.ndarray, n: int, threads, rng_seed: int = 0) -> tuple[float, float]:
    """Seconds to prime on `prompts` (batch, window), and to draw `n` symbols per piece at the default
    sampling settings (repeat guard included) after that."""
    from threadpoolctl import threadpool_limits

    from music_lstm.core.sampling import Sampling, generate_ids

    rng = np.random.default_rng(rng_seed)
    with threadpool_limits(threads, user_api="blas"):  # None: BLAS's own default, what `generate` uses
        start = time.perf_counter()
        probs = stepper.prime(prompts)
        primed = time.perf_counter()
        generate_ids(stepper.step, probs, n, Sampling(), rng, history=prompts)
        return primed - start, time.perf_counter() - primed


def cli_seconds(run_dir: Path, length: int, out: Path) -> float:
    cmd = [sys.executable, "-m", "music_lstm", "generate", "--run-dir", str(run_dir), "--output", str(out),
           "--length", str(length), "--seed", "0"]
    start = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True, cwd=Path(__file__).resolve().parent.parent)
    return time.perf_counter() - start


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--run-dir", default="runs/bench512", help="run folder with a 2x512 model; trained if empty")
    ap.add_argument("--data-dir", default="bach", help="MIDI folder to train on if the run folder is empty")
    ap.add_argument("--train-minutes", type=float, default=2.0, help="training budget if a model must be made")
    ap.add_argument("--length", type=int, default=500, help="symbols to generate per piece (default: 500)")
    ap.add_argument("--seed-length", type=int, default=500, help="symbols for the seed's slow loop (default: 500)")
    ap.add_argument("--window", type=int, default=100, help="prompt window, as in the seed (default: 100)")
    ap.add_argument("--batches", default="1,8,32", help="pieces at once (default: 1,8,32)")
    ap.add_argument("--repeats", type=int, default=5, help="timed runs of ours per row; the median is shown")
    ap.add_argument("--cli", action="store_true", help="also time the CLI at --length 1020 against --length 20")
    ap.add_argument("--cli-repeats", type=int, default=3)
    ap.add_argument("--smoke", action="store_true", help="the shipped compose model, --length 20 --seed-length 5 "
                    "--window 16 --batches 1,2 --repeats 1: checks that the benchmark runs")
    args = ap.parse_args(argv)
    if args.smoke:
        from music_lstm.runs.run_folder import SHIPPED

        args.run_dir, args.length, args.seed_length, args.window = str(SHIPPED / "compose"), 20, 5, 16
        args.batches, args.repeats, args.cli = "1,2", 1, False
    from music_lstm.core.quiet import quiet_tensorflow

    quiet_tensorflow()  # TensorFlow's C++ start-up lines are not the benchmark's output

    from music_lstm.io import midi_write
    from music_lstm.tasks.generate import random_windows
    from music_lstm.models.stepper import LSTMStepper

    run_dir = Path(args.run_dir)
    run = load_or_train(run_dir, args.data_dir, args.train_minutes)
    units = run.config.units
    print(f"model: 2x{units} LSTM, embedding {run.config.embed_dim}, vocabulary {len(run.vocab)}; "
          f"{os.cpu_count()} CPUs; load before: {load()}")
    if units != 512:
        print(f"note: the speed targets are for 2x512 units; this model has {units}")

    rng = np.random.default_rng(0)
    prompts = random_windows(run.corpus["train"], args.window, max(int(b) for b in args.batches.split(",")), rng)
    start = time.perf_counter()
    stepper = LSTMStepper.from_keras(run.model)
    build = time.perf_counter() - start

    seed_s, seed_ids = seed_loop(run.model, prompts[0], args.seed_length)
    seed_ms = 1e3 * seed_s / args.seed_length
    # Same window, argmax, no guard: the stepper must pick the seed loop's symbols (a check, not timed).
    from music_lstm.core.sampling import generate_ids
    from music_lstm.core.sampling import Sampling

    check = min(args.seed_length, 100)
    same = generate_ids(stepper.step, stepper.prime(prompts[:1]), check, Sampling(temperature=0, max_repeat=0),
                        np.random.default_rng(0), history=prompts[:1])[0]
    agree = int((same == seed_ids[:check]).sum())

    rows = []
    for b in [int(b) for b in args.batches.split(",")]:
        options = (1, None)  # one BLAS thread, then BLAS's default (all cores)
        timed = {t: [] for t in options}
        for k in range(args.repeats):  # interleaved, so a busy spell on the machine hits both alike
            for t in options:
                timed[t].append(ours(stepper, prompts[:b], args.length, t, k))
        for t in options:
            prime_s = min(r[0] for r in timed[t])
            gen_s = min(r[1] for r in timed[t])
            gen_median = statistics.median(r[1] for r in timed[t])
            rows.append((b, t, prime_s, gen_s, gen_median, t is None))

    print(f"\nseed loop: {args.seed_length} symbols in {seed_s:.2f} s = {seed_ms:.2f} ms/symbol "
          f"(window {args.window}, argmax); our argmax picks the same first {agree}/{check} symbols")
    print(f"stepper built from the Keras weights in {1e3 * build:.1f} ms (once per call, not per symbol)\n")
    print(f"{'pieces':>6}  {'BLAS threads':>12}  {'prime s':>7}  {'symbols s':>9}  {'(median)':>8}  {'ms/step':>7}  "
          f"{'ms/symbol':>9}  {'vs seed loop':>12}  {'cost vs 1 piece':>15}  used by generate")
    base = next(g for b, t, p, g, m, used in rows if b == 1 and used)
    for b, threads, prime_s, gen_s, gen_median, used in rows:
        step_ms = 1e3 * gen_s / args.length
        sym_ms = step_ms / b
        print(f"{b:>6}  {threads or 'default':>12}  {prime_s:7.3f}  {gen_s:9.3f}  {gen_median:8.3f}  {step_ms:7.3f}  "
              f"{sym_ms:9.4f}  {seed_ms / sym_ms:11.0f}x  {gen_s / base:14.2f}x  {'yes' if used else ''}")
    print(f"(prime: the {args.window}-symbol window, once; symbols: {args.length} per piece with sampling and the "
          f"repeat guard; best of {args.repeats}, median beside it; ms/step: all pieces one step; "
          f"load after: {load()})")

    syms = run.vocab.decode(np.resize(prompts[0], 1000))
    notes = run.config.encoder().decode(syms).notes
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        midi_write.write_midi(notes, Path(tmp) / "w.mid")
        print(f"\nwrite_midi: 1000 symbols ({len(notes)} notes) in {1e3 * (time.perf_counter() - start):.0f} ms")

        if args.cli:
            long_s, short_s = [], []
            for _ in range(args.cli_repeats):
                short_s.append(cli_seconds(run_dir, 20, Path(tmp) / "s.mid"))
                long_s.append(cli_seconds(run_dir, 1020, Path(tmp) / "l.mid"))
            s, l = statistics.median(short_s), statistics.median(long_s)
            print(f"\nCLI `python -m music_lstm generate` wall time, median of {args.cli_repeats} (alternated):")
            print(f"  --length 20:   {s:.2f} s   ({', '.join(f'{x:.2f}' for x in short_s)})")
            print(f"  --length 1020: {l:.2f} s   ({', '.join(f'{x:.2f}' for x in long_s)})")
            print(f"  difference:    {l - s:.2f} s for 1000 more symbols; load after: {load()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

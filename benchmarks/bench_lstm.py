"""A training step with `lstm.FusedLSTM` against the same network with Keras's own LSTM layers.

For each size, `model.build_model` with FusedLSTM and with keras.layers.LSTM (the same initial weights,
compiled alike) train on the same random batch of windows of 64 ids; after warm-up steps
the two take turns, so a busy spell on the machine hits both alike. Prints seconds per step and the
ratio; the figures go in docs/BENCHMARKS.md.

    python benchmarks/bench_lstm.py
    python benchmarks/bench_lstm.py --smoke   # one tiny size, one step: seconds
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the package, from a checkout
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="128x16,128x64,512x16,512x64", help="units x batch, comma-separated")
    ap.add_argument("--vocab", type=int, default=566, help="softmax size (default: 566, the seed symbols of bach/)")
    ap.add_argument("--steps", type=int, default=6, help="timed steps per setup and round (default: 6)")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--smoke", action="store_true", help="--sizes 16x4 --vocab 32 --steps 1 --rounds 1: checks that it runs")
    args = ap.parse_args()
    if args.smoke:
        args.sizes, args.vocab, args.steps, args.rounds = "16x4", 32, 1, 1
    from music_lstm.core.quiet import quiet_tensorflow

    quiet_tensorflow()  # TensorFlow's C++ start-up lines are not the benchmark's output

    import keras

    from music_lstm.runs.config import Config
    from music_lstm.models.model import build_model

    rng = np.random.default_rng(0)
    print(f"{os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}; windows of 64, vocabulary {args.vocab}, Adam; "
          f"best of {args.rounds} rounds of {args.steps} steps each")
    print(f"{'units':>5} {'batch':>5} {'keras.layers.LSTM s/step':>25} {'FusedLSTM s/step':>17} {'speed-up':>9}")
    for size in args.sizes.split(","):
        units, batch = (int(v) for v in size.split("x"))
        cfg = dataclasses.replace(Config(), units=units, batch_size=batch)
        keras.utils.set_random_seed(0)
        fused = build_model(args.vocab, cfg)
        keras.utils.set_random_seed(0)
        plain = build_model(args.vocab, cfg, lstm=keras.layers.LSTM)  # the same weights, Keras's LSTM layers
        x = rng.integers(1, args.vocab, (batch, cfg.seq_len)).astype(np.int32)
        y = rng.integers(1, args.vocab, (batch, cfg.seq_len)).astype(np.int32)
        w = np.ones((batch, cfg.seq_len), np.float32)
        best = {"plain": float("inf"), "fused": float("inf")}
        for model in (plain, fused):
            for _ in range(2):
                model.train_on_batch(x, y, w)  # trace and warm up
        for _ in range(args.rounds):
            for name, model in (("plain", plain), ("fused", fused)):
                start = time.perf_counter()
                for _ in range(args.steps):
                    model.train_on_batch(x, y, w)
                best[name] = min(best[name], (time.perf_counter() - start) / args.steps)
        print(f"{units:>5} {batch:>5} {best['plain']:>25.4f} {best['fused']:>17.4f} {best['plain'] / best['fused']:>8.2f}x",
              flush=True)
    print(f"load after: {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Training throughput, seed-style against ours, and how long our default training takes to beat the
Kneser-Ney bigram on held-out pieces.

Part 1, on the same data (bach/, seed symbols, the default split) and model size (2 x 512 LSTM):
  (a) seed-style: windows of 100 symbols with one target each, the input the symbol index divided by
      the vocabulary size as one float per step, one-hot targets, categorical cross-entropy, batch 64;
  (b) ours: `model.build_model` with the default config but 512 units: embedded ids, a target at every
      step of every window; at the default batch size, and at the seed's batch of 64; and, at 64, the
      same network with Keras's own LSTM layers instead of `lstm.FusedLSTM`.
  Both are timed over the same number of training steps after a warm-up; predicted symbols per second
  is the number of weighted targets trained on per second.
Part 2: train with the default `Config()` (seed symbols unless `--encoding` says otherwise) and, after every epoch, score the model exactly on the
  held-out pieces (`evaluate.score_model`, not timed); report the training seconds until its
  perplexity first falls below the bigram's, and below 0.8 x the bigram's.

    python benchmarks/bench_train.py --steps 20 --minutes 3
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

SEED_WINDOW, SEED_BATCH = 100, 64


def load(data_dir: str, cfg):
    """Training/validation id sequences and vocabulary exactly as `train` builds them."""
    from music_lstm.training.augment import shifts
    from music_lstm.io.corpus import load_folder
    from music_lstm.training.dataset import split_pieces
    from music_lstm.core.vocab import Vocab

    corpus = load_folder(data_dir, log=lambda m: None)
    encoding = cfg.encoder()
    seqs = {n: encoding.encode(p) for n, p in corpus.pieces.items()}
    seqs = {n: s for n, s in seqs.items() if len(s) >= 2}
    train_names, val_names = split_pieces(list(seqs), cfg.val_fraction, cfg.seed)
    keys = shifts(cfg.transpose_low, cfg.transpose_high)
    variants = [encoding.transpositions(corpus.pieces[n], keys) for n in train_names]
    vocab = Vocab.from_sequences(s for keyed in variants for s in keyed)
    return vocab, [vocab.encode(seqs[n]) for n in train_names], [vocab.encode(seqs[n]) for n in val_names]


def seed_style_model(vocab_size: int, units: int):
    import keras
    from keras import layers

    model = keras.Sequential([
        keras.Input(shape=(SEED_WINDOW, 1)),
        layers.LSTM(units, return_sequences=True), layers.Dropout(0.3),
        layers.LSTM(units), layers.Dropout(0.3),
        layers.Dense(256, activation="relu"),
        layers.Dense(vocab_size, activation="softmax"),
    ])
    model.compile(optimizer="rmsprop", loss="categorical_crossentropy")
    return model


def seed_style_batches(train: list[np.ndarray], vocab_size: int, steps: int, rng):
    """Windows of 100 within pieces, the next symbol as a one-hot target: (x (64, 100, 1), y (64, vocab))."""
    starts = [(i, s) for i, p in enumerate(train) for s in range(len(p) - SEED_WINDOW)]
    for _ in range(steps):
        pick = rng.choice(len(starts), SEED_BATCH)
        x = np.stack([train[starts[j][0]][starts[j][1] : starts[j][1] + SEED_WINDOW] for j in pick])
        t = np.array([train[starts[j][0]][starts[j][1] + SEED_WINDOW] for j in pick])
        yield ((x / vocab_size).astype(np.float32)[..., None], np.eye(vocab_size, dtype=np.float32)[t]), float(SEED_BATCH)


def our_batches(train: list[np.ndarray], cfg, steps: int, rng):
    from music_lstm.training.dataset import windows

    x, y, w = windows(train, cfg.seq_len)
    for _ in range(steps):
        pick = rng.choice(len(x), cfg.batch_size)
        yield (x[pick], y[pick], w[pick]), float(w[pick].sum())


def throughput(setups: dict, rounds: int, warmup: int = 3) -> dict:
    """{name: (predicted symbols per second, seconds per step)} for `setups` {name: (model, batches)}.

    Each batch is ((x, y[, sample_weight]), symbols predicted). After `warmup` steps each, the setups
    take turns, a slice of their batches per round, so a busy spell on the machine hits them alike.
    """
    runs = {name: (model, list(batches)) for name, (model, batches) in setups.items()}
    for model, batches in runs.values():
        for args, _ in batches[:warmup]:
            model.train_on_batch(*args)
    done = {name: [0.0, 0.0, 0] for name in runs}  # symbols, seconds, steps
    for r in range(rounds):
        for name, (model, batches) in runs.items():
            timed = batches[warmup:]
            chunk = timed[r * len(timed) // rounds : (r + 1) * len(timed) // rounds]
            start = time.perf_counter()
            for args, _ in chunk:
                model.train_on_batch(*args)
            done[name][1] += time.perf_counter() - start
            done[name][0] += sum(symbols for _, symbols in chunk)
            done[name][2] += len(chunk)
    return {name: (n / seconds, seconds / steps) for name, (n, seconds, steps) in done.items()}


def time_to_bigram(cfg, data_dir: str, minutes: float, run_dir: Path, bigram: float, val) -> list[dict]:
    """Train the default config; after each epoch the exact held-out perplexity (scoring not timed)."""
    import keras

    from music_lstm.eval.likelihood import score_model
    from music_lstm.training.train import train

    curve = []

    class Score(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            self.start, self.paused = time.perf_counter(), 0.0

        def on_epoch_end(self, epoch, logs=None):
            t0 = time.perf_counter()
            ppl = score_model(self.model, val)["perplexity"]
            curve.append({"epoch": epoch + 1, "seconds": t0 - self.start - self.paused, "perplexity": ppl})
            print(f"  epoch {epoch + 1}: {curve[-1]['seconds']:.0f} s of training, held-out perplexity {ppl:.2f}", file=sys.stderr)
            self.paused += time.perf_counter() - t0

    train(dataclasses.replace(cfg, max_minutes=minutes), data_dir, run_dir, verbose=0, callbacks=[Score()],
          log=lambda m: print(m, file=sys.stderr))
    return curve


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir", default="bach")
    ap.add_argument("--encoding", default="seed", help="symbols to train on (default: seed, as the targets are set for)")
    ap.add_argument("--steps", type=int, default=20, help="timed training steps per setup, 0 = skip part 1 (default: 20)")
    ap.add_argument("--batch", type=int, action="append", default=[], help="also time ours at this batch size (repeatable)")
    ap.add_argument("--rounds", type=int, default=4, help="the timed steps are taken in this many turns per setup (default: 4)")
    ap.add_argument("--units", type=int, default=512, help="LSTM size for the throughput part (default: 512)")
    ap.add_argument("--minutes", type=float, default=3.0, help="training budget for part 2, 0 = skip (default: 3)")
    ap.add_argument("--run-dir", default="runs/bench_train")
    args = ap.parse_args()
    from music_lstm.core.quiet import quiet_tensorflow

    quiet_tensorflow()  # TensorFlow's C++ start-up lines are not the output

    import keras

    from music_lstm.runs.config import Config
    from music_lstm.eval.likelihood import score_ngram
    from music_lstm.models.ngram import KneserNey

    cfg = Config(encoding=args.encoding)  # every other setting at its default
    vocab, train, val = load(args.data_dir, cfg)
    bigram = score_ngram(KneserNey(2, len(vocab)).fit(train), val)["perplexity"]
    print(f"data: {args.data_dir}, {len(train)} training / {len(val)} held-out pieces, vocabulary {len(vocab)}; "
          f"KN bigram held-out perplexity {bigram:.2f}; load {os.getloadavg()[0]:.1f}")

    keras.utils.set_random_seed(0)
    if args.steps:
        throughput_table(args, cfg, vocab, train, np.random.default_rng(0))
    if args.minutes:
        time_to_bigram_table(args, cfg, bigram, val)
    return 0


def throughput_table(args, cfg, vocab, train, rng) -> None:
    import keras

    from music_lstm.models.model import build_model

    steps = args.steps + 3  # 3 warm-up steps
    setups = {"seed": (seed_style_model(len(vocab), args.units), seed_style_batches(train, len(vocab), steps, rng))}
    batches = sorted({cfg.batch_size, SEED_BATCH, *args.batch})  # our default, the seed's (like for like), any asked for
    for batch in batches:
        ours_cfg = dataclasses.replace(cfg, units=args.units, batch_size=batch)
        setups[batch] = (build_model(len(vocab), ours_cfg), our_batches(train, ours_cfg, steps, rng))
    # Like for like with Keras's own LSTM layers (what ours trained with before lstm.FusedLSTM).
    plain_cfg = dataclasses.replace(cfg, units=args.units, batch_size=SEED_BATCH)
    plain = build_model(len(vocab), plain_cfg, lstm=keras.layers.LSTM)
    setups["keras"] = (plain, our_batches(train, plain_cfg, steps, rng))
    rates = throughput(setups, rounds=args.rounds)
    seed_sps, seed_step = rates.pop("seed")
    print(f"\ntraining throughput, 2 x {args.units} LSTM, {args.steps} timed steps each, taken in turns over "
          f"{args.rounds} rounds (load {os.getloadavg()[0]:.1f})")
    print(f"{'setup':<46} {'batch':>5} {'s/step':>7} {'symbols/s':>10} {'ratio':>7}")
    print(f"{'(a) seed-style: 100-step windows, 1 target each':<46} {SEED_BATCH:>5} {seed_step:>7.3f} {seed_sps:>10.0f} {1:>7.1f}")
    for batch in batches:
        ours_sps, ours_step = rates[batch]
        print(f"{f'(b) ours: {cfg.seq_len}-step windows, every step a target':<46} {batch:>5} {ours_step:>7.3f} "
              f"{ours_sps:>10.0f} {ours_sps / seed_sps:>7.1f}")
    plain_sps, plain_step = rates["keras"]
    print(f"{'(b) the same with keras.layers.LSTM':<46} {SEED_BATCH:>5} {plain_step:>7.3f} {plain_sps:>10.0f} "
          f"{plain_sps / seed_sps:>7.1f}")


def time_to_bigram_table(args, cfg, bigram, val) -> None:
    from music_lstm.eval.likelihood import evaluate, format_table

    curve = time_to_bigram(cfg, args.data_dir, args.minutes, Path(args.run_dir), bigram, val)
    below = next((c for c in curve if c["perplexity"] < bigram), None)
    below8 = next((c for c in curve if c["perplexity"] < 0.8 * bigram), None)
    best = min(curve, key=lambda c: c["perplexity"]) if curve else None
    print(f"\ndefault training (units {cfg.units}, seq_len {cfg.seq_len}, batch {cfg.batch_size}), held-out perplexity "
          f"after each epoch, budget {args.minutes} min (load {os.getloadavg()[0]:.1f})")
    print(f"{'target':<28} {'epoch':>5} {'train s':>8} {'perplexity':>10}")
    for name, c in ((f"< KN bigram ({bigram:.2f})", below), (f"< 0.8 x KN bigram ({0.8 * bigram:.2f})", below8), ("best", best)):
        print(f"{name:<28} {c['epoch'] if c else '-':>5} {c['seconds'] if c else float('nan'):>8.0f} "
              f"{c['perplexity'] if c else float('nan'):>10.2f}")
    print("\nthe saved (best) model of that run, `python -m music_lstm evaluate`:")
    print(format_table(evaluate(args.run_dir, log=lambda m: None)))
    return 0


if __name__ == "__main__":
    sys.exit(main())

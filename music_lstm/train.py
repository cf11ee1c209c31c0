"""Train the LSTM on a folder of MIDI files and fill a run folder with everything generation needs.

Run folder (default `runs/latest`): `model.keras` (best by validation loss), `vocab.json`,
`config.json`, `split.json`, `history.json`, and `corpus.npz` (the encoded pieces, so `generate` and
`evaluate` never re-parse or re-derive anything). Every file is written atomically.

    python -m music_lstm train --data-dir bach --run-dir runs/latest --epochs 5

`--distribute mirrored|multiworker` trains on several GPUs or machines (see distribute.py).
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import keras
import numpy as np

from .artifacts import atomic_path, write_json
from .config import Config
from .corpus import encode_folder
from .dataset import overlap_weights, save_corpus, split_pieces, tf_dataset, windows
from .distribute import any_worker, shard_by_data, strategy_for, writable_run_dir
from .encoding import encoder_spec
from .model import build_model
from .vocab import Vocab


def train(
    cfg: Config,
    data_dir: str | os.PathLike = "bach",
    run_dir: str | os.PathLike = "runs/latest",
    *,
    recursive: bool = False,
    workers: int | None = None,
    use_cache: bool = True,
    cache_dir: str | os.PathLike | None = None,
    verbose: int | None = None,
    distribute: str = "none",
    log=lambda msg: print(msg, file=sys.stderr),
) -> dict:
    """Train a model as `cfg` says; returns a summary (best validation loss, epochs, seconds).

    `distribute` names the tf.distribute strategy (distribute.STRATEGIES); `cfg.batch_size` is per replica.
    """
    with writable_run_dir(run_dir, distribute) as run:  # a worker other than the chief writes to a temporary folder
        return _train(cfg, data_dir, run, recursive, workers, use_cache, cache_dir, verbose, distribute, log)


def _train(cfg, data_dir, run_dir, recursive, workers, use_cache, cache_dir, verbose, distribute, log) -> dict:
    run = Path(run_dir)
    # Symbols only, encoded as files are read: a piece's notes never reach this process. A piece needs
    # two symbols to give one (input, target) pair; shorter ones are skipped and named.
    corpus = encode_folder(data_dir, encoder_spec(cfg.encoding, cfg.durations), recursive=recursive, workers=workers, cache_dir=cache_dir,
                           use_cache=use_cache, min_symbols=2, log=log)
    seqs = corpus.sequences
    train_names, val_names = split_pieces(list(seqs), cfg.val_fraction, cfg.seed)
    vocab = Vocab.from_sequences(seqs[n] for n in train_names)
    bpms = [corpus.bpms[n] for n in train_names if n in corpus.bpms]

    run.mkdir(parents=True, exist_ok=True)
    cfg.save(run / "config.json")
    vocab.save(run / "vocab.json")
    write_json(run / "split.json", {"train": train_names, "validation": val_names})
    write_json(run / "data.json", {"bpm": float(np.median(bpms)) if bpms else None, "data_dir": str(data_dir)})
    save_corpus(run / "corpus.npz", vocab, seqs, train_names, val_names)
    log(f"{len(train_names)} training and {len(val_names)} validation pieces; vocabulary {len(vocab)}")

    # Only now: a multi-worker strategy must exist before any TensorFlow op runs, and the parser pool
    # above must not fork a process whose collective runtime has started.
    strategy = strategy_for(distribute)
    replicas = strategy.num_replicas_in_sync
    global_batch = cfg.batch_size * replicas  # each replica takes cfg.batch_size windows a step
    if distribute != "none":
        log(f"{distribute}: {replicas} replicas, {cfg.batch_size} windows each, {global_batch} a step")
    keras.utils.set_random_seed(cfg.seed)
    train_seqs = [vocab.encode(seqs[n]) for n in train_names]
    val_seqs = [vocab.encode(seqs[n]) for n in val_names]
    x, y, w = windows(train_seqs, cfg.seq_len)
    train_ds = shard_by_data(tf_dataset(x, y, w, global_batch, shuffle=True, seed=cfg.seed))
    val_ds = None
    if val_seqs:
        vx, vy, vw = overlap_weights(val_seqs, cfg.seq_len)
        val_ds = shard_by_data(tf_dataset(vx, vy, vw, global_batch, shuffle=False, seed=cfg.seed))

    with strategy.scope():  # variables and optimizer state mirrored on every replica
        model = build_model(len(vocab), cfg)
    monitor = "val_loss" if val_ds is not None else "loss"
    callbacks = [
        BestModelSaver(run / "model.keras", monitor),
        HistoryWriter(run / "history.json"),
        keras.callbacks.EarlyStopping(monitor=monitor, patience=cfg.patience, restore_best_weights=True),
    ]
    if cfg.max_minutes:
        callbacks.append(TimeBudget(cfg.max_minutes * 60))
    if verbose is None:
        verbose = 1 if sys.stdout.isatty() else 2  # a progress bar on a terminal, a line per epoch in a log
    start = time.perf_counter()
    model.fit(train_ds, validation_data=val_ds, epochs=cfg.epochs, callbacks=callbacks, verbose=verbose)
    seconds = time.perf_counter() - start
    saver = callbacks[0]
    if not (run / "model.keras").exists():  # stopped before the first epoch ended: keep what there is
        saver.save(model)
    summary = {"best_" + monitor: saver.best, "epochs": len(callbacks[1].history), "train_seconds": seconds}
    summary["replicas"] = replicas
    log(f"trained {summary['epochs']} epochs in {seconds:.0f} s; best {monitor} {saver.best:.4f}")
    return summary


class BestModelSaver(keras.callbacks.Callback):
    """Keep the best model by `monitor`, written atomically (Keras's own checkpoint writes in place)."""

    def __init__(self, path: Path, monitor: str):
        super().__init__()
        self.path, self.monitor, self.best = Path(path), monitor, float("inf")

    def save(self, model) -> None:
        with atomic_path(self.path) as tmp:
            model.save(tmp)

    def on_epoch_end(self, epoch, logs=None):
        value = (logs or {}).get(self.monitor)
        if value is not None and value < self.best:
            self.best = float(value)
            self.save(self.model)


class HistoryWriter(keras.callbacks.Callback):
    """`history.json`: one record of every logged metric per epoch, rewritten as training goes."""

    def __init__(self, path: Path):
        super().__init__()
        self.path, self.history = Path(path), []

    def on_epoch_end(self, epoch, logs=None):
        self.history.append({"epoch": epoch + 1, **{k: float(v) for k, v in (logs or {}).items()}})
        write_json(self.path, self.history)


class TimeBudget(keras.callbacks.Callback):
    """Stop after the epoch in which the wall-clock budget runs out, or before one that would overrun it."""

    def __init__(self, seconds: float):
        super().__init__()
        self.seconds = seconds

    def on_train_begin(self, logs=None):
        self.start = time.perf_counter()
        self.epoch_start = self.start

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch_start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        now = time.perf_counter()
        over = now - self.start + (now - self.epoch_start) > self.seconds
        if any_worker(over, self.model.distribute_strategy):  # all workers stop after the same epoch
            self.model.stop_training = True

"""Train the LSTM on a folder of MIDI files and fill a run folder with everything generation needs.

Run folder (default `runs/latest`): `model.keras` (best by validation loss), `vocab.json`,
`config.json`, `split.json`, `history.json`, and `corpus.npz` (the encoded pieces, so `generate` and
`evaluate` never re-parse or re-derive anything). Every file is written atomically.

    python -m music_lstm train --data-dir bach --run-dir runs/latest --epochs 5
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
from .corpus import load_folder
from .dataset import overlap_weights, save_corpus, split_pieces, tf_dataset, windows
from .encoding import encode
from .errors import MusicLSTMError
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
    verbose: int | None = None,
    log=lambda msg: print(msg, file=sys.stderr),
) -> dict:
    """Train a model as `cfg` says; returns a summary (best validation loss, epochs, seconds)."""
    run = Path(run_dir)
    corpus = load_folder(data_dir, recursive=recursive, workers=workers, use_cache=use_cache, log=log)
    seqs = {name: encode(piece, cfg.encoding, cfg.durations) for name, piece in corpus.pieces.items()}
    seqs = {name: s for name, s in seqs.items() if len(s) >= 2}
    if not seqs:
        raise MusicLSTMError(f"{data_dir}: no piece has two or more symbols to learn from")
    train_names, val_names = split_pieces(list(seqs), cfg.val_fraction, cfg.seed)
    vocab = Vocab.from_sequences(seqs[n] for n in train_names)
    bpms = [corpus.pieces[n].bpm for n in train_names if corpus.pieces[n].bpm]

    run.mkdir(parents=True, exist_ok=True)
    cfg.save(run / "config.json")
    vocab.save(run / "vocab.json")
    write_json(run / "split.json", {"train": train_names, "validation": val_names})
    write_json(run / "data.json", {"bpm": float(np.median(bpms)) if bpms else None, "data_dir": str(data_dir)})
    save_corpus(run / "corpus.npz", vocab, seqs, train_names, val_names)
    log(f"{len(train_names)} training and {len(val_names)} validation pieces; vocabulary {len(vocab)}")

    keras.utils.set_random_seed(cfg.seed)
    train_seqs = [vocab.encode(seqs[n]) for n in train_names]
    val_seqs = [vocab.encode(seqs[n]) for n in val_names]
    x, y, w = windows(train_seqs, cfg.seq_len)
    train_ds = tf_dataset(x, y, w, cfg.batch_size, shuffle=True, seed=cfg.seed)
    val_ds = None
    if val_seqs:
        vx, vy, vw = overlap_weights(val_seqs, cfg.seq_len)
        val_ds = tf_dataset(vx, vy, vw, cfg.batch_size, shuffle=False, seed=cfg.seed)

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
        if now - self.start + (now - self.epoch_start) > self.seconds:
            self.model.stop_training = True

"""What training does at the end of each epoch: keep the best model, checkpoint for `--resume`, log
the history and its curves, lower the learning rate on a plateau, stop early or when time runs out.

Every file is written atomically, so stopping at any moment (Ctrl-C included) leaves each one whole:
`model.keras` (the best so far, what `generate` and `evaluate` read), `checkpoint.keras` (the last
epoch's model with its optimizer state) and `train_state.json` (where training stands), from which
`python -m music_lstm train --resume --run-dir runs/latest` carries on.
"""

from __future__ import annotations

import contextlib
import signal
import threading
import time
from pathlib import Path

import keras

from ..runs import run_folder
from .distribute import any_worker
from ..models.lstm import builtin_copy


def learning_rate(optimizer) -> float:
    """The optimizer's current rate as a float (under a distribution strategy it is a mirrored variable)."""
    return float(keras.ops.convert_to_numpy(optimizer.learning_rate))


def save_best(model, path: Path) -> None:
    """The model for `generate` and `evaluate`: Keras's own layers, no optimizer state."""
    run_folder.save_model(builtin_copy(model), path)


class Checkpointer(keras.callbacks.Callback):
    """Best model, last checkpoint and training state after every epoch; plateau decay; patience.

    `best`, `wait` and `epoch` start from a resumed run's `train_state.json`."""

    def __init__(self, run: Path, monitor: str, patience: int, lr_decay: float, best=float("inf"), wait=0):
        super().__init__()
        self.run, self.monitor, self.patience, self.lr_decay = Path(run), monitor, patience, lr_decay
        self.best, self.wait, self.epochs_done = float(best), int(wait), 0

    def on_epoch_end(self, epoch, logs=None):
        value = (logs or {}).get(self.monitor)
        if value is not None and value < self.best:
            self.best, self.wait = float(value), 0
            save_best(self.model, self.run / run_folder.MODEL)
        else:
            self.wait += 1
            if self.lr_decay < 1.0:
                opt = self.model.optimizer
                opt.learning_rate = learning_rate(opt) * self.lr_decay
        self.epochs_done = epoch + 1
        run_folder.save_model(self.model, self.run / run_folder.CHECKPOINT)
        run_folder.write_state(self.run, epoch + 1, self.best, self.wait, self.monitor)
        if self.wait >= self.patience:
            self.model.stop_training = True


class HistoryWriter(keras.callbacks.Callback):
    """`history.json` (every logged metric, the learning rate and the training seconds so far, one
    record per epoch) and `history.png` (the loss curves), rewritten as training goes."""

    def __init__(self, run: Path, history: list[dict] | None = None, plot: bool = True):
        super().__init__()
        self.run, self.history, self.plot = Path(run), list(history or []), plot
        self.before = float(self.history[-1].get("seconds", 0.0)) if self.history else 0.0  # before a resume

    def on_train_begin(self, logs=None):
        self.start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        record = {"epoch": epoch + 1, **{k: float(v) for k, v in (logs or {}).items()}}
        record["learning_rate"] = learning_rate(self.model.optimizer)
        record["seconds"] = round(self.before + time.perf_counter() - self.start, 2)
        self.history.append(record)
        run_folder.write_history(self.run, self.history)
        if self.plot:
            from ..io.plotting import plot_history

            plot_history(self.history, self.run / run_folder.HISTORY_PLOT)


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


class CtrlC(keras.callbacks.Callback):
    """Ctrl-C stops training at the end of the current batch, through Keras's own `stop_training`.

    Python raises KeyboardInterrupt wherever the main thread happens to be, and inside TensorFlow that can
    be a finalizer, where the exception is printed and dropped and training carries on. So the first
    SIGINT only sets a flag that this callback turns into a clean stop; a second one interrupts at once."""

    def __init__(self):
        super().__init__()
        self.requested = False

    @contextlib.contextmanager
    def installed(self):
        if threading.current_thread() is not threading.main_thread():
            yield self  # signals go to the main thread only: leave SIGINT as it is
            return

        def handler(signum, frame):
            if self.requested:
                raise KeyboardInterrupt
            self.requested = True

        previous = signal.signal(signal.SIGINT, handler)
        try:
            yield self
        finally:
            signal.signal(signal.SIGINT, previous)

    def on_train_batch_end(self, batch, logs=None):
        if self.requested:
            self.model.stop_training = True

"""Train the LSTM on a folder of MIDI files and fill a run folder with everything generation needs.

Run folder (default `runs/latest`): `model.keras` (best by validation loss), `vocab.json`,
`config.json`, `split.json`, `data.json`, `history.json` and `history.png`, and `corpus.npz` (the
encoded pieces, so `generate` and `evaluate` never re-parse or re-derive anything); for `--resume`,
`checkpoint.keras` (last epoch, optimizer state included) and `train_state.json`. Every file is
written atomically; Ctrl-C stops cleanly and leaves the best model so far in place.

    python -m music_lstm train --data-dir bach --run-dir runs/latest --epochs 5
    python -m music_lstm train --resume --run-dir runs/latest --max-minutes 3
"""

from __future__ import annotations

import dataclasses
import os
import sys
import time
from pathlib import Path

import keras
import numpy as np

from ..core.errors import RunFolderError
from ..core.keys import key_shift
from ..core.vocab import Factors, Vocab
from ..encodings import jsb
from ..encodings.ingest import encode_folder
from ..io.corpus import load_folder
from ..models import factory
from ..runs import run_folder
from ..runs.config import Config
from . import melody_windows
from .augment import shifts
from .callbacks import Checkpointer, CtrlC, HistoryWriter, TimeBudget, learning_rate, save_best
from .dataset import key_windows, overlap_weights, split_pieces, tf_dataset
from .distribute import shard_by_data, strategy_for, writable_run_dir

RESUME_SETTINGS = ("epochs", "max_minutes", "patience")  # what --resume takes from the command line


def train(
    cfg: Config,
    data_dir: str | os.PathLike | None = "bach",
    run_dir: str | os.PathLike = "runs/latest",
    *,
    resume: bool = False,
    holdout: str | os.PathLike | None = None,
    recursive: bool = False,
    workers: int | None = None,
    use_cache: bool = True,
    cache_dir: str | os.PathLike | None = None,
    verbose: int | None = None,
    distribute: str = "none",
    callbacks: list | tuple = (),
    log=lambda msg: print(msg, file=sys.stderr),
) -> dict:
    """Train a model as `cfg` says; returns a summary (best validation loss, epochs, seconds).

    With `resume`, carry on from the run folder's last checkpoint with its saved settings (only
    `epochs`, `max_minutes` and `patience` come from `cfg`) and its own data folder and split. `holdout`: a
    run folder (or its split.json) whose training and validation pieces this run uses instead of a seeded
    split, so runs with other seeds are measured on the same held-out pieces.
    `callbacks` are extra Keras callbacks, run after the ones that save the epoch. `distribute` names
    the tf.distribute strategy (distribute.STRATEGIES); `cfg.batch_size` is per replica."""
    with writable_run_dir(run_dir, distribute) as run:  # a worker other than the chief writes to a temporary folder
        return _train(cfg, data_dir, Path(run), resume, recursive, workers, use_cache, cache_dir, verbose, distribute,
                      callbacks, log, holdout)


def _train(cfg, data_dir, run, resume, recursive, workers, use_cache, cache_dir, verbose, distribute, callbacks, log,
           holdout=None):
    if resume:
        cfg, data_dir, recursive, state = _resume_state(cfg, run, data_dir)
    given_split = None
    if holdout is not None and not resume:  # read before the folder is: a missing or bad split is said at once
        holdout = Path(holdout)
        holdout = holdout.parent if holdout.name == run_folder.SPLIT else holdout
        given_split = run_folder.read_split(holdout)
    keys = shifts(cfg.transpose_low, cfg.transpose_high)
    if cfg.jsb:  # a JSB Chorales file: its own train and valid splits, never re-split; its test split is evaluate's
        data_dir = cfg.jsb
        seqs, train_names, val_names, variants, vocab, order = _jsb_corpus(cfg, keys)
        cfg = dataclasses.replace(cfg, jsb=str(Path(cfg.jsb).resolve()), jsb_order=order)  # as config.json records it
        bpms = []
    else:
        data_dir = data_dir or "bach"
        # Symbols only, encoded as files are read: a piece's notes never reach this process. A piece needs
        # two symbols to give one (input, target) pair; shorter ones are skipped and named.
        encoding = cfg.encoder()
        corpus = encode_folder(data_dir, encoding.spec, recursive=recursive, workers=workers, cache_dir=cache_dir,
                               use_cache=use_cache, min_symbols=2, log=log)
        seqs = corpus.sequences
        train_names, val_names = split_pieces(list(seqs), cfg.val_fraction, cfg.seed)
        if given_split is not None:
            train_names, val_names = (_known(names, seqs, holdout) for names in given_split)
    if resume:
        train_names, val_names = (_known(names, seqs, run) for names in run_folder.read_split(run))
        vocab = run_folder.read_vocab(run / run_folder.VOCAB)
    key_shifts = {}
    if cfg.jsb:  # the training variants and the vocabulary came with the file
        pass
    elif len(keys) > 1 or cfg.common_key:  # moving pieces needs the notes: read them again (from the parse cache)
        pieces = load_folder(data_dir, recursive=recursive, workers=workers, cache_dir=cache_dir, use_cache=use_cache,
                             log=lambda msg: None).pieces
        if cfg.common_key:  # every piece in C major's key signature, held-out pieces too
            key_shifts = {n: key_shift(pieces[n]) for n in train_names + val_names}
            seqs = {**seqs, **{n: encoding.transpositions(pieces[n], [k])[0] for n, k in key_shifts.items()}}
        variants = [encoding.transpositions(pieces[n], [key_shifts.get(n, 0) + k for k in keys]) for n in train_names]
        del pieces
    else:
        variants = [[seqs[n]] for n in train_names]
    if not resume:
        if not cfg.jsb:
            vocab = Vocab.from_sequences(seq for keyed in variants for seq in keyed)
            bpms = [corpus.bpms[n] for n in train_names if n in corpus.bpms]
        run.mkdir(parents=True, exist_ok=True)
        for stale in run_folder.STALE:  # nothing of an old run
            (run / stale).unlink(missing_ok=True)
        run_folder.write_vocab(run / run_folder.VOCAB, vocab)
        run_folder.write_split(run, train_names, val_names,
                       source=f"the train and valid splits of {cfg.jsb}, as given" if cfg.jsb else None)
        run_folder.write_data(run, float(np.median(bpms)) if bpms else None, str(data_dir), recursive)
        run_folder.save_corpus(run / run_folder.CORPUS, vocab, seqs, train_names, val_names, key_shifts)
    run_folder.write_config(run / run_folder.CONFIG, cfg)
    log(f"{len(train_names)} training and {len(val_names)} validation pieces; vocabulary {len(vocab)}"
        + (f"; training pieces in {len(keys)} keys ({cfg.transpose_low:+d}..{cfg.transpose_high:+d} semitones)" if len(keys) > 1 else ""))

    x, y, w = key_windows([[vocab.encode(s) for s in keyed] for keyed in variants], cfg.seq_len)
    if cfg.kind == "melody_lstm":  # each window also carries its melody's frames (models/melody_context.py)
        x = (x, *melody_windows.key_windows(variants, cfg.seq_len))
    if len(keys) == 1:
        x, y, w = x[:, 0] if cfg.kind != "melody_lstm" else tuple(a[:, 0] for a in x), y[:, 0], w[:, 0]  # no key to draw
    val_seqs = [vocab.encode(seqs[n]) for n in val_names]

    # Only now: a multi-worker strategy must exist before any TensorFlow op runs, and the parser pool
    # above must not fork a process whose collective runtime has started.
    strategy = strategy_for(distribute)
    replicas = strategy.num_replicas_in_sync
    global_batch = cfg.batch_size * replicas  # each replica takes cfg.batch_size windows a step
    if distribute != "none":
        log(f"{distribute}: {replicas} replicas, {cfg.batch_size} windows each, {global_batch} a step")
    seed = cfg.seed + (state["epoch"] if resume else 0)  # a resumed run does not replay the same shuffles
    keras.utils.set_random_seed(seed)
    factors = Factors(vocab) if cfg.durations else None  # a chord softmax and a duration softmax
    train_ds = shard_by_data(tf_dataset(x, y, w, global_batch, shuffle=True, seed=seed, factors=factors))
    val_ds = None
    if val_seqs:
        vx, vy, vw = overlap_weights(val_seqs, cfg.seq_len)
        if cfg.kind == "melody_lstm":
            vx = (vx, *melody_windows.windows([seqs[n] for n in val_names], cfg.seq_len))
        val_ds = shard_by_data(tf_dataset(vx, vy, vw, global_batch, shuffle=False, seed=seed, factors=factors))

    monitor = "val_loss" if val_ds is not None else "loss"
    if resume:
        with strategy.scope():  # variables and optimizer state mirrored on every replica
            model = _load_checkpoint(run / run_folder.CHECKPOINT)
        if len(model.outputs) != (2 if factors else 1):  # a --durations run trained before it had two softmaxes
            raise RunFolderError(f"{run / run_folder.CHECKPOINT}: a network with {len(model.outputs)} softmax output(s), where these "
                                 f"settings train {2 if factors else 1}: train it again into a new run folder")
        history = [h for h in run_folder.read_history(run) if h.get("epoch", 0) <= state["epoch"]]
        checkpointer = Checkpointer(run, monitor, cfg.patience, cfg.lr_decay, state["best"], state["wait"])
        initial_epoch = state["epoch"]
        log(f"resuming after epoch {initial_epoch} (best {monitor} {state['best']:.4f}, learning rate {learning_rate(model.optimizer):.2g})")
    else:
        with strategy.scope():
            model = factory.build(cfg.kind, len(vocab), cfg, factors.sizes if factors else None)
        history, initial_epoch = [], 0
        checkpointer = Checkpointer(run, monitor, cfg.patience, cfg.lr_decay)
    writer = HistoryWriter(run, history)
    extra = list(callbacks)
    callbacks = [writer, checkpointer]  # the history records each epoch's rate before a plateau lowers it
    if cfg.max_minutes:
        callbacks.append(TimeBudget(cfg.max_minutes * 60))
    callbacks += extra
    if verbose is None:
        verbose = 1 if sys.stdout.isatty() else 2  # a progress bar on a terminal, a line per epoch in a log
    start = time.perf_counter()
    if initial_epoch >= cfg.epochs:
        log(f"already trained {initial_epoch} epochs (--epochs {cfg.epochs}): nothing to do")
    else:
        ctrl_c = CtrlC()
        try:
            with ctrl_c.installed():
                model.fit(train_ds, validation_data=val_ds, epochs=cfg.epochs, initial_epoch=initial_epoch, shuffle=False,  # tf_dataset shuffles
                          callbacks=[*callbacks, ctrl_c], verbose=verbose)
            if ctrl_c.requested:  # stopped cleanly at a batch's end: report it as an interrupt
                raise KeyboardInterrupt
        except KeyboardInterrupt:
            if (run / run_folder.MODEL).exists():
                log(f"stopped after epoch {max(initial_epoch, checkpointer.epochs_done)}: {run / run_folder.MODEL} holds the best model so far; "
                    f"carry on with: python -m music_lstm train --resume --run-dir {run}")
            else:
                log("stopped before the first epoch ended: no model saved")
            raise
    seconds = time.perf_counter() - start
    if not (run / run_folder.MODEL).exists():  # no epoch improved on nothing (e.g. a NaN loss): keep what there is
        save_best(model, run / run_folder.MODEL)
    summary = {"best_" + monitor: checkpointer.best, "epochs": len(writer.history), "train_seconds": seconds,
               "replicas": replicas}
    log(f"trained {summary['epochs']} epochs in total ({seconds:.0f} s now); best {monitor} {checkpointer.best:.4f}")
    return summary


def _jsb_corpus(cfg: Config, keys: list[int]):
    """A JSB file's train and valid splits as token sequences named `train/0`, `valid/0`, ...; the training
    ones in every key of `keys` (a shift that would leave MIDI 0..127 keeps the piece as it is); the
    vocabulary every token the order can write, so no test token is unknown."""
    data = jsb.read_jsb(cfg.jsb)
    order = jsb.order_for(data, cfg.jsb_order)
    seqs, names = {}, {}
    for split in ("train", "valid"):
        names[split] = [f"{split}/{i}" for i in range(len(data.splits[split]))]
        seqs.update((n, jsb.encode_sequence(frames, order)) for n, frames in zip(names[split], data.splits[split]))
    variants = []
    for frames in data.splits["train"]:
        moved = [jsb.transpose(frames, k) for k in keys]
        variants.append([jsb.encode_sequence(m if m is not None else frames, order) for m in moved])
    return seqs, names["train"], names["valid"], variants, Vocab(jsb.vocabulary(order)), order


def _resume_state(cfg: Config, run: Path, data_dir) -> tuple[Config, str, bool, dict]:
    """The saved config (with this run's epochs/max_minutes/patience), data folder, and training state."""
    if not (run / run_folder.STATE).is_file() or not (run / run_folder.CHECKPOINT).is_file():
        raise RunFolderError(f"{run}: no checkpoint to resume from ({run_folder.CHECKPOINT} and {run_folder.STATE} are written after each epoch)")
    saved = run_folder.read_config(run / run_folder.CONFIG)
    cfg = dataclasses.replace(saved, **{k: getattr(cfg, k) for k in RESUME_SETTINGS})
    state = run_folder.read_state(run)
    if not (run / run_folder.DATA).is_file():
        raise RunFolderError(f"{run / run_folder.DATA}: missing")
    data = run_folder.read_data(run)
    return cfg, data_dir or data["data_dir"] or "bach", data["recursive"], state


def _known(names: list[str], seqs: dict, run: Path) -> list[str]:
    missing = [n for n in names if n not in seqs]
    if missing:
        raise RunFolderError(f"{run / run_folder.SPLIT}: {len(missing)} pieces of this run are no longer in the data folder (first: {missing[0]})")
    return names


def _load_checkpoint(path: Path):
    return run_folder.load_model(path, compile=True)  # compiled, with the optimizer's moments and step count

"""Training the `fill_lstm` network (`models.fill`): pieces as cells (`encodings.cells`), random
windows of `crop` sixteenths, and in each a mask drawn as the sampler will ask (`draw_mask`): the
soprano given and some of the other voices' cells; some whole voices given; a passage of bars and
voices to rewrite; or any cells. The loss counts the masked cells only. The best network by the
validation loss (a fixed set of masks on pieces kept out of training) is kept.

    python -m music_lstm train-fill --holdout music_lstm/shipped/harmonize/split.json --run-dir runs/fill
"""

from __future__ import annotations

import json
import pickle
import sys
import time
from pathlib import Path

import numpy as np

from ..core.errors import MelodyError
from ..core.files import atomic_path
from ..encodings import cells
from ..models.fill import build_fill_model, compile_fill_model, voice_rows
from ..runs import fill_run
from ..runs.run_folder import HISTORY, MODEL, SPLIT, save_model, write_json

VALIDATION_PIECES = 24  # training pieces set aside for the validation loss
TRANSPOSED_SHARE = 0.5  # with `transpose`, the share of windows moved out of the common key


SPARSE_RATES = (0.02, 0.2)  # a sparse mask's share of the cells it may write


def draw_mask(rng: np.random.Generator, T: int, bar: int, sparse: float = 0.0) -> np.ndarray:
    """(4, T) bool, True where a cell is to be written, of one of the shapes the sampler asks for. With
    probability `sparse`, only a few of those cells (`SPARSE_RATES`): the sampler's last rounds, where a
    note is redrawn knowing the notes either side of it."""
    thin = sparse > 0 and rng.random() < sparse
    r = rng.random()
    rate = 1.0 if rng.random() < 0.3 else rng.uniform(0.05, 1.0)
    if thin:
        rate = rng.uniform(*SPARSE_RATES)
    mask = np.zeros((4, T), bool)
    if r < 0.35:  # a melody given: the other voices, some of their cells already written
        mask[1:] = rng.random((3, T)) < rate
    elif r < 0.55:  # some whole voices given
        given = rng.random(4) < 0.5
        if given.all() or not given.any():
            given[rng.integers(4)] = not given.all()
        mask[~given] = rng.random((int((~given).sum()), T)) < rate
    elif r < 0.8:  # a passage of one to three bars, some voices
        length = min(T, int(rng.integers(1, 4)) * bar)
        start = int(rng.integers(0, max(1, T - length + 1)))
        voices = rng.random(4) < 0.5
        if not voices.any():
            voices[rng.integers(4)] = True
        if not thin:
            rate = 1.0 if rng.random() < 0.6 else rng.uniform(0.3, 1.0)
        mask[voices, start:start + length] = rng.random((int(voices.sum()), length)) < rate
    else:  # any cells
        mask = rng.random((4, T)) < rate
    if not mask.any():
        mask[rng.integers(4), rng.integers(T)] = True
    return mask


def transposed(tokens: np.ndarray, rng: np.random.Generator, most: int) -> np.ndarray:
    """`tokens` (4, T) moved by a random number of semitones, 1..`most` up or down, among those that keep
    every pitch inside the cells' range (the tokens unchanged when none does). The network reads no key, as
    DeepBach's reads none: moved windows teach it the same voice leading at other pitches, and a piece to
    write is always in the common key, whose windows are the other half of its training."""
    struck = tokens[tokens >= 3]
    if not len(struck) or most < 1:
        return tokens
    lo, hi = cells.pitch_token(cells.LOW) - int(struck.min()), cells.pitch_token(cells.HIGH) - int(struck.max())
    choices = [k for k in range(max(-most, lo), min(most, hi) + 1) if k]
    if not choices:
        return tokens
    k = int(choices[rng.integers(len(choices))])
    return np.where(tokens >= 3, tokens + k, tokens).astype(tokens.dtype)


def batch(pieces: list[cells.Cells], rng: np.random.Generator, size: int, crop: int, transpose: int = 0,
          sparse: float = 0.0):
    """Inputs, targets and weights for `size` random windows of `crop` sixteenths (shorter pieces padded
    with rests and zero weight); with `transpose`, `TRANSPOSED_SHARE` of the windows moved (`transposed`)."""
    tok = np.full((size, crop, 4), cells.REST, np.int32)
    feat = np.zeros((size, crop, cells.FEATURES), np.float32)
    weight = np.zeros((size, crop, 4), np.float32)
    for i in range(size):
        p = pieces[rng.integers(len(pieces))]
        T = p.steps
        start = int(rng.integers(0, max(1, (T - crop) // cells.STEPS + 1))) * cells.STEPS if T > crop else 0
        n = min(crop, T - start)
        window = p.tokens[:, start:start + n]
        if transpose and rng.random() < TRANSPOSED_SHARE:
            window = transposed(window, rng, transpose)
        tok[i, :n] = window.T
        feat[i, :n] = p.features[start:start + n]
        mask = draw_mask(rng, n, int(round(p.score.bar_length * cells.STEPS)), sparse)
        weight[i, :n] = mask.T
    target = tok.copy()
    inputs = np.where(weight > 0, cells.MASK, tok)
    return [voice_rows(inputs), feat], target, weight


def load_scores(names: list[str], cache: Path | None, log=print) -> dict:
    """name -> Score4 for music21's corpus chorales named (those it cannot read are said and skipped),
    kept in `cache` (a pickle) once read."""
    from ..io.chorale_scores import corpus_score

    have = {}
    if cache is not None and cache.exists():
        try:
            have = pickle.loads(cache.read_bytes())
        except Exception:  # a stale or damaged cache is read again
            have = {}
    missing = [n for n in names if n not in have]
    for k, n in enumerate(missing):
        try:
            have[n] = corpus_score(n)
        except MelodyError as e:
            log(f"skipped {n}: {e.reason}")
            have[n] = None
        except Exception as e:  # a corpus file music21 cannot read
            log(f"skipped {n}: {type(e).__name__}: {str(e)[:80]}")
            have[n] = None
        if k % 50 == 49:
            log(f"read {k + 1} of {len(missing)} chorales")
    if missing and cache is not None:
        cache.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(cache) as tmp:
            Path(tmp).write_bytes(pickle.dumps(have))
    return {n: have[n] for n in names if have.get(n) is not None}


def encode_all(scores: dict, log=print) -> dict[str, cells.Cells]:
    out = {}
    for n, s in scores.items():
        try:
            out[n] = cells.encode(s, snap=True)
        except MelodyError as e:
            log(f"skipped {n}: {e.reason}")
    return out


def train_fill(run_dir, train_scores: dict, held_out: list[str], cfg: fill_run.FillConfig,
               log=lambda m: print(m, file=sys.stderr), init=None) -> Path:
    """Train on `train_scores` (name -> Score4), write the run folder; `held_out` names are recorded in
    split.json as the pieces kept out. `init`: a fill_lstm run folder whose network (and optimizer
    state) training starts from, at `cfg`'s learning rate."""
    from ..core.quiet import quiet_tensorflow

    tf = quiet_tensorflow()
    import keras

    run = Path(run_dir)
    run.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(cfg.seed)
    keras.utils.set_random_seed(cfg.seed)
    encoded = encode_all(train_scores, log)
    names = sorted(encoded)
    order = rng.permutation(len(names))
    n_val = min(VALIDATION_PIECES, max(1, len(names) // 10)) if len(names) > 1 else 0
    val_names = [names[i] for i in order[:n_val]]
    train_names = [names[i] for i in order[n_val:]] or val_names
    train = [encoded[n] for n in train_names]
    val = [encoded[n] for n in val_names] or train
    # the validation masks are drawn as the training masks are (sparse ones among them), once
    vx, vy, vw = batch(val, np.random.default_rng(12345), max(64, cfg.batch_size), cfg.crop, sparse=cfg.sparse)
    fill_run.write_fill_config(run, cfg)
    write_json(run / SPLIT, {"train": train_names, "validation_loss": val_names, "validation": list(held_out)})
    if init is not None:
        from ..runs.run_folder import load_model

        model = load_model(Path(init) / MODEL, compile=True)
        if getattr(model, "optimizer", None) is None:  # a shipped network, saved without its optimizer
            compile_fill_model(model, cfg.sizes.learning_rate)
        else:
            model.optimizer.learning_rate.assign(cfg.sizes.learning_rate)
        for layer in model.layers:  # the dropout asked for, not the first training's
            if isinstance(layer, keras.layers.Dropout):
                layer.rate = cfg.sizes.dropout
    else:
        model = build_fill_model(cfg.sizes)
    steps = max(1, sum(p.steps for p in train) // (cfg.crop * cfg.batch_size))
    best, wait, history = float("inf"), 0, []
    start = time.time()
    for epoch in range(1, cfg.epochs + 1):
        losses = []
        # Keras averages over every cell of a window, masked or not; both figures are per masked cell, the
        # cells the network learns from, which is what compares between runs and between the two
        for _ in range(steps):
            x, y, w = batch(train, rng, cfg.batch_size, cfg.crop, cfg.transpose, cfg.sparse)
            losses.append(float(model.train_on_batch(x, y, sample_weight=w)) * w.size / max(float(w.sum()), 1.0))
        v = float(model.evaluate(vx, vy, sample_weight=vw, verbose=0, batch_size=64))
        scale = float(vw.size / max(float(vw.sum()), 1.0))
        history.append({"epoch": epoch, "loss": float(np.mean(losses)), "val_loss": v * scale,
                        "minutes": (time.time() - start) / 60})
        better = v < best - 1e-4
        log(f"epoch {epoch}: training {np.mean(losses):.4f}, validation {v * scale:.4f} nats per masked cell"
            + (" (best)" if better else ""))
        if better:
            best, wait = v, 0
            save_model(model, run / MODEL)
        else:
            wait += 1
        write_json(run / HISTORY, history)
        if wait >= cfg.patience or (cfg.max_minutes and time.time() - start > cfg.max_minutes * 60):
            break
    return run


def run_training(holdout, run_dir, minutes: float = 30.0, units: int = 160, seed: int = 0, limit: int | None = None,
                 cache=None, log=lambda m: print(m, file=sys.stderr), init=None, learning_rate: float | None = None,
                 transpose: int = 0, sparse: float = 0.0, dropout: float | None = None) -> Path:
    """`python -m music_lstm train-fill`: train on music21's chorales, the pieces of the split.json
    `holdout`'s "validation" list kept out (recorded in the run's split.json)."""
    from ..core.errors import ConfigError
    from ..io.chorale_scores import corpus_names
    from ..models.fill import FillSizes

    try:
        split = json.loads(Path(holdout).read_text())
        held = {Path(n).stem for n in split["validation"]}
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise ConfigError(f"{holdout}: not a split file with a validation list ({type(e).__name__})") from None
    if minutes <= 0 or units < 1 or (limit is not None and limit < 1):
        raise ConfigError("invalid setting: --minutes, --units and --limit must be positive")
    if dropout is not None and not 0 <= dropout < 1:
        raise ConfigError(f"invalid setting: --dropout {dropout} (0 to below 1)")
    if not 0 <= sparse <= 1:
        raise ConfigError(f"invalid setting: --sparse {sparse} (a share, 0 to 1)")
    if not 0 <= transpose <= 11:
        raise ConfigError(f"invalid setting: --transpose {transpose} (0 to 11 semitones)")
    names = [n for n in corpus_names() if n not in held][:limit]
    import os

    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    cache = Path(cache) if cache else base / "music_lstm" / "chorale_scores.pkl"
    scores = load_scores(names, cache, log=log)
    sizes = FillSizes(units=units, **({} if learning_rate is None else {"learning_rate": learning_rate}),
                      **({} if dropout is None else {"dropout": dropout}))
    cfg = fill_run.FillConfig(sizes=sizes, max_minutes=minutes, seed=seed, transpose=transpose, sparse=sparse,
                              source="music21 corpus (MusicXML, fermatas as written)"
                              + (f", continued from {init}" if init else ""))
    return train_fill(run_dir, scores, sorted(held), cfg, log=log, init=init)

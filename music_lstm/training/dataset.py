"""From encoded pieces to training windows, and the tf.data pipeline that feeds them.

Windows are cut within pieces (never across two), `seq_len + 1` ids long, overlapping by half; the
network is trained to predict the next id at every step. A piece shorter than a window is padded and
its padding weighted 0, as is every `<unk>` target. With transposition, each window holds its ids in
every key, (n_windows, n_keys, seq_len), and the pipeline draws one key per window afresh each epoch.

    python -c "from music_lstm.training.dataset import windows; import numpy as np; print(windows([np.arange(1, 8)], 4)[0])"
"""

from __future__ import annotations

import numpy as np


def split_pieces(names: list[str], val_fraction: float, seed: int) -> tuple[list[str], list[str]]:
    """Split by piece: a seeded shuffle, the last `val_fraction` (at least one, if 2+ pieces) held out."""
    order = sorted(names)
    np.random.default_rng(seed).shuffle(order)
    n_val = 0 if len(order) < 2 or val_fraction == 0 else min(len(order) - 1, max(1, round(val_fraction * len(order))))
    return sorted(order[: len(order) - n_val]), sorted(order[len(order) - n_val :])


def windows(seqs: list[np.ndarray], seq_len: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(inputs, targets, weights), each (n_windows, seq_len): every position of every piece is a target."""
    xs, ys, ws = [], [], []
    for seq in seqs:
        if len(seq) < 2:
            continue
        for s in _starts(len(seq), seq_len):
            chunk = seq[s : s + seq_len + 1]
            x = np.zeros(seq_len, np.int32)
            y = np.zeros(seq_len, np.int32)
            x[: len(chunk) - 1] = chunk[:-1]
            y[: len(chunk) - 1] = chunk[1:]
            xs.append(x)
            ys.append(y)
            ws.append((y != 0).astype(np.float32))  # padding and <unk> targets count for nothing
    if not xs:
        empty = np.zeros((0, seq_len), np.int32)
        return empty, empty, empty.astype(np.float32)
    return np.stack(xs), np.stack(ys), np.stack(ws)


def overlap_weights(seqs: list[np.ndarray], seq_len: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Like `windows`, but each target position counted once (for validation): later windows weight
    only the positions an earlier window of the same piece did not cover."""
    x, y, w = [], [], []
    for seq in seqs:
        if len(seq) < 2:
            continue
        sx, sy, sw = windows([seq], seq_len)
        covered = 0
        starts = _starts(len(seq), seq_len)
        for i, s in enumerate(starts):
            lo = max(0, covered - s)
            sw[i, :lo] = 0.0
            covered = max(covered, s + seq_len)
        x.append(sx), y.append(sy), w.append(sw)
    if not x:
        return windows([], seq_len)
    return np.concatenate(x), np.concatenate(y), np.concatenate(w)


def _starts(n: int, seq_len: int) -> list[int]:
    """Window starts: every half window, plus one ending at the piece's end so it is always covered."""
    stride = max(1, seq_len // 2)
    starts = list(range(0, max(1, n - seq_len), stride))
    if n > seq_len + 1 and starts[-1] != n - seq_len - 1:
        starts.append(n - seq_len - 1)
    return starts


def key_windows(variants: list[list[np.ndarray]], seq_len: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """`windows` for pieces given in several keys: variants[piece][key] are equally long id arrays.
    Returns (inputs, targets, weights), each (n_windows, n_keys, seq_len), window i the same stretch
    of the same piece in every key."""
    n_keys = len(variants[0]) if variants else 1
    parts = [windows([v[k] for v in variants], seq_len) for k in range(n_keys)]
    return tuple(np.stack([p[j] for p in parts], axis=1) for j in range(3))


def tf_dataset(x: np.ndarray, y: np.ndarray, w: np.ndarray, batch_size: int, shuffle: bool, seed: int, factors=None):
    """Batches of (inputs, targets, weights); `x` an array, or a tuple of them for a network of several
    inputs. Given (n, n_keys, steps) arrays, each window comes in one
    key drawn at random, a new draw every epoch: transposition multiplies the data, not the epoch.
    With `factors` (vocab.Factors) the targets are split into the two parts' ids, one per softmax."""
    import tensorflow as tf

    first_x = x[0] if isinstance(x, tuple) else x  # a tuple of inputs: the symbols first (melody_context)
    ds = tf.data.Dataset.from_tensor_slices((x, y, w))
    if shuffle:
        ds = ds.shuffle(len(first_x), seed=seed, reshuffle_each_iteration=True)
    if first_x.ndim == 3:
        n_keys = first_x.shape[1]
        # A seeded random stream that is drawn anew on each pass (a tf.random op in `map` would
        # repeat the same keys every epoch).
        keys = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True).map(lambda r: r % n_keys)
        ds = tf.data.Dataset.zip((ds, keys)).map(
            lambda xyw, k: tf.nest.map_structure(lambda a: tf.gather(a, k), xyw), num_parallel_calls=tf.data.AUTOTUNE
        )
    if factors is not None:
        first, second = tf.constant(factors.first_of), tf.constant(factors.second_of)
        ds = ds.map(lambda x, y, w: (x, (tf.gather(first, y), tf.gather(second, y)), (w, w)))
    return ds.batch(batch_size).prefetch(tf.data.AUTOTUNE)

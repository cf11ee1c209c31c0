"""Seed symbols with durations: one combined symbol per event, or a chord softmax and a duration softmax?

`--durations` gives the seed encoding real durations. Two ways to predict them are measured here on
the same data, split and time budget:
  (a) combined: one symbol per event, `0.4.7|1/2` (what `--durations` does), one softmax over them;
  (b) two heads: the same network body, then one softmax over chords (`0.4.7`, `rest`) and a second
      over durations (`1/2`); an event's probability is the product of the two.
Both read the combined symbol's id as input, train with the default settings (2 x 128 LSTM, dropout
0.5, windows of 64, batch 16, Adam 3e-3) for `--minutes`, keep the weights of their best validation
epoch, and are scored exactly on the held-out pieces run whole: cross-entropy per event in nats (for
(b) the chord's plus the duration's), on the events both can score, and the share of held-out events
each cannot score because its vocabulary lacks them.

    python experiments/durations_head.py --minutes 4
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the package, from a checkout
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def load(data_dir: str, cfg):
    """Per split, the combined, chord and duration id sequences, and the three vocabularies."""
    from music_lstm.io.corpus import load_folder
    from music_lstm.training.dataset import split_pieces
    from music_lstm.encodings import get
    from music_lstm.core.vocab import Vocab

    corpus = load_folder(data_dir, log=lambda m: None)
    seqs = {n: get("chords", durations=True).encode(p) for n, p in corpus.pieces.items()}
    seqs = {n: s for n, s in seqs.items() if len(s) >= 2}
    train_names, val_names = split_pieces(list(seqs), cfg.val_fraction, cfg.seed)
    parts = {
        "combined": lambda s: s,
        "chord": lambda s: [t.split("|")[0] for t in s],
        "duration": lambda s: [t.split("|")[1] for t in s],
    }
    vocabs = {k: Vocab.from_sequences(f(seqs[n]) for n in train_names) for k, f in parts.items()}
    ids = {split: {k: [vocabs[k].encode(f(seqs[n])) for n in names] for k, f in parts.items()}
           for split, names in (("train", train_names), ("val", val_names))}
    return vocabs, ids


def fit(model, x, ys, ws, val, cfg, minutes: float) -> dict:
    """Train with the default batch, early stopping and a wall-clock budget; keep the best weights."""
    import keras

    from music_lstm.training.callbacks import TimeBudget

    stop = keras.callbacks.EarlyStopping(patience=cfg.patience, restore_best_weights=True)
    start = time.perf_counter()
    one = len(ys) == 1
    hist = model.fit(x, ys[0] if one else tuple(ys), sample_weight=ws[0] if one else tuple(ws),
                     validation_data=(val[0], val[1][0] if one else tuple(val[1]), val[2][0] if one else tuple(val[2])),
                     batch_size=cfg.batch_size, epochs=cfg.epochs, shuffle=True, verbose=0,
                     callbacks=[stop, TimeBudget(60 * minutes)])
    return {"epochs": len(hist.history["loss"]), "seconds": time.perf_counter() - start,
            "best_val_loss": min(hist.history["val_loss"])}


def windows_for(ids: dict, keys: list[str], seq_len: int):
    """Windows of the combined ids as input; one (targets, weights) pair per key."""
    from music_lstm.training.dataset import windows

    x, _, _ = windows(ids["combined"], seq_len)
    ys, ws = [], []
    for k in keys:
        _, y, w = windows(ids[k], seq_len)  # same lengths, so the same windows
        ys.append(y)
        ws.append(w)
    return x, ys, ws


def held_out_nll(probs_by_key: list[np.ndarray], targets_by_key: list[np.ndarray]) -> np.ndarray:
    """-log p of each event: the sum over heads of -log p(target)."""
    nll = np.zeros(len(targets_by_key[0]))
    for probs, targets in zip(probs_by_key, targets_by_key):
        p = np.asarray(probs, np.float64)[np.arange(len(targets)), targets]
        nll -= np.log(np.maximum(p, 1e-300))
    return nll


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir", default="bach")
    ap.add_argument("--minutes", type=float, default=4.0, help="training budget per network (default: 4)")
    args = ap.parse_args()
    from music_lstm.core.quiet import quiet_tensorflow

    quiet_tensorflow()  # TensorFlow's C++ start-up lines are not the output

    import keras

    from music_lstm.runs.config import Config
    from music_lstm.models.model import build_model

    cfg = Config(encoding="seed", durations=True)
    vocabs, ids = load(args.data_dir, cfg)
    sizes = {k: len(v) for k, v in vocabs.items()}
    print(f"data: {args.data_dir}, {len(ids['train']['combined'])} training / {len(ids['val']['combined'])} held-out "
          f"pieces; vocabularies: combined {sizes['combined']}, chords {sizes['chord']}, durations {sizes['duration']}; "
          f"load {os.getloadavg()[0]:.1f}")

    results = {}
    for name, keys in (("combined", ["combined"]), ("two heads", ["chord", "duration"])):
        keras.utils.set_random_seed(cfg.seed)
        # (b) is what `train --encoding seed --durations` builds; its part vocabularies are vocab.Factors'
        model = build_model(sizes["combined"], cfg, None if name == "combined" else (sizes["chord"], sizes["duration"]))
        train = windows_for(ids["train"], keys, cfg.seq_len)
        val = windows_for(ids["val"], keys, cfg.seq_len)
        info = fit(model, *train, val, cfg, args.minutes)
        # score every held-out piece whole from a fresh state
        nll, known = [], []
        for r in range(len(ids["val"]["combined"])):
            seq = {k: ids["val"][k][r] for k in ("combined", "chord", "duration")}
            if len(seq["combined"]) < 2:
                continue
            out = model(seq["combined"][None, :-1], training=False)
            probs = [np.asarray(out)[0]] if name == "combined" else [np.asarray(o)[0] for o in out]
            targets = [seq[k][1:] for k in keys]
            nll.append(held_out_nll(probs, targets))
            known.append({k: seq[k][1:] != 0 for k in ("combined", "chord", "duration")})
        results[name] = {**info, "nll": np.concatenate(nll),
                         "known": {k: np.concatenate([kn[k] for kn in known]) for k in ("combined", "chord", "duration")}}
        print(f"  {name}: {info['epochs']} epochs in {info['seconds']:.0f} s, best validation loss {info['best_val_loss']:.4f}",
              file=sys.stderr)

    known = results["combined"]["known"]
    both = known["combined"]  # a combined symbol seen in training has a known chord and duration too
    factor_known = known["chord"] & known["duration"]
    events = len(both)
    print(f"\nheld-out: {events} events; unknown to the combined vocabulary {1 - both.mean():.2%}, "
          f"to the chord or duration vocabulary {1 - factor_known.mean():.2%} (load {os.getloadavg()[0]:.1f})")
    print(f"{'network':<10} {'epochs':>6} {'train s':>8} {'nats/event':>11} {'perplexity':>10} {'events scored':>14}")
    for name, r in results.items():
        scored = both if name == "combined" else factor_known
        ce = float(r["nll"][both].mean())  # the events both can score
        print(f"{name:<10} {r['epochs']:>6} {r['seconds']:>8.0f} {ce:>11.4f} {math.exp(ce):>10.2f} {scored.mean():>13.1%}")
    ce_all = float(results["two heads"]["nll"][factor_known].mean())
    print(f"two heads, on every event it can score: {ce_all:.4f} nats/event")
    return 0


if __name__ == "__main__":
    sys.exit(main())

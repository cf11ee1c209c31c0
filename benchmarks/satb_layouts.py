"""Train the seed-family network on the `satb` encoding of Bach's four voices and measure it: held-out
bits per quarter note, and parallel perfect fifths/octaves/unisons per 100 transitions in generated
pieces (guard off and on, at several temperatures), against the held-out chorales' own figures.

The four voices are read from `--data-dir` (default bach/) by the package's reader (`corpus.load_folder`,
`midi_io`'s part-selection rule: `Piece.voices`); files without four voices are left out. Pieces are split
as `dataset.split_pieces` does (10% held out, seed 0); training pieces are seen in every key of
`--transpose` (one drawn per window per epoch), with windows, tf.data and the network as `train`.

    python benchmarks/satb_layouts.py --order SATB --minutes 5 --save /tmp/satb/m.keras
    python benchmarks/satb_layouts.py --load /tmp/satb/m.keras --temperatures 0.5 0.75 1
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

from music_lstm.runs.config import Config  # noqa: E402
from music_lstm.training.dataset import key_windows, overlap_weights, split_pieces, tf_dataset  # noqa: E402
from music_lstm.core.lines import monophonic  # noqa: E402
from music_lstm.encodings.satb import Grammar, decode_satb, encode_satb, rhythm_mask  # noqa: E402
from music_lstm.core.sampling import Sampling  # noqa: E402
from music_lstm.core.vocab import Vocab  # noqa: E402

PERFECT = (0, 7)


def parallels(voices) -> tuple[int, int]:
    """(parallels, transitions): a transition is a pair of consecutive onsets (of any voice) where all
    four voices sound and some voice moves; a parallel is a pair of voices moving the same way from a
    perfect interval class (0 or 7 semitones mod 12) into the same one."""
    lines = [monophonic(v, on_grid=True) for v in voices]
    onsets = sorted({o for line in lines for o, _, _ in line})
    at = [tuple(next((p for o, d, p in line if o <= t < o + d - 1e-9), -1) for line in lines) for t in onsets]
    count = transitions = 0
    for before, after in zip(at, at[1:]):
        if -1 in before or -1 in after or before == after:
            continue
        transitions += 1
        for u in range(4):
            for v in range(u + 1, 4):
                mu, mv = after[u] - before[u], after[v] - before[v]
                if mu and mv and (mu > 0) == (mv > 0):
                    first, second = abs(before[u] - before[v]) % 12, abs(after[u] - after[v]) % 12
                    count += first in PERFECT and first == second
    return count, transitions


def per_100(voices) -> float:
    count, transitions = parallels(voices)
    return 100.0 * count / transitions if transitions else 0.0


EXCERPT = 48  # onsets per excerpt for the classifier


def onset_pitches(voices) -> np.ndarray:
    """(onsets, 4): the pitch each voice sounds at each onset of any voice (-1 silent), and whether it strikes."""
    lines = [monophonic(v, on_grid=True) for v in voices]
    onsets = sorted({o for line in lines for o, _, _ in line})
    pitch = np.full((len(onsets), 4), -1)
    struck = np.zeros((len(onsets), 4), bool)
    for k, line in enumerate(lines):
        for o, d, p in line:
            i0, i1 = np.searchsorted(onsets, [o - 1e-9, o + d - 1e-9])
            pitch[i0:i1, k] = p
            struck[i0, k] = True
    return pitch, struck, np.diff(onsets + [onsets[-1] + 1]) if onsets else np.zeros(0)


def features(voices) -> list[np.ndarray]:
    """Simple musical features of each EXCERPT-onset stretch of a piece: per voice its register, motion and
    activity; per voice pair the interval classes at onsets and crossings; the spacing of onsets; parallels."""
    pitch, struck, gaps = onset_pitches(voices)
    out = []
    for a in range(0, len(pitch) - EXCERPT + 1, EXCERPT):
        p, s, g = pitch[a:a + EXCERPT], struck[a:a + EXCERPT], gaps[a:a + EXCERPT]
        f = []
        full = (p >= 0).all(axis=1)
        for k in range(4):
            line = p[:, k][p[:, k] >= 0]
            steps = np.abs(np.diff(line))
            steps = steps[steps > 0]
            f += [line.mean() if len(line) else 0, line.std() if len(line) else 0, s[:, k].mean(),
                  steps.mean() if len(steps) else 0, (steps > 4).mean() if len(steps) else 0]
        pf = p[full]
        for u, v in ((0, 3), (0, 1), (1, 2), (2, 3)):
            iv = (pf[:, u] - pf[:, v]) if len(pf) else np.zeros(1)
            f += [np.mean(iv), np.mean(iv < 0)] + list(np.bincount(np.abs(iv) % 12, minlength=12) / max(len(iv), 1))
        f += list(np.histogram(g, bins=[0, 0.3, 0.6, 1.1, 1.6, 2.1, 99])[0] / len(g))
        lines = [[(float(i), 1.0, int(x)) for i, x in enumerate(p[:, k]) if x >= 0] for k in range(4)]
        count, transitions = parallels(lines)
        f += [count / max(transitions, 1), full.mean()]
        out.append(np.array(f, float))
    return out


def two_sample_accuracy(a_pieces, b_pieces, folds=5, seed=0) -> float:
    """Cross-validated balanced accuracy of a logistic regression telling excerpts of `a` from `b`,
    folds grouped by piece (0.5 = cannot tell them apart)."""
    xs, ys, gs = [], [], []
    for label, pieces in ((0, a_pieces), (1, b_pieces)):
        for i, pc in enumerate(pieces):
            for f in features(pc):
                xs.append(f), ys.append(label), gs.append((label, i))
    x, y = np.array(xs), np.array(ys)
    rng = np.random.default_rng(seed)
    groups = sorted(set(gs))
    fold_of = dict(zip(groups, rng.permutation(len(groups)) % folds))
    fold = np.array([fold_of[g] for g in gs])
    hits = np.zeros(2)
    counts = np.zeros(2)
    for k in range(folds):
        tr, te = fold != k, fold == k
        if not te.any() or len(set(y[tr])) < 2:
            continue
        mu, sd = x[tr].mean(0), x[tr].std(0) + 1e-6
        xt, xe = (x[tr] - mu) / sd, (x[te] - mu) / sd
        weight = np.where(y[tr] == 1, 0.5 / y[tr].mean(), 0.5 / (1 - y[tr].mean()))
        w, b = np.zeros(x.shape[1]), 0.0
        for _ in range(500):  # L2-regularised logistic regression, gradient descent
            z = 1 / (1 + np.exp(-(xt @ w + b)))
            grad = (z - y[tr]) * weight
            w -= 0.1 * (xt.T @ grad / len(xt) + 0.01 * w)
            b -= 0.1 * grad.mean()
        pred = (xe @ w + b) > 0
        for label in (0, 1):
            hits[label] += (pred[y[te] == label] == label).sum()
            counts[label] += (y[te] == label).sum()
    return float(np.mean(hits / np.maximum(counts, 1)))


def transpose(voices, s):
    return tuple([(o, d, p + s) for o, d, p in v] for v in voices)


def held_out_bits(model, val_ids, val_quarters, seq_len) -> float:
    x, y, w = overlap_weights(val_ids, seq_len)
    probs = model.predict(x, batch_size=64, verbose=0)  # (windows, steps, vocab)
    p = np.take_along_axis(probs, y[..., None].astype(np.int64), axis=-1)[..., 0]
    return float(-(np.log(np.maximum(p, 1e-12)) * w).sum()) / math.log(2) / val_quarters


def train(vocab_size, cfg, x, y, w, vx, vy, vw, minutes, log):
    import keras

    from music_lstm.models.model import build_model

    keras.utils.set_random_seed(cfg.seed)
    model = build_model(vocab_size, cfg)
    train_ds = tf_dataset(x, y, w, cfg.batch_size, shuffle=True, seed=cfg.seed)
    val_ds = tf_dataset(vx, vy, vw, cfg.batch_size, shuffle=False, seed=cfg.seed)
    best = {"loss": float("inf"), "weights": None}
    start = time.perf_counter()

    class Budget(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.epoch_start = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            if logs["val_loss"] < best["loss"]:
                best["loss"], best["weights"] = logs["val_loss"], self.model.get_weights()
            now = time.perf_counter()
            log(f"epoch {epoch + 1}: loss {logs['loss']:.4f} val_loss {logs['val_loss']:.4f} ({now - start:.0f} s)")
            if now - start + (now - self.epoch_start) > minutes * 60:
                self.model.stop_training = True

    model.fit(train_ds, validation_data=val_ds, epochs=200, callbacks=[Budget()], verbose=0)
    model.set_weights(best["weights"])
    return model, time.perf_counter() - start



def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir", default="bach", help="folder of four-part MIDI files (default: bach)")
    ap.add_argument("--order", default="SATB")
    ap.add_argument("--minutes", type=float, default=5.0)
    ap.add_argument("--transpose", type=int, nargs=2, default=(-5, 6))
    ap.add_argument("--seq-len", type=int, default=64)
    ap.add_argument("--units", type=int, default=128)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--dropout", type=float, default=0.5)
    ap.add_argument("--save", help="save the trained model here (.keras)")
    ap.add_argument("--load", help="skip training: load this model (.keras) saved by --save")
    ap.add_argument("--temperatures", type=float, nargs="+", default=(0.5, 0.75, 1.0))
    ap.add_argument("--rhythm-temperature", type=float, default=None, help="default: the same as the temperature")
    ap.add_argument("--no-crossing", action="store_true", help="sample with the no-crossing rule")
    ap.add_argument("--no-clash", action="store_true", help="sample with no 2nd/7th between voices struck together")
    ap.add_argument("--ranges", action="store_true", help="sample within each voice's Bach range (1st-99th pct)")
    ap.add_argument("--pieces", type=int, default=20)
    ap.add_argument("--length", type=int, default=500, help="symbols per generated piece")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--out", help="write the generated voices (JSON) to this folder")
    args = ap.parse_args()
    log = lambda msg: print(msg, file=sys.stderr, flush=True)  # noqa: E731

    from music_lstm.io.corpus import load_folder

    corpus = load_folder(args.data_dir, log=log)
    chorales = {name: piece.voices for name, piece in corpus.pieces.items() if piece.voices is not None}
    log(f"{args.data_dir}: {len(chorales)} pieces with four voices, {len(corpus.pieces) - len(chorales)} without")
    train_names, val_names = split_pieces(list(chorales), 0.1, 0)
    bach = np.array([per_100(chorales[n]) for n in val_names])
    bach_all = np.array([per_100(v) for v in chorales.values()])
    pct = lambda a: ", ".join(f"p{q} {np.percentile(a, q):.2f}" for q in (50, 75, 90))  # noqa: E731
    log(f"{len(train_names)} training, {len(val_names)} held-out chorales; parallels per 100 transitions: "
        f"held-out {pct(bach)}; all {pct(bach_all)}")
    p90 = float(np.percentile(bach_all, 90))
    bach_bach = two_sample_accuracy([chorales[n] for n in val_names], [chorales[n] for n in train_names[:36]])
    log(f"classifier, Bach against Bach: {bach_bach:.2f}")

    keys = [0] + [s for s in range(args.transpose[0], args.transpose[1] + 1) if s != 0]
    variants = [[encode_satb(transpose(chorales[n], s), args.order) for s in keys] for n in train_names]
    val_symbols = [encode_satb(chorales[n], args.order) for n in val_names]
    vocab = Vocab.from_sequences(seq for keyed in variants for seq in keyed)
    val_ids = [vocab.encode(s) for s in val_symbols]
    val_quarters = sum(decode_satb(s, order=args.order).end for s in val_symbols)
    tokens_per_quarter = sum(len(s) for s in val_symbols) / val_quarters
    log(f"vocabulary {len(vocab)}; {tokens_per_quarter:.2f} symbols per quarter note; "
        f"{sum(1 for s in val_symbols for t in s if t not in vocab)} held-out symbols unknown")
    cfg = Config(seq_len=args.seq_len, units=args.units, batch_size=args.batch_size, dropout=args.dropout)

    import keras

    if args.load:
        model = keras.saving.load_model(args.load, compile=False)
        seconds = 0.0
    else:
        x, y, w = key_windows([[vocab.encode(s) for s in keyed] for keyed in variants], cfg.seq_len)
        vx, vy, vw = overlap_weights(val_ids, cfg.seq_len)
        log(f"{len(x)} windows of {cfg.seq_len} in {len(keys)} keys")
        model, seconds = train(len(vocab), cfg, x, y, w, vx, vy, vw, args.minutes, log)
        if args.save:
            from music_lstm.models.lstm import builtin_copy

            builtin_copy(model).save(args.save)
    bits = held_out_bits(model, val_ids, val_quarters, cfg.seq_len)
    log(f"held-out bits per quarter note {bits:.3f} (trained {seconds:.0f} s)")

    # Voice ranges: the 1st-99th percentile of each voice over all chorales, untransposed.
    ranges = [tuple(int(x) for x in np.percentile([p for v in chorales.values() for _, _, p in v[k]], (1, 99)))
              for k in range(4)]
    from music_lstm.tasks.generate import generate_ids, random_windows
    from music_lstm.models.stepper import LSTMStepper

    stepper = LSTMStepper.from_keras(model)
    symbols = vocab.index_to_symbol
    train_ids = [vocab.encode(keyed[0]) for keyed in variants]
    rows = []
    for temperature in args.temperatures:
        for guard in (False, True):
            rng = np.random.default_rng(args.seed)
            prompt = random_windows(train_ids, cfg.seq_len, args.pieces, rng)
            grammar = Grammar(symbols, args.pieces, order=args.order, guard=guard, no_crossing=args.no_crossing,
                              ranges=ranges if args.ranges else None, no_clash=args.no_clash)
            for column in prompt.T:
                grammar.feed(column)
            sampling = Sampling(temperature=temperature, rhythm_temperature=args.rhythm_temperature or temperature)
            t0 = time.perf_counter()
            probs = stepper.prime(prompt)
            ids = generate_ids(stepper.step, probs, args.length, sampling, rng, history=prompt, grammar=grammar,
                               rhythm=rhythm_mask(symbols))
            figures, outside, notes, repairs, pieces = [], 0, 0, 0, []
            for context, row in zip(prompt, ids):
                before = decode_satb(vocab.decode(context), open_start=True, order=args.order)
                whole = decode_satb(vocab.decode(context) + vocab.decode(row), open_start=True, order=args.order)
                repairs += whole.repairs - before.repairs
                start = before.end
                voices = tuple([(o - start, d, p) for o, d, p in v if o >= start - 1e-9] for v in whole.voices)
                pieces.append(voices)
                figures.append(per_100(voices))
                for k, v in enumerate(voices):
                    notes += len(v)
                    outside += sum(not ranges[k][0] <= p <= ranges[k][1] for _, _, p in v)
            figures = np.array(figures)
            mean_len = np.mean([d for pc in pieces for v in pc for _, d, _ in v])
            classifier = two_sample_accuracy([chorales[n] for n in val_names], pieces)
            rows.append({"temperature": temperature, "guard": guard, "median": float(np.median(figures)),
                         "at_or_below_27": int((figures <= 2.7).sum()), "classifier": classifier,
                         "at_or_below_p90": int((figures <= p90 + 1e-9).sum()), "repairs": repairs,
                         "in_range": 1 - outside / max(notes, 1), "mean_note_quarters": float(mean_len),
                         "seconds": time.perf_counter() - t0})
            if args.out:
                Path(args.out).mkdir(parents=True, exist_ok=True)
                name = f"{args.order}_t{temperature}_{'guard' if guard else 'free'}.json"
                (Path(args.out) / name).write_text(json.dumps(pieces))
    options = [name for name, on in (("ranges", args.ranges), ("no crossing", args.no_crossing),
                                     ("no clash", args.no_clash)) if on]
    print(f"\norder {args.order}, {args.units} units, seq_len {cfg.seq_len}, sampling with {', '.join(options) or 'grammar only'}, "
          f"keys {args.transpose[0]:+d}..{args.transpose[1]:+d}, "
          f"trained {seconds:.0f} s: held-out {bits:.3f} bits per quarter note; Bach p90 {p90:.2f} per 100")
    print(f"Bach against Bach (held-out against 36 training chorales): classifier {bach_bach:.2f}")
    print("| temperature | guard | parallels per 100, median | pieces <= 2.7 | pieces <= Bach p90 | classifier "
          "| notes in range | mean note (q) | repairs |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['temperature']} | {'on' if r['guard'] else 'off'} | {r['median']:.2f} "
              f"| {r['at_or_below_27']}/{args.pieces} | {r['at_or_below_p90']}/{args.pieces} "
              f"| {r['classifier']:.2f} "
              f"| {r['in_range']:.3f} | {r['mean_note_quarters']:.2f} | {r['repairs']} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())

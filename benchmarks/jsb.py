"""music_lstm on the JSB Chorales benchmark: exact test NLL per frame, beside the published table.

Reads one JSB JSON file (`music_lstm.encodings.jsb`; its own train/valid/test split), writes every frame as
tokens ending in the frame marker, and trains `model.build_model` (embedding, 2 LSTM, dropout,
Dense, softmax) on the training sequences cut into pieces of `--window` tokens (cut afresh each
epoch; `--window 0` trains on whole sequences). Validation and test sequences are always scored
whole, from a fresh state at their start. After each epoch the validation NLL per frame is
computed exactly; the best epoch's weights are kept, the learning rate halves after `--patience`
epochs without a better one (training carries on from the best weights), and training stops after
`--halvings` halvings and `--patience` more epochs without one, or at `--minutes`.
Settings (serialization order, with or without transposition) are chosen on valid; the test set is
scored once per trained model. Transposition moves each training sequence by a shift drawn afresh
every epoch from `--shifts` (a shift that would push a pitch outside 0..127 is never drawn); valid
and test are never transposed. The baseline, timed in the same run: an interpolated Kneser-Ney
n-gram over the same tokens, scored the same exact way.

Every frame of every test sequence counts, a silent frame included; NLL in nats, per frame (and per
note for the voice-separated file, where Coconet and TonicNet report it). Each run writes its results
(settings, commit, seed, valid and test NLL, seconds, parameters) as one JSON file in `benchmarks/results/`;
the published figures are printed beside ours, each with its paper, table, kind (exact, bound, orderless)
and whether it was checked against the paper's text.

    nice -n 5 python benchmarks/jsb.py --data ../shared/jsb/jsb-chorales-quarter.json --minutes 15
    python benchmarks/jsb.py --data FILE.json --smoke   # a few sequences, a tiny network: seconds
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import math
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # the package, from a checkout
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from music_lstm.encodings import jsb  # noqa: E402
from music_lstm.core.errors import MusicLSTMError  # noqa: E402

# Published test NLL on quarter-note JSB, nats per frame: (model, figure, kind, paper and table, checked).
# kind: "exact" is a chronological frame likelihood like ours; "bound" an evidence lower bound (the true NLL is
# at most the figure); "orderless" averaged over random orders of the notes, rests unscored (another quantity).
# checked: "checked" only where the figure was read in the paper's own text; "cited" where figure and table number
# are as the literature quotes them (none of the papers' tables could be read from this machine).
PUBLISHED = [
    ("RNN (tanh)", "~8.7", "exact", "Chung, Gulcehre, Cho & Bengio 2014, Table 2", "cited"),
    ("LSTM, GRU", "8.5-8.7", "exact", "Chung et al. 2014, Table 2", "cited"),
    ("TCN", "8.10", "exact", "Bai, Kolter & Koltun 2018, Table 1", "cited"),
    ("RNN-RBM", "6.27", "estimate (an RBM's partition function)", "Boulanger-Lewandowski, Bengio & Vincent 2012, Table 1", "cited"),
    ("LSTM-NADE", "6.00", "exact", "Johnson 2017, Table 1", "cited"),
    ("TP-LSTM-NADE", "5.88", "exact", "Johnson 2017, Table 1", "cited"),
    ("BALSTM", "5.86", "exact", "Johnson 2017, Table 1", "cited"),
    ("RNN-NADE", "5.56", "exact", "Boulanger-Lewandowski et al. 2012, Table 1", "cited"),
    ("Coconet", "5.03", "orderless, rests unscored", "Huang, Cooijmans, Roberts, Courville & Eck 2017, Table 1", "cited"),
    ("SRNN", "4.74", "bound (ELBO): NLL <= 4.74", "Fraccaro, Sønderby, Paquet & Winther 2016, Table 2", "cited"),
    ("DBN-LSTM", "3.47", "as reported; how computed not checked", "Vohra, Goel & Sahoo 2015, Table 1", "cited"),
]

# --smoke: a few sequences of each split and a tiny network, so the whole path runs in seconds.
SMOKE = {"units": 16, "embed": 8, "dense": 16, "epochs": 2, "minutes": 0.5, "ngram": 3, "transpose": False}
SMOKE_SEQUENCES = {"train": 8, "valid": 3, "test": 3}

BUCKET = jsb.BUCKET


@dataclasses.dataclass
class Corpus:
    order: str
    vocab: object  # music_lstm.core.vocab.Vocab over every token the order can write
    train: list[list[np.ndarray]]  # [sequence][shift] ids; None where the shift leaves 0..127
    shifts: list[int]
    valid: list[list[str]]
    test: list[list[str]]


def make_corpus(data: jsb.JSBData, order: str, shifts: list[int]) -> Corpus:
    from music_lstm.core.vocab import Vocab

    vocab = Vocab(jsb.vocabulary(order))
    train = []
    for seq in data.splits["train"]:
        keyed = []
        for s in shifts:
            moved = jsb.transpose(seq, s)
            keyed.append(None if moved is None else vocab.encode(jsb.encode_sequence(moved, order)))
        train.append(keyed)
    enc = lambda split: [jsb.encode_sequence(seq, order) for seq in data.splits[split]]  # noqa: E731
    return Corpus(order, vocab, train, shifts, enc("valid"), enc("test"))


def windows(seqs: list[np.ndarray], width: int, rng: np.random.Generator) -> list[np.ndarray]:
    """Each sequence cut into pieces of at most `width` + 1 ids (one target per id after the first), the
    cuts moved by a random offset each epoch; a piece's first input is the last id of the piece before.
    The network starts each piece from a fresh state: many short rows in a batch train far faster on a
    CPU than a few long ones (the recurrence is a loop over steps, the batch is nearly free)."""
    out = []
    for s in seqs:
        cuts = list(range(int(rng.integers(width)) or width, len(s) - 1, width))
        for a, b in zip([0, *cuts], [*cuts, len(s) - 1]):
            out.append(s[a : b + 1])
    return out


def batches(seqs: list[np.ndarray], batch_size: int, rng: np.random.Generator):
    """(inputs, targets, weights) per batch, (batch, steps): sequences of similar length together, padded
    to a multiple of BUCKET with weight-0 targets; batch order shuffled."""
    order = sorted(range(len(seqs)), key=lambda i: (len(seqs[i]), rng.random()))
    groups = [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
    rng.shuffle(groups)
    for g in groups:
        width = -(-max(len(seqs[i]) - 1 for i in g) // BUCKET) * BUCKET
        x = np.zeros((len(g), width), np.int32)
        y = np.zeros((len(g), width), np.int32)
        for r, i in enumerate(g):
            s = seqs[i]
            x[r, : len(s) - 1], y[r, : len(s) - 1] = s[:-1], s[1:]
        yield x, y, (y != 0).astype(np.float32)


sequence_probs = jsb.sequence_probs  # shared with `python -m music_lstm evaluate` on a JSB run


def score(probs_list, token_seqs, corpus: Corpus, renormalise: bool = True) -> dict:
    """Exact NLL over every frame of every sequence, per frame and per note (`jsb.score`)."""
    return jsb.score(probs_list, token_seqs, corpus.order, corpus.vocab.symbol_to_index, renormalise)


def frame_nlls(probs_list, token_seqs, corpus: Corpus) -> np.ndarray:
    """Every frame's exact NLL (`jsb.frame_nll`), the split's sequences one after another: what an
    ensemble mixes."""
    return np.concatenate([jsb.frame_nll(p, t, corpus.order, corpus.vocab.symbol_to_index)
                           for p, t in zip(probs_list, token_seqs)])


def ensemble(paths: list[str]) -> dict:
    """The mixture of the members' frame distributions, equal weights: each frame's probability is the
    mean of the members' (each an exact conditional given the frames before it), so the product over
    frames is again a proper distribution and its NLL exact. `paths`: the members' `.frames.npz` files
    (one per run, `--save-frames`), every split's frames in the same order."""
    members = [np.load(p) for p in paths]
    out = {}
    for split in ("valid", "test"):
        nll = np.stack([m[split] for m in members])  # (members, frames)
        mixed = -(np.logaddexp.reduce(-nll, axis=0) - math.log(len(members)))
        out[split] = {"per_frame": float(mixed.mean()), "frames": int(mixed.size),
                      "members_per_frame": [float(n.mean()) for n in nll]}
    return out


def ngram_baseline(corpus: Corpus, order: int, split: str) -> dict:
    from music_lstm.models.ngram import KneserNey

    lm = KneserNey(order, len(corpus.vocab)).fit([keyed[0] for keyed in corpus.train])
    seqs = getattr(corpus, split)
    probs = [lm.sequence_probs(corpus.vocab.encode(t)) for t in seqs]
    return score(probs, seqs, corpus)


def train_lstm(corpus: Corpus, args, transpose: bool, log) -> dict:
    """Train on the training sequences; keep the weights of the best validation NLL per frame."""
    import keras

    from music_lstm.runs.config import Config
    from music_lstm.models.model import build_model

    cfg = dataclasses.replace(Config(), embed_dim=args.embed, units=args.units, dense_units=args.dense,
                              dropout=args.dropout, learning_rate=args.lr, seed=args.seed)
    keras.utils.set_random_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    model = build_model(len(corpus.vocab), cfg)
    valid_ids = [corpus.vocab.encode(t) for t in corpus.valid]
    zero = corpus.shifts.index(0)
    best, best_weights, wait, halvings, history = math.inf, None, 0, 0, []
    start = time.perf_counter()
    budget = args.minutes * 60
    for epoch in range(1, args.epochs + 1):
        if transpose:
            seqs = [keyed[rng.choice([k for k, ids in enumerate(keyed) if ids is not None])] for keyed in corpus.train]
        else:
            seqs = [keyed[zero] for keyed in corpus.train]
        if args.window:
            seqs = windows(seqs, args.window, rng)
        losses = []
        for x, y, w in batches(seqs, args.batch, rng):
            losses.append(float(model.train_on_batch(x, y, w)[0]))
        valid = score(sequence_probs(model, valid_ids), corpus.valid, corpus)["per_frame"]
        elapsed = time.perf_counter() - start
        lr = float(keras.ops.convert_to_numpy(model.optimizer.learning_rate))
        history.append({"epoch": epoch, "loss": float(np.mean(losses)), "valid_per_frame": valid, "seconds": elapsed, "lr": lr})
        log(f"  epoch {epoch:3d}  loss {np.mean(losses):.4f}  valid {valid:.4f} nats/frame  lr {lr:.2g}  {elapsed:6.0f} s")
        if valid < best - 1e-4:
            best, best_weights, wait = valid, model.get_weights(), 0
        else:
            wait += 1
            if wait >= args.patience:
                if halvings == args.halvings:
                    break
                halvings, wait = halvings + 1, 0
                model.optimizer.learning_rate.assign(lr / 2)
                if best_weights is not None:
                    model.set_weights(best_weights)  # carry on from the best epoch at the lower rate
        if budget and elapsed + elapsed / epoch > budget:  # the next epoch would end past the budget
            break
    seconds = time.perf_counter() - start
    if best_weights is not None:  # else no epoch gave a finite NLL: keep the last weights
        model.set_weights(best_weights)
    return {"model": model, "valid_per_frame": best, "epochs": len(history), "train_seconds": seconds,
            "best_epoch": int(np.argmin([h["valid_per_frame"] for h in history])) + 1,
            "parameters": int(model.count_params()), "history": history}


def commit() -> str:
    """The checkout's commit, `-dirty` when tracked files differ from it; `unknown` outside git."""
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                              check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--", "music_lstm", "benchmarks"],
                               cwd=ROOT, capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return head + ("-dirty" if dirty else "")


def machine() -> str:
    """The machine in words, no paths: CPUs, architecture, Python, whether a GPU was seen."""
    import tensorflow as tf

    gpus = len(tf.config.list_physical_devices("GPU"))
    return (f"{os.cpu_count()} CPUs, {platform.machine()}, Python {platform.python_version()}, TensorFlow {tf.__version__}, "
            + (f"{gpus} GPU" if gpus else "no GPU"))


def write_results(folder: Path, data_name: str, args, chosen, results: dict, seconds: float) -> Path:
    """One JSON per run in `folder` (atomic): the settings, commit, seed, every row's valid and test NLL,
    seconds and parameters, and the row chosen on valid."""
    from music_lstm.runs.run_folder import write_json

    stamp = datetime.datetime.now(datetime.timezone.utc)
    order = "-".join(sorted({r["order"] for r in results.values()}))
    path = folder / f"jsb-{Path(data_name).stem}-{order}-seed{args.seed}-{stamp:%Y%m%dT%H%M%SZ}.json"
    write_json(path, {
        "benchmark": "jsb", "data": data_name, "commit": commit(), "machine": machine(),
        "date": stamp.isoformat(timespec="seconds"), "seed": args.seed, "smoke": args.smoke,
        "settings": {k: v for k, v in vars(args).items() if k not in ("data", "results_dir", "json")},
        "chosen_on_valid": chosen,
        "chosen": None if chosen is None else {
            "valid_per_frame": results[chosen]["valid_per_frame"], "test_per_frame": results[chosen]["test"]["per_frame"],
            "test_per_note": results[chosen]["test"]["per_note"], "parameters": results[chosen]["parameters"],
            "train_seconds": results[chosen]["train_seconds"]},
        "seconds": seconds, "results": results})
    return path


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", required=True, help="a JSB JSON file (jsb-chorales-quarter.json, Jsb16thSeparated.json, ...)")
    ap.add_argument("--minutes", type=float, default=15.0, help="training budget per model (default: 15)")
    ap.add_argument("--transpose", action=argparse.BooleanOptionalAction, default=None,
                    help="only with (--transpose) or only without (--no-transpose) transposition; default: both")
    ap.add_argument("--shifts", default="-5,6", help="transposition range in semitones, inclusive (default: -5,6)")
    ap.add_argument("--orders", default=None, help="serializations to compare on valid, comma-separated "
                    "(high, low, relative; default: high; the voice-separated file has only voices)")
    ap.add_argument("--units", type=int, default=128)
    ap.add_argument("--embed", type=int, default=64)
    ap.add_argument("--dense", type=int, default=256)
    ap.add_argument("--dropout", type=float, default=0.1)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--batch", type=int, default=16, help="rows per training step (default: 16)")
    ap.add_argument("--window", type=int, default=64,
                    help="train on pieces of this many tokens (0: whole sequences; default: 64)")
    ap.add_argument("--epochs", type=int, default=200, help="upper bound (default: 200)")
    ap.add_argument("--patience", type=int, default=5, help="epochs without a better valid NLL before the rate halves")
    ap.add_argument("--halvings", type=int, default=3, help="stop after this many halvings and a further --patience epochs")
    ap.add_argument("--ngram", type=int, default=5, help="Kneser-Ney baseline order (default: 5)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--results-dir", default=None,
                    help="folder for this run's results JSON (default: benchmarks/results; with --smoke none unless given)")
    ap.add_argument("--json", help="write the results here too")
    ap.add_argument("--save-frames", action="store_true",
                    help="also write the chosen row's per-frame valid and test NLL beside the results JSON (.frames.npz)")
    ap.add_argument("--ensemble", nargs="+", metavar="NPZ",
                    help="train nothing: score the mixture of these runs' .frames.npz (equal weights) and write its results")
    ap.add_argument("--smoke", action="store_true",
                    help=f"a few sequences per split and a tiny network ({', '.join(f'--{k} {v}' for k, v in SMOKE.items() if k != 'transpose')}, "
                         "no transposition): checks that the benchmark runs, in seconds")
    args = ap.parse_args(argv)
    if args.smoke:
        for k, v in SMOKE.items():
            setattr(args, k, v)
    results_dir = args.results_dir or (None if args.smoke else str(ROOT / "benchmarks" / "results"))
    log = lambda msg: print(msg, file=sys.stderr, flush=True)  # noqa: E731
    from music_lstm.core.quiet import quiet_tensorflow

    quiet_tensorflow()  # before Keras: TensorFlow's C++ start-up lines are not the benchmark's output
    began = time.perf_counter()
    if args.ensemble:
        return run_ensemble(args, results_dir)

    try:
        data = jsb.read_jsb(args.data)
        lo, hi = (int(v) for v in args.shifts.split(","))
    except MusicLSTMError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    except ValueError:
        print(f"error: --shifts {args.shifts!r}: expected LOW,HIGH semitones", file=sys.stderr)
        return 2
    if args.smoke:
        data = dataclasses.replace(data, splits={k: v[: SMOKE_SEQUENCES[k]] for k, v in data.splits.items()})
    shifts = [0] + [s for s in range(lo, hi + 1) if s != 0]
    orders = ["voices"] if data.layout == "voices" else (args.orders or "high").split(",")
    modes = [args.transpose] if args.transpose is not None else [False, True]
    separated = data.layout == "voices"
    log(f"{Path(args.data).name}: layout {data.layout}; " + ", ".join(
        f"{s} {len(data.splits[s])} sequences / {data.frames(s)} frames" for s in jsb.SPLITS)
        + f"; {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}")

    results, frames = {}, {}
    for order in orders:
        corpus = make_corpus(data, order, shifts)
        t = time.perf_counter()
        base_valid = ngram_baseline(corpus, args.ngram, "valid")
        base_test = ngram_baseline(corpus, args.ngram, "test")
        results[f"KN {args.ngram}-gram, {order}"] = {
            "order": order, "transpose": False, "valid_per_frame": base_valid["per_frame"], "test": base_test,
            "train_seconds": time.perf_counter() - t, "parameters": None, "epochs": None}
        log(f"KN {args.ngram}-gram ({order}): valid {base_valid['per_frame']:.4f}, test {base_test['per_frame']:.4f} "
            f"nats/frame ({time.perf_counter() - t:.0f} s)")
        for transpose in modes:
            name = f"LSTM 2x{args.units}, {order}" + (f", transposed {lo:+d}..{hi:+d}" if transpose else "")
            log(f"{name}:")
            run = train_lstm(corpus, args, transpose, log)
            test = score(sequence_probs(run["model"], [corpus.vocab.encode(t) for t in corpus.test]), corpus.test, corpus)
            raw = score(sequence_probs(run["model"], [corpus.vocab.encode(t) for t in corpus.test]), corpus.test, corpus,
                        renormalise=False)
            model = run.pop("model")
            if args.save_frames:
                frames[name] = {split: frame_nlls(sequence_probs(model, [corpus.vocab.encode(t) for t in seqs]), seqs, corpus)
                                for split, seqs in (("valid", corpus.valid), ("test", corpus.test))}
            results[name] = {"order": order, "transpose": transpose, **run, "test": test,
                             "test_per_frame_not_renormalised": raw["per_frame"]}
            log(f"  test {test['per_frame']:.4f} nats/frame ({raw['per_frame']:.4f} without renormalising)")

    # Settings are chosen on valid only; the test column of every row is printed for the record.
    lstm_rows = [n for n in results if n.startswith("LSTM")]
    chosen = min(lstm_rows, key=lambda n: results[n]["valid_per_frame"]) if lstm_rows else None
    print(f"\n{Path(args.data).name}: test {data.frames('test')} frames, {data.notes('test')} notes; NLL in nats, exact")
    slot = f" {'test/slot':>9}" if separated else ""  # per voice slot, 4 a frame: Coconet's note unit
    print(f"{'model':<44} {'valid/frame':>11} {'test/frame':>10} {'test/note':>9}{slot} {'params':>9} {'epochs':>6} {'train s':>8}")
    for name, r in results.items():
        mark = " *" if name == chosen else ""
        params = f"{r['parameters']:,}" if r["parameters"] else "-"
        slot = f" {r['test']['per_voice_slot']:>9.4f}" if separated else ""
        print(f"{name + mark:<44} {r['valid_per_frame']:>11.4f} {r['test']['per_frame']:>10.4f} {r['test']['per_note']:>9.4f}"
              f"{slot} {params:>9} {r['epochs'] or '-':>6} {r['train_seconds']:>8.0f}")
    print("* chosen on valid")
    if not separated:
        print("\npublished, test NLL in nats per frame on quarter-note JSB (lower is better):")
        print(f"  {'model':<14} {'NLL':>7}  {'kind':<42} {'source':<58} status")
        for model, value, kind, source, status in PUBLISHED:
            print(f"  {model:<14} {value:>7}  {kind:<42} {source:<58} {status}")
        if chosen:
            print(f"  {'music_lstm':<14} {results[chosen]['test']['per_frame']:>7.2f}  {'exact, every frame and silence scored':<42} "
                  f"{chosen + ' (chosen on valid), this run':<58} measured")
        print("  'cited': taken as quoted in the literature, not read in the paper; a bound or orderless figure is "
              "another quantity than an exact chronological likelihood")
    else:
        print("\nvoice-separated file: Coconet's units are per frame and per voice slot (docs/BENCHMARKS.md, JSB Chorales)")
    if args.json:
        from music_lstm.runs.run_folder import write_json

        write_json(args.json, {"data": Path(args.data).name, "args": vars(args), "chosen": chosen, "results": results})
    if results_dir:
        path = write_results(Path(results_dir), Path(args.data).name, args, chosen, results, time.perf_counter() - began)
        print(f"\nresults: {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path.name}")
        if chosen in frames:
            np.savez(path.with_suffix(".frames.npz"), **frames[chosen])
            print(f"per-frame NLL: {path.with_suffix('.frames.npz').name}")
    return 0


def run_ensemble(args, results_dir) -> int:
    """`--ensemble`: the members' mixture on valid and test, printed and written as one results JSON."""
    try:
        scored = ensemble(args.ensemble)
    except (OSError, KeyError, ValueError) as e:
        print(f"error: --ensemble: {e}", file=sys.stderr)
        return 2
    for split in ("valid", "test"):
        r = scored[split]
        print(f"ensemble of {len(args.ensemble)}, {split}: {r['per_frame']:.4f} nats/frame over {r['frames']} frames "
              f"(members {', '.join(f'{v:.4f}' for v in r['members_per_frame'])})")
    if results_dir:
        from music_lstm.run_folder import write_json

        stamp = datetime.datetime.now(datetime.timezone.utc)
        path = Path(results_dir) / f"jsb-ensemble{len(args.ensemble)}-{Path(args.data).stem}-{stamp:%Y%m%dT%H%M%SZ}.json"
        write_json(path, {"benchmark": "jsb-ensemble", "data": Path(args.data).name, "commit": commit(),
                          "date": stamp.isoformat(timespec="seconds"), "kind": "mixture of the members' frame "
                          "distributions, equal weights: an exact NLL", "members": [Path(p).name for p in args.ensemble],
                          "valid_per_frame": scored["valid"]["per_frame"], "test_per_frame": scored["test"]["per_frame"],
                          "results": scored})
        print(f"\nresults: {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path.name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

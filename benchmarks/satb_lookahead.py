"""Train a satb network on `harmonize.lookahead_symbols` streams (each group also names the next
soprano note) and measure it as a harmonizer against the HMM, as `harmonize_quality.py` does for
the plain forced-soprano network.

Same chorales, split, network and training loop as `satb_layouts.py --order SATB --transpose 0 0`.

    python benchmarks/satb_lookahead.py --voices /tmp/satb/voices.pkl --minutes 5 --dropout 0.3 \
        --save /tmp/harmonize/look.keras
"""

from __future__ import annotations

import argparse
import pickle
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from music_lstm.runs.config import Config  # noqa: E402
from music_lstm.training.dataset import key_windows, overlap_weights, split_pieces  # noqa: E402
from music_lstm.tasks.harmonizer import LSTMHarmonizer, lookahead_symbols
from music_lstm.eval.harmonization import evaluate_harmonize, format_table  # noqa: E402
from music_lstm.models.hmm_harmonizer import HMMHarmonizer  # noqa: E402
from music_lstm.core.vocab import Vocab  # noqa: E402
from satb_layouts import train  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--voices", required=True)
    ap.add_argument("--minutes", type=float, default=5.0)
    ap.add_argument("--dropout", type=float, default=0.3)
    ap.add_argument("--save", help="save the trained model here (.keras)")
    ap.add_argument("--load", help="skip training: load this model")
    ap.add_argument("--temperature", type=float, default=0.5)
    ap.add_argument("--best-of", type=int, default=1)
    args = ap.parse_args()
    log = lambda msg: print(msg, file=sys.stderr, flush=True)  # noqa: E731
    chorales = pickle.load(open(args.voices, "rb"))["voices"]
    train_names, val_names = split_pieces(list(chorales), 0.1, 0)
    streams = [lookahead_symbols(chorales[n]) for n in train_names]
    vocab = Vocab.from_sequences(streams)
    cfg = Config(dropout=args.dropout)
    import keras

    if args.load:
        model = keras.saving.load_model(args.load, compile=False)
    else:
        x, y, w = key_windows([[vocab.encode(s)] for s in streams], cfg.seq_len)
        vx, vy, vw = overlap_weights([vocab.encode(lookahead_symbols(chorales[n])) for n in val_names], cfg.seq_len)
        log(f"vocabulary {len(vocab)}; {len(x)} windows of {cfg.seq_len}")
        model, seconds = train(len(vocab), cfg, x, y, w, vx, vy, vw, args.minutes, log)
        log(f"trained {seconds:.0f} s")
        if args.save:
            from music_lstm.models.lstm import builtin_copy

            builtin_copy(model).save(args.save)
    lstm = LSTMHarmonizer.from_keras(model, vocab, lookahead=True)
    hmm = HMMHarmonizer().fit([chorales[n] for n in train_names])
    t0 = time.perf_counter()
    report = evaluate_harmonize(lstm, [chorales[n] for n in val_names], hmm, temperature=args.temperature,
                                best_of=args.best_of)
    seconds = time.perf_counter() - t0
    print(f"lookahead network, temperature {args.temperature}, best of {args.best_of}; {seconds:.0f} s")
    print(format_table(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Harmonizing held-out chorales' sopranos: the forced-soprano LSTM against the HMM baseline and Bach.

The chorales' four voices come from the pickle `benchmarks/satb_layouts.py` reads; the split is
`dataset.split_pieces` (10% held out, seed 0), the vocabulary that of the training pieces in their
own keys, as `satb_layouts.py --transpose 0 0` builds it, so a model it saved (`--save`) fits.
The HMM is fit on the same training pieces.

    python benchmarks/harmonize_quality.py --voices /tmp/satb/voices.pkl --model /tmp/harmonize/satb_d3.keras
"""

from __future__ import annotations

import argparse
import pickle
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from music_lstm.training.dataset import split_pieces  # noqa: E402
from music_lstm.encodings.satb import encode_satb  # noqa: E402
from music_lstm.tasks.harmonizer import LSTMHarmonizer
from music_lstm.eval.harmonization import evaluate_harmonize, format_table  # noqa: E402
from music_lstm.models.hmm_harmonizer import HMMHarmonizer  # noqa: E402
from music_lstm.core.vocab import Vocab  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--voices", required=True, help="pickle of the chorales' four voices")
    ap.add_argument("--model", required=True, help="a satb model (.keras) trained on the same split")
    ap.add_argument("--temperature", type=float, default=1.0)
    ap.add_argument("--best-of", type=int, default=1)
    ap.add_argument("--no-guard", action="store_true", help="sample without the voice-leading guard")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    chorales = pickle.load(open(args.voices, "rb"))["voices"]
    train, held_out = split_pieces(list(chorales), 0.1, 0)
    vocab = Vocab.from_sequences(encode_satb(chorales[n]) for n in train)
    import keras

    model = keras.saving.load_model(args.model, compile=False)
    lstm = LSTMHarmonizer.from_keras(model, vocab, guard=not args.no_guard)
    t0 = time.perf_counter()
    hmm = HMMHarmonizer().fit([chorales[n] for n in train])
    print(f"HMM fit on {len(train)} chorales in 12 keys: {len(hmm.states)} states, {time.perf_counter() - t0:.1f} s",
          file=sys.stderr)
    t0 = time.perf_counter()
    report = evaluate_harmonize(lstm, [chorales[n] for n in held_out], hmm, temperature=args.temperature,
                                best_of=args.best_of, seed=args.seed)
    print(f"temperature {args.temperature}, best of {args.best_of}, guard {'off' if args.no_guard else 'on'}, "
          f"seed {args.seed}; {time.perf_counter() - t0:.0f} s")
    print(format_table(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())

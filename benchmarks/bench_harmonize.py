"""Time harmonizing a 16-bar melody (64 quarter notes) once the model is loaded: the forced-soprano
LSTM (one sample, and the best of 8 as one batch) and the HMM baseline, median of 5 runs each.

The model and its vocabulary are found as in `harmonize_quality.py`; the melody is a held-out
chorale's soprano, cut or repeated to 64 quarter notes.

    python benchmarks/bench_harmonize.py --voices /tmp/satb/voices.pkl --model /tmp/harmonize/satb_d3.keras
"""

from __future__ import annotations

import argparse
import os
import pickle
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from music_lstm.dataset import split_pieces  # noqa: E402
from music_lstm.encodings.satb import encode_satb  # noqa: E402
from music_lstm.harmonize import LSTMHarmonizer  # noqa: E402
from music_lstm.hmm_harmonizer import HMMHarmonizer  # noqa: E402
from music_lstm.vocab import Vocab  # noqa: E402

QUARTERS = 64


def melody_of(soprano, quarters=QUARTERS):
    """The soprano repeated end to end and cut at `quarters` (the last note shortened)."""
    start = soprano[0][0]
    length = max(o + d for o, d, _ in soprano) - start
    out, shift = [], 0.0
    while True:
        for o, d, p in soprano:
            o = o - start + shift
            if o >= quarters:
                return out
            out.append((o, min(d, quarters - o), p))
        shift += length


def median_seconds(fn, runs=5) -> float:
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--voices", required=True, help="pickle of the chorales' four voices")
    ap.add_argument("--model", required=True, help="a satb model (.keras) trained on the same split")
    args = ap.parse_args()
    chorales = pickle.load(open(args.voices, "rb"))["voices"]
    train, held_out = split_pieces(list(chorales), 0.1, 0)
    vocab = Vocab.from_sequences(encode_satb(chorales[n]) for n in train)
    import keras

    lstm = LSTMHarmonizer.from_keras(keras.saving.load_model(args.model, compile=False), vocab)
    hmm = HMMHarmonizer().fit([chorales[n] for n in train])
    melody = melody_of(chorales[held_out[0]][0])
    lstm.harmonize(melody)  # warm up
    rows = [
        ("LSTM, soprano forced, 1 sample", median_seconds(lambda: lstm.harmonize(melody, seed=1))),
        ("LSTM, soprano forced, best of 8", median_seconds(lambda: lstm.harmonize(melody, best_of=8, seed=1))),
        ("HMM, chord per beat (Viterbi + voicing)", median_seconds(lambda: hmm.harmonize(melody))),
    ]
    print(f"{len(melody)} notes, {QUARTERS} quarter notes; {os.cpu_count()} CPUs; median of 5, seconds")
    print("| harmonizer | seconds |\n|---|---|")
    for name, s in rows:
        print(f"| {name} | {s:.3f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())

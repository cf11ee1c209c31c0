"""What the fill network predicts for a voice's notes given everything else of Bach's own piece: on the
run's training-side pieces (its "validation_loss" chorales), `--rate` of one voice's cells masked at
random, the rest as Bach wrote them. Prints, over the masked cells where Bach strikes a note, the mean
negative log-probability of his note, how often the likeliest token is his, and the share of probability
the network puts on a step (one or two semitones) from the note before, beside Bach's own share.

    python experiments/fill_conditionals.py --run-dir music_lstm/shipped/harmonize --voice 3 --rate 0.05
"""

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--run-dir", required=True)
    ap.add_argument("--voice", type=int, default=3, help="0-3: soprano, alto, tenor, bass (default: 3)")
    ap.add_argument("--rate", type=float, default=0.05, help="share of the voice's cells masked (default: 0.05)")
    ap.add_argument("--pieces", type=int, default=12)
    a = ap.parse_args(argv)
    from music_lstm.core.quiet import quiet_tensorflow

    quiet_tensorflow()
    from music_lstm.encodings import cells
    from music_lstm.encodings.cells import HOLD, MASK
    from music_lstm.eval.steering import _cache
    from music_lstm.models.fill import voice_rows
    from music_lstm.tasks.fill import FillWriter
    from music_lstm.training.fill_train import load_scores

    names = json.loads((Path(a.run_dir) / "split.json").read_text())["validation_loss"]
    scores = load_scores(names, _cache(), log=lambda m: None)
    writer = FillWriter.from_run(a.run_dir)
    rng = np.random.default_rng(0)
    nll, top, step_bach, step_net = [], [], [], []
    for name in names[: a.pieces]:
        try:
            enc = cells.encode(scores[name])
        except Exception:  # a piece off the sixteenth grid
            continue
        tok = enc.tokens
        mask = np.zeros_like(tok, bool)
        mask[a.voice] = rng.random(tok.shape[1]) < a.rate
        given = np.where(mask, MASK, tok)
        p = writer.net.probs(voice_rows(given.T[None]), enc.features[None])[0].transpose(1, 0, 2)  # (4, T, V)
        for t in np.nonzero(mask[a.voice])[0]:
            want = tok[a.voice, t]
            if want < 3:  # a hold or a rest
                continue
            q = p[a.voice, t]
            nll.append(-np.log(q[want] + 1e-9))
            top.append(int(np.argmax(q) == want))
            k = t - 1
            while k >= 0 and tok[a.voice, k] == HOLD:
                k -= 1
            if k < 0 or tok[a.voice, k] < 3:
                continue
            prev = tok[a.voice, k]
            pitches = q[3:] / q[3:].sum()
            d = np.abs(np.arange(3, len(q)) - prev)
            step_net.append(pitches[(d >= 1) & (d <= 2)].sum())
            step_bach.append(1 <= abs(int(want) - int(prev)) <= 2)
    print(f"voice {a.voice}, {a.rate:.0%} of its cells masked, {len(nll)} notes: -log p(Bach's note) {np.mean(nll):.3f}, "
          f"likeliest is Bach's {np.mean(top):.3f}; a step from the note before: Bach {np.mean(step_bach):.3f}, "
          f"the network's probability {np.mean(step_net):.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

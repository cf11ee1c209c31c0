"""Refitting the fill sampler's move weights (`moves.json`) on what the sampler writes. `fill_moves.py`
fits them so that the network, given Bach's own notes either side of a note, moves each voice by each
size as often as Bach does; but in a harmonization the notes either side are the sampler's, and its
lines still step less than Bach's. Here the run's weights are the start; each iteration harmonizes the
sopranos of the run's training-side "validation_loss" chorales (never the held-out 41) and multiplies
each written voice's weight for each move size (1-12 semitones, 13 for more) by the square root of
Bach's share of that size (the training chorales) over the sampler's; the weight applies to the move
into a note and out of it, hence the root.

    python experiments/fill_moves_refit.py --run-dir music_lstm/shipped/harmonize --seeds 1,2 --output /tmp/moves.json
    python experiments/fill_sampling.py --run-dir music_lstm/shipped/harmonize --pieces 24 --seed 3 \
        --settings "0.3:4" --moves /tmp/moves.json   # judged on a seed the fit did not see
"""

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def move_shares(pieces, bins: int) -> np.ndarray:
    """(4, bins): each voice's share of moves between successive notes by size (0 .. bins-2, bins-1 for
    more); size 0, the note struck again, is left out of the shares (the sampler's REPEAT_WEIGHT owns it)."""
    counts = np.zeros((4, bins))
    for voices in pieces:
        for v, notes in enumerate(voices):
            for (o1, d1, p1), (o2, _, p2) in zip(notes, notes[1:]):
                if abs(o1 + d1 - o2) < 1e-6:  # no rest between
                    counts[v, min(abs(p2 - p1), bins - 1)] += 1
    counts[:, 0] = 0
    return counts / np.maximum(counts.sum(1, keepdims=True), 1)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--run-dir", required=True)
    ap.add_argument("--output", required=True)
    ap.add_argument("--seeds", default="1,2", help="sampling seeds of each iteration (default: 1,2)")
    ap.add_argument("--pieces", type=int, default=24)
    ap.add_argument("--iterations", type=int, default=3)
    ap.add_argument("--clip", type=float, default=8.0, help="the weights kept within 1/CLIP..CLIP (default: 8)")
    a = ap.parse_args(argv)
    from music_lstm.core.quiet import quiet_tensorflow

    quiet_tensorflow()
    from music_lstm.eval.steering import _cache, training_side
    from music_lstm.runs.fill_run import MOVE_BINS
    from music_lstm.runs.run_folder import write_json
    from music_lstm.tasks.fill import FillWriter
    from music_lstm.tasks.steer import fill_harmonize
    from music_lstm.training.fill_train import load_scores

    split = json.loads((Path(a.run_dir) / "split.json").read_text())
    train = [n[:-4] if n.endswith(".mid") else n for n in split["train"]]
    target = move_shares([s.voices for s in load_scores(train, _cache(), log=lambda m: None).values()], MOVE_BINS)
    pieces = training_side(a.run_dir, a.pieces)
    writer = FillWriter.from_run(a.run_dir)
    seeds = [int(s) for s in a.seeds.split(",")]

    def harmonize():
        return [fill_harmonize(writer, s.with_voices((s.voices[0], [], [], [])), (0,), 1, seed)[0].voices
                for seed in seeds for s in pieces]

    def report(label, shares):
        print(label + "  " + "  ".join(f"{'satb'[v]} steps {shares[v, 1:3].sum():.3f} (Bach {target[v, 1:3].sum():.3f}) "
                                       f"thirds {shares[v, 3:5].sum():.3f} ({target[v, 3:5].sum():.3f})" for v in (1, 2, 3)),
              flush=True)

    moves = writer.moves.copy()
    for it in range(a.iterations + 1):
        shares = move_shares(harmonize(), MOVE_BINS)
        report(f"iteration {it}: L1 {np.abs(shares - target)[1:].sum():.3f}", shares)
        if it == a.iterations:
            break
        ratio = np.sqrt((target + 1e-3) / (shares + 1e-3))
        ratio[0] = 1.0  # the soprano is given
        moves = np.clip(moves * ratio, 1 / a.clip, a.clip)
        moves[:, 0] = 1.0
        writer.moves = moves
    write_json(Path(a.output), {"moves": np.round(moves, 4).tolist()})  # atomically
    return 0


if __name__ == "__main__":
    sys.exit(main())

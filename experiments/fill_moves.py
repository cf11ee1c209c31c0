"""Fitting the fill sampler's move weights (`tasks.fill.FillWriter.moves`): how much more or less often
Bach moves each voice by each size (0-12 semitones, more) than the network, tempered as the sampler
draws, expects given his own notes either side. Every other note of each voice of the run's training
chorales is masked (both halves in turn, as the sampler's sweeps mask them); the network's distribution
for each such note is kept with the notes before and after it; the weights, applied to the move into
a note and out of it, are then fitted so that the weighted distributions give Bach's share of each size.

    python experiments/fill_moves.py --run-dir music_lstm/shipped/harmonize --output music_lstm/shipped/harmonize/moves.json
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
    ap.add_argument("--output", required=True)
    ap.add_argument("--pieces", type=int, default=0, help="training chorales to read (default: all)")
    ap.add_argument("--iterations", type=int, default=8)
    ap.add_argument("--clip", type=float, default=4.0, help="the weights kept within 1/CLIP..CLIP (default: 4)")
    a = ap.parse_args(argv)
    from music_lstm.encodings import cells
    from music_lstm.eval.steering import _cache
    from music_lstm.runs.fill_run import MOVE_BINS
    from music_lstm.tasks import fill as F
    from music_lstm.training.fill_train import load_scores

    names = json.loads((Path(a.run_dir) / "split.json").read_text())["train"]
    names = [n[:-4] if n.endswith(".mid") else n for n in names][: a.pieces or None]
    scores = load_scores(names, _cache(), log=lambda m: None)
    writer = F.FillWriter.from_run(a.run_dir)
    rows, prev, nxt, voice, size = [], [], [], [], []
    for n in names:
        try:
            enc = cells.encode(scores[n])
        except Exception:  # a piece off the sixteenth grid
            continue
        tok = enc.tokens[None].astype(np.int64)
        sound = F.FillWriter._sounding(tok[0])
        for parity in (0, 1):
            mask = F.FillWriter._alternate_notes(tok, np.ones(tok.shape[1:], bool), parity)
            state = np.where(mask, F.MASK, tok)
            p = writer._probs(state, enc.features[None])[0]
            for v, t in zip(*np.nonzero(mask[0])):
                before = sound[v, t - 1] if t > 0 else -1
                t2 = F._next_onset(tok[0], v, t)
                after = sound[v, t2] if t2 < tok.shape[2] else -1
                if before < 0:
                    continue
                q = p[v, t, 3:] ** (1 / F.TEMPERATURE)
                rows.append(q / q.sum())
                prev.append(before)
                nxt.append(after)
                voice.append(v)
                size.append(min(abs(int(F.PITCHES[tok[0, v, t]]) - before), MOVE_BINS - 1))
    q, prev, nxt, voice, size = map(np.array, (rows, prev, nxt, voice, size))
    bins_in = np.minimum(np.abs(F.PITCHES[3:][None] - prev[:, None]), MOVE_BINS - 1)  # (N, pitches)
    bins_out = np.where(nxt[:, None] >= 0, np.minimum(np.abs(F.PITCHES[3:][None] - nxt[:, None]), MOVE_BINS - 1), 0)
    moves = np.ones((4, MOVE_BINS))
    target = np.zeros((4, MOVE_BINS))
    for v in range(4):
        target[v] = np.bincount(size[voice == v], minlength=MOVE_BINS)
    target[:, 0] = 0
    target /= target.sum(1, keepdims=True)

    def expected(m):
        w = m[voice[:, None], bins_in] * m[voice[:, None], bins_out]
        w = np.where(bins_in == 0, 1.0, w)  # the pitch struck again keeps its odds
        r = q * w
        r /= r.sum(1, keepdims=True)
        out = np.zeros((4, MOVE_BINS))
        for v in range(4):
            for b in range(1, MOVE_BINS):
                out[v, b] = r[voice == v][bins_in[voice == v] == b].sum()
        out[:, 0] = 0
        return out / out.sum(1, keepdims=True)

    before = expected(moves)
    for _ in range(a.iterations):
        e = expected(moves)
        moves *= np.sqrt((target + 1e-3) / (e + 1e-3))
        moves[:, 0] = 1.0
        moves = np.clip(moves, 1 / a.clip, a.clip)
    after = expected(moves)
    for v in range(4):
        print(f"voice {v}: steps (1-2) Bach {target[v, 1:3].sum():.3f}, the network {before[v, 1:3].sum():.3f}, "
              f"weighted {after[v, 1:3].sum():.3f}; thirds {target[v, 3:5].sum():.3f} / {before[v, 3:5].sum():.3f} / "
              f"{after[v, 3:5].sum():.3f}")
    print(f"{len(q)} notes")
    from music_lstm.runs.run_folder import write_json

    write_json(Path(a.output), {"moves": np.round(moves, 4).tolist()})  # atomically
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""What tells the fill sampler's harmonizations from Bach's own: the classifier two-sample test
(`eval.two_sample`) run on each group of features alone and with each group left out, and the single
features whose mean differs most between the two sets (in the pooled spread). A diagnosis, not a
judge: the pieces are the run's training-side "validation_loss" chorales (kept out of training, never
the held-out 41), and what it finds is fixed and measured by that property's own figure.

    python experiments/classifier_features.py --run-dir music_lstm/shipped/harmonize --seeds 1,2
    python experiments/classifier_features.py --run-dir music_lstm/shipped/harmonize --keep bass
    python experiments/classifier_features.py --run-dir music_lstm/shipped/harmonize --rewrite
"""

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

GROUPS = {  # group -> a test on a feature's name
    "harmonic intervals": lambda n: " interval " in n,
    "soprano steps": lambda n: n.startswith("S step"),
    "alto steps": lambda n: n.startswith("A step"),
    "tenor steps": lambda n: n.startswith("T step"),
    "bass steps": lambda n: n.startswith("B step"),
    "voice-leading rates": lambda n: n in ("parallel fifths", "parallel octaves", "hidden S-B", "S leaps", "crossings",
                                           "S-A over 12", "A-T over 12", "full slices"),
    "chord types": lambda n: n.startswith("chord "),
    "rhythm": lambda n: n.startswith(("onsets", "slice length")) or n.endswith("strikes"),
    "register": lambda n: "pitch" in n,
    "scale degrees": lambda n: n.startswith("degree"),
}


def accuracy(xa, ga, xb, gb, cols, seed=0):
    from music_lstm.eval import two_sample as ts

    x = np.vstack([xa[:, cols], xb[:, cols]])
    y = np.concatenate([np.zeros(len(xa)), np.ones(len(xb))])
    groups = np.concatenate([ga, gb + ga.max() + 1])
    k = min(ts.FOLDS, len(np.unique(ga)), len(np.unique(gb)))
    fold = ts.group_folds(groups, y, k, seed)
    pred, accs = np.empty(len(y)), []
    for f in range(k):
        ts._fold(x, y, fold, f, pred, accs, ts.L2)
    return ts._balanced(pred, y)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--run-dir", required=True)
    ap.add_argument("--seeds", default="1")
    ap.add_argument("--keep", default="soprano", help="the voices given (comma-separated; default: soprano)")
    ap.add_argument("--top", type=int, default=20, help="single features to list (default: 20)")
    ap.add_argument("--rewrite", action="store_true",
                    help="alto and tenor rewritten two bars at a time (`eval.steering.rewrite_in_turn`) instead of --keep")
    a = ap.parse_args(argv)
    from music_lstm.core.quiet import quiet_tensorflow

    quiet_tensorflow()
    from music_lstm.eval import two_sample as ts
    from music_lstm.eval.steering import rewrite_in_turn, training_side
    from music_lstm.tasks.fill import FillWriter, voice_index
    from music_lstm.tasks.steer import fill_harmonize

    pieces = training_side(a.run_dir)
    keep = tuple(voice_index(v) for v in a.keep.split(","))
    writer = FillWriter.from_run(a.run_dir)
    ours = []
    for seed in (int(s) for s in a.seeds.split(",")):
        for s in pieces:
            if a.rewrite:
                ours.append(rewrite_in_turn(writer, s, (1, 2), 2, seed))
                continue
            given = s.with_voices([v if k in keep else [] for k, v in enumerate(s.voices)])
            ours.append(fill_harmonize(writer, given, keep, 1, seed)[0].voices)
    bach = [s.voices for s in pieces]
    xa, ga = ts.features(ours)
    xb, gb = ts.features(bach)
    fn = ts.feature_names()
    every = list(range(len(fn)))
    print(f"{len(pieces)} pieces, {len(ours)} harmonizations: {len(xa)} excerpts against Bach's {len(xb)}")
    print(f"all features: {accuracy(xa, ga, xb, gb, every):.2f}")
    print(f"{'group':22} {'alone':>6} {'left out':>9}")
    for g, test in GROUPS.items():
        cols = [i for i, n in enumerate(fn) if test(n)]
        rest = [i for i in every if i not in cols]
        print(f"{g:22} {accuracy(xa, ga, xb, gb, cols):6.2f} {accuracy(xa, ga, xb, gb, rest):9.2f}")
    sd = np.sqrt((xa.var(0) + xb.var(0)) / 2)
    d = (xa.mean(0) - xb.mean(0)) / np.where(sd > 1e-9, sd, np.inf)
    print(f"\n{'feature':24} {'ours':>7} {'Bach':>7} {'d':>6}")
    for i in np.argsort(-np.abs(d))[: a.top]:
        print(f"{fn[i]:24} {xa[:, i].mean():7.3f} {xb[:, i].mean():7.3f} {d[i]:6.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

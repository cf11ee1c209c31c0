"""A four-voice run's pieces against held-out Bach, on several sets of twenty: the figures the four-voice
tiers are judged by (parallels, the classifier two-sample test, every metric's count inside Bach's band).

For each seed, `generate --num-outputs 20 --seed S` (plus any sampling flags given after `--`), then
`evaluate --generated`, in one process; one line per seed, then the classifier's mean and spread over the
sets, as the classifier moves by about 0.05 between sets of twenty.

    python benchmarks/tier_quality.py --run-dir runs/latest --seeds 1 2 3
    python benchmarks/tier_quality.py --run-dir runs/long --seeds 1 2 3 -- --temperature 0.8
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the package, from a checkout

import numpy as np  # noqa: E402

MIN_INSIDE = 15  # of 20: the tiers' bar for every metric


def one_set(run, seed: int, sampling: dict, pieces: int, folder: Path) -> dict:
    from music_lstm.tasks.generate import generate
    from music_lstm.eval.metrics import evaluate_generated

    files = generate(run=run, output=folder / "piece.mid", num_outputs=pieces, seed=seed, sampling=sampling,
                     log=lambda m: None)
    c = evaluate_generated([str(f) for f in files if f.suffix == ".mid"], run.path, log=lambda m: None)
    vl = c.voices
    low = {m: k for m, k in c.inside_counts().items() if k < MIN_INSIDE}
    low |= {m: s["inside"] for m, s in vl["summary"].items() if s["inside"] < MIN_INSIDE and m != "parallels"}
    ranges_inside = min(1 - np.mean([g[m] for g in vl["generated"].values()])
                        for m in vl["summary"] if m.startswith("outside_"))
    return {
        "classifier": vl["two_sample"]["generated_vs_bach"]["accuracy"],
        "bach_vs_bach": vl["two_sample"]["bach_vs_bach"]["accuracy"],
        "parallels_at_or_below_p90": vl["parallels"]["at_or_below_bach_p90"],
        "parallels_median_at_or_below_p75": vl["parallels"]["median_at_or_below_bach_p75"],
        "copy_rate": float(np.median([g["copy_rate"] for g in c.generated.values()])),
        "notes_in_range": ranges_inside,
        "below": low,
    }


def main(argv=None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    extra = argv[argv.index("--") + 1 :] if "--" in argv else []
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--run-dir", default="runs/latest")
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    ap.add_argument("--pieces", type=int, default=20)
    args = ap.parse_args(argv[: argv.index("--")] if "--" in argv else argv)
    from music_lstm.core.quiet import quiet_tensorflow

    quiet_tensorflow()  # TensorFlow's C++ start-up lines are not the output

    from music_lstm.app.cli import _sampling, build_parser
    from music_lstm.core.quiet import quiet_tensorflow
    from music_lstm.runs.run_folder import load_run

    quiet_tensorflow()

    sampling = _sampling(build_parser().parse_args(["generate", *extra]))
    run = load_run(args.run_dir)
    print(f"{args.run_dir}, sampling {sampling or 'the encoding defaults'}, {args.pieces} pieces a set")
    accs = []
    with tempfile.TemporaryDirectory() as tmp:
        for seed in args.seeds:
            r = one_set(run, seed, sampling, args.pieces, Path(tmp) / f"s{seed}")
            accs.append(r["classifier"])
            below = ", ".join(f"{m} {k}" for m, k in r["below"].items()) or "none"
            print(f"seed {seed}: classifier {r['classifier']:.2f} (Bach vs Bach {r['bach_vs_bach']:.2f}); "
                  f"parallels {r['parallels_at_or_below_p90']}/{args.pieces} at or below Bach's p90, median at or below "
                  f"p75: {r['parallels_median_at_or_below_p75']}; notes in range {r['notes_in_range']:.3f}; "
                  f"copy rate {r['copy_rate']:.3f}; below {MIN_INSIDE}/{args.pieces}: {below}")
    print(f"classifier over {len(accs)} sets: mean {np.mean(accs):.3f}, min {np.min(accs):.2f}, max {np.max(accs):.2f}")


if __name__ == "__main__":
    main()

"""Bach's own style figures on the held-out chorales: the `eval.bach_style` table with Bach's column alone
(inner-voice repeated notes, bass eighths and off-beat starts, cadences at fermatas, strong-beat chromatic
clashes, the two-sample test on his pieces split in halves), then each per-piece figure's median and
10th-90th percentile band: what a harmonizer's column is read against.

The pieces are the "validation" names of the run folder's split (MIDI names, `bwv11.6.mid`), read as
MusicXML from music21's corpus (`bwv11.6`) with their fermatas, metre, pickup and key.

    python benchmarks/bach_style.py
    python benchmarks/bach_style.py --run-dir runs/latest --json bach_style.json
    python benchmarks/bach_style.py --smoke   # four chorales: seconds
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the package, from a checkout

from music_lstm.core.errors import MusicLSTMError  # noqa: E402
from music_lstm.runs import run_folder  # noqa: E402

SMOKE_PIECES = 4
# per-piece figure -> (label, the figure of one piece's measures)
PER_PIECE = {
    "alto repeated notes": lambda m: m["alto_repeated"],
    "tenor repeated notes": lambda m: m["tenor_repeated"],
    "bass eighths": lambda m: m["bass_eighths"],
    "bass off-beat starts": lambda m: m["bass_offbeat"],
    "cadences at fermatas": lambda m: m["cadences"] / m["fermatas"] if m["fermatas"] else float("nan"),
    "strong-beat chromatic clashes": lambda m: m["clashes"] / m["strong_chords"] if m["strong_chords"] else float("nan"),
}


def corpus_name(name: str) -> str:
    """The corpus name of a split's MIDI name: `bwv11.6.mid` -> `bwv11.6`."""
    return name[: -len(".mid")] if name.lower().endswith(".mid") else name


def band_lines(per_piece: list[dict]) -> list[str]:
    """One line per per-piece figure: Bach's median and 10-90% band over the pieces."""
    import numpy as np

    from music_lstm.eval.bach_style import BAND

    lines = [f"{'per piece (Bach)':<32}{'median':>8}  {f'{BAND[0]}-{BAND[1]}% band':<16}"]
    for label, fig in PER_PIECE.items():
        vals = np.array([fig(m) for m in per_piece], dtype=float)
        vals = vals[~np.isnan(vals)]
        lo, hi = np.percentile(vals, BAND)
        lines.append(f"{label:<32}{np.median(vals):>8.3f}  [{lo:.3f}, {hi:.3f}]")
    return lines


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--run-dir", default=str(run_folder.SHIPPED / "harmonize"),
                    help="the run folder whose held-out names are measured (default: the shipped harmonizer)")
    ap.add_argument("--pieces", type=int, default=None, help="only the first N held-out pieces")
    ap.add_argument("--seed", type=int, default=0, help="the two-sample test's folds and halves (default: 0)")
    ap.add_argument("--json", default=None, help="also write the table (and every piece's figures) here")
    ap.add_argument("--smoke", action="store_true", help=f"--pieces {SMOKE_PIECES}: checks that the benchmark runs")
    args = ap.parse_args(argv)
    if args.smoke:
        args.pieces = SMOKE_PIECES
    try:
        return run(args)
    except MusicLSTMError as e:
        print(f"bach_style: {e}", file=sys.stderr)
        return 2


def run(args) -> int:
    from music_lstm.eval.bach_style import format_style_table, style_table
    from music_lstm.io.chorale_scores import corpus_score

    _, names = run_folder.read_split(Path(args.run_dir))
    names = [corpus_name(n) for n in names][: args.pieces]
    t0 = time.perf_counter()
    scores = [corpus_score(n) for n in names]
    read = time.perf_counter() - t0
    table = style_table(scores, {}, seed=args.seed)
    print(format_style_table(table))
    print()
    print("\n".join(band_lines(table["per_piece"]["Bach"])))
    keys = {}
    for s in scores:
        keys[s.mode] = keys.get(s.mode, 0) + 1
    meters = sorted({f"{a}/{b}" for a, b in (s.meter for s in scores)})
    print(f"\n{len(scores)} chorales ({', '.join(f'{n} {k}' for k, n in keys.items())}; metres {', '.join(meters)}); "
          f"read in {read:.1f} s, measured in {time.perf_counter() - t0 - read:.1f} s")
    if args.json:
        run_folder.write_json(args.json, {"names": names, **table})
    return 0


if __name__ == "__main__":
    sys.exit(main())

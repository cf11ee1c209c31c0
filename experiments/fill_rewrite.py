"""Choosing a rewrite's context and rounds on training-side pieces (the run's "validation_loss"
chorales, never the held-out 41): alto and tenor rewritten two bars at a time through each piece
(`eval.steering.rewrite_in_turn`), then chord agreement with Bach, cadences at fermatas and the alto's
repeated notes, per setting, with the time taken.

    python experiments/fill_rewrite.py --run-dir music_lstm/shipped/harmonize --pieces 24 \\
        --settings 64:24:16,32:12:16,32:12:8,32:8:8
"""

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--run-dir", required=True)
    ap.add_argument("--pieces", type=int, default=24)
    ap.add_argument("--settings", default="64:24:16,32:12:16",
                    help="context cells either side : rounds : rounds at the phrase ends, comma-separated")
    a = ap.parse_args(argv)
    from music_lstm.core.quiet import quiet_tensorflow

    quiet_tensorflow()
    from music_lstm.eval.bach_style import style_table
    from music_lstm.eval.steering import rewrite_in_turn, training_side
    from music_lstm.tasks import fill as fill_module
    from music_lstm.tasks.fill import FillWriter

    pieces = training_side(a.run_dir, a.pieces)
    writer = FillWriter.from_run(a.run_dir)
    fill = FillWriter.fill
    for setting in a.settings.split(","):
        context, rounds, cadence = (int(x) for x in setting.split(":"))
        fill_module.CONTEXT = context
        writer.fill = lambda *args, **kw: fill(writer, *args, **{**kw, "rounds": rounds, "cadence_rounds": cadence})
        t0 = time.time()
        outs = [rewrite_in_turn(writer, s, seed=1) for s in pieces]
        c = style_table(pieces, {"fill": outs}, two_sample=False)["columns"]["fill"]
        print(f"context {context} rounds {rounds} at phrase ends {cadence}: chord {c['chord_agreement']:.3f} "
              f"cadences {c['cadence_share']:.3f} alto repeats {c['alto_repeated']:.3f} ({time.time() - t0:.0f} s)",
              flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

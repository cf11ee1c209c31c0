"""Compare trained runs (one per encoding) on held-out cross-entropy per second of music and on the
musical metrics of generated pieces; print one table with a column per run.

For each run: the validation pieces of its `corpus.npz` are scored by its model (each target counted
once; bits per second at the data's tempo, so encodings with different symbol rates compare fairly),
then `--pieces` pieces are generated with the default settings and compared with the run's held-out
Bach pieces (`music_lstm.eval.metrics`, cropped to the median chorale's onsets).

    python experiments/encodings.py --runs /tmp/voiced-run /tmp/grid-run --out /tmp/enc-compare
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402

from music_lstm.training.dataset import overlap_weights  # noqa: E402
from music_lstm.tasks.outfiles import DEFAULT_BPM
from music_lstm.tasks.generate import generate  # noqa: E402
from music_lstm.runs.run_folder import load_run  # noqa: E402
from music_lstm.eval.metrics import METRICS, evaluate_generated  # noqa: E402


def held_out_rate(run) -> dict:
    """Cross-entropy of the validation pieces: per symbol, per quarter note and per second."""
    seqs = [s for s in run.corpus["val"] if len(s) >= 2]
    x, y, w = overlap_weights(seqs, run.config.seq_len)
    probs = run.model.predict(x, batch_size=64, verbose=0)  # (windows, steps, vocab)
    p = np.take_along_axis(probs, y[..., None].astype(np.int64), axis=-1)[..., 0]
    nats = float(-(np.log(np.maximum(p, 1e-12)) * w).sum())
    targets = float(w.sum())
    quarters = 0.0
    for s in seqs:
        notes = run.config.encoder().decode(run.vocab.decode(s)).notes
        quarters += max(o + d for o, d, _ in notes) - min(o for o, _, _ in notes)
    seconds = quarters * 60.0 / (run.bpm or DEFAULT_BPM)
    return {
        "symbols": int(targets),
        "unknown_targets": int(sum((s[1:] == 0).sum() for s in seqs)),  # not scored (weight 0)
        "perplexity_per_symbol": math.exp(nats / targets),
        "bits_per_quarter": nats / math.log(2) / quarters,
        "bits_per_second": nats / math.log(2) / seconds,
        "symbols_per_second": targets / seconds,
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", nargs="+", required=True)
    ap.add_argument("--out", default="enc-compare", help="folder for the generated pieces and JSON")
    ap.add_argument("--pieces", type=int, default=20)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--length", type=int, nargs="+", default=[500], help="symbols per piece, one per run or one for all (default: 500, generate's default)")
    args = ap.parse_args()
    from music_lstm.core.quiet import quiet_tensorflow

    quiet_tensorflow()  # TensorFlow's C++ start-up lines are not the output
    out = Path(args.out)
    results = {}
    lengths = args.length * len(args.runs) if len(args.length) == 1 else args.length
    for run_dir, length in zip(args.runs, lengths):
        run = load_run(run_dir)
        name = f"{Path(run_dir).name}" + ("" if length == 500 else f" (length {length})")
        rate = held_out_rate(run)
        folder = out / name.replace(" ", "").replace("(", "-").replace(")", "")
        messages: list[str] = []
        paths = generate(run_dir, "piece.mid", length=length, num_outputs=args.pieces, seed=args.seed, output_dir=folder, run=run,
                         log=messages.append)
        fixed = [tuple(map(int, m.groups())) for m in (re.search(r"repaired (\d+) of (\d+)", s) for s in messages) if m]
        cmp = evaluate_generated([str(p) for p in paths], run_dir, json_path=folder / "metrics.json", log=lambda m: None)
        results[name] = {
            "run": str(run_dir), "encoding": run.config.encoder().spec,
            "held_out": rate, "metrics": cmp.to_json(),
            "repaired_events": sum(r for r, _ in fixed), "pieces_with_repairs": len(fixed),
            "epochs": len(json.loads((Path(run_dir) / "history.json").read_text())),
        }
    names = list(results)
    col = lambda values: "".join(f"{v:>27}" for v in values)  # noqa: E731
    lines = [f"{'':36}" + col(names), f"{'encoding':<36}" + col(results[n]["encoding"] for n in names),
             f"{'epochs trained':<36}" + col(results[n]["epochs"] for n in names)]
    for key, fmt in [("perplexity_per_symbol", "{:.3f}"), ("bits_per_quarter", "{:.2f}"), ("bits_per_second", "{:.2f}"),
                     ("symbols_per_second", "{:.2f}"), ("unknown_targets", "{}")]:
        lines.append(f"{'held-out ' + key.replace('_', ' '):<36}" + col(fmt.format(results[n]["held_out"][key]) for n in names))
    lines.append(f"{'generated pieces with repairs':<36}" + col(f"{results[n]['pieces_with_repairs']}/{args.pieces}" for n in names))
    first = results[names[0]]["metrics"]
    lines += ["", f"pieces cropped to {first['crop_onsets']} onsets; generated mean, pieces inside the Bach 5-95% band",
              f"{'metric':<36}{'Bach mean':>10}{'Bach 5-95%':>18}" + col(names)]
    for m, (label, fmt) in METRICS.items():
        r = first["reference"][m]
        band = f"[{fmt.format(r['p5'])}, {fmt.format(r['p95'])}]"
        cells = []
        for n in names:
            s = results[n]["metrics"]["summary"][m]
            cells.append(f"{fmt.format(s['generated_mean'])}, {s['inside']}/{s['pieces']}")
        lines.append(f"{label:<36}{fmt.format(r['mean']):>10}{band:>18}" + col(cells))
    print("\n".join(lines))
    out.mkdir(parents=True, exist_ok=True)
    (out / "compare.json").write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())

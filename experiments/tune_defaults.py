"""Choose the training defaults: held-out perplexity against training time, for variants of `Config()`.

Each variant trains on the same data and split under the same time budget, and is then scored with
`evaluate` (exact held-out perplexity of its best model, next to the Kneser-Ney bigram's on the same
split and vocabulary). The curve comes from `history.json`: the seconds of training after which the
validation perplexity exp(val_loss) first dropped below the bigram's, and below 0.8 x the bigram's.
Results are appended to `--results` (one JSON line per variant), and the table of all of them printed,
so variants can be run one at a time (each its own short heavy job).

    python experiments/tune_defaults.py --minutes 4 --variant default
    python experiments/tune_defaults.py --table
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the package, from a checkout

VARIANTS = {
    "default": {},
    "no-transpose": {"transpose_low": 0, "transpose_high": 0},
    "transpose-5-6": {"transpose_low": -5, "transpose_high": 6},
    "transpose-2-2": {"transpose_low": -2, "transpose_high": 2},
    "lr-decay-0.5": {"lr_decay": 0.5},
    "lr-1e-3": {"learning_rate": 1e-3},
    "units-256": {"units": 256},
    "units-384": {"units": 384},
    "units-512": {"units": 512},
    "seq-32": {"seq_len": 32},
    "seq-128": {"seq_len": 128},
    "batch-16": {"batch_size": 16},
    "batch-32": {"batch_size": 32},
    "batch-64": {"batch_size": 64},
    "dropout-0.2": {"dropout": 0.2},
    "dropout-0.4": {"dropout": 0.4},
    "dropout-0.5": {"dropout": 0.5},
    "dropout-0.5-lr-decay-0.5": {"dropout": 0.5, "lr_decay": 0.5},
    "patience-3": {"patience": 3},
    "patience-8": {"patience": 8},
}


def run_variant(name: str, minutes: float, data_dir: str, out: Path, encoding: str | None = None) -> dict:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    from music_lstm.runs.config import Config
    from music_lstm.eval.likelihood import evaluate
    from music_lstm.training.train import train

    base = Config() if encoding is None else Config(encoding=encoding)
    cfg = dataclasses.replace(base, max_minutes=minutes, **VARIANTS[name])
    run_dir = out / name
    summary = train(cfg, data_dir, run_dir, verbose=0, log=lambda m: print(m, file=sys.stderr))
    report = evaluate(run_dir, log=lambda m: None)
    bigram = report["models"]["kn_bigram"]["perplexity"]
    history = json.loads((run_dir / "history.json").read_text())

    def first_below(ppl):
        return next((h["seconds"] for h in history if math.exp(h.get("val_loss", math.inf)) < ppl), None)

    return {
        "variant": name, "encoding": cfg.encoding, "changes": VARIANTS[name], "config": dataclasses.asdict(cfg), "minutes": minutes, "epochs": summary["epochs"],
        "train_seconds": round(summary["train_seconds"], 1),
        "seconds_per_epoch": round(summary["train_seconds"] / max(1, summary["epochs"]), 2),
        "perplexity": report["models"]["lstm"]["perplexity"], "top1": report["models"]["lstm"]["top1"],
        "bigram_perplexity": bigram, "trigram_perplexity": report["models"]["kn_trigram"]["perplexity"],
        "ratio_to_bigram": report["models"]["lstm"]["perplexity"] / bigram,
        "seconds_to_bigram": first_below(bigram), "seconds_to_0.8_bigram": first_below(0.8 * bigram),
        "load": os.getloadavg()[0],
    }


def table(rows: list[dict]) -> str:
    head = f"{'encoding':<8} {'variant':<24} {'epochs':>6} {'train s':>8} {'s/epoch':>8} {'held-out ppl':>12} {'top-1':>6} {'KN-2 ppl':>8} " \
           f"{'ratio':>6} {'s to KN-2':>9} {'s to 0.8 KN-2':>13} {'load':>5}"
    lines = [head]
    fmt = lambda v: "-" if v is None else f"{v:.0f}"  # noqa: E731
    for r in rows:
        lines.append(f"{r.get('encoding', '-'):<8} {r['variant']:<24} {r['epochs']:>6} {r['train_seconds']:>8.0f} {r['seconds_per_epoch']:>8.1f} "
                     f"{r['perplexity']:>12.2f} {r['top1']:>6.1%} {r['bigram_perplexity']:>8.2f} {r['ratio_to_bigram']:>6.3f} "
                     f"{fmt(r['seconds_to_bigram']):>9} {fmt(r['seconds_to_0.8_bigram']):>13} {r['load']:>5.1f}")
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--variant", action="append", choices=sorted(VARIANTS), help="variant(s) to train (repeatable)")
    ap.add_argument("--minutes", type=float, default=4.0, help="training budget per variant (default: 4)")
    ap.add_argument("--encoding", help="the base config's encoding (default: Config's own)")
    ap.add_argument("--data-dir", default="bach")
    ap.add_argument("--out", default="runs/tune", help="folder for the variants' run folders")
    ap.add_argument("--results", default="runs/tune/results.jsonl")
    ap.add_argument("--table", action="store_true", help="only print the table of the results so far")
    args = ap.parse_args()
    from music_lstm.core.quiet import quiet_tensorflow

    quiet_tensorflow()  # TensorFlow's C++ start-up lines are not the output
    results = Path(args.results)
    if not args.table:
        for name in args.variant or ["default"]:
            row = run_variant(name, args.minutes, args.data_dir, Path(args.out), args.encoding)
            results.parent.mkdir(parents=True, exist_ok=True)
            with results.open("a") as f:
                f.write(json.dumps(row) + "\n")
    rows = [json.loads(line) for line in results.read_text().splitlines()] if results.exists() else []
    print(table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())

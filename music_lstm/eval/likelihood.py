"""How well a run predicts its held-out pieces, next to Kneser-Ney bigram and trigram baselines.

Every model is scored the same way on the validation pieces of the run's `split.json` (as ids, from
`corpus.npz`): each symbol after a piece's first is predicted from everything before it in the piece,
and the exact per-symbol cross-entropy (nats), perplexity, top-1 and top-5 accuracy are averaged over
those symbols. A held-out symbol the vocabulary lacks (`<unk>`) is left out for every model and
reported as the out-of-vocabulary rate. The n-grams are fit on the run's training pieces with the
same vocabulary. A run trained on a JSB Chorales file (`train --jsb`) is also scored on the file's test
split, exactly per frame and per note (`jsb.score`, shared with benchmarks/jsb.py). Prints a table;
writes `evaluation.json` in the run folder.

    python -m music_lstm evaluate --run-dir runs/latest
"""

from __future__ import annotations

import math
import os
import sys
from pathlib import Path

import numpy as np

from ..encodings import jsb
from ..runs import run_folder
from ..core.errors import RunFolderError
from ..models.ngram import KneserNey


class Scorer:
    """Running sums of log-probability and top-k hits over the scored (non-`<unk>`) targets."""

    def __init__(self):
        self.nll, self.n, self.top1, self.top5, self.unknown = 0.0, 0, 0, 0, 0

    def add(self, probs: np.ndarray, targets: np.ndarray) -> None:
        """probs (steps, vocab) predicting targets (steps,)."""
        keep = targets != 0
        self.unknown += int((~keep).sum())
        probs, targets = np.asarray(probs, np.float64)[keep], targets[keep]
        if not len(targets):
            return
        p = probs[np.arange(len(targets)), targets]
        self.nll -= float(np.log(np.maximum(p, 1e-300)).sum())  # a float32 softmax can underflow to 0
        higher = (probs > p[:, None]).sum(axis=1)  # ties count in the target's favour
        self.top1 += int((higher < 1).sum())
        self.top5 += int((higher < 5).sum())
        self.n += len(targets)

    def result(self) -> dict:
        ce = self.nll / self.n if self.n else float("nan")
        return {
            "cross_entropy": ce,
            "perplexity": math.exp(ce) if self.n else float("nan"),
            "top1": self.top1 / self.n if self.n else float("nan"),
            "top5": self.top5 / self.n if self.n else float("nan"),
            "symbols": self.n,
        }


def model_probs(model, pieces: list[np.ndarray], batch_pieces: int = 16, factors=None):
    """Yield (probs (len-1, vocab), targets (len-1,)) per piece: the network run over the whole piece
    from a fresh state. Pieces are batched by length; right-padding cannot reach earlier steps. A
    two-softmax network (`factors`, vocab.Factors) is scored on its joint over the combined symbols."""
    order = sorted((i for i, p in enumerate(pieces) if len(p) >= 2), key=lambda i: len(pieces[i]))
    for lo in range(0, len(order), batch_pieces):
        group = [pieces[i] for i in order[lo : lo + batch_pieces]]
        width = max(len(p) for p in group) - 1
        x = np.zeros((len(group), width), np.int32)  # (pieces, steps)
        for r, p in enumerate(group):
            x[r, : len(p) - 1] = p[:-1]
        out = model(x, training=False)
        probs = factors.joint(np.asarray(out[0]), np.asarray(out[1])) if factors else np.asarray(out)  # (pieces, steps, vocab)
        for r, p in enumerate(group):
            yield probs[r, : len(p) - 1], np.asarray(p[1:])


def score_model(model, pieces: list[np.ndarray], factors=None) -> dict:
    scorer = Scorer()
    for probs, targets in model_probs(model, pieces, factors=factors):
        scorer.add(probs, targets)
    return scorer.result()


def score_ngram(lm: KneserNey, pieces: list[np.ndarray]) -> dict:
    scorer = Scorer()
    for p in pieces:
        if len(p) >= 2:
            scorer.add(lm.sequence_probs(p), np.asarray(p[1:]))
    return scorer.result()


def evaluate(run_dir: str | os.PathLike = "runs/latest", log=lambda msg: print(msg, file=sys.stderr)) -> dict:
    """Score the run's model and the n-gram baselines on its held-out pieces; write `evaluation.json`."""
    run = run_folder.load_run(run_dir)
    if run.config.task == "harmonize":
        raise RunFolderError(f"{run.path}: a run that harmonizes a given melody (--melody-context): "
                             "measure it with evaluate --harmonize")
    train, val = run.corpus["train"], [p for p in run.corpus["val"] if len(p) >= 2]
    if not val:
        raise RunFolderError(f"{run.path / run_folder.SPLIT}: no held-out piece to evaluate on (train with --val-fraction > 0)")
    vocab_size = len(run.vocab)
    targets = sum(len(p) - 1 for p in val)
    unknown = sum(int((p[1:] == 0).sum()) for p in val)
    models = {"lstm": score_model(run.model, val, run.factors)}
    for order, name in ((2, "kn_bigram"), (3, "kn_trigram")):
        models[name] = score_ngram(KneserNey(order, vocab_size).fit(train), val)
    if run.config.task != "jsb":  # the held-out music's length: every model's total NLL per quarter note too
        quarters = sum(run.encoding.decode(run.vocab.decode(p)).end for p in val)
        for m in models.values():
            m["bits_per_quarter"] = m["cross_entropy"] * m["symbols"] / math.log(2) / quarters if quarters else float("nan")
    report = {
        "pieces": len(val),
        "targets": targets,
        "unknown_targets": unknown,
        "oov_rate": unknown / targets if targets else 0.0,
        "vocab_size": vocab_size,
        "models": models,
    }
    if run.config.task == "jsb":
        report["jsb_test"] = jsb_test(run)
    run_folder.write_json(Path(run.path) / run_folder.EVALUATION, report)
    return report


def jsb_test(run: run_folder.Run) -> dict:
    """A JSB run's exact NLL on its file's test split (`jsb.score`, as benchmarks/jsb.py scores it): every
    frame of every test sequence, each sequence from a fresh state."""
    data = jsb.read_jsb(run.config.jsb)
    order = jsb.order_for(data, run.config.jsb_order)
    tokens = [jsb.encode_sequence(frames, order) for frames in data.splits["test"]]
    probs = jsb.sequence_probs(run.model, [run.vocab.encode(t) for t in tokens])
    return {"file": data.path, "order": order, "sequences": len(tokens),
            **jsb.score(probs, tokens, order, run.vocab.symbol_to_index)}


def format_table(report: dict) -> str:
    lines = [
        f"held-out: {report['pieces']} pieces, {report['targets'] - report['unknown_targets']} symbols scored, "
        f"{report['unknown_targets']} unknown left out (OOV rate {report['oov_rate']:.2%}); vocabulary {report['vocab_size']}",
        f"{'model':<12} {'cross-entropy':>13} {'perplexity':>10} {'top-1':>7} {'top-5':>7} {'bits/quarter':>12}",
    ]
    for name, m in report["models"].items():
        per_quarter = f"{m['bits_per_quarter']:>12.2f}" if "bits_per_quarter" in m else f"{'-':>12}"
        lines.append(f"{name:<12} {m['cross_entropy']:>13.4f} {m['perplexity']:>10.2f} {m['top1']:>7.1%} {m['top5']:>7.1%} "
                     + per_quarter)
    test = report.get("jsb_test")
    if test:
        lines.append(f"JSB test split of {test['file']} ({test['sequences']} sequences, {test['frames']} frames, "
                     f"{test['notes']} notes; order {test['order']}), exact NLL: {test['per_frame']:.4f} nats per frame, "
                     f"{test['per_note']:.4f} per note")
    return "\n".join(lines)

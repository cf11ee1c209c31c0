"""A classifier two-sample test: can a simple classifier tell excerpts of two sets of four-part pieces apart?

Pure NumPy. Each piece (four voices, as in `voice_leading`) is cut into non-overlapping excerpts of
`length` consecutive onset slices (a piece shorter than that gives none); each excerpt becomes a vector of
musical features (`excerpt_features`): interval-class histograms of the six voice pairs, melodic interval
histograms per voice, voice-leading rates (parallels, hidden fifths/octaves, crossings, spacing, triad and
seventh share), chord-type shares, rhythm (share of onsets on the beat and on the half beat, slice duration
histogram, how often each voice strikes), each voice's mean pitch and spread, and the pitch-class histogram
relative to the major key that holds most notes.

An L2-regularised logistic regression (Newton's method, deterministic) is trained and tested with K-fold
cross-validation where the folds are drawn by piece (all excerpts of a piece fall in one fold) and by class;
features are standardised with the training folds' mean and spread; the two classes weigh the same in
training however many excerpts each has. The figure is the balanced accuracy of the out-of-fold predictions
(the mean of the two classes' accuracies): 0.5 means the sets cannot be told apart, 1.0 always.
`calibrate` runs the same test on one set split at random into two halves by piece, which gives the
accuracy to expect from chance and the test's own bias.

    from music_lstm.eval.two_sample import two_sample_test, calibrate
    two_sample_test(generated_voices, bach_voices, length=48, seed=0).accuracy
    calibrate(bach_voices, length=48, seed=0).accuracy
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from .voice_leading import CHORD_TYPES, LEAP, PAIRS, VSlice, chord_type, moves, transition_events, voice_slices
from ..core.keys import major_profile
from ..core.ranges import Voices

EXCERPT = 48  # onset slices per excerpt
FOLDS = 5
L2 = 1.0
DURATION_BINS = (0.375, 0.625, 1.125, 2.25)  # slice durations: a 16th or less, ~8th, ~quarter, up to a half, longer


def _hist(values, bins: int) -> np.ndarray:
    h = np.bincount(np.asarray(values, dtype=int), minlength=bins)[:bins].astype(float)
    return h / h.sum() if h.sum() else h


def excerpt_features(sl: list[VSlice]) -> np.ndarray:
    """The feature vector of one excerpt (a list of consecutive onset slices)."""
    full = [s for s in sl if s.full]
    feats = []
    for u, l in PAIRS:  # harmonic interval classes per pair
        feats.append(_hist([abs(s.pitches[u] - s.pitches[l]) % 12 for s in full], 12))
    for v in range(4):  # melodic steps per voice: |interval| 0..12, >12, and the share going up
        steps = [
            b.pitches[v] - a.pitches[v]
            for a, b in zip(sl, sl[1:])
            if b.struck[v] and a.pitches[v] is not None and b.pitches[v] is not None
        ]
        feats.append(_hist([min(abs(x), 13) for x in steps], 14))
        feats.append(np.array([np.mean([x > 0 for x in steps]) if steps else 0.0]))
    trans = [(a, b) for a, b in zip(sl, sl[1:]) if a.full and b.full and any(moves(a, b))]
    events = np.array([transition_events(a, b) for a, b in trans], dtype=float).reshape(-1, 3)
    n_full = max(len(full), 1)
    feats.append(np.array([
        events[:, 0].mean() if len(trans) else 0.0,
        events[:, 1].mean() if len(trans) else 0.0,
        events[:, 2].mean() if len(trans) else 0.0,
        np.mean([abs(b.pitches[0] - a.pitches[0]) > LEAP for a, b in trans]) if trans else 0.0,
        sum(any(s.pitches[u] < s.pitches[l] for u, l in PAIRS) for s in full) / n_full,
        sum(s.pitches[0] - s.pitches[1] > 12 for s in full) / n_full,
        sum(s.pitches[1] - s.pitches[2] > 12 for s in full) / n_full,
        len(full) / max(len(sl), 1),
    ]))
    kinds = list(CHORD_TYPES) + [None]
    types = [kinds.index(chord_type({p % 12 for p in s.pitches})) for s in full]
    feats.append(_hist(types, len(kinds)))
    offs = np.array([s.offset for s in sl])
    feats.append(np.array([np.mean(np.isclose(offs % 1, 0, atol=1e-3) | np.isclose(offs % 1, 1, atol=1e-3)),
                           np.mean(np.isclose(offs % 1, 0.5, atol=1e-3))]))
    feats.append(_hist(np.searchsorted(DURATION_BINS, [s.duration for s in sl]), len(DURATION_BINS) + 1))
    feats.append(np.array([np.mean([s.struck[v] for s in sl]) for v in range(4)]))
    for v in range(4):
        ps = [s.pitches[v] for s in sl if s.pitches[v] is not None]
        feats.append(np.array([np.mean(ps) / 12 if ps else 0.0, np.std(ps) / 12 if ps else 0.0]))
    pcs = np.bincount([p % 12 for s in sl for p in s.pitches if p is not None], minlength=12).astype(float)
    tonic = int(np.argmax(major_profile(pcs)))
    feats.append(np.roll(pcs, -tonic) / max(pcs.sum(), 1))
    return np.concatenate(feats)


VOICE_NAMES = ("S", "A", "T", "B")


def feature_names() -> list[str]:
    """A short name for each entry of `excerpt_features`, in its order."""
    names = []
    for u, l in PAIRS:
        names += [f"{VOICE_NAMES[u]}{VOICE_NAMES[l]} interval {k}" for k in range(12)]
    for v in range(4):
        names += [f"{VOICE_NAMES[v]} step {k}" for k in range(13)] + [f"{VOICE_NAMES[v]} step >12",
                                                                      f"{VOICE_NAMES[v]} steps up"]
    names += ["parallel fifths", "parallel octaves", "hidden S-B", "S leaps", "crossings", "S-A over 12",
              "A-T over 12", "full slices"]
    names += [f"chord {k}" for k in CHORD_TYPES] + ["chord other"]
    names += ["onsets on the beat", "onsets on the half beat"]
    names += [f"slice length bin {k}" for k in range(len(DURATION_BINS) + 1)]
    names += [f"{VOICE_NAMES[v]} strikes" for v in range(4)]
    for v in range(4):
        names += [f"{VOICE_NAMES[v]} mean pitch", f"{VOICE_NAMES[v]} pitch spread"]
    names += [f"degree {k}" for k in range(12)]
    return names


def excerpts(voices: Voices, length: int = EXCERPT) -> list[list[VSlice]]:
    """The piece's non-overlapping excerpts of `length` consecutive onset slices, from the start."""
    sl = voice_slices(voices)
    return [sl[i : i + length] for i in range(0, len(sl) - length + 1, length)]


def features(pieces: list[Voices], length: int = EXCERPT) -> tuple[np.ndarray, np.ndarray]:
    """(feature matrix of every excerpt of every piece, the index of the piece each row comes from)."""
    rows, groups = [], []
    for i, v in enumerate(pieces):
        for ex in excerpts(v, length):
            rows.append(excerpt_features(ex))
            groups.append(i)
    if not rows:
        return np.zeros((0, 0)), np.zeros(0, dtype=int)
    return np.vstack(rows), np.array(groups)


def fit_logistic(
    x: np.ndarray, y: np.ndarray, weights: np.ndarray | None = None, l2: float = L2, iterations: int = 50
) -> np.ndarray:
    """L2-regularised logistic regression by Newton's method: (weights, intercept last). The intercept is not
    penalised; `weights` per row are rescaled to sum to the number of rows."""
    n, d = x.shape
    w = np.ones(n) if weights is None else np.asarray(weights, dtype=float) * n / np.sum(weights)
    xb = np.hstack([x, np.ones((n, 1))])
    beta = np.zeros(d + 1)
    penalty = np.full(d + 1, l2)
    penalty[-1] = 0.0
    for _ in range(iterations):
        p = 1 / (1 + np.exp(-np.clip(xb @ beta, -30, 30)))
        grad = xb.T @ (w * (p - y)) + penalty * beta
        hess = (xb * (w * p * (1 - p))[:, None]).T @ xb + np.diag(penalty + 1e-9)
        step = np.linalg.solve(hess, grad)
        beta -= step
        if np.max(np.abs(step)) < 1e-8:
            break
    return beta


def predict(beta: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Probability of class 1 for each row."""
    return 1 / (1 + np.exp(-np.clip(x @ beta[:-1] + beta[-1], -30, 30)))


def group_folds(groups: np.ndarray, labels: np.ndarray, k: int, seed: int = 0) -> np.ndarray:
    """The fold (0..k-1) of each row: each class's groups are shuffled and dealt out in turn, so every group
    lies in one fold and each fold holds groups of both classes."""
    rng = np.random.default_rng(seed)
    fold = np.empty(len(groups), dtype=int)
    for c in np.unique(labels):
        gs = np.unique(groups[labels == c])
        for j, g in enumerate(rng.permutation(gs)):
            fold[(groups == g) & (labels == c)] = j % k
    return fold


@dataclass
class TwoSampleResult:
    accuracy: float  # balanced accuracy of the out-of-fold predictions
    fold_accuracies: list[float]
    excerpts_a: int
    excerpts_b: int
    pieces_a: int
    pieces_b: int
    folds: int
    length: int

    def to_json(self) -> dict:
        return asdict(self)


def _balanced(pred: np.ndarray, y: np.ndarray) -> float:
    return float(np.mean([np.mean(pred[y == c] == c) for c in (0, 1)]))


def two_sample_test(
    set_a: list[Voices], set_b: list[Voices], length: int = EXCERPT, folds: int = FOLDS, seed: int = 0, l2: float = L2
) -> TwoSampleResult:
    """Cross-validated balanced accuracy of telling excerpts of `set_a` from those of `set_b`."""
    xa, ga = features(set_a, length)
    xb, gb = features(set_b, length)
    pa, pb = len(np.unique(ga)), len(np.unique(gb))
    k = min(folds, pa, pb)
    if k < 2:
        raise ValueError(f"too few pieces with a {length}-slice excerpt to cross-validate ({pa} and {pb}; need 2 each)")
    x = np.vstack([xa, xb])
    y = np.concatenate([np.zeros(len(xa)), np.ones(len(xb))])
    groups = np.concatenate([ga, gb + len(set_a)])
    fold = group_folds(groups, y, k, seed)
    pred = np.empty(len(y))
    accs = []
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1, user_api="blas"):  # small products: a second BLAS thread only waits on a busy machine
        for f in range(k):
            _fold(x, y, fold, f, pred, accs, l2)
    return TwoSampleResult(_balanced(pred, y), accs, len(xa), len(xb), pa, pb, k, length)


def _fold(x, y, fold, f, pred, accs, l2):
    """Train on every fold but `f`, write the predictions for fold `f` into `pred`, its accuracy to `accs`."""
    test, train = fold == f, fold != f
    mu, sd = x[train].mean(0), x[train].std(0)
    sd[sd < 1e-12] = 1.0
    ytr = y[train]
    w = np.where(ytr == 1, 1 / ytr.sum(), 1 / (len(ytr) - ytr.sum()))
    beta = fit_logistic((x[train] - mu) / sd, ytr, w, l2)
    pred[test] = predict(beta, (x[test] - mu) / sd) > 0.5
    accs.append(_balanced(pred[test], y[test]))


def calibrate(
    pieces: list[Voices], length: int = EXCERPT, folds: int = FOLDS, seed: int = 0, l2: float = L2
) -> TwoSampleResult:
    """The same test on `pieces` split at random (by piece, with `seed`) into two halves."""
    order = np.random.default_rng(seed + 1).permutation(len(pieces))
    half = len(pieces) // 2
    a, b = [pieces[i] for i in order[:half]], [pieces[i] for i in order[half:]]
    return two_sample_test(a, b, length, folds, seed, l2)

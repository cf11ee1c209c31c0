"""Kneser-Ney baselines give proper distributions and the textbook numbers; transposition gives the
symbols of the moved piece; scoring is exact and leaves <unk> targets out."""

import math

import numpy as np
import pytest

from music_lstm.training.augment import shifts, transpositions
from music_lstm.training.dataset import key_windows
from music_lstm.encodings import get
from music_lstm.eval.likelihood import Scorer, score_ngram
from music_lstm.core.events import Piece
from music_lstm.models.ngram import KneserNey


@pytest.mark.parametrize("order", [1, 2, 3])
def test_kn_distributions_sum_to_one_and_never_predict_unk(order):
    rng = np.random.default_rng(0)
    pieces = [rng.integers(1, 9, size=40) for _ in range(5)]
    lm = KneserNey(order, vocab_size=12).fit(pieces)  # ids 9..11 never seen in training
    for ctx in [(), (3,), (3, 4), (11, 11), (0, 5)]:
        p = lm.probs(ctx)
        assert p.shape == (12,) and p[0] == 0 and math.isclose(p.sum(), 1.0, rel_tol=1e-12)
        assert (p[1:] > 0).all()  # unseen symbols keep some mass, so no held-out symbol costs infinity


def test_kn_bigram_matches_a_hand_computation():
    # One piece 1 2 1 3; padded contexts: <s>->1, 1->2, 2->1, 1->3.
    lm = KneserNey(2, vocab_size=5).fit([np.array([1, 2, 1, 3])])
    d2, d1 = lm.discounts[1], lm.discounts[0]
    # Continuation counts: 1 follows {<s>, 2}, 2 follows {1}, 3 follows {1}; 4 distinct bigram types.
    uni = {w: max(c - d1, 0) / 4 + d1 * 3 / 4 / 4 for w, c in {1: 2, 2: 1, 3: 1, 4: 0}.items()}
    # After 1: 2 once, 3 once (total 2, 2 types).
    expect = max(1 - d2, 0) / 2 + d2 * 2 / 2 * uni[2]
    assert lm.probs((1,))[2] == pytest.approx(expect)
    assert lm.probs((4,))[3] == pytest.approx(uni[3])  # an unseen context falls back to the order below


def test_trigram_learns_a_pattern_the_bigram_cannot():
    pattern = np.array([1, 2, 1, 3] * 30)  # after 1 comes 2 or 3, decided by the symbol before
    held_out = [np.array([1, 2, 1, 3] * 5)]
    bi = score_ngram(KneserNey(2, 4).fit([pattern]), held_out)["perplexity"]
    tri = score_ngram(KneserNey(3, 4).fit([pattern]), held_out)["perplexity"]
    assert tri < 1.15 and bi > 1.35  # the bigram is unsure after every 1: about sqrt(2)


def test_scorer_is_exact_counts_ties_for_the_target_and_skips_unknown_targets():
    probs = np.array([[0.0, 0.5, 0.3, 0.2], [0.1, 0.2, 0.2, 0.5], [0.0, 0.1, 0.6, 0.3]])
    s = Scorer()
    s.add(probs, np.array([2, 1, 0]))  # the last target is <unk>: left out
    r = s.result()
    assert r["symbols"] == 2 and s.unknown == 1
    assert r["cross_entropy"] == pytest.approx(-(math.log(0.3) + math.log(0.2)) / 2)
    assert r["perplexity"] == pytest.approx(math.exp(r["cross_entropy"]))
    assert r["top1"] == 0.0  # 0.3 < 0.5; 0.2 ties 0.2 but 0.5 is above it
    assert r["top5"] == 1.0


def test_transpositions_equal_encoding_the_transposed_piece():
    notes = [(0, 1, 60), (0, 1, 64), (0, 1, 67), (1, 2, 48), (1, 0.5, 72), (1.5, 0.5, 74), (3, 1, 61), (3, 1, 68)]
    piece = Piece(notes=notes)
    keys = shifts(-5, 6)
    assert keys[0] == 0 and sorted(keys) == list(range(-5, 7))
    got = transpositions(piece, "seed", keys)
    for k, syms in zip(keys, got):
        assert syms == get("seed").encode(piece.transpose(k)), k
    assert got[keys.index(2)] != got[0]


def test_a_key_that_would_drop_notes_gives_the_original_symbols():
    piece = Piece(notes=[(0, 1, 125), (1, 1, 60)])
    up, down = transpositions(piece, "seed", [0, 3, -3])[1:]
    assert up == get("seed").encode(piece) and down == get("seed").encode(piece.transpose(-3))


def test_key_windows_align_the_same_stretch_in_every_key():
    a = [np.arange(1, 30), np.arange(101, 130)]  # one piece in two "keys"
    x, y, w = key_windows([a], seq_len=8)
    assert x.shape[1:] == (2, 8) and np.all(x[:, 1] - x[:, 0] == 100 * (w[:, 0] > 0))
    assert np.all(y[:, 0][w[:, 0] > 0] == x[:, 0][w[:, 0] > 0] + 1)


def test_tf_dataset_draws_one_key_per_window_and_a_new_draw_each_epoch():
    from music_lstm.training.dataset import tf_dataset

    n, keys, steps = 64, 4, 5
    x = np.stack([np.stack([np.full(steps, 100 * k + i) for k in range(keys)]) for i in range(n)]).astype(np.int32)
    y, w = x + 1, np.ones_like(x, np.float32)
    ds = tf_dataset(x, y, w, batch_size=16, shuffle=True, seed=0)
    epochs = []
    for _ in range(2):
        drawn = {}
        for bx, by, bw in ds:
            bx, by = bx.numpy(), by.numpy()
            assert bx.shape[1:] == (steps,) and np.all(by == bx + 1)  # inputs and targets from one key
            for row in bx:
                drawn[int(row[0]) % 100] = int(row[0]) // 100
        assert sorted(drawn) == list(range(n))  # every window once per epoch
        epochs.append(drawn)
    assert set(epochs[0].values()) == set(range(keys))
    assert epochs[0] != epochs[1]

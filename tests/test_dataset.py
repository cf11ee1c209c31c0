"""Windows are cut within pieces, cover every position, and weight padding and <unk> at zero."""

import numpy as np

from music_lstm.training.dataset import overlap_weights, split_pieces, windows


def test_split_is_by_piece_seeded_and_disjoint():
    names = [f"p{i}" for i in range(20)]
    train, val = split_pieces(names, 0.1, seed=3)
    assert len(val) == 2 and not set(train) & set(val) and sorted(train + val) == sorted(names)
    assert split_pieces(names, 0.1, seed=3) == (train, val)
    assert split_pieces(["only"], 0.1, seed=0) == (["only"], [])


def test_windows_never_cross_pieces_and_targets_are_next_ids():
    a = np.arange(1, 11, dtype=np.int32)  # 1..10
    b = np.arange(101, 131, dtype=np.int32)  # 101..130
    x, y, w = windows([a, b], seq_len=8)
    for xi, yi, wi in zip(x, y, w):
        real = wi > 0
        assert np.all(yi[real] == xi[real] + 1)  # next id within the same piece
        assert not ((xi[real] < 100).any() and (xi[real] > 100).any())
    assert w.shape == x.shape


def test_short_piece_is_padded_with_zero_weight():
    x, y, w = windows([np.array([5, 6, 7], np.int32)], seq_len=8)
    assert x.shape == (1, 8) and w[0].tolist() == [1, 1, 0, 0, 0, 0, 0, 0]


def test_unknown_targets_get_zero_weight():
    x, y, w = windows([np.array([5, 0, 7, 8], np.int32)], seq_len=3)
    assert w[0].tolist() == [0, 1, 1]


def test_overlap_weights_count_every_position_once():
    seq = np.arange(1, 41, dtype=np.int32)
    x, y, w = overlap_weights([seq], seq_len=8)
    counted = sorted(int(t) for t, wt in zip(y.ravel(), w.ravel()) if wt > 0)
    assert counted == list(range(2, 41))

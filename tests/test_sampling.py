"""The sampler is a pure function of probabilities, settings and a Generator."""

import numpy as np
import pytest

from music_lstm.sampling import Sampling, repeat_ban, sample

P = np.array([[0.05, 0.6, 0.25, 0.1]])


def test_temperature_zero_is_argmax():
    assert sample(P, np.random.default_rng(0), temperature=0).tolist() == [1]


def test_same_seed_same_draws_and_frequencies_follow_probabilities():
    a = [sample(P, np.random.default_rng(7))[0] for _ in range(3)]
    b = [sample(P, np.random.default_rng(7))[0] for _ in range(3)]
    assert a == b
    rng = np.random.default_rng(0)
    draws = sample(np.repeat(P, 20000, axis=0), rng)
    freq = np.bincount(draws, minlength=4) / len(draws)
    assert np.allclose(freq, P[0], atol=0.02)


def test_top_k_and_top_p_restrict_the_choice():
    rng = np.random.default_rng(0)
    many = np.repeat(P, 2000, axis=0)
    assert set(sample(many, rng, top_k=2).tolist()) == {1, 2}
    assert set(sample(many, rng, top_p=0.7).tolist()) == {1, 2}  # 0.6 alone does not reach 0.7
    assert set(sample(many, rng, top_p=0.5).tolist()) == {1}


def test_low_temperature_sharpens_high_flattens():
    rng = np.random.default_rng(0)
    many = np.repeat(P, 5000, axis=0)
    cold = np.mean(sample(many, rng, temperature=0.3) == 1)
    hot = np.mean(sample(many, rng, temperature=3.0) == 1)
    assert cold > 0.85 and hot < 0.45


def test_banned_ids_are_never_drawn_and_all_banned_falls_back_to_argmax_of_allowed():
    rng = np.random.default_rng(0)
    many = np.repeat(P, 1000, axis=0)
    ban = np.zeros_like(many, bool)
    ban[:, 1] = True
    assert 1 not in sample(many, rng, banned=ban)
    only = np.array([[0.0, 1.0, 0.0, 0.0]])
    assert sample(only, rng, banned=np.array([[False, True, False, False]])).tolist() in ([0], [2], [3])


def test_repeat_ban_blocks_a_symbol_after_max_repeat_in_a_row():
    hist = np.array([[3, 5, 5, 5], [1, 2, 5, 5]])
    ban = repeat_ban(hist, 8, max_repeat=3)
    assert ban[0, 5] and ban.sum() == 1
    assert repeat_ban(hist, 8, max_repeat=0) is None


@pytest.mark.parametrize("kw", [{"temperature": -1}, {"top_k": -2}, {"top_p": 0}, {"top_p": 1.5}, {"max_repeat": -1}])
def test_bad_sampling_settings_are_named(kw):
    with pytest.raises(ValueError, match=next(iter(kw))):
        Sampling(**kw)

"""The sampler is a pure function of probabilities, settings and a Generator."""

import numpy as np
import pytest

from music_lstm.core.sampling import Sampling, sample, trailing_run

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


def test_rhythm_temperature_tempers_each_group_apart_and_keeps_its_share():
    probs = np.tile([0.1, 0.3, 0.2, 0.4], (40_000, 1))  # two pitches, then two durations
    rhythm = np.array([False, False, True, True])
    ids = sample(probs, np.random.default_rng(0), temperature=0.5, rhythm=rhythm, rhythm_temperature=1.0)
    freq = np.bincount(ids, minlength=4) / len(ids)
    # pitches keep their 0.4 between them, squared then renormalised (0.01 : 0.09); durations as they were
    assert np.allclose(freq, [0.04, 0.36, 0.2, 0.4], atol=0.01)
    same = sample(probs[:5], np.random.default_rng(1), temperature=0.5, rhythm=rhythm, rhythm_temperature=0.5)
    assert same.tolist() == sample(probs[:5], np.random.default_rng(1), temperature=0.5).tolist()


def test_rhythm_top_p_cuts_only_the_rarest_lengths():
    probs = np.tile([0.1, 0.3, 0.05, 0.4, 0.15], (40_000, 1))  # two pitches, then three lengths
    rhythm = np.array([False, False, True, True, True])
    ids = sample(probs, np.random.default_rng(0), rhythm=rhythm, rhythm_temperature=1.0, rhythm_top_p=0.9)
    freq = np.bincount(ids, minlength=5) / len(ids)
    # lengths 0.4 and 0.15 reach 0.9 of the lengths' 0.6: 0.05 goes, the pitches stay as they were
    assert freq[2] == 0 and np.allclose(freq, np.array([0.1, 0.3, 0.0, 0.4, 0.15]) / 0.95, atol=0.01)
    whole = sample(probs[:50], np.random.default_rng(1), rhythm=rhythm, rhythm_temperature=1.0)
    assert whole.tolist() == sample(probs[:50], np.random.default_rng(1), rhythm=rhythm, rhythm_temperature=1.0,
                                    rhythm_top_p=1.0).tolist()
    with pytest.raises(Exception, match="rhythm_top_p"):
        Sampling(rhythm_top_p=0)


def test_low_temperature_sharpens_high_flattens():
    rng = np.random.default_rng(0)
    many = np.repeat(P, 5000, axis=0)
    cold = np.mean(sample(many, rng, temperature=0.3) == 1)
    hot = np.mean(sample(many, rng, temperature=3.0) == 1)
    assert cold > 0.85 and hot < 0.45


def test_banned_ids_are_never_drawn_even_when_nothing_allowed_has_probability():
    rng = np.random.default_rng(0)
    many = np.repeat(P, 1000, axis=0)
    ban = np.zeros_like(many, bool)
    ban[:, 1] = True
    assert 1 not in sample(many, rng, banned=ban)
    only = np.array([[0.0, 1.0, 0.0, 0.0]])
    ban_01 = np.array([[True, True, False, False]])
    for kw in [{}, {"temperature": 0}, {"temperature": 0.5}, {"top_k": 1}, {"top_p": 0.3}]:
        assert sample(only, rng, banned=ban_01, **kw).tolist() == [2], kw


def test_tiny_temperature_does_not_underflow_to_a_banned_or_unlikely_id():
    probs = np.array([[0.0, 1e-4, 3e-4, 2e-4]])
    draws = {int(sample(probs, np.random.default_rng(s), temperature=0.001)[0]) for s in range(50)}
    assert draws == {2}


def test_caller_probabilities_are_left_unchanged():
    probs = P.copy()
    sample(probs, np.random.default_rng(0), temperature=0.5, top_k=2, top_p=0.9, banned=np.array([[1, 0, 0, 0]], bool))
    assert np.array_equal(probs, P)


def test_trailing_run_counts_how_often_the_last_id_ends_each_row():
    last, run = trailing_run(np.array([[3, 5, 5, 5], [1, 2, 5, 5], [7, 7, 7, 7], [5, 5, 5, 1]]))
    assert last.tolist() == [5, 5, 7, 1] and run.tolist() == [3, 2, 4, 1]
    last, run = trailing_run(np.zeros((2, 0), int))
    assert run.tolist() == [0, 0]


@pytest.mark.parametrize("kw", [{"temperature": -1}, {"rhythm_temperature": 0}, {"top_k": -2}, {"top_p": 0}, {"top_p": 1.5}, {"max_repeat": -1}])
def test_bad_sampling_settings_are_named(kw):
    with pytest.raises(ValueError, match=next(iter(kw))):
        Sampling(**kw)

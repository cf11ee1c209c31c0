"""Incremental NumPy stepping equals the Keras model; the generation loop takes any step function."""

import numpy as np
import pytest

from music_lstm.config import Config
from music_lstm.generate import generate_ids, random_windows
from music_lstm.sampling import Sampling


@pytest.fixture(scope="module")
def tiny_model():
    import keras

    from music_lstm.model import build_model

    keras.utils.set_random_seed(1)
    model = build_model(23, Config(units=16, embed_dim=8, dense_units=12))
    # Random, not freshly initialised, weights: biases and all, so every path is exercised.
    rng = np.random.default_rng(0)
    model.set_weights([rng.normal(0, 0.5, w.shape).astype("float32") for w in model.get_weights()])
    return model


def test_stepper_probabilities_equal_the_full_model_over_60_steps(tiny_model):
    from music_lstm.stepper import LSTMStepper

    ids = np.random.default_rng(2).integers(0, 23, size=(3, 60))
    full = np.asarray(tiny_model(ids, training=False))
    mine = LSTMStepper.from_keras(tiny_model).probabilities(ids)
    assert mine.shape == full.shape == (3, 60, 23)
    assert np.max(np.abs(mine - full)) <= 1e-4


def test_prime_then_step_equals_the_full_model_on_the_longer_prefix(tiny_model):
    from music_lstm.stepper import LSTMStepper

    ids = np.random.default_rng(3).integers(0, 23, size=(2, 51))
    st = LSTMStepper.from_keras(tiny_model)
    st.prime(ids[:, :50])
    nxt = st.step(ids[:, 50])
    full = np.asarray(tiny_model(ids, training=False))[:, -1]
    assert np.max(np.abs(nxt - full)) <= 1e-4


def test_generate_ids_feeds_each_choice_to_the_step_function():
    fed = []

    def step(ids):  # a fake model: always predicts "previous id + 1"
        fed.append(ids.copy())
        probs = np.zeros((len(ids), 10))
        probs[np.arange(len(ids)), (ids + 1) % 10] = 1.0
        return probs

    first = np.zeros((2, 10))
    first[:, 3] = 1
    out = generate_ids(step, first, 5, Sampling(temperature=0), np.random.default_rng(0))
    assert out.tolist() == [[3, 4, 5, 6, 7]] * 2
    assert len(fed) == 4 and fed[0].tolist() == [3, 3]


def test_generate_ids_never_draws_unk_and_the_repeat_guard_breaks_loops():
    def stuck(ids):  # a model that wants the same symbol forever
        probs = np.full((len(ids), 5), 0.01)
        probs[:, 0] = 0.5  # <unk> is likeliest of all, and must never be drawn
        probs[:, 2] = 0.45
        return probs

    first = stuck(np.zeros(1, int))
    out = generate_ids(stuck, first, 40, Sampling(temperature=0, max_repeat=3), np.random.default_rng(0))
    runs = np.diff(np.flatnonzero(np.diff(np.r_[-1, out[0], -1]) != 0))
    assert 0 not in out and runs.max() <= 3
    free = generate_ids(stuck, first, 40, Sampling(temperature=0, max_repeat=0), np.random.default_rng(0))
    assert set(free[0].tolist()) == {2}  # with the guard off, argmax repeats: the guard is what helped


def test_random_windows_come_from_within_one_piece():
    pieces = [np.arange(100, 200), np.arange(1000, 1080)]
    w = random_windows(pieces, 32, 10, np.random.default_rng(0))
    assert w.shape == (10, 32) and np.all(np.diff(w, axis=1) == 1)


@pytest.mark.parametrize("encoding", ["voiced", "grid"])
def test_grammar_mask_makes_even_a_random_model_write_well_formed_streams(encoding):
    from music_lstm.encoding import decode_report
    from music_lstm.polyphony import Grammar

    symbols = ["<unk>", "C5", "C5~", "G4", "G4~", "E4", "E4~", "C3", "C3~", "d1/2", "d1", "r1", "|"]
    symbols = [s for s in symbols if (s == "|") == (encoding == "grid") or s[0] not in "dr|"]
    uniform = lambda ids: np.full((len(ids), len(symbols)), 1.0 / len(symbols))  # noqa: E731
    grammar = Grammar(symbols, encoding, batch=4)
    out = generate_ids(uniform, uniform(np.zeros(4)), 300, Sampling(max_repeat=0), np.random.default_rng(0), grammar=grammar)
    for row in out:
        stream = [symbols[i] for i in row]
        d = decode_report(stream, encoding)
        assert d.repairs == 0 and d.events > 20
    # the same random model without the mask breaks the grammar often
    free = generate_ids(uniform, uniform(np.zeros(4)), 300, Sampling(max_repeat=0), np.random.default_rng(0))
    assert sum(decode_report([symbols[i] for i in row], encoding).repairs for row in free) > 10

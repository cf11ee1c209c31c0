"""Incremental NumPy stepping equals the Keras model; the generation loop takes any step function."""

import numpy as np
import pytest

from music_lstm.runs.config import Config
from music_lstm.encodings.common import Decoded
from music_lstm.tasks.generate import on_the_beat, random_windows
from music_lstm.core.sampling import generate_ids
from music_lstm.core.sampling import Sampling


@pytest.fixture(scope="module")
def tiny_model():
    import keras

    from music_lstm.models.model import build_model

    keras.utils.set_random_seed(1)
    model = build_model(23, Config(units=16, embed_dim=8, dense_units=12))
    # Random, not freshly initialised, weights: biases and all, so every path is exercised.
    rng = np.random.default_rng(0)
    model.set_weights([rng.normal(0, 0.5, w.shape).astype("float32") for w in model.get_weights()])
    return model


def test_stepper_probabilities_equal_the_full_model_over_60_steps(tiny_model):
    from music_lstm.models.stepper import LSTMStepper

    ids = np.random.default_rng(2).integers(0, 23, size=(3, 60))
    full = np.asarray(tiny_model(ids, training=False))
    mine = LSTMStepper.from_keras(tiny_model).probabilities(ids)
    assert mine.shape == full.shape == (3, 60, 23)
    assert np.max(np.abs(mine - full)) <= 1e-4


def test_prime_then_step_equals_the_full_model_on_the_longer_prefix(tiny_model):
    from music_lstm.models.stepper import LSTMStepper

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
    again, before, picked = random_windows(pieces, 32, 10, np.random.default_rng(0), with_before=True)
    assert np.array_equal(again, w)  # the same draws: a seed gives the same prompts either way
    for row, b, k in zip(w, before, picked):
        assert k == (0 if row[0] < 1000 else 1)
        assert np.array_equal(np.concatenate([b, row]), pieces[k][: len(b) + 32])
    _, _, picked = random_windows([np.arange(0), np.arange(10, 50)], 32, 3, np.random.default_rng(0), with_before=True)
    assert picked.tolist() == [1, 1, 1]  # an index into the pieces given, empty ones included


def test_music_cut_between_beats_is_written_from_its_place_in_the_beat():
    voices = [[(0.0, 0.5, 72), (0.5, 1.0, 71)], [(0.0, 1.5, 67)], [(0.0, 1.5, 64)], [(0.0, 1.5, 48)]]
    d = Decoded([n for v in voices for n in v], 2, 0, 1.5, voices)
    moved = on_the_beat(d, 37.5)
    assert moved.voices[0] == [(0.5, 0.5, 72), (1.0, 1.0, 71)] and moved.end == 2.0
    assert sorted(moved.notes) == sorted(n for v in moved.voices for n in v)
    assert on_the_beat(d, 12.0) is d and on_the_beat(d, 11.999999999).voices == voices  # on a beat: as it was


@pytest.mark.parametrize("encoding", ["voiced", "grid"])
def test_grammar_mask_makes_even_a_random_model_write_well_formed_streams(encoding):
    from music_lstm.encodings import get

    symbols = ["<unk>", "C5", "C5~", "G4", "G4~", "E4", "E4~", "C3", "C3~", "d1/2", "d1", "r1", "|"]
    symbols = [s for s in symbols if (s == "|") == (encoding == "grid") or s[0] not in "dr|"]
    uniform = lambda ids: np.full((len(ids), len(symbols)), 1.0 / len(symbols))  # noqa: E731
    grammar = get(encoding).grammar(symbols, 4, Sampling(max_chord_repeat=0))
    out = generate_ids(uniform, uniform(np.zeros(4)), 300, Sampling(max_repeat=0), np.random.default_rng(0), grammar=grammar)
    for row in out:
        stream = [symbols[i] for i in row]
        d = get(encoding).decode(stream)
        assert d.repairs == 0 and d.events > 20
    # the same random model without the mask breaks the grammar often
    free = generate_ids(uniform, uniform(np.zeros(4)), 300, Sampling(max_repeat=0), np.random.default_rng(0))
    assert sum(get(encoding).decode([symbols[i] for i in row]).repairs for row in free) > 10


def _full_model_step(model, prompt, length):
    """The seed's way: run the whole sequence so far through the model for every new symbol.

    The sequence lives in one fixed-width array, zero-padded past the current step (the LSTM is causal,
    so the padding cannot reach back): every call has the same shape, so Keras compiles predict once.
    """
    batch, start = prompt.shape
    seq = np.zeros((batch, start + length), np.int32)
    seq[:, :start] = prompt
    t = [start]

    def probs_at_end():
        return np.asarray(model.predict_on_batch(seq))[:, t[0] - 1].astype(np.float64)

    def step(ids):
        seq[:, t[0]] = ids
        t[0] += 1
        return probs_at_end()

    return step, probs_at_end()


@pytest.mark.parametrize(
    "sampling",
    [Sampling(), Sampling(temperature=0.7, top_k=8), Sampling(temperature=1.3, top_p=0.9, max_repeat=2)],
    ids=["defaults", "cool-top-k", "hot-top-p"],
)
def test_incremental_and_full_model_paths_draw_the_same_symbols_for_the_same_seed(tiny_model, sampling):
    from music_lstm.models.stepper import LSTMStepper

    prompt = np.random.default_rng(4).integers(1, 23, size=(2, 12))
    st = LSTMStepper.from_keras(tiny_model)
    ours = generate_ids(st.step, st.prime(prompt), 60, sampling, np.random.default_rng(11), history=prompt)
    step, first = _full_model_step(tiny_model, prompt, 60)
    full = generate_ids(step, first, 60, sampling, np.random.default_rng(11), history=prompt)
    assert ours.shape == (2, 60)
    assert np.array_equal(ours, full)
    other = generate_ids(st.step, st.prime(prompt), 60, sampling, np.random.default_rng(12), history=prompt)
    assert not np.array_equal(ours, other)  # the seed is what fixed the symbols


@pytest.mark.parametrize("layers", [1, 3])
def test_stepper_follows_keras_for_one_and_three_lstm_layers(layers):
    import keras

    from music_lstm.models.stepper import LSTMStepper

    keras.utils.set_random_seed(2)
    stack = [keras.Input(shape=(None,), dtype="int32"), keras.layers.Embedding(19, 6)]
    stack += [keras.layers.LSTM(u, return_sequences=True) for u in (10, 14, 12)[:layers]]
    stack += [keras.layers.Dense(9, activation="relu"), keras.layers.Dense(19, activation="softmax")]
    model = keras.Sequential(stack)
    rng = np.random.default_rng(5)
    model.set_weights([rng.normal(0, 0.5, w.shape).astype("float32") for w in model.get_weights()])
    ids = rng.integers(0, 19, size=(3, 55))
    full = np.asarray(model(ids, training=False))
    assert np.max(np.abs(LSTMStepper.from_keras(model).probabilities(ids) - full)) <= 1e-4


def test_pieces_stepped_as_one_batch_match_each_stepped_alone(tiny_model):
    from music_lstm.models.stepper import LSTMStepper

    ids = np.random.default_rng(6).integers(1, 23, size=(5, 30))
    st = LSTMStepper.from_keras(tiny_model)
    together = st.probabilities(ids)
    alone = np.concatenate([st.probabilities(ids[i : i + 1]) for i in range(5)])
    assert np.max(np.abs(together - alone)) <= 1e-6


def test_repeat_guard_counts_the_run_that_ends_the_prompt():
    def wants_two(ids):
        probs = np.full((len(ids), 4), 0.1)
        probs[:, 2] = 0.7
        return probs

    history = np.array([[1, 2, 2, 2], [2, 2, 1, 2]])
    out = generate_ids(wants_two, wants_two(np.zeros(2, int)), 3, Sampling(temperature=0, max_repeat=3),
                       np.random.default_rng(0), history=history)
    assert out[0, 0] != 2  # the prompt already ended in three 2s
    assert out[1].tolist()[:2] == [2, 2] and out[1, 2] != 2  # one 2 in the prompt, two more allowed


def test_primer_symbols_outside_the_vocabulary_are_mapped_or_dropped_with_one_warning_line(tmp_path):
    from types import SimpleNamespace

    from midi_bytes import chorale, track_bytes, write

    from music_lstm.core.errors import MusicLSTMError
    from music_lstm.tasks.generate import primer_ids
    from music_lstm.core.vocab import Vocab

    run = SimpleNamespace(config=Config(encoding="seed"), vocab=Vocab(["0.4.7", "5.9.0", "7.11.2", "C4"]))
    lines = []
    ids, shift = primer_ids(run, chorale(tmp_path / "p.mid", bars=2), lines.append)
    assert shift == 0  # not a common_key run: the primer stays in its key
    assert len(lines) == 1 and "0.2.4.7->0.4.7" in lines[0] and "1.2.7->" in lines[0] and "p.mid" in lines[0]
    assert len(ids) == 12 and 0 not in ids  # every symbol kept, each as a known one
    with pytest.raises(MusicLSTMError, match="no usable symbols"):
        primer_ids(SimpleNamespace(config=Config(encoding="seed"), vocab=Vocab([])),
                   write(tmp_path / "q.mid", [track_bytes([(0, 1, 60)])]), lines.append)

"""FusedLSTM: the same function and gradients as Keras's LSTM, and model.keras with Keras's own layers."""

import json
import subprocess
import sys
import zipfile

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")
keras = pytest.importorskip("keras")

from music_lstm.models.lstm import FusedLSTM, builtin_copy, lstm_sequence  # noqa: E402


def _pair(units=6, features=5, **kwargs):
    """A Keras LSTM and a FusedLSTM with the same (random, non-trivial) weights."""
    theirs, ours = keras.layers.LSTM(units, **kwargs), FusedLSTM(units, **kwargs)
    theirs.build((None, None, features))
    ours.build((None, None, features))
    rng = np.random.default_rng(1)
    weights = [rng.normal(0, 0.5, w.shape).astype(np.float32) for w in theirs.get_weights()]
    theirs.set_weights(weights)
    ours.set_weights(weights)
    return theirs, ours


def _outputs_and_grads(layer, x, initial_state=None):
    x = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = layer(x, initial_state=initial_state)
        y = y[0] if isinstance(y, list) else y
        loss = tf.reduce_sum(y * tf.cos(y))  # every output counts, with its own weight
    grads = tape.gradient(loss, [x, *layer.trainable_variables])
    return y.numpy(), [g.numpy() for g in grads]


@pytest.mark.parametrize("return_sequences", [True, False])
def test_fused_lstm_matches_keras_outputs_and_gradients(return_sequences):
    theirs, ours = _pair(return_sequences=return_sequences)
    assert ours._fusable(None)
    x = np.random.default_rng(2).normal(size=(3, 9, 5)).astype(np.float32)
    y_theirs, g_theirs = _outputs_and_grads(theirs, x)
    y_ours, g_ours = _outputs_and_grads(ours, x)
    np.testing.assert_allclose(y_ours, y_theirs, atol=1e-5)
    for a, b in zip(g_ours, g_theirs):  # inputs, kernel, recurrent kernel, bias
        assert np.abs(b).max() > 1e-3  # a real gradient, not all zeros
        np.testing.assert_allclose(a, b, atol=1e-4, rtol=1e-4)


def test_fused_lstm_gradients_reach_the_initial_state_inside_a_tf_function():
    rng = np.random.default_rng(3)
    x = tf.constant(rng.normal(size=(2, 7, 4)).astype(np.float32))
    h0, c0 = (tf.constant(rng.normal(size=(2, 5)).astype(np.float32)) for _ in range(2))
    kernel, recurrent, bias = (tf.constant(rng.normal(0, 0.5, s).astype(np.float32)) for s in [(4, 20), (5, 20), (20,)])

    def reference(x, h, c):  # the LSTM written step by step, differentiated by TensorFlow
        outs = []
        for t in range(x.shape[1]):
            i, f, g, o = tf.split(x[:, t] @ kernel + h @ recurrent + bias, 4, axis=1)
            c = tf.sigmoid(f) * c + tf.sigmoid(i) * tf.tanh(g)
            h = tf.sigmoid(o) * tf.tanh(c)
            outs.append(h)
        return tf.stack(outs, 1), h, c

    def fused(x, h, c):
        outs, h, c = lstm_sequence(tf.transpose(x, [1, 0, 2]), h, c, kernel, recurrent, bias)
        return tf.transpose(outs, [1, 0, 2]), h, c

    @tf.function
    def grads(run):
        with tf.GradientTape() as tape:
            tape.watch([x, h0, c0])
            outs, h, c = run(x, h0, c0)
            loss = tf.reduce_sum(outs ** 3) + tf.reduce_sum(h) + 2 * tf.reduce_sum(c)
        return [loss, *tape.gradient(loss, [x, h0, c0])]

    for a, b in zip(grads(fused), grads(reference)):
        np.testing.assert_allclose(a.numpy(), b.numpy(), atol=1e-4, rtol=1e-4)


def test_fused_lstm_leaves_what_it_does_not_cover_to_keras(monkeypatch):
    import music_lstm.models.lstm

    theirs, ours = _pair(return_sequences=True, go_backwards=True)
    assert not ours._fusable(None)
    x = np.random.default_rng(4).normal(size=(2, 6, 5)).astype(np.float32)
    np.testing.assert_allclose(ours(x).numpy(), theirs(x).numpy(), atol=1e-6)
    _, plain = _pair()
    assert not plain._fusable(tf.ones((2, 6), bool))  # a mask
    assert plain._fusable(None)
    monkeypatch.setattr(music_lstm.models.lstm, "_cpu_only", lambda: False)  # a GPU: Keras's (cuDNN) path
    assert not plain._fusable(None)


def test_builtin_copy_saves_keras_layers_that_load_without_the_package(tmp_path):
    from music_lstm.runs.config import Config
    from music_lstm.models.model import build_model

    model = build_model(11, Config(units=8, embed_dim=4, dense_units=6))
    assert sum(isinstance(layer, FusedLSTM) for layer in model.layers) == 2
    copy = builtin_copy(model)
    assert [type(layer) for layer in copy.layers if isinstance(layer, keras.layers.LSTM)] == [keras.layers.LSTM] * 2
    ids = np.random.default_rng(5).integers(0, 11, (2, 7))
    np.testing.assert_allclose(copy(ids).numpy(), model(ids).numpy(), atol=1e-6)

    path = tmp_path / "model.keras"
    copy.save(path)
    with zipfile.ZipFile(path) as z:
        assert "FusedLSTM" not in z.read("config.json").decode()
    # A fresh interpreter that never imports music_lstm loads it and predicts the same.
    code = (f"import numpy as np, keras; m = keras.saving.load_model({str(path)!r}, compile=False); "
            f"print(m(np.array({ids.tolist()})).numpy().tolist())")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={"TF_CPP_MIN_LOG_LEVEL": "3", "PATH": "/usr/bin:/bin"}, cwd=tmp_path)
    np.testing.assert_allclose(np.array(json.loads(out.stdout.strip().splitlines()[-1])), model(ids).numpy(), atol=1e-6)


def test_the_import_time_check_notices_a_changed_inner_loop(monkeypatch):
    import keras

    from music_lstm.models import lstm

    assert lstm.inner_loop_as_expected() and lstm.LSTM is lstm.FusedLSTM  # the pinned Keras

    def inner_loop(self, sequences, initial_state, mask, training=False, extra=None):  # a new argument
        raise AssertionError("never called")

    monkeypatch.setattr(keras.layers.LSTM, "inner_loop", inner_loop)
    assert not lstm.inner_loop_as_expected()
    monkeypatch.delattr(keras.layers.LSTM, "inner_loop")
    monkeypatch.delattr(keras.layers.RNN, "inner_loop")
    assert not lstm.inner_loop_as_expected()  # gone altogether
    monkeypatch.undo()

    class Renamed(keras.layers.RNN):  # RNN.call no longer runs inner_loop
        def call(self, sequences):
            return self.other_loop(sequences)

    assert not lstm.inner_loop_as_expected(rnn=Renamed)


def test_the_fallback_builds_keras_lstm_and_says_so_in_one_line(monkeypatch, capsys):
    import keras

    from music_lstm.models import lstm, model
    from music_lstm.runs.config import Config

    monkeypatch.setattr(keras.layers.LSTM, "inner_loop", lambda self, sequences: None)
    chosen = lstm.choose_lstm(lstm.inner_loop_as_expected())
    err = capsys.readouterr().err
    assert chosen is keras.layers.LSTM and err.count("\n") == 1 and "LSTM.inner_loop" in err and "Keras's own LSTM" in err
    monkeypatch.undo()
    assert lstm.choose_lstm(lstm.inner_loop_as_expected()) is lstm.FusedLSTM and capsys.readouterr().err == ""
    monkeypatch.setattr(lstm, "LSTM", chosen)  # what the import would have chosen
    built = model.build_model(10, Config(units=4, embed_dim=3, dense_units=4))
    assert [type(layer) for layer in built.layers if "lstm" in layer.name] == [keras.layers.LSTM] * 2

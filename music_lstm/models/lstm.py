"""Keras's LSTM with its CPU training loop written out: same function, same gradients, less time.

On a CPU (no cuDNN) Keras runs an LSTM as a loop over time steps and lets TensorFlow differentiate
that loop, so the backward pass multiplies by transposed matrices and builds every weight gradient
one step at a time. `FusedLSTM` computes the same outputs and gradients (tested against Keras to
float rounding) with one matrix product per step each way: the input product for all steps before
the loop, the weight gradients as three products over all steps after it, and the recurrent kernel
transposed once. `benchmarks/bench_lstm.py` measures the gain (docs/BENCHMARKS.md, "Training").

Anywhere else (a GPU, where Keras uses cuDNN; another backend; a mask; dropout inside the layer; other
activations) it is Keras's LSTM. `builtin_copy` gives the same network with Keras's own LSTM layers:
what `model.keras` holds, so it loads with `keras.saving.load_model` and no custom objects.

`FusedLSTM` overrides a private Keras method, `LSTM.inner_loop`. pyproject pins the Keras versions it is
tested with, and at import `INNER_LOOP_OK` checks that the method is still the one it expects (its
arguments, and `RNN.call` calling it); if not, one line says so and `LSTM` is Keras's own layer.
"""

from __future__ import annotations

import functools
import inspect
import sys

import keras
from keras import activations

INNER_LOOP_ARGS = ("self", "sequences", "initial_state", "mask", "training")  # Keras 3's LSTM.inner_loop


def inner_loop_as_expected(lstm=keras.layers.LSTM, rnn=keras.layers.RNN) -> bool:
    """Is `lstm.inner_loop` the method FusedLSTM overrides: same arguments, and still what `rnn.call` runs?"""
    method = getattr(lstm, "inner_loop", None)
    if not callable(method):
        return False
    try:
        if tuple(inspect.signature(method).parameters) != INNER_LOOP_ARGS:
            return False
    except (TypeError, ValueError):
        return False
    try:
        return "self.inner_loop(" in inspect.getsource(rnn.call)
    except (OSError, TypeError):
        return True  # no source to read (a frozen install): the signature is all there is to check


@functools.cache
def _cpu_only() -> bool:
    import tensorflow as tf

    return not tf.config.list_logical_devices("GPU")


def lstm_sequence(x, h0, c0, kernel, recurrent, bias):
    """Run an LSTM over `x` (steps, batch, in), time-major, from state (h0, c0) (batch, units).

    Keras's gate order (input, forget, cell, output), sigmoid gates, tanh cell. Returns the outputs
    (steps, batch, units) and the last (h, c). Differentiable in every argument.
    """
    import tensorflow as tf

    @tf.custom_gradient
    def run(x, h0, c0, kernel, recurrent, bias):
        steps, batch, width = tf.shape(x)[0], tf.shape(x)[1], tf.shape(x)[2]
        units = tf.shape(recurrent)[0]
        flat_x = tf.reshape(x, [-1, width])
        xw = tf.reshape(tf.matmul(flat_x, kernel) + bias, [steps, batch, 4 * units])  # every step's input product

        def forward(t, h, c, gates, cells, outs):
            i, f, g, o = tf.split(xw[t] + tf.matmul(h, recurrent), 4, axis=1)
            i, f, g, o = tf.sigmoid(i), tf.sigmoid(f), tf.tanh(g), tf.sigmoid(o)
            c = f * c + i * g
            h = o * tf.tanh(c)
            return t + 1, h, c, gates.write(t, tf.concat([i, f, g, o], 1)), cells.write(t, c), outs.write(t, h)

        arrays = [tf.TensorArray(x.dtype, size=steps) for _ in range(3)]
        _, h, c, gates, cells, outs = tf.while_loop(lambda t, *_: t < steps, forward, (0, h0, c0, *arrays))
        gates, cells, outs = gates.stack(), cells.stack(), outs.stack()

        def grad(d_outs, d_h, d_c):
            recurrent_t = tf.transpose(recurrent)
            c_before = tf.concat([c0[None], cells[:-1]], 0)

            def backward(t, dh_next, dc_next, dz_all):
                i, f, g, o = tf.split(gates[t], 4, axis=1)
                tc = tf.tanh(cells[t])
                dh = d_outs[t] + dh_next
                dc = dc_next + dh * o * (1 - tc * tc)
                dz = tf.concat([dc * g * i * (1 - i), dc * c_before[t] * f * (1 - f),
                                dc * i * (1 - g * g), dh * tc * o * (1 - o)], 1)
                return t - 1, tf.matmul(dz, recurrent_t), dc * f, dz_all.write(t, dz)

            dz_all = tf.TensorArray(x.dtype, size=steps)
            _, dh0, dc0, dz_all = tf.while_loop(lambda t, *_: t >= 0, backward, (steps - 1, d_h, d_c, dz_all))
            dz = tf.reshape(dz_all.stack(), [-1, 4 * units])  # (steps * batch, 4u)
            h_before = tf.reshape(tf.concat([h0[None], outs[:-1]], 0), [-1, units])
            d_kernel = tf.matmul(tf.transpose(flat_x), dz)
            d_recurrent = tf.matmul(tf.transpose(h_before), dz)
            dx = tf.reshape(tf.matmul(dz, tf.transpose(kernel)), tf.shape(x))
            return dx, dh0, dc0, d_kernel, d_recurrent, tf.reduce_sum(dz, 0)

        return (outs, h, c), grad

    # Tensors, not variables: the variables are read here, so their gradients come from `grad` through the read.
    return run(*(tf.convert_to_tensor(a) for a in (x, h0, c0, kernel, recurrent, bias)))


@keras.saving.register_keras_serializable(package="music_lstm")
class FusedLSTM(keras.layers.LSTM):
    """`keras.layers.LSTM`, trained on a CPU by `lstm_sequence`. Same arguments, weights and config."""

    def _fusable(self, mask) -> bool:
        return (keras.backend.backend() == "tensorflow" and self.use_cudnn is not True and _cpu_only()
                and mask is None and not (self.go_backwards or self.unroll or self.dropout or self.recurrent_dropout)
                and self.use_bias and self.compute_dtype == "float32"
                and self.activation is activations.tanh and self.recurrent_activation is activations.sigmoid)

    def inner_loop(self, sequences, initial_state, mask, training=False):
        mask = mask[0] if isinstance(mask, (list, tuple)) else mask
        if not self._fusable(mask):
            return super().inner_loop(sequences, initial_state, mask, training=training)
        import tensorflow as tf

        self.supports_jit = False  # a custom gradient over while loops: no XLA
        h0, c0 = initial_state
        cell = self.cell
        outs, h, c = lstm_sequence(tf.transpose(sequences, [1, 0, 2]), h0, c0, cell.kernel, cell.recurrent_kernel, cell.bias)
        return h, tf.transpose(outs, [1, 0, 2]), [h, c]


def choose_lstm(inner_loop_ok: bool) -> type:
    """FusedLSTM where Keras is as it expects; else Keras's own LSTM, saying so in one line."""
    if inner_loop_ok:
        return FusedLSTM
    print(f"music_lstm: Keras {keras.__version__} changed LSTM.inner_loop; training uses Keras's own LSTM (slower on a CPU)",
          file=sys.stderr)
    return keras.layers.LSTM


INNER_LOOP_OK = inner_loop_as_expected()
LSTM = choose_lstm(INNER_LOOP_OK)  # the LSTM layer the model is built with


def builtin_copy(model: keras.Model) -> keras.Model:
    """The same network and weights with every FusedLSTM a `keras.layers.LSTM` (not compiled)."""
    def clone(layer):
        kind = keras.layers.LSTM if isinstance(layer, FusedLSTM) else type(layer)
        return kind.from_config(layer.get_config())

    copy = keras.models.clone_model(model, clone_function=clone)
    copy.set_weights(model.get_weights())
    return copy

"""The `fill_lstm` network (`models.fill`) run in NumPy: the whole piece at once, both directions,
for many copies of it as one batch. The sampler (`tasks.fill`) calls it once per resampling round,
so no framework call sits in that loop. Must agree with the Keras model (tested to 1e-4).

    python -c "from music_lstm.models.fill_numpy import FillNet; help(FillNet.probs)"
"""

from __future__ import annotations

import numpy as np

from ..encodings.cells import VOCAB
from .stepper import _gate_scale


class FillNet:
    def __init__(self, embedding, layers, dense, logits):
        """embedding (4*VOCAB, E); layers [((kernel, recurrent, bias) forward, (...) backward)] per
        bidirectional layer; dense and logits (W, b)."""
        self.embedding = np.asarray(embedding, np.float32)
        self.layers = []
        for fwd, bwd in layers:
            self.layers.append(tuple(self._prep(*w) for w in (fwd, bwd)))
        self.dense = tuple(np.asarray(a, np.float32) for a in dense)
        self.logits = tuple(np.asarray(a, np.float32) for a in logits)

    @staticmethod
    def _prep(kernel, recurrent, bias):
        """Keras's weights with the sigmoid gates halved (`_gate_scale`) and the gates reordered from
        (input, forget, cell, output) to (input, forget, output, cell): the three sigmoid gates side by side."""
        u = np.asarray(recurrent).shape[0]
        scale = _gate_scale(u)
        order = np.r_[0:2 * u, 3 * u:4 * u, 2 * u:3 * u]
        # C order: the gates' fancy index leaves a transposed layout, on which NumPy's stacked matmul of
        # a batch of more than one copy falls off BLAS
        return tuple(np.ascontiguousarray((np.asarray(a, np.float32) * scale)[..., order]) for a in (kernel, recurrent, bias))

    @classmethod
    def from_keras(cls, model) -> "FillNet":
        emb = model.get_layer("embedding").get_weights()[0]
        layers = []
        for k in (1, 2):
            bi = model.get_layer(f"bilstm_{k}")
            layers.append((tuple(bi.forward_layer.get_weights()), tuple(bi.backward_layer.get_weights())))
        return cls(emb, layers, model.get_layer("dense").get_weights(), model.get_layer("logits").get_weights())

    @staticmethod
    def _run_both(x, fwd, bwd) -> np.ndarray:
        """One bidirectional layer over x (B, T, F): (B, T, 2u), forward then backward units. Both
        directions step together, as one batch of two, so each step is one (stacked) matrix product; the
        step's arithmetic is done in place on views, since at one step per call a NumPy call's overhead,
        not its arithmetic, is what the loop costs."""
        B, T, _ = x.shape
        u = fwd[1].shape[0]
        inputs = np.empty((T, 2, B, 4 * u), np.float32)
        inputs[:, 0] = (x @ fwd[0] + fwd[2]).transpose(1, 0, 2)
        inputs[:, 1] = (x @ bwd[0] + bwd[2]).transpose(1, 0, 2)[::-1]
        recurrent = np.stack([fwd[1], bwd[1]])  # (2, u, 4u)
        out = np.empty((T, 2, B, u), np.float32)
        h, c = np.zeros((2, B, u), np.float32), np.zeros((2, B, u), np.float32)
        z = np.empty((2, B, 4 * u), np.float32)
        sig, i, f, o, g = z[..., :3 * u], z[..., :u], z[..., u:2 * u], z[..., 2 * u:3 * u], z[..., 3 * u:]
        for t in range(T):
            np.matmul(h, recurrent, out=z)
            z += inputs[t]
            np.tanh(z, out=z)
            sig *= 0.5  # sigmoid(x) = 0.5 + 0.5 * tanh(x / 2), the halving done on the weights
            sig += 0.5
            c *= f
            c += i * g
            h = out[t]
            np.tanh(c, out=h)
            h *= o
        return np.concatenate([out[:, 0].transpose(1, 0, 2), out[::-1, 1].transpose(1, 0, 2)], axis=-1)

    def probs(self, rows: np.ndarray, features: np.ndarray) -> np.ndarray:
        """(B, T, 4, VOCAB) probabilities for tokens given as embedding rows (`models.fill.voice_rows`,
        (B, T, 4)) and features (B, T, F)."""
        B, T, _ = rows.shape
        emb = self.embedding[rows].reshape(B, T, -1)
        here = np.concatenate([emb, np.asarray(features, np.float32)], axis=-1)
        x = here
        for fwd, bwd in self.layers:
            x = self._run_both(x, fwd, bwd)
        x = np.concatenate([x, here], axis=-1)
        x = np.maximum(x @ self.dense[0] + self.dense[1], 0)
        z = (x @ self.logits[0] + self.logits[1]).reshape(B, T, 4, VOCAB)
        z -= z.max(axis=-1, keepdims=True)
        np.exp(z, out=z)
        z /= z.sum(axis=-1, keepdims=True)
        return z

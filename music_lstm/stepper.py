"""The trained network run one step at a time in NumPy, carrying each LSTM layer's state forward.

A new symbol costs one step of the network (a few small matrix products), not a pass over a whole
window, and no framework call sits in the generation loop. Many pieces step together as one batch.
The weights are read from the Keras model once; `probabilities` runs a whole sequence and must agree
with `model(ids)` (tested to 1e-4).
"""

from __future__ import annotations

import numpy as np


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * x))  # one tanh, no overflow


class LSTMStepper:
    def __init__(self, embedding, lstms, dense, output):
        """embedding (vocab, embed); lstms [(kernel, recurrent_kernel, bias)]; dense/output (W, b)."""
        f32 = lambda a: np.ascontiguousarray(a, dtype=np.float32)  # noqa: E731
        k1, r1, b1 = lstms[0]
        # The first layer's input product depends only on the symbol: precompute it per symbol.
        self.table = f32(np.asarray(embedding) @ np.asarray(k1) + np.asarray(b1))  # (vocab, 4u)
        self.r1 = f32(r1)
        # Later layers: one product of [input, state] with the stacked kernels.
        self.deep = [(f32(np.vstack([k, r])), f32(b)) for k, r, b in lstms[1:]]
        self.dense_w, self.dense_b = f32(dense[0]), f32(dense[1])
        self.out_w, self.out_b = f32(output[0]), f32(output[1])
        self.units = [self.r1.shape[0]] + [w.shape[1] // 4 for w, _ in self.deep]
        self.vocab_size = self.out_w.shape[1]
        self.reset(1)

    @classmethod
    def from_keras(cls, model) -> "LSTMStepper":
        by_kind: dict[str, list] = {"Embedding": [], "LSTM": [], "Dense": []}
        for layer in model.layers:
            kind = type(layer).__name__
            if kind in by_kind:
                by_kind[kind].append([np.asarray(w) for w in layer.get_weights()])
        (emb,), lstms, denses = by_kind["Embedding"], by_kind["LSTM"], by_kind["Dense"]
        if len(denses) != 2 or not lstms:
            raise ValueError("model is not Embedding -> LSTM... -> Dense -> Dense")
        return cls(emb[0], [tuple(w) for w in lstms], tuple(denses[0]), tuple(denses[1]))

    def reset(self, batch: int) -> None:
        self.h = [np.zeros((batch, u), np.float32) for u in self.units]
        self.c = [np.zeros((batch, u), np.float32) for u in self.units]

    @staticmethod
    def _cell(z: np.ndarray, c: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        u = c.shape[1]  # Keras gate order: input, forget, cell, output
        i, f, g, o = _sigmoid(z[:, :u]), _sigmoid(z[:, u : 2 * u]), np.tanh(z[:, 2 * u : 3 * u]), _sigmoid(z[:, 3 * u :])
        c = f * c + i * g
        return o * np.tanh(c), c

    def _advance(self, ids: np.ndarray) -> np.ndarray:
        """Feed one id per row; return the top layer's output (batch, units)."""
        z = self.table[ids] + self.h[0] @ self.r1
        self.h[0], self.c[0] = self._cell(z, self.c[0])
        x = self.h[0]
        for k, ((w, b), h, c) in enumerate(zip(self.deep, self.h[1:], self.c[1:]), start=1):
            z = np.concatenate([x, h], axis=1) @ w + b
            self.h[k], self.c[k] = self._cell(z, c)
            x = self.h[k]
        return x

    def _head(self, x: np.ndarray) -> np.ndarray:
        hid = np.maximum(x @ self.dense_w + self.dense_b, 0.0)
        logits = hid @ self.out_w + self.out_b
        e = np.exp(logits - logits.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)

    def step(self, ids: np.ndarray) -> np.ndarray:
        """Next-symbol probabilities (batch, vocab) after feeding `ids` (batch,)."""
        return self._head(self._advance(np.asarray(ids)))

    def prime(self, ids: np.ndarray) -> np.ndarray:
        """Reset, run a prompt (batch, steps) through; the probabilities after its last symbol."""
        ids = np.atleast_2d(np.asarray(ids))
        self.reset(ids.shape[0])
        for t in range(ids.shape[1] - 1):
            self._advance(ids[:, t])
        return self.step(ids[:, -1])

    def probabilities(self, ids: np.ndarray) -> np.ndarray:
        """Probabilities at every step (batch, steps, vocab), from a fresh state: same as the model."""
        ids = np.atleast_2d(np.asarray(ids))
        self.reset(ids.shape[0])
        return np.stack([self.step(ids[:, t]) for t in range(ids.shape[1])], axis=1)

"""The trained network run one step at a time in NumPy, carrying each LSTM layer's state forward.

A new symbol costs one step of the network (a few small matrix products), not a pass over a whole
window, and no framework call sits in the generation loop. Many pieces step together as one batch.
The weights are read from the Keras model once; `probabilities` runs a whole sequence and must agree
with `model(ids)` (tested to 1e-4).

    python benchmarks/bench_generate.py --run-dir runs/latest
"""

from __future__ import annotations

import numpy as np


def _gate_scale(units: int) -> np.ndarray:
    """Per column of a (.., 4u) gate block: 0.5 for the sigmoid gates (i, f, o), 1 for the cell input g.

    sigmoid(x) = 0.5 + 0.5 * tanh(x / 2), so with the i/f/o columns of the weights pre-scaled by 1/2 a
    single tanh over all four gates replaces four separate activations (the step is call-bound).
    """
    scale = np.full(4 * units, 0.5, np.float32)
    scale[2 * units : 3 * units] = 1.0
    return scale


class LSTMStepper:
    def __init__(self, embedding, lstms, dense, output, second=None, factors=None):
        """embedding (vocab, embed); lstms [(kernel, recurrent_kernel, bias)]; dense/output (W, b); for a
        two-softmax network also `second` (W, b), the duration softmax, and `factors` (vocab.Factors)."""
        f32 = lambda a: np.ascontiguousarray(a, dtype=np.float32)  # noqa: E731
        k1, r1, b1 = (np.asarray(w, np.float64) for w in lstms[0])
        s1 = _gate_scale(r1.shape[0])
        # The first layer's input product depends only on the symbol: precompute it per symbol.
        self.table = f32((np.asarray(embedding, np.float64) @ k1 + b1) * s1)  # (vocab, 4u)
        self.r1 = f32(r1 * s1)  # (u, 4u)
        # Later layers: one product of [input, state] with the stacked kernels.
        self.deep = []
        for k, r, b in lstms[1:]:
            s = _gate_scale(np.asarray(r).shape[0])
            self.deep.append((f32(np.vstack([k, r]) * s), f32(np.asarray(b) * s)))  # (in + u, 4u), (4u,)
        self.dense_w, self.dense_b = f32(dense[0]), f32(dense[1])
        self.out_w, self.out_b = f32(output[0]), f32(output[1])
        self.second = None if second is None else (f32(second[0]), f32(second[1]))
        self.factors = factors
        self.units = [self.r1.shape[0]] + [w.shape[1] // 4 for w, _ in self.deep]
        self.vocab_size = self.out_w.shape[1] if factors is None else len(factors.first_of)
        self.reset(1)

    @classmethod
    def from_keras(cls, model, factors=None) -> "LSTMStepper":
        by_kind: dict[str, list] = {"Embedding": [], "LSTM": [], "Dense": []}
        for layer in model.layers:
            kind = next((c.__name__ for c in type(layer).__mro__ if c.__name__ in by_kind), None)  # FusedLSTM is an LSTM
            if kind:
                by_kind[kind].append([np.asarray(w) for w in layer.get_weights()])
        (emb,), lstms, denses = by_kind["Embedding"], by_kind["LSTM"], by_kind["Dense"]
        if len(denses) != (2 if factors is None else 3) or not lstms:
            raise ValueError("model is not Embedding -> LSTM... -> Dense -> Dense softmax (one, or two with factors)")
        second = tuple(denses[2]) if factors is not None else None
        return cls(emb[0], [tuple(w) for w in lstms], tuple(denses[0]), tuple(denses[1]), second, factors)

    def reset(self, batch: int) -> None:
        """Zero state for `batch` pieces.

        Layer k > 0 reads [h of layer k-1, its own h] from one buffer `_xh[k-1]`, so its step is one
        matrix product with no concatenation: h[k-1] and h[k] are views into that buffer.
        """
        u = self.units
        self.c = [np.zeros((batch, n), np.float32) for n in u]
        self._xh = [np.zeros((batch, u[k - 1] + u[k]), np.float32) for k in range(1, len(u))]
        self.h = [self._xh[0][:, : u[0]] if self._xh else np.zeros((batch, u[0]), np.float32)]
        self.h += [xh[:, u[k] :] for k, xh in enumerate(self._xh)]

    def select(self, rows: np.ndarray) -> None:
        """Keep the state of `rows` (one index per new row, repeats allowed): a beam search's survivors."""
        u = self.units
        self.c = [c[rows] for c in self.c]
        self._xh = [xh[rows] for xh in self._xh]
        self.h = [self._xh[0][:, : u[0]] if self._xh else self.h[0][rows]]
        self.h += [xh[:, u[k] :] for k, xh in enumerate(self._xh)]

    @staticmethod
    def _cell(z: np.ndarray, c: np.ndarray, h_out: np.ndarray) -> None:
        """One LSTM cell update: `c` in place, the new h written into `h_out`.

        z (batch, 4u) holds the gate inputs in Keras order (input, forget, cell, output), with the
        sigmoid gates already halved (see `_gate_scale`); it is overwritten.
        """
        u = c.shape[1]
        t = np.tanh(z, out=z)
        t[:, : 2 * u] *= 0.5  # i, f: sigmoid = 0.5 + 0.5 * tanh(x / 2)
        t[:, : 2 * u] += 0.5
        t[:, 3 * u :] *= 0.5  # o
        t[:, 3 * u :] += 0.5
        c *= t[:, u : 2 * u]  # f * c
        c += t[:, :u] * t[:, 2 * u : 3 * u]  # + i * g
        np.multiply(t[:, 3 * u :], np.tanh(c), out=h_out)

    def _advance(self, ids: np.ndarray, extra: np.ndarray | None = None) -> np.ndarray:
        """Feed one id per row; return the top layer's output (batch, units). `extra` (batch, 4u), when
        given, is added to the first layer's gate inputs (another input's share, melody_context)."""
        z = self.h[0] @ self.r1  # (batch, 4u)
        z += self.table[ids]
        if extra is not None:
            z += extra
        self._cell(z, self.c[0], self.h[0])
        for k, (w, b) in enumerate(self.deep, start=1):
            z = self._xh[k - 1] @ w  # [h of layer k-1, h of layer k] @ stacked kernels
            z += b
            self._cell(z, self.c[k], self.h[k])
            if k < len(self._xh):  # a third layer or more: its input slot gets this layer's h
                self._xh[k][:, : self.units[k]] = self.h[k]
        return self.h[-1]

    def _head(self, x: np.ndarray) -> np.ndarray:
        hid = x @ self.dense_w
        hid += self.dense_b
        np.maximum(hid, 0.0, out=hid)
        probs = self._softmax(hid, self.out_w, self.out_b)  # (batch, vocab)
        if self.second is None:
            return probs
        return self.factors.joint(probs, self._softmax(hid, *self.second))

    @staticmethod
    def _softmax(hid: np.ndarray, w: np.ndarray, b: np.ndarray) -> np.ndarray:
        logits = hid @ w
        logits += b
        logits -= logits.max(axis=1, keepdims=True)
        e = np.exp(logits, out=logits)
        e /= e.sum(axis=1, keepdims=True)
        return e

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


def run_lstm(x: np.ndarray, kernel: np.ndarray, recurrent: np.ndarray, bias: np.ndarray) -> np.ndarray:
    """One Keras LSTM layer (tanh, sigmoid gates in the order i, f, c, o) over a whole sequence x
    (steps, features), from a zero state: (steps, units). The same cell as the stepper's."""
    scale = _gate_scale(recurrent.shape[0])
    inputs = (np.asarray(x, np.float32) @ kernel + bias) * scale  # (steps, 4u)
    r = (np.asarray(recurrent, np.float32) * scale).astype(np.float32)
    h = np.zeros((1, recurrent.shape[0]), np.float32)
    c = np.zeros_like(h)
    out = np.empty((len(x), h.shape[1]), np.float32)
    for t in range(len(x)):
        z = (inputs[t] + h @ r).astype(np.float32)  # (1, 4u)
        LSTMStepper._cell(z, c, h)
        out[t] = h[0]
    return out

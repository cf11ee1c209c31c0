"""Networks of the same settings and vocabulary, trained with other seeds on the same pieces, averaged
(kind `lstm_ensemble`).

Each member gives its next-symbol probabilities and the ensemble takes their mean: the mixture predicts
held-out music better than any one member, where one longer training only overfits. The Keras model
(`build_ensemble`) holds the members as layers `member_1`, `member_2`, ... and averages their softmaxes,
so `model(ids)` is the mixture and `model.keras` one file; `EnsembleStepper` steps every member's NumPy
stepper and averages the same way (tested against the Keras model).

    python -c "from music_lstm.runs.run_folder import combine; combine(['runs/long', 'runs/long_s1'], 'runs/long_ens')"
"""

from __future__ import annotations

import numpy as np

MEMBER = "member_{}"


def build_ensemble(models: list):
    """One Keras model whose output is the mean of `models`' outputs; each is kept whole, renamed `member_k`
    (k from 1). Every member takes int ids (batch, steps) and gives one softmax (batch, steps, vocab)."""
    import keras
    from keras import layers

    if len(models) < 2:
        raise ValueError(f"an ensemble needs two networks or more, got {len(models)}")
    sizes = {tuple(m.output_shape) for m in models}
    if len(sizes) != 1 or any(isinstance(m.output_shape, list) for m in models):
        raise ValueError(f"the networks do not predict the same symbols (outputs {sorted(map(str, sizes))})")
    ids = keras.Input(shape=(None,), dtype="int32", name="ids")
    outs = []
    for k, m in enumerate(models, start=1):
        m.name = MEMBER.format(k)  # the member's own layers keep their names inside it
        outs.append(m(ids))
    return keras.Model(ids, layers.Average(name="mean")(outs), name="music_lstm_ensemble")


def members(model) -> list:
    """The member networks of a `build_ensemble` model, in order."""
    found, k = [], 1
    while any(layer.name == MEMBER.format(k) for layer in model.layers):
        found.append(model.get_layer(MEMBER.format(k)))
        k += 1
    if len(found) < 2:
        raise ValueError("not an ensemble: fewer than two member_k networks")
    return found


class EnsembleStepper:
    """The members' NumPy steppers (`stepper.LSTMStepper`) stepped together; probabilities are their mean."""

    def __init__(self, steppers: list):
        self.steppers = list(steppers)
        self.vocab_size = self.steppers[0].vocab_size
        if any(s.vocab_size != self.vocab_size for s in self.steppers):
            raise ValueError("the members do not predict the same symbols")

    @classmethod
    def from_keras(cls, model) -> "EnsembleStepper":
        from .stepper import LSTMStepper

        return cls([LSTMStepper.from_keras(m) for m in members(model)])

    def reset(self, batch: int) -> None:
        for s in self.steppers:
            s.reset(batch)

    def select(self, rows: np.ndarray) -> None:
        for s in self.steppers:
            s.select(rows)

    def step(self, ids: np.ndarray) -> np.ndarray:
        out = self.steppers[0].step(ids)
        for s in self.steppers[1:]:
            out = out + s.step(ids)
        return out / len(self.steppers)

    def prime(self, ids: np.ndarray) -> np.ndarray:
        return sum(s.prime(ids) for s in self.steppers) / len(self.steppers)

    def probabilities(self, ids: np.ndarray) -> np.ndarray:
        return sum(s.probabilities(ids) for s in self.steppers) / len(self.steppers)

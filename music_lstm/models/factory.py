"""One factory for the networks a run folder holds, by the kind its `config.json` records.

    kind         the network                                   its NumPy stepper
    lstm         `model.build_model` (one softmax, or two)     `stepper.LSTMStepper`
    melody_lstm  `melody_context.build_model` (reads the melody too)   `melody_context.MelodyStepper`
    jsb_frames   `model.build_model`, over JSB frame tokens    `stepper.LSTMStepper`
    lstm_ensemble  `ensemble.build_ensemble` (lstms averaged)  `ensemble.EnsembleStepper`

Nothing here guesses a kind from a network's layers: the caller says which (`runs.config.Config.kind`).
Keras is imported only when a network is built.

    python -c "from music_lstm.models import factory; print(factory.KINDS)"
"""

from __future__ import annotations

KINDS = ("lstm", "melody_lstm", "jsb_frames", "lstm_ensemble")


def check_kind(kind: str) -> str:
    if kind not in KINDS:
        raise ValueError(f"invalid network kind: {kind!r} (choose from {', '.join(KINDS)})")
    return kind


def build(kind: str, vocab_size: int, cfg, heads: tuple[int, int] | None = None, lstm=None):
    """A new compiled network of `kind` for `vocab_size` symbols; `cfg` gives its sizes; `heads` (chords,
    durations): two softmaxes (an lstm only); `lstm` the LSTM layer class (`model.build_model`)."""
    if check_kind(kind) == "melody_lstm":
        from .melody_context import build_model

        return build_model(vocab_size, cfg, lstm=lstm)
    if kind == "lstm_ensemble":
        raise ValueError("an lstm_ensemble is not trained: train its members, then combine them (run_folder.combine)")
    from .model import build_model

    return build_model(vocab_size, cfg, heads, lstm=lstm)


def stepper(kind: str, model, factors=None):
    """The NumPy stepper of a network of `kind` (built here, or loaded from a run folder)."""
    if check_kind(kind) == "melody_lstm":
        from .melody_context import MelodyStepper

        return MelodyStepper(model)
    if kind == "lstm_ensemble":
        from .ensemble import EnsembleStepper

        return EnsembleStepper.from_keras(model)
    from .stepper import LSTMStepper

    return LSTMStepper.from_keras(model, factors)

"""The network: token ids -> Embedding -> LSTM -> Dropout -> LSTM -> Dropout -> Dense(256) -> softmax.

The LSTMs are `lstm.FusedLSTM`: Keras's LSTM with a faster CPU training loop; `model.keras` holds
Keras's own layers (`lstm.builtin_copy`), so it reloads with `keras.saving.load_model` and no custom
objects. Both LSTMs return sequences: the model predicts the next symbol at every step of a window.
Input: int ids of shape (batch, steps) for any number of steps; output: probabilities
(batch, steps, vocab), or with `heads` two of them, over chords and over durations. No file I/O here.
"""

from __future__ import annotations

import keras
from keras import layers

from . import lstm as lstm_layers


def body(cfg, lstm=None) -> list:
    """The layers between a symbol's embedding and the softmax, shared by every network here:
    LSTM -> Dropout -> LSTM -> Dropout -> Dense (relu), all sequences kept (batch, steps, dense)."""
    lstm = lstm or lstm_layers.LSTM
    return [
        lstm(cfg.units, return_sequences=True, name="lstm_1"),  # (batch, steps, units)
        layers.Dropout(cfg.dropout, name="dropout_1"),
        lstm(cfg.units, return_sequences=True, name="lstm_2"),
        layers.Dropout(cfg.dropout, name="dropout_2"),
        layers.Dense(cfg.dense_units, activation="relu", name="dense"),
    ]


def compile_model(model: keras.Model, cfg, outputs: int = 1) -> keras.Model:
    """Adam at the config's rate; per softmax, the mean loss over the weighted targets only (padding and
    <unk> targets carry weight 0) and the accuracy."""
    loss = lambda: keras.losses.SparseCategoricalCrossentropy(reduction="mean_with_sample_weight")  # noqa: E731
    optimizer = keras.optimizers.Adam(learning_rate=cfg.learning_rate)
    if outputs == 1:
        model.compile(optimizer=optimizer, loss=loss(), weighted_metrics=["sparse_categorical_accuracy"])
    else:
        model.compile(optimizer=optimizer, loss=[loss() for _ in range(outputs)],
                      weighted_metrics=[["sparse_categorical_accuracy"] for _ in range(outputs)])
    return model


def build_model(vocab_size: int, cfg, heads: tuple[int, int] | None = None, lstm=None) -> keras.Model:
    """`cfg` is the run's `runs.config.Config` (read for its sizes only). One softmax over `vocab_size` symbols; or, given `heads` (chords, durations), two softmaxes that
    read the same Dense layer (`chords --durations`: a chord and its duration, see vocab.Factors).
    `lstm` is the LSTM layer class: by default `lstm.LSTM` (FusedLSTM, unless the installed Keras changed
    what it overrides); `keras.layers.LSTM` for Keras's own, as the benchmarks compare."""
    stack = [layers.Embedding(vocab_size, cfg.embed_dim, name="embedding"), *body(cfg, lstm)]  # (batch, steps, embed)
    if heads is None:
        model = keras.Sequential(
            [keras.Input(shape=(None,), dtype="int32"), *stack,
             layers.Dense(vocab_size, activation="softmax", name="output")],  # (batch, steps, vocab)
            name="music_lstm",
        )
        return compile_model(model, cfg)
    ids = keras.Input(shape=(None,), dtype="int32")
    hidden = ids
    for layer in stack:
        hidden = layer(hidden)
    outputs = [layers.Dense(n, activation="softmax", name=name)(hidden) for n, name in zip(heads, ("output", "output_duration"))]
    return compile_model(keras.Model(ids, outputs, name="music_lstm"), cfg, len(outputs))

"""The network that writes any cells of four voices given the others (kind `fill_lstm`).

Per sixteenth it reads the four voices' tokens (`encodings.cells`: a pitch, HOLD, REST, or MASK for a
cell to write) and the step's features (beat, bar, fermata, phrase end ahead, mode). Two bidirectional
LSTM layers read the whole piece both ways, so a cell is written knowing the music before and after
it as well as the other voices at that moment; dropout after each, a Dense(256) layer, and a softmax
per voice over the tokens. It is trained on pieces with random cells masked (`training.fill_train`)
and learns only from the masked cells: an orderless model of every conditional the sampler
(`tasks.fill`) asks of it.

    python -c "from music_lstm.models.fill import FillSizes; print(FillSizes())"
"""

from __future__ import annotations

from dataclasses import dataclass

from ..encodings.cells import FEATURES, VOCAB


@dataclass(frozen=True)
class FillSizes:
    embed_dim: int = 32  # per voice
    units: int = 160  # per direction, each of the two layers
    dense_units: int = 256
    dropout: float = 0.2
    learning_rate: float = 2e-3


def voice_rows(tokens):
    """(B, T, 4) tokens as the embedding's rows: voice v's token k is row k + v * VOCAB."""
    import numpy as np

    return np.asarray(tokens, dtype=np.int32) + np.arange(4, dtype=np.int32) * VOCAB


def build_fill_model(sizes: FillSizes = FillSizes()):
    """The compiled Keras network: inputs tokens (B, T, 4) int (`voice_rows`) and features (B, T, FEATURES); output
    (B, T, 4, VOCAB) probabilities."""
    import keras
    from keras import layers

    tokens = keras.Input((None, 4), dtype="int32", name="tokens")  # `voice_rows`: each voice its own rows
    feats = keras.Input((None, FEATURES), name="features")
    emb = layers.Embedding(4 * VOCAB, sizes.embed_dim, name="embedding")(tokens)
    emb = layers.Reshape((-1, 4 * sizes.embed_dim))(emb)
    x = layers.Concatenate()([emb, feats])
    here = x
    for k in range(2):
        x = layers.Bidirectional(layers.LSTM(sizes.units, return_sequences=True), name=f"bilstm_{k + 1}")(x)
        x = layers.Dropout(sizes.dropout)(x)
    x = layers.Concatenate()([x, here])
    x = layers.Dense(sizes.dense_units, activation="relu", name="dense")(x)
    x = layers.Dropout(sizes.dropout)(x)
    x = layers.Dense(4 * VOCAB, name="logits")(x)
    x = layers.Reshape((-1, 4, VOCAB))(x)
    out = layers.Softmax(name="probs")(x)
    return compile_fill_model(keras.Model([tokens, feats], out, name="fill_lstm"), sizes.learning_rate)


def compile_fill_model(model, learning_rate: float):
    """`model` compiled for training as `build_fill_model` compiles it (a shipped network has no optimizer)."""
    import keras

    model.compile(optimizer=keras.optimizers.Adam(learning_rate, clipnorm=1.0),
                  loss="sparse_categorical_crossentropy", weighted_metrics=[])
    return model

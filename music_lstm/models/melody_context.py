"""A harmonizing network that reads the whole melody, what comes later included.

The satb stream (encodings/satb.py) is still read left to right, one symbol a step, by the two
LSTMs. Beside it, the soprano line is cut into frames of an eighth note (`FRAME`), each frame one
symbol: a rest, the soprano's pitch held, or its pitch struck within the frame (`frame_symbols`).
A bidirectional LSTM reads those frames, so its output at a frame knows the melody before and after
it. At every step the stack also reads that output at the frame where the symbol it predicts
begins (the start of its group), so the alto, tenor and bass are written knowing where the tune
goes next:

    symbols  -> Embedding ----------------------------\
    frames   -> Embedding -> Bidirectional LSTM -> at -> concat -> LSTM -> Dropout -> LSTM -> Dropout
                                                               -> Dense(256) -> softmax

Training windows are those of `dataset` (windows of symbols within a piece); each also carries
`WINDOW_FRAMES` frames of its melody from the frame of its first prediction on, and per step the
index of its frame among them (`windows`). When harmonizing, the melody's frames are read once
(`MelodyStepper.set_melody`) and each step adds the first LSTM's share of its frame's output.

    python -m music_lstm train --melody-context --run-dir runs/harmonize --units 256 --seq-len 128
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from ..encodings import satb
from ..core.events import Note
from .stepper import LSTMStepper, _gate_scale, run_lstm


FRAME = 0.5  # quarter notes per melody frame
PAD, REST = 0, 1  # frame symbols: beyond the melody, and a silent soprano
FRAME_VOCAB = 2 + 2 * 128  # then 2 + 2 * pitch (held) and 2 + 2 * pitch + 1 (struck within the frame)
WINDOW_FRAMES = 64  # frames a training window reads: 32 quarter notes from its first prediction on
MELODY_EMBED, MELODY_UNITS = 32, 96  # the frame embedding, and the cells of each direction of its LSTM
GROUP = len(satb.VOICES) + 1  # symbols in a group: four voice slots, then a length


def frame_of(time: float) -> int:
    return int(math.floor(time / FRAME + 1e-6))


def frame_symbols(soprano: Sequence[Note], start: float = 0.0, end: float | None = None) -> np.ndarray:
    """The soprano line (offset, duration, pitch), one note at a time, as frame symbols from `start`
    until `end` (default: its last release)."""
    end = max((o + d for o, d, _ in soprano), default=start) if end is None else end
    out = np.full(max(1, frame_of(end - start - 1e-6) + 1), REST, np.int32)
    for o, d, p in sorted(soprano):
        a, b = (o - start) / FRAME, (o + d - start) / FRAME
        first, last = int(math.floor(a + 1e-6)), int(math.ceil(b - 1e-6))
        out[first:last] = 2 + 2 * p
        out[first] = 2 + 2 * p + 1
    return out


def stream_soprano(symbols: Sequence[str], order: str = satb.ORDER) -> tuple[list[Note], np.ndarray]:
    """(soprano notes, group start times) of a satb stream that starts at a group: the soprano read
    from its slots, times in quarter notes from the stream's start (one more time: the end)."""
    s = order.index("S")
    starts, notes = [0.0], []
    current = None
    for g in range(len(symbols) // GROUP):
        group = symbols[g * GROUP:(g + 1) * GROUP]
        kind, pitch, struck = satb.classify(group[s])
        length = satb.classify(group[-1])[1] or 0.0
        t = starts[-1]
        if kind != "pitch":
            current = None
        elif struck or current is None or current[2] != pitch:
            current = [t, length, pitch]
            notes.append(current)
        else:
            current[1] += length
        starts.append(t + length)
    return [(o, d, p) for o, d, p in notes], np.array(starts)


def target_frames(n: int, starts: np.ndarray) -> np.ndarray:
    """Per input position i of a stream of n symbols: the frame of the group symbol i + 1 belongs to."""
    groups = np.minimum((np.arange(n) + 1) // GROUP, len(starts) - 1)
    return np.floor(starts[groups] / FRAME + 1e-6).astype(np.int32)


def piece_inputs(symbols: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """(frames of the whole piece, frame per input position) of a satb stream."""
    soprano, starts = stream_soprano(symbols)
    frames = frame_symbols(soprano, 0.0, float(starts[-1]))
    return frames, np.minimum(target_frames(len(symbols), starts), len(frames) - 1)


def build_model(vocab_size: int, cfg, lstm=None):
    """The network of the module's picture; inputs (symbols, frames, at), all int32."""
    import keras
    from keras import layers, ops

    from .model import body, compile_model

    symbols = keras.Input(shape=(None,), dtype="int32", name="symbols")
    frames = keras.Input(shape=(None,), dtype="int32", name="frames")
    at = keras.Input(shape=(None,), dtype="int32", name="at")
    melody = layers.Embedding(FRAME_VOCAB, MELODY_EMBED, name="melody_embedding")(frames)
    melody = layers.Bidirectional(layers.LSTM(MELODY_UNITS, return_sequences=True), name="melody_lstm")(melody)
    context = ops.take_along_axis(melody, ops.expand_dims(at, -1), axis=1)  # (batch, steps, 2 * MELODY_UNITS)
    x = layers.Concatenate(name="with_melody")([layers.Embedding(vocab_size, cfg.embed_dim, name="embedding")(symbols),
                                                context])
    for layer in body(cfg, lstm):  # the same stack as model.build_model's, after the concatenation
        x = layer(x)
    out = layers.Dense(vocab_size, activation="softmax", name="output")(x)
    return compile_model(keras.Model([symbols, frames, at], out, name="music_lstm_melody"), cfg)


class MelodyStepper(LSTMStepper):
    """`LSTMStepper` for `build_model`'s network: `set_melody` reads a melody's frames once; each
    `step(ids, frames)` adds, per row, the first LSTM's input product of that frame's melody output."""

    def __init__(self, model):
        bidirectional = model.get_layer("melody_lstm")
        self._melody_embedding = model.get_layer("melody_embedding").get_weights()[0]
        self._directions = [[np.asarray(w, np.float32) for w in layer.get_weights()]
                            for layer in (bidirectional.forward_layer, bidirectional.backward_layer)]
        emb = model.get_layer("embedding").get_weights()[0]
        k1, r1, b1 = model.get_layer("lstm_1").get_weights()
        self._k_melody = (k1[emb.shape[1]:] * _gate_scale(r1.shape[0])).astype(np.float32)  # (2H, 4u)
        lstms = [(k1[:emb.shape[1]], r1, b1), tuple(model.get_layer("lstm_2").get_weights())]
        super().__init__(emb, lstms, tuple(model.get_layer("dense").get_weights()),
                         tuple(model.get_layer("output").get_weights()))
        self.melody = np.zeros((1, self._k_melody.shape[1]), np.float32)

    def set_melody(self, frames: np.ndarray) -> None:
        """Read the melody's frames (frame symbols, `frame_symbols`); a frame past its end reads the last."""
        x = self._melody_embedding[np.asarray(frames, np.int64)]  # (frames, embed)
        forward = run_lstm(x, *self._directions[0])
        backward = run_lstm(x[::-1], *self._directions[1])[::-1]
        self.melody = np.concatenate([forward, backward], axis=1) @ self._k_melody

    def probabilities(self, ids: np.ndarray, frames: np.ndarray | None = None, at: np.ndarray | None = None):
        """(1, steps, vocab) for one stream `ids` with its melody `frames` and frame per step `at`
        (`piece_inputs`): the same as the Keras model, in NumPy."""
        self.set_melody(frames)
        ids = np.atleast_2d(np.asarray(ids))
        self.reset(1)
        return np.stack([self.step(ids[:, t], np.asarray(at)[t:t + 1]) for t in range(ids.shape[1])], axis=1)

    def step(self, ids: np.ndarray, frames: np.ndarray | None = None) -> np.ndarray:
        ids = np.asarray(ids)
        frames = np.zeros(len(ids), np.int64) if frames is None else np.minimum(frames, len(self.melody) - 1)
        return self._head(self._advance(ids, self.melody[frames]))

"""The JSB Chorales benchmark files: read them, write each frame as tokens, and score frames exactly.

The files (Boulanger-Lewandowski, Vincent & Bengio, ICML 2012; JSON as in the public
`JSB-Chorales-dataset` repository) hold `{"train"|"valid"|"test": [sequence, ...]}`, a sequence being
a list of frames. Two layouts:

- `sets`: a frame is the list of MIDI pitches sounding (the quarter and 16th files). The frame is the
  *set*: a pitch listed twice (two voices in unison) is one pitch, and `[]` is a silent frame.
- `voices`: a frame is exactly four entries, soprano, alto, tenor, bass, `-1` for a silent voice
  (Coconet's `Jsb16thSeparated`).

Each frame becomes a few tokens ending in the frame marker `|`, and every sequence starts with one `|`
(the context of its first frame): a set as its pitches high to low (`high`), low to high (`low`), or
the highest pitch then each next one as semitones below it (`relative`); four voices as four tokens,
`rest` for silence. The map from frames to tokens is one to one, so the probability a model gives a
frame is the product of its tokens' conditionals and the frame's NLL is the sum of their NLLs: exact.
`frame_nll` renormalises each conditional over the tokens the serialization allows at that point
(e.g. only lower pitches or `|` after a pitch, `high`), which makes the model a proper distribution
over frames; the frame marker's NLL is part of the frame's (it says "no more pitches").

The splits are used as given, never re-split. `load_tokens` gives what a training run takes:

    python -m music_lstm.encodings.jsb ../shared/jsb/jsb-chorales-quarter.json
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass

import numpy as np

from ..core.errors import MusicLSTMError

SPLITS = ("train", "valid", "test")
FRAME = "|"  # ends every frame; also starts every sequence
REST = "rest"  # a silent voice (voices layout)
LAYOUTS = ("sets", "voices")
ORDERS = ("high", "low", "relative")  # how a set of pitches is written (sets layout)
VOICES_ORDER = "voices"  # the one order of the voices layout: S, A, T, B
BUCKET = 32  # pad scoring batches to a multiple of this many tokens: few distinct shapes, so few retraces
VOICES = 4  # soprano, alto, tenor, bass


class JSBError(MusicLSTMError):
    """A file that cannot be read as JSB Chorales JSON; names the file and what is wrong."""

    def __init__(self, path: str | os.PathLike, reason: str):
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


@dataclass(frozen=True)
class JSBData:
    """The splits of one file: splits[name][sequence][frame] is a tuple of pitches, ascending and
    distinct for `sets`, (S, A, T, B) with -1 for silence for `voices`."""

    path: str
    layout: str
    splits: dict[str, list[list[tuple[int, ...]]]]

    def frames(self, split: str) -> int:
        return sum(len(seq) for seq in self.splits[split])

    def notes(self, split: str) -> int:
        """Pitches sounding, summed over frames (a silent voice is no note)."""
        return sum(sum(1 for p in frame if p >= 0) for seq in self.splits[split] for frame in seq)


def read_jsb(path: str | os.PathLike, layout: str = "auto") -> JSBData:
    """Read and check a JSB JSON file. `layout` is `sets`, `voices`, or `auto`: `voices` when every frame
    of the file has exactly four entries and some entry is -1, else `sets`."""
    if layout not in ("auto", *LAYOUTS):
        raise ValueError(f"invalid layout: {layout!r}")
    try:
        with open(path, encoding="utf-8") as f:
            raw = json.load(f)
    except FileNotFoundError:
        raise JSBError(path, "no such file") from None
    except IsADirectoryError:
        raise JSBError(path, "a folder, not a JSB JSON file") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise JSBError(path, f"not JSON ({str(e).splitlines()[0][:80]})") from None
    except OSError as e:
        raise JSBError(path, f"cannot be read ({e.strerror})") from None
    if not isinstance(raw, dict):
        raise JSBError(path, f"expected an object with keys {', '.join(SPLITS)}, found {type(raw).__name__}")
    missing = [s for s in SPLITS if s not in raw]
    if missing:
        raise JSBError(path, f"no {' / '.join(repr(m) for m in missing)} split (expected {', '.join(SPLITS)})")
    for split in SPLITS:
        seqs = raw[split]
        if not isinstance(seqs, list) or not seqs:
            raise JSBError(path, f"split {split!r} is not a non-empty list of sequences")
        for i, seq in enumerate(seqs):
            if not isinstance(seq, list) or not seq:
                raise JSBError(path, f"{split} sequence {i} is not a non-empty list of frames")
            for j, frame in enumerate(seq):
                # Some files write a pitch as 73.0: a whole float is that integer, anything else is an error.
                if not isinstance(frame, list) or not all(_whole(p) for p in frame):
                    raise JSBError(path, f"{split} sequence {i} frame {j} is not a list of integer MIDI pitches")
                bad = [p for p in frame if not -1 <= p <= 127]
                if bad:
                    raise JSBError(path, f"{split} sequence {i} frame {j}: pitch {bad[0]} outside MIDI 0..127")
                seq[j] = [int(p) for p in frame]
    all_frames = [frame for split in SPLITS for seq in raw[split] for frame in seq]
    four = all(len(frame) == VOICES for frame in all_frames)
    silent = any(-1 in frame for frame in all_frames)
    if layout == "auto":
        layout = "voices" if four and silent else "sets"
    if layout == "voices" and not four:
        raise JSBError(path, f"voices layout needs exactly {VOICES} entries (S, A, T, B) in every frame")
    if layout == "sets" and silent:
        raise JSBError(path, "pitch -1 (a silent voice) in a file read as sets of pitches; -1 belongs in voices layout")
    if layout == "sets":
        splits = {s: [[tuple(sorted(set(f))) for f in seq] for seq in raw[s]] for s in SPLITS}
    else:
        splits = {s: [[tuple(f) for f in seq] for seq in raw[s]] for s in SPLITS}
    return JSBData(str(path), layout, splits)


def _whole(p) -> bool:
    return type(p) is int or (type(p) is float and p.is_integer())


def default_order(layout: str) -> str:
    return "voices" if layout == "voices" else "high"


def _check_order(layout: str, order: str) -> None:
    ok = order == "voices" if layout == "voices" else order in ORDERS
    if not ok:
        raise ValueError(f"invalid order {order!r} for layout {layout!r}")


def order_for(data: JSBData, order: str | None) -> str:
    """`order`, or the layout's default where None; JSBError if the file's layout cannot be written so."""
    order = order or default_order(data.layout)
    try:
        _check_order(data.layout, order)
    except ValueError:
        allowed = VOICES_ORDER if data.layout == "voices" else ", ".join(ORDERS)
        raise JSBError(data.path, f"order {order!r} does not fit its {data.layout} layout (use {allowed})") from None
    return order


def frame_tokens(frame: tuple[int, ...], order: str) -> list[str]:
    """One frame's tokens, the marker last. `order` is one of ORDERS, or `voices`."""
    if order == "voices":
        return [REST if p < 0 else f"p{p}" for p in frame] + [FRAME]
    pitches = sorted(set(frame), reverse=order != "low")
    if order == "relative" and pitches:
        return [f"p{pitches[0]}"] + [f"d{a - b}" for a, b in zip(pitches, pitches[1:])] + [FRAME]
    return [f"p{p}" for p in pitches] + [FRAME]


def encode_sequence(frames: list[tuple[int, ...]], order: str) -> list[str]:
    """`|`, then every frame's tokens: a sequence of n frames has exactly n + 1 markers."""
    out = [FRAME]
    for frame in frames:
        out += frame_tokens(frame, order)
    return out


def decode_sequence(tokens: list[str], order: str) -> list[tuple[int, ...]]:
    """The frames back from `encode_sequence`'s tokens (sets ascending, as `read_jsb` gives them)."""
    if not tokens or tokens[0] != FRAME:
        raise ValueError("a token sequence starts with the frame marker")
    frames, current = [], []
    for tok in tokens[1:]:
        if tok != FRAME:
            current.append(tok)
            continue
        if order == "voices":
            frames.append(tuple(-1 if t == REST else int(t[1:]) for t in current))
        else:
            pitches = []
            for t in current:
                pitches.append(pitches[-1] - int(t[1:]) if t.startswith("d") else int(t[1:]))
            frames.append(tuple(sorted(pitches)))
        current = []
    return frames


def vocabulary(order: str) -> list[str]:
    """Every token the serialization can write (any pitch 0..127), so no test token is ever unknown."""
    tokens = [FRAME] + [f"p{p}" for p in range(128)]
    if order == "voices":
        tokens.append(REST)
    if order == "relative":
        tokens += [f"d{i}" for i in range(1, 128)]
    return tokens


def load_tokens(path: str | os.PathLike, order: str | None = None, layout: str = "auto") -> dict[str, list[list[str]]]:
    """{"train": [token list per sequence], "valid": [...], "test": [...]}: the file's own splits."""
    data = read_jsb(path, layout)
    order = order or default_order(data.layout)
    _check_order(data.layout, order)
    return {s: [encode_sequence(seq, order) for seq in data.splits[s]] for s in SPLITS}


def transpose(frames: list[tuple[int, ...]], semitones: int) -> list[tuple[int, ...]] | None:
    """The frames moved by `semitones` (silence stays -1), or None if a pitch would leave 0..127."""
    pitches = [p for frame in frames for p in frame if p >= 0]
    if pitches and not (0 <= min(pitches) + semitones and max(pitches) + semitones <= 127):
        return None
    return [tuple(p + semitones if p >= 0 else p for p in frame) for frame in frames]


def allowed(tokens: list[str], order: str, symbol_to_index: dict[str, int], size: int) -> np.ndarray:
    """(len(tokens) - 1, size) bool: the tokens the serialization permits as each next token, given
    the tokens before it. Step t is the position predicting tokens[t + 1]. `symbol_to_index` must hold
    every token of `vocabulary(order)` (e.g. `Vocab(vocabulary(order))`), so no test token is unknown."""
    ids = {tok: symbol_to_index[tok] for tok in vocabulary(order)}
    pitch_ids = np.array([ids[f"p{p}"] for p in range(128)])
    marker = ids[FRAME]
    masks = np.zeros((len(tokens) - 1, size), bool)
    in_frame = 0  # tokens of the current frame so far
    last = None  # the last pitch written in the current frame
    for t, tok in enumerate(tokens[:-1]):
        if tok == FRAME:
            in_frame, last = 0, None
        else:
            in_frame += 1
            if order == "voices":
                pass
            elif tok.startswith("d"):
                last -= int(tok[1:])
            else:
                last = int(tok[1:])
        m = masks[t]
        if order == "voices":
            if in_frame < VOICES:
                m[pitch_ids] = True
                m[ids[REST]] = True
            else:
                m[marker] = True
            continue
        m[marker] = True
        if last is None:
            m[pitch_ids] = True
        elif order == "high":
            m[pitch_ids[:last]] = True
        elif order == "low":
            m[pitch_ids[last + 1 :]] = True
        else:  # relative: a step down of 1..last semitones
            m[[ids[f"d{i}"] for i in range(1, last + 1)]] = True
    return masks


def frame_nll(probs: np.ndarray, tokens: list[str], order: str, symbol_to_index: dict[str, int],
              renormalise: bool = True) -> np.ndarray:
    """Per-frame NLL (nats) of one sequence: `probs` (len(tokens) - 1, vocab) are the model's next-token
    probabilities at each step (step t predicts tokens[t + 1]). A frame's NLL is the sum of its tokens'
    NLLs, the marker's included. With `renormalise`, each conditional is taken over the tokens the
    serialization permits there (`allowed`). Returns one value per frame, in order."""
    probs = np.asarray(probs, np.float64)
    ids = np.array([symbol_to_index[t] for t in tokens])
    steps = len(tokens) - 1
    if probs.shape[0] != steps:
        raise ValueError(f"{probs.shape[0]} steps of probabilities for {steps} targets")
    p = probs[np.arange(steps), ids[1:]]
    if renormalise:
        mask = allowed(tokens, order, symbol_to_index, probs.shape[1])
        if not mask[np.arange(steps), ids[1:]].all():
            raise ValueError("a token the serialization does not allow there")
        p = p / (probs * mask).sum(axis=1)
    token_nll = -np.log(np.maximum(p, 1e-300))  # a float32 softmax can underflow to 0
    ends = np.flatnonzero(ids[1:] == symbol_to_index[FRAME])  # the step that writes each frame's marker
    sums = np.cumsum(token_nll)[ends]
    return np.diff(sums, prepend=0.0)


def sequence_probs(model, id_seqs: list[np.ndarray], batch_size: int = 16) -> list[np.ndarray]:
    """Next-token probabilities (len - 1, vocab) for each id sequence, each run from a fresh state.
    `model` is a Keras model over ids (its `predict_on_batch`); sequences are batched by length."""
    out = [None] * len(id_seqs)
    order = sorted(range(len(id_seqs)), key=lambda i: len(id_seqs[i]))
    for lo in range(0, len(order), batch_size):
        g = order[lo : lo + batch_size]
        width = -(-max(len(id_seqs[i]) - 1 for i in g) // BUCKET) * BUCKET
        x = np.zeros((len(g), width), np.int32)  # (sequences, steps); right padding cannot reach earlier steps
        for r, i in enumerate(g):
            x[r, : len(id_seqs[i]) - 1] = id_seqs[i][:-1]
        probs = model.predict_on_batch(x)  # (sequences, steps, vocab)
        for r, i in enumerate(g):
            out[i] = probs[r, : len(id_seqs[i]) - 1]
    return out


def score(probs_list, token_seqs: list[list[str]], order: str, symbol_to_index: dict[str, int],
          renormalise: bool = True) -> dict:
    """Exact NLL summed over every frame of every sequence (`frame_nll`); per frame and per note."""
    nll, frames, notes = 0.0, 0, 0
    for probs, tokens in zip(probs_list, token_seqs):
        per_frame = frame_nll(probs, tokens, order, symbol_to_index, renormalise)
        nll += float(per_frame.sum())
        frames += len(per_frame)
        notes += sum(1 for t in tokens if t not in (FRAME, REST))  # a token per sounding note, every order
    return {"nll": nll, "frames": frames, "notes": notes, "per_frame": nll / frames, "per_note": nll / notes,
            "per_voice_slot": nll / (VOICES * frames)}  # Coconet's note unit: 4 per frame, silent ones too


def main(argv: list[str] | None = None) -> int:
    """Print each split's sequences, frames, notes and tokens."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m music_lstm.encodings.jsb FILE.json", file=sys.stderr)
        return 2
    try:
        data = read_jsb(args[0])
    except MusicLSTMError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    order = default_order(data.layout)
    print(f"{data.path}: layout {data.layout}, tokens as {order}")
    for s in SPLITS:
        tokens = sum(len(encode_sequence(seq, order)) for seq in data.splits[s])
        print(f"{s:<6} {len(data.splits[s]):>4} sequences {data.frames(s):>6} frames {data.notes(s):>6} notes "
              f"{tokens:>7} tokens")
    return 0


if __name__ == "__main__":
    sys.exit(main())

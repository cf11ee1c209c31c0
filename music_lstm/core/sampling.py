"""Choosing the next symbol: a pure function of probabilities, settings and a numpy Generator; and the
generation loop that draws symbol after symbol through a step function (so tests can give it a fake one).

    >>> import numpy as np
    >>> sample(np.array([[0.1, 0.9]]), np.random.default_rng(0), temperature=0)
    array([1])
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .errors import ConfigError


@dataclass(frozen=True)
class Sampling:
    temperature: float = 0.5  # 0 = argmax, 1 = the model as it is; chosen with rhythm_temperature on musical metrics
    # voiced: the temperature among durations and rests instead (their share against pitches stays the
    # model's). A low temperature keeps pitches in key but makes nearly every note an eighth, so rhythm
    # has its own; the pair was chosen on the musical metrics (docs/DECISIONS.md).
    rhythm_temperature: float = 0.8
    top_k: int = 0  # keep only the k most likely symbols (0 = all)
    top_p: float = 1.0  # keep the smallest set of symbols whose probability reaches p (nucleus)
    # The same nucleus among durations and rests (lengths) alone, after rhythm_temperature: a warm
    # rhythm without its rarest lengths.
    rhythm_top_p: float = 1.0
    max_repeat: int = 4  # a symbol may follow itself at most this many times in a row (0 = no guard)
    # voiced: the same chord (sounding pitches at an onset) may follow itself at most this many times in
    # a row (0 = no guard); 1 allows a chord twice in a row, rarely more in the chorales
    max_chord_repeat: int = 1
    # Four-voice encodings only: refuse parallel perfect fifths, octaves and unisons between two voices.
    parallels_guard: bool = True
    # Four-voice encodings only: refuse a minor second or major seventh (any octave) between two voices
    # struck together (a suspension, a held voice against a struck one, stays allowed).
    no_clash: bool = True
    # Four-voice encodings only: a slice begun between two beats ends by the next beat (keeps the metre).
    keep_beat: bool = True
    # Four-voice encodings only: a note is not ended at a length the chorales hardly use (a dotted
    # eighth, 7/4, 5/2: `core.events.common_length`), but held on to the next one they do.
    common_lengths: bool = True

    def __post_init__(self):
        if not self.temperature >= 0:
            raise ConfigError(f"invalid temperature: {self.temperature!r} (must be >= 0)")
        if not self.rhythm_temperature > 0:
            raise ConfigError(f"invalid rhythm_temperature: {self.rhythm_temperature!r} (must be > 0)")
        if self.top_k < 0:
            raise ConfigError(f"invalid top_k: {self.top_k!r} (must be >= 0)")
        if not 0 < self.top_p <= 1:
            raise ConfigError(f"invalid top_p: {self.top_p!r} (must be in (0, 1])")
        if not 0 < self.rhythm_top_p <= 1:
            raise ConfigError(f"invalid rhythm_top_p: {self.rhythm_top_p!r} (must be in (0, 1])")
        if self.max_repeat < 0:
            raise ConfigError(f"invalid max_repeat: {self.max_repeat!r} (must be >= 0)")
        if self.max_chord_repeat < 0:
            raise ConfigError(f"invalid max_chord_repeat: {self.max_chord_repeat!r} (must be >= 0)")


def sample(
    probs: np.ndarray,
    rng: np.random.Generator,
    temperature: float = 1.0,
    top_k: int = 0,
    top_p: float = 1.0,
    banned: np.ndarray | None = None,
    rhythm: np.ndarray | None = None,
    rhythm_temperature: float | None = None,
    rhythm_top_p: float = 1.0,
) -> np.ndarray:
    """One id per row of `probs` (batch, vocab). `banned` (batch, vocab) bool rules ids out.

    With `rhythm` (vocab,) bool and `rhythm_temperature`, the ids in `rhythm` are tempered among
    themselves by `rhythm_temperature` and the others by `temperature`, each group keeping its share
    of the probability; `rhythm_top_p` < 1 then keeps, among the ids in `rhythm`, only the nucleus of
    their own distribution. Draws one uniform number per row from `rng` (none at temperature 0). A row
    whose every allowed id has probability 0 falls back to an allowed id: the first, as nothing else
    tells them apart.
    """
    p = np.array(probs, dtype=np.float64)  # a copy: the caller's array is left alone
    if banned is not None:
        np.putmask(p, banned, 0.0)
    if temperature == 0:
        return _allowed_argmax(p, banned)
    if rhythm is not None and rhythm_temperature is not None and rhythm_temperature != temperature:
        for group, t in ((~rhythm, temperature), (rhythm, rhythm_temperature)):
            part = p[:, group]
            mass = part.sum(axis=-1, keepdims=True)
            _temper(part, t)
            total = part.sum(axis=-1, keepdims=True)
            np.multiply(part, np.divide(mass, total, out=np.zeros_like(mass), where=total > 0), out=part)
            p[:, group] = part
    elif temperature != 1.0:
        _temper(p, temperature)
    if rhythm is not None and rhythm_top_p < 1.0:
        part = p[:, rhythm]
        _nucleus(part, rhythm_top_p)
        p[:, rhythm] = part
    if top_k and top_k < p.shape[-1]:
        kth = -np.partition(-p, top_k - 1, axis=-1)[:, top_k - 1 : top_k]
        np.putmask(p, p < kth, 0.0)
    if top_p < 1.0:
        _nucleus(p, top_p)
    cum = np.cumsum(p, axis=-1)  # (batch, vocab)
    total = cum[:, -1]
    u = rng.random(p.shape[0]) * total
    choice = np.minimum((cum <= u[:, None]).sum(axis=-1), p.shape[-1] - 1)
    if not (total > 0).all():  # nothing allowed has any probability left
        choice = np.where(total > 0, choice, _allowed_argmax(p, banned))
    return choice


def _nucleus(p: np.ndarray, mass: float) -> None:
    """Zero, in place, what lies outside each row's nucleus: the likeliest ids whose share reaches `mass`."""
    order = np.argsort(-p, axis=-1)
    sorted_p = np.take_along_axis(p, order, axis=-1)
    cum = np.cumsum(sorted_p, axis=-1)
    drop_sorted = (cum - sorted_p) >= mass * cum[:, -1:]  # the mass before it already reaches `mass`
    drop = np.zeros_like(drop_sorted)
    np.put_along_axis(drop, order, drop_sorted, axis=-1)
    np.putmask(p, drop, 0.0)


def _temper(p: np.ndarray, temperature: float) -> None:
    """p ** (1/T) in place, up to each row's scale: softmax(log p / T) once renormalised. Dividing by
    the row maximum first keeps the likeliest id at 1, so a small T cannot underflow a row to 0."""
    if temperature == 1.0:
        return
    top = p.max(axis=-1, keepdims=True)
    np.divide(p, top, out=p, where=top > 0)
    np.power(p, 1.0 / temperature, out=p)


def _allowed_argmax(p: np.ndarray, banned: np.ndarray | None) -> np.ndarray:
    """Per row, the likeliest id that is not banned (a banned id never wins, even at probability 0)."""
    return (p if banned is None else np.where(banned, -1.0, p)).argmax(axis=-1)


def trailing_run(history: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per row of `history` (batch, steps): its last id, and how many times in a row it ends the row.

    The generation loop carries these forward one symbol at a time, so the repeat guard costs O(batch)
    a step: a row whose run has reached `max_repeat` may not draw its last id again.
    """
    history = np.asarray(history)
    batch, steps = history.shape
    if steps == 0:
        return np.full(batch, -1, np.int64), np.zeros(batch, np.int64)
    last = history[:, -1].astype(np.int64)
    differs = history != last[:, None]  # (batch, steps)
    # The run is everything after the last position that differs from the last id.
    seen = differs[:, ::-1].argmax(axis=1)
    run = np.where(differs.any(axis=1), seen, steps)
    return last, run.astype(np.int64)


def generate_ids(
    step: Callable[[np.ndarray], np.ndarray],
    first_probs: np.ndarray,
    length: int,
    sampling: Sampling,
    rng: np.random.Generator,
    history: np.ndarray | None = None,
    grammar=None,
    rhythm: np.ndarray | None = None,
) -> np.ndarray:
    """Draw `length` ids per row: sample from the current probabilities, feed the choice to `step`.

    `step(ids (batch,)) -> probs (batch, vocab)` carries its own state; `history` (batch, steps) is
    what came before, for the repeat guard. Id 0 (`<unk>`) is never drawn. `grammar` (optional, an
    `encodings.Grammar` already primed with the history) bans the ids that would break the encoding's grammar;
    `rhythm` (vocab,) bool marks the duration and rest ids, sampled at `sampling.rhythm_temperature`.
    """
    batch, vocab_size = first_probs.shape
    out = np.zeros((batch, length), np.int64)
    banned = np.zeros((batch, vocab_size), bool)  # one mask, edited in place for the guard
    banned[:, 0] = True
    last, run = trailing_run(np.zeros((batch, 0), np.int64) if history is None else history)
    guard = sampling.max_repeat
    probs = first_probs
    for t in range(length):
        stuck = np.flatnonzero(run >= guard) if guard else ()
        if len(stuck):
            banned[stuck, last[stuck]] = True  # this row's last id may not come again
        ids = sample(probs, rng, sampling.temperature, sampling.top_k, sampling.top_p,
                     banned if grammar is None else banned | grammar.ban(), rhythm, sampling.rhythm_temperature,
                     sampling.rhythm_top_p)
        if grammar is not None:
            grammar.feed(ids)
        if len(stuck):
            banned[stuck, last[stuck]] = False
            banned[:, 0] = True
        run = np.where(ids == last, run + 1, 1)
        last = ids
        out[:, t] = ids
        if t + 1 < length:
            probs = step(ids)
    return out

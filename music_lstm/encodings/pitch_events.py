"""What `voiced` and `grid` share: streams of pitch events closed by a duration, a rest or a frame end,
the nearest known event, and the sampling grammar that keeps such a stream well formed.

    python -c "from music_lstm.encodings.pitch_events import classify; print(classify('E-4~'), classify('d1/2'))"
"""

from __future__ import annotations

import numpy as np

from .common import Grammar, nearest_of_kind, parse_duration, parse_pitch_token

FRAME_END = "|"  # grid: end of one 16th-note frame
MAX_VOICES = 8  # most pitches one slice may hold while sampling (the chorales have at most 9, rarely)


def classify(token: str) -> tuple[str, int | float | None, bool]:
    """(kind, value, struck) of a symbol: ('pitch', midi, struck), ('duration'|'rest', quarters) or ('end'|'bad')."""
    if token == FRAME_END:
        return "end", None, True
    if token[:1] in ("d", "r") and token[1:2].isdigit():
        try:
            return ("duration" if token[0] == "d" else "rest"), parse_duration(token[1:]), True
        except ValueError:
            return "bad", None, True
    try:
        p, struck = parse_pitch_token(token)
        return "pitch", p, struck
    except ValueError:
        return "bad", None, True


def kinds(symbols: list[str]) -> np.ndarray:
    """(vocab,) str: each symbol's kind as `classify` names it."""
    return np.array([classify(s)[0] for s in symbols])


def nearest_event(token: str, known: list[str]) -> str | None:
    """The known symbol of the same kind closest in value (a pitch keeps struck/held if it can)."""
    return nearest_of_kind(token, known, classify)


def texture(pieces: list[np.ndarray], symbols: list[str]) -> int:
    """The usual most pitches in one slice of a piece: the median over `pieces` (id arrays)."""
    kind = kinds(symbols)
    is_pitch, bounds = kind == "pitch", np.isin(kind, ("duration", "end", "rest"))
    widest = []
    for ids in pieces:
        if not len(ids):
            continue
        count = np.cumsum(is_pitch[ids])
        at = count[np.flatnonzero(bounds[ids])]
        widest.append(int(np.diff(at, prepend=0).max()) if len(at) else int(count[-1]))
    return int(np.median(widest)) if widest else MAX_VOICES


class EventGrammar(Grammar):
    """What may come next in a voiced or grid stream, per row of a batch, as a ban mask for sampling.

    Pitches within a slice fall strictly; a held pitch must have sounded in the slice before; a
    duration needs a pitch before it and a rest none (a grid frame may be silent: `silent_frames`).
    Sampling under this mask writes only well-formed streams, so the decoder's repairs stay for
    primers and hand-written input.

    Two guards keep the texture of the music being continued: `limit_voices` caps the pitches per
    slice at the most the prompt had (and at least `floor`, the training pieces' usual texture), and
    `max_chord_repeat` stops the same chord (the same sounding pitches at consecutive onsets) from
    following itself more than that many times (0 = no guard).
    """

    def __init__(self, symbols: list[str], batch: int, max_chord_repeat: int = 0, silent_frames: bool = False,
                 floor: int | None = None):
        classes = [classify(s) for s in symbols]
        self.is_pitch = np.array([k == "pitch" for k, _, _ in classes])
        self.pitch = np.array([v if k == "pitch" else -1 for k, v, _ in classes])
        self.struck = np.array([s for _, _, s in classes])
        self.closes = np.array([k in ("duration", "end") for k, _, _ in classes])  # ends a sounding slice
        self.rest = np.array([k == "rest" for k, _, _ in classes])
        self.silent_frames = silent_frames
        self.unusable = ~(self.is_pitch | self.closes | self.rest)  # <unk> and malformed symbols
        self.size = len(symbols)
        self.floor = floor
        self.max_voices = np.full(batch, MAX_VOICES)
        self.max_chord_repeat = max_chord_repeat
        self.pending = [[] for _ in range(batch)]  # pitches of the slice being written
        self.pending_struck = [False] * batch  # does the slice being written strike a note (an onset)?
        self.previous = [np.zeros(128, bool) for _ in range(batch)]  # pitches of the slice before
        self.last_chord = [() for _ in range(batch)]  # sounding pitches at the last onset
        self.chord_run = np.zeros(batch, np.int64)  # onsets in a row with those same pitches
        self.widest = np.zeros(batch, np.int64)  # most pitches in one slice fed so far

    def feed(self, ids) -> None:
        for row, i in enumerate(np.asarray(ids).tolist()):
            if self.is_pitch[i]:
                self.pending[row].append(int(self.pitch[i]))
                self.pending_struck[row] |= bool(self.struck[i])
            elif self.closes[i] or self.rest[i]:
                pending = self.pending[row]
                if self.pending_struck[row]:  # an onset; a rest or a slice of held notes only is no new chord
                    chord = tuple(pending)
                    self.chord_run[row] = self.chord_run[row] + 1 if chord == self.last_chord[row] else 1
                    self.last_chord[row] = chord
                self.widest[row] = max(self.widest[row], len(pending))
                prev = np.zeros(128, bool)
                prev[pending] = True
                self.previous[row], self.pending[row], self.pending_struck[row] = prev, [], False

    def prime(self, prompt, before=None) -> None:
        """Read the prompt, then keep its texture: no more voices than it had, or than `floor`."""
        super().prime(prompt)
        if self.floor is not None:
            self.limit_voices(self.floor)

    def limit_voices(self, floor: int) -> None:
        """Cap each row's pitches per slice at the most it has had so far (the prompt), at least `floor`."""
        self.max_voices = np.clip(np.maximum(self.widest, floor), 1, MAX_VOICES)

    def ban(self) -> np.ndarray:
        out = np.zeros((len(self.pending), self.size), bool)
        safe_pitch = np.clip(self.pitch, 0, 127)
        for row, pending in enumerate(self.pending):
            lowest = pending[-1] if pending else 128
            ok_pitch = self.is_pitch & (self.pitch < lowest) & (self.struck | self.previous[row][safe_pitch])
            if len(pending) >= self.max_voices[row]:
                ok_pitch[:] = False
            last = self.last_chord[row]
            if self.max_chord_repeat and self.chord_run[row] > self.max_chord_repeat and last and tuple(pending) == last[:-1]:
                ok_pitch &= self.pitch != last[-1]  # this pitch would complete the same chord once more
            ok = ok_pitch | self.rest & (not pending)
            ok |= self.closes & (bool(pending) or self.silent_frames)
            out[row] = ~ok | self.unusable
        return out

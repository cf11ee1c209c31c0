"""Synthetic MIDI files made in code, byte by byte, so tests control every detail (tracks, channels,
format) without relying on the library under test to write its own fixtures."""

from __future__ import annotations

import struct
from pathlib import Path

TPQ = 480


def _vlq(n: int) -> bytes:
    out = [n & 0x7F]
    n >>= 7
    while n:
        out.append(0x80 | (n & 0x7F))
        n >>= 7
    return bytes(reversed(out))


def track_events(notes, channel: int = 0, tempo_bpm: float | None = None, extra_meta=()) -> list[tuple[int, bytes]]:
    """A track's events as (delta ticks, event bytes), end of track included.
    notes: (onset_quarters, duration_quarters, pitch[, channel]); channel 0-based (9 = drums)."""
    events = []  # (tick, order, bytes)
    if tempo_bpm:
        us = int(60_000_000 / tempo_bpm)
        events.append((0, 0, b"\xff\x51\x03" + us.to_bytes(3, "big")))
    for tick, payload in extra_meta:
        events.append((tick, 0, payload))
    for on, dur, pitch, *ch in notes:
        c = ch[0] if ch else channel
        t_on, t_off = int(on * TPQ), int((on + dur) * TPQ)
        events.append((t_on, 2, bytes([0x90 | c, pitch, 80])))
        events.append((t_off, 1, bytes([0x80 | c, pitch, 0])))
    events.sort(key=lambda e: (e[0], e[1]))
    out, last = [], 0
    for tick, _, payload in events:
        out.append((tick - last, payload))
        last = tick
    return out + [(0, b"\xff\x2f\x00")]


def chunk(events, length: int | None = None) -> bytes:
    """An MTrk chunk of (delta, event bytes); a delta given as bytes is written as it is (a damaged VLQ),
    and `length` replaces the true length in the chunk header."""
    body = b"".join((d if isinstance(d, bytes) else _vlq(d)) + payload for d, payload in events)
    return b"MTrk" + struct.pack(">I", len(body) if length is None else length) + body


def track_bytes(notes, channel: int = 0, tempo_bpm: float | None = None, extra_meta=()) -> bytes:
    """notes: (onset_quarters, duration_quarters, pitch[, channel]); channel 0-based (9 = drums)."""
    return chunk(track_events(notes, channel, tempo_bpm, extra_meta))


def midi_bytes(tracks: list[bytes], fmt: int = 1) -> bytes:
    return b"MThd" + struct.pack(">IHHH", 6, fmt, len(tracks), TPQ) + b"".join(tracks)


def write(path: Path, tracks: list[bytes], fmt: int = 1) -> Path:
    path = Path(path)
    path.write_bytes(midi_bytes(tracks, fmt))
    return path


def chorale(path: Path, bars: int = 4, shift: int = 0, tempo_bpm: float = 100.0) -> Path:
    """A four-voice, four-track 'chorale': a I-IV-V-I progression repeated, one track per voice,
    with some held notes and eighth-note motion so slices vary in length."""
    prog = [(60, 64, 67, 48), (60, 65, 69, 53), (59, 62, 67, 55), (60, 64, 67, 48)]
    voices = [[], [], [], []]
    t = 0.0
    for b in range(bars):
        for chord in prog:
            for v, p in enumerate(chord):
                if v == 0 and b % 2 == 1:  # soprano in eighths every other bar
                    voices[v].append((t, 0.5, p + 12 + shift))
                    voices[v].append((t + 0.5, 0.5, p + 14 + shift))
                else:
                    voices[v].append((t, 1.0, p + (12 if v == 0 else 0) + shift))
            t += 1.0
    tracks = [track_bytes(voices[0], channel=0, tempo_bpm=tempo_bpm)]
    tracks += [track_bytes(v, channel=i + 1) for i, v in enumerate(voices[1:])]
    return write(path, tracks)


SHIFTS = (0, 2, -3, 5, 7, -5)  # chorale_folder's keys: C, D, A, F, G, G (an octave lower)


def chorale_folder(folder: Path, shifts=SHIFTS, bars: int = 6) -> Path:
    """A folder of small four-voice pieces, one per key shift: the corpus most tests train on."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for k, shift in enumerate(shifts):
        chorale(folder / f"piece{k}.mid", bars=bars, shift=shift)
    return folder

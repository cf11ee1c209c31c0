"""Writing MIDI files by hand (the Standard MIDI File format is small): one track of notes
(`write_midi`), or four voices as four named tracks, a channel and a program each, the key signature in the
first when given (`write_voices_midi`;
`core.instruments.voice_programs` reads `--instrument`). Every file is written atomically.

    python -c "from music_lstm.io.midi_write import write_midi; write_midi([(0, 1, 60), (1, 1, 64)], 'two.mid')"
"""

from __future__ import annotations

import os
from pathlib import Path

from ..core.events import VOICE_NAMES
from ..core.files import atomic_path

TICKS_PER_QUARTER = 480


def write_midi(
    notes: list[tuple[float, float, int]],
    path: str | os.PathLike,
    bpm: float = 90.0,
    program: int = 0,
    velocity: int = 80,
) -> None:
    """Write `(offset, duration, midi_pitch)` notes (quarter notes) as a one-track MIDI file, atomically.

    The bytes are the ones music21 writes for the same events (format 1, one track, 480 ticks per
    quarter, no running status), put together here directly: building music21 event objects took over
    a second for a 1000-symbol piece, this takes milliseconds.
    """
    with atomic_path(path) as tmp:
        Path(tmp).write_bytes(midi_file_bytes(notes, bpm=bpm, program=program, velocity=velocity))


def midi_file_bytes(notes, bpm: float = 90.0, program: int = 0, velocity: int = 80) -> bytes:
    """A format-1, one-track Standard MIDI File for `(offset, duration, midi_pitch)` notes on channel 1."""
    return _file_bytes([_track_chunk(notes, channel=0, program=program, velocity=velocity, bpm=bpm)])


def write_voices_midi(
    voices,
    path: str | os.PathLike,
    bpm: float = 90.0,
    programs=(0, 0, 0, 0),
    names=VOICE_NAMES,
    velocity: int = 80,
    sharps: int | None = None,
    minor: bool = False,
) -> None:
    """Write four voices as a MIDI file of four named tracks (Soprano, Alto, Tenor, Bass), atomically.

    Each voice is a list of `(offset, duration, midi_pitch)` notes; track k plays on channel k+1 with
    `programs[k]` (General MIDI, 0-based, see `instruments.voice_programs`). The first track also holds the
    tempo and, when `sharps` is given (sharps > 0, flats < 0, -7..7), the key signature (`minor`: a minor
    key's), as Bach's chorale files do; `sharps=None` writes none.
    """
    voices, programs, names = list(voices), list(programs), list(names)
    if not (len(voices) == len(programs) == len(names) == 4):
        raise ValueError(f"four voices, programs and names are needed, got {len(voices)}, {len(programs)}, {len(names)}")
    key = None if sharps is None else key_signature_event(sharps, minor)
    tracks = [
        _track_chunk(v, channel=k, program=programs[k], velocity=velocity, bpm=bpm if k == 0 else None, name=names[k],
                     key=key if k == 0 else None)
        for k, v in enumerate(voices)
    ]
    with atomic_path(path) as tmp:
        Path(tmp).write_bytes(_file_bytes(tracks))


def key_signature_event(sharps: int, minor: bool = False) -> bytes:
    """The key signature meta event `FF 59 02 sf mi`: sf the sharps (> 0) or flats (< 0) as a signed
    byte, mi 1 for a minor key, 0 for major. A ValueError outside -7..7 (no key signature has more)."""
    sharps = int(sharps)
    if not -7 <= sharps <= 7:
        raise ValueError(f"a key signature has -7 to 7 sharps, got {sharps}")
    return b"\xff\x59\x02" + bytes((sharps & 0xFF, 1 if minor else 0))


def _file_bytes(tracks: list[bytes]) -> bytes:
    header = b"MThd" + (6).to_bytes(4, "big") + (1).to_bytes(2, "big") + len(tracks).to_bytes(2, "big")
    return header + TICKS_PER_QUARTER.to_bytes(2, "big") + b"".join(tracks)


def _track_chunk(notes, channel: int, program: int, velocity: int, bpm: float | None, name: str | None = None,
                 key: bytes | None = None) -> bytes:
    """One MTrk chunk: optional name, tempo and key signature event, a program change, the notes (no running status)."""
    timed: list[tuple[int, int, bytes]] = []  # (tick, order, event): note-offs before note-ons at a tick
    if name is not None:
        text = str(name).encode("latin-1", "replace")
        timed.append((0, 0, b"\xff\x03" + _vlq(len(text)) + text))
    if bpm is not None:
        tempo_us = int(round(60_000_000 / max(1.0, float(bpm))))
        timed.append((0, 0, b"\xff\x51\x03" + tempo_us.to_bytes(3, "big")))
    if key is not None:
        timed.append((0, 0, key))
    timed.append((0, 1, bytes([0xC0 | channel, int(program) & 0x7F])))
    vel = int(velocity) & 0x7F
    for offset, dur, pitch in notes:
        on_tick = int(round(offset * TICKS_PER_QUARTER))
        off_tick = max(on_tick + 1, int(round((offset + dur) * TICKS_PER_QUARTER)))
        p = int(pitch) & 0x7F
        timed.append((on_tick, 3, bytes((0x90 | channel, p, vel))))
        timed.append((off_tick, 2, bytes((0x80 | channel, p, 0))))
    timed.sort(key=lambda t: (t[0], t[1]))
    body, last = [], 0
    for tick, _, event in timed:
        body.append(_vlq(tick - last) + event)
        last = tick
    body.append(b"\x00\xff\x2f\x00")  # end of track
    track = b"".join(body)
    return b"MTrk" + len(track).to_bytes(4, "big") + track


def _vlq(n: int) -> bytes:
    """MIDI's variable-length quantity: 7 bits a byte, high bit set on all but the last."""
    out = bytearray([n & 0x7F])
    n >>= 7
    while n:
        out.append(0x80 | (n & 0x7F))
        n >>= 7
    return bytes(reversed(out))

"""MIDI in and out: the only module that touches music21.

Reading hands back plain Python values (a `Piece` of `(offset, duration, midi_pitch)` notes, offsets
and durations in quarter notes); writing takes the same kind of values. Everything musical above this
layer (slicing into chords, symbols, durations) is pure Python in `events` and `encoding`.

    python -c "from music_lstm import midi_io; print(midi_io.read_midi('bach/bwv66.6.mid').notes[:8])"
"""

from __future__ import annotations

import os
from pathlib import Path

from .artifacts import atomic_path
from .errors import MidiError
from .events import Piece

DRUM_CHANNEL = 10  # General MIDI percussion; its "pitches" are drum kinds, not notes
TICKS_PER_QUARTER = 480


def read_midi(path: str | os.PathLike) -> Piece:
    """Every pitched note of every part and track of a MIDI file.

    Raises `MidiError` (one line: the file and what is wrong with it) for anything that is not a
    usable MIDI file; never lets a music21 exception escape.
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as e:
        raise MidiError(path, f"cannot be read ({e.strerror or e})") from None
    if not data:
        raise MidiError(path, "empty file (0 bytes)")
    if data[:4] != b"MThd":
        raise MidiError(path, "not a MIDI file (no MThd header)")
    try:
        notes, bpm = _parse_bytes(data)
    except MidiError:
        raise
    except Exception as e:  # music21 raises many kinds on damaged files; all mean "unreadable"
        reason = str(e).strip().splitlines()[0][:120] if str(e).strip() else type(e).__name__
        raise MidiError(path, f"damaged MIDI data ({reason})") from None
    if not notes:
        raise MidiError(path, "no pitched notes (empty, or drums only)")
    return Piece(notes=notes, bpm=bpm)


def _parse_bytes(data: bytes) -> tuple[list[tuple[float, float, int]], float | None]:
    from music21 import midi as m21midi
    from music21.midi import translate

    mf = m21midi.MidiFile()
    mf.readstr(data)
    # Drum notes (channel 10) are drum kinds, not pitches: drop them before translation, in any track
    # (a format-0 file carries all channels in one track).
    for track in mf.tracks:
        _drop_drum_notes(track)
    score = translate.midiFileToStream(mf, quantizePost=True)
    notes: list[tuple[float, float, int]] = []
    for el in score.recurse().notes:
        offset = float(el.getOffsetInHierarchy(score))
        dur = float(el.quarterLength)
        if dur <= 0:
            continue
        for p in getattr(el, "pitches", ()):
            notes.append((offset, dur, int(p.midi)))
    notes.sort()
    bpm = None
    for mark in score.recurse().getElementsByClass("MetronomeMark"):
        if mark.number:
            bpm = float(mark.number)
            break
    return notes, bpm


def _drop_drum_notes(track) -> None:
    """Remove channel-10 note events, folding their delta times into the next kept event."""
    from music21.midi import DeltaTime

    kept, carry = [], 0
    for ev in track.events:
        if isinstance(ev, DeltaTime):
            carry += ev.time
        elif (ev.isNoteOn() or ev.isNoteOff()) and ev.channel == DRUM_CHANNEL:
            continue
        else:
            kept.extend([DeltaTime(track, time=carry), ev])
            carry = 0
    track.events = kept


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
    tempo_us = int(round(60_000_000 / max(1.0, float(bpm))))
    timed: list[tuple[int, int, bytes]] = [  # (tick, order, event): note-offs before note-ons at a tick
        (0, 0, b"\xff\x51\x03" + tempo_us.to_bytes(3, "big")),
        (0, 1, bytes([0xC0, int(program) & 0x7F])),
    ]
    vel = int(velocity) & 0x7F
    for offset, dur, pitch in notes:
        on_tick = int(round(offset * TICKS_PER_QUARTER))
        off_tick = max(on_tick + 1, int(round((offset + dur) * TICKS_PER_QUARTER)))
        p = int(pitch) & 0x7F
        timed.append((on_tick, 3, bytes((0x90, p, vel))))
        timed.append((off_tick, 2, bytes((0x80, p, 0))))
    timed.sort(key=lambda t: (t[0], t[1]))
    body, last = [], 0
    for tick, _, event in timed:
        body.append(_vlq(tick - last) + event)
        last = tick
    body.append(b"\x00\xff\x2f\x00")  # end of track
    track = b"".join(body)
    header = b"MThd" + (6).to_bytes(4, "big") + (1).to_bytes(2, "big") + (1).to_bytes(2, "big")
    header += TICKS_PER_QUARTER.to_bytes(2, "big")
    return header + b"MTrk" + len(track).to_bytes(4, "big") + track


def _vlq(n: int) -> bytes:
    """MIDI's variable-length quantity: 7 bits a byte, high bit set on all but the last."""
    out = bytearray([n & 0x7F])
    n >>= 7
    while n:
        out.append(0x80 | (n & 0x7F))
        n >>= 7
    return bytes(reversed(out))


def write_musicxml(notes: list[tuple[float, float, int]], path: str | os.PathLike, bpm: float = 90.0) -> None:
    """Write notes as MusicXML for notation programs (through a music21 stream, chordified)."""
    from music21 import chord, note, stream, tempo

    part = stream.Part()
    part.insert(0, tempo.MetronomeMark(number=bpm))
    by_onset: dict[tuple[float, float], list[int]] = {}
    for offset, dur, pitch in notes:
        by_onset.setdefault((offset, dur), []).append(pitch)
    for (offset, dur), pitches in sorted(by_onset.items()):
        el = note.Note(pitches[0]) if len(pitches) == 1 else chord.Chord(sorted(pitches))
        el.quarterLength = dur
        part.insert(offset, el)
    score = stream.Score([part]).chordify()
    with atomic_path(path) as tmp:
        score.write("musicxml", fp=str(tmp))


def export_bach(out_dir: str | os.PathLike, log=print) -> int:
    """Write every Bach chorale in music21's corpus to `out_dir` as MIDI; returns the number written."""
    from music21 import corpus

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = 0
    for src in sorted(corpus.getComposer("bach"), key=str):
        src = Path(str(src))
        name = src.name.split(".")[0] if src.suffix == ".krn" else src.stem
        dest = out / f"{name}.mid"
        try:
            score = corpus.parse(str(src))
            from music21.midi import translate

            mf = translate.streamToMidiFile(score)
            with atomic_path(dest) as tmp:
                mf.open(str(tmp), "wb")
                try:
                    mf.write()
                finally:
                    mf.close()
            written += 1
        except Exception as e:  # a corpus file music21 itself cannot convert: skip it, say so
            log(f"skipped {src.name}: {str(e).splitlines()[0][:100] if str(e) else type(e).__name__}")
    return written

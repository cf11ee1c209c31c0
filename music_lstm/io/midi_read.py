"""Reading MIDI files: the bytes checked by hand first (so a damaged file is one line, not a traceback
from music21), then music21's parse, handed back as plain Python values (a `Piece` of
`(offset, duration, midi_pitch)` notes, offsets and durations in quarter notes). Everything musical
above this layer (slicing into chords, symbols, durations) is pure Python.

Besides all its notes, reading gives a piece's four sung lines, `Piece.voices`, or `Piece.no_voices`
(`voice_parts.select_voices` chooses them among the parts music21 makes of the tracks).

    python -c "from music_lstm.io.midi_read import read_midi; print(read_midi('bach/bwv66.6.mid').notes[:8])"
"""

from __future__ import annotations

import os
import struct
from pathlib import Path

from ..core.errors import MidiError
from ..core.events import Note, Piece
from .voice_parts import select_voices

DRUM_CHANNEL = 10  # General MIDI percussion; its "pitches" are drum kinds, not notes
MIN_BPM, MAX_BPM = 10.0, 1000.0  # tempo marks outside this range are not taken as the piece's tempo
MAX_QUARTERS = 5_000  # longer files are refused (41 minutes at 120 bpm): music21 slows down more than linearly
# What reading extracts; the parse cache is keyed on it, so change it whenever `read_midi`'s output would.
EXTRACTION = (
    "notes-v3: every pitched note of every track, quantized, tied parts joined, drums dropped, format 2 in sequence; "
    "voices-v1: S A T B by part names, else four parts in score order, else doublings left out; monophonic top/bottom"
)


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
    return parse_midi(data, path)


def parse_midi(data: bytes, name: str | os.PathLike = "<bytes>") -> Piece:
    """`read_midi` for bytes already in memory; `name` is only used in the error message."""
    if not data:
        raise MidiError(name, "empty file (0 bytes)")
    if data[:4] != b"MThd":
        raise MidiError(name, "not a MIDI file (no MThd header)")
    fmt, tracks, tpq = _split_chunks(data, name)
    # Format 2 holds independent sequences: each is read on its own and they follow one another.
    sequences = [tracks] if fmt != 2 else [[t] for t in tracks]
    notes: list[tuple[float, float, int]] = []
    bpm = None
    parts: list[tuple[str | None, list[Note]]] = []
    for seq in sequences:
        try:
            seq_parts, seq_bpm = _parse_tracks(seq, tpq, name)
        except MidiError:
            raise
        except Exception as e:  # music21 raises many kinds on damaged files; all mean "unreadable"
            text = str(e).strip()
            reason = text.splitlines()[0][:120] if text else type(e).__name__
            raise MidiError(name, f"damaged MIDI data ({reason})") from None
        start = max((o + d for o, d, _ in notes), default=0.0)
        notes.extend((o + start, d, p) for _, part in seq_parts for o, d, p in part)
        notes.sort()
        parts.extend((part_name, part) for part_name, part in seq_parts if part)
        bpm = bpm or seq_bpm
    if not notes:
        raise MidiError(name, "no pitched notes (empty, or drums only)")
    if len(sequences) > 1:
        voices, why = None, f"format 2 file of {len(sequences)} independent sequences, not the parts of one score"
    else:
        voices, why = select_voices(parts)
    return Piece(notes=notes, bpm=bpm, voices=voices, no_voices=why)


def _split_chunks(data: bytes, name) -> tuple[int, list[bytes], int]:
    """Check the header and chunk lengths: (format, MTrk chunks, ticks per quarter) or a MidiError.

    Chunks of unknown type are skipped, as the standard asks; a chunk longer than what is left of
    the file, or fewer tracks than the header announces, means the file was cut short.
    """
    if len(data) < 14:
        raise MidiError(name, "truncated MIDI file (header cut short)")
    header_len = int.from_bytes(data[4:8], "big")
    fmt, n_tracks, division = struct.unpack(">HHH", data[8:14])
    if header_len < 6:
        raise MidiError(name, f"damaged MIDI header (length {header_len})")
    if fmt not in (0, 1, 2):
        raise MidiError(name, f"unknown MIDI format {fmt}")
    if division & 0x8000:
        raise MidiError(name, "SMPTE time division (frames per second) is not supported")
    if division == 0:
        raise MidiError(name, "damaged MIDI header (0 ticks per quarter note)")
    tracks, pos = [], 8 + header_len
    while pos < len(data):
        if len(data) - pos < 8:
            if data[pos:].strip(b"\x00"):
                raise MidiError(name, f"truncated MIDI file (a chunk header is cut short at byte {pos})")
            break  # a few padding bytes at the end
        kind, length = data[pos : pos + 4], int.from_bytes(data[pos + 4 : pos + 8], "big")
        if pos + 8 + length > len(data):
            raise MidiError(name, f"truncated MIDI file (track {len(tracks) + 1} needs {length} bytes, {len(data) - pos - 8} left)")
        if kind == b"MTrk":
            tracks.append(data[pos : pos + 8 + length])
        pos += 8 + length
    if len(tracks) < n_tracks:
        raise MidiError(name, f"truncated MIDI file (header announces {n_tracks} tracks, {len(tracks)} found)")
    if not tracks:
        raise MidiError(name, "no tracks")
    return fmt, tracks, division


def _parse_tracks(tracks: list[bytes], tpq: int, name) -> tuple[list[tuple[str | None, list[Note]]], float | None]:
    """(part name, joined notes) for each part music21 makes of the tracks, and the first usable tempo."""
    from music21 import midi as m21midi
    from music21.midi import translate

    fmt = 0 if len(tracks) == 1 else 1
    mf = m21midi.MidiFile()
    mf.readstr(struct.pack(">4sIHHH", b"MThd", 6, fmt, len(tracks), tpq) + b"".join(tracks))
    last_tick = 0
    for track in mf.tracks:
        # Drum notes (channel 10) are drum kinds, not pitches: drop them in any track (a format-0
        # file carries all channels in one track). Meta events music21 cannot use go too.
        last_tick = max(last_tick, _clean_track(track))
    if last_tick / tpq > MAX_QUARTERS:
        raise MidiError(name, f"too long ({last_tick / tpq:.0f} quarter notes; at most {MAX_QUARTERS} are read)")
    score = translate.midiFileToStream(mf, quantizePost=True)
    parts = [(getattr(part, "partName", None), _joined_notes(part, score)) for part in score.parts or [score]]
    bpm = None
    for mark in score.recurse().getElementsByClass("MetronomeMark"):
        if mark.number and MIN_BPM <= mark.number <= MAX_BPM:  # beyond these, a tempo is a typo
            bpm = float(mark.number)
            break
    return parts, bpm


def _joined_notes(part, score) -> list[Note]:
    """(offset, duration, pitch) of every note of one part, sorted. music21 cuts a MIDI note that
    crosses a barline into tied pieces; the pieces are joined again, so it is one note, struck once."""
    notes: list[Note] = []
    tied: dict[int, int] = {}  # pitch -> index in notes of the note its tie goes on from
    for el in part.recurse().notes:
        offset = float(el.getOffsetInHierarchy(score))
        dur = float(el.quarterLength)
        if dur <= 0:
            continue
        for n in el.notes if el.isChord else (el,):
            pitch = int(n.pitch.midi)
            kind = n.tie.type if n.tie is not None else None
            if kind in ("continue", "stop") and pitch in tied:
                o, _, _ = notes[tied[pitch]]
                notes[tied[pitch]] = (o, offset + dur - o, pitch)
                if kind == "stop":
                    del tied[pitch]
                continue
            notes.append((offset, dur, pitch))
            if kind == "start":
                tied[pitch] = len(notes) - 1
            else:
                tied.pop(pitch, None)
    notes.sort()
    return notes


def _clean_track(track) -> int:
    """Remove drum notes, zero tempos and impossible time signatures, folding their delta times into
    the next kept event; returns the tick of the track's last event."""
    from music21.midi import DeltaTime, MetaEvents

    kept, carry, tick = [], 0, 0
    for ev in track.events:
        if isinstance(ev, DeltaTime):
            carry += ev.time
            tick += ev.time
        elif (ev.isNoteOn() or ev.isNoteOff()) and ev.channel == DRUM_CHANNEL:
            continue
        elif not _usable_meta(ev, MetaEvents):
            continue
        else:
            kept.extend([DeltaTime(track, time=carry), ev])
            carry = 0
    track.events = kept
    return tick


def _usable_meta(ev, MetaEvents) -> bool:
    data = ev.data if isinstance(ev.data, bytes) else b""
    if ev.type == MetaEvents.SET_TEMPO:  # 0 microseconds per quarter note: an infinite tempo
        return len(data) == 3 and int.from_bytes(data, "big") > 0
    if ev.type == MetaEvents.TIME_SIGNATURE:  # n/2^d with n >= 1 and d <= 6 (sixty-fourths)
        return len(data) >= 2 and data[0] >= 1 and data[1] <= 6
    return True

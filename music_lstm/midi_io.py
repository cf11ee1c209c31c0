"""MIDI in and out: the only module that touches music21.

Reading hands back plain Python values (a `Piece` of `(offset, duration, midi_pitch)` notes, offsets
and durations in quarter notes); writing takes the same kind of values. Everything musical above this
layer (slicing into chords, symbols, durations) is pure Python in `events` and `encoding`.

    python -c "from music_lstm import midi_io; print(midi_io.read_midi('bach/bwv66.6.mid').notes[:8])"
"""

from __future__ import annotations

import os
import struct
from pathlib import Path

from .run_folder import atomic_path
from .errors import MidiError
from .events import Piece

DRUM_CHANNEL = 10  # General MIDI percussion; its "pitches" are drum kinds, not notes
TICKS_PER_QUARTER = 480
MIN_BPM, MAX_BPM = 10.0, 1000.0  # tempo marks outside this range are not taken as the piece's tempo
MAX_QUARTERS = 5_000  # longer files are refused (41 minutes at 120 bpm): music21 slows down more than linearly
# What reading extracts; the parse cache is keyed on it, so change it whenever `read_midi`'s output would.
EXTRACTION = "notes-v3: every pitched note of every track, quantized, tied parts joined, drums dropped, format 2 in sequence"


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
    for seq in sequences:
        try:
            seq_notes, seq_bpm = _parse_tracks(seq, tpq, name)
        except MidiError:
            raise
        except Exception as e:  # music21 raises many kinds on damaged files; all mean "unreadable"
            text = str(e).strip()
            reason = text.splitlines()[0][:120] if text else type(e).__name__
            raise MidiError(name, f"damaged MIDI data ({reason})") from None
        start = max((o + d for o, d, _ in notes), default=0.0)
        notes.extend((o + start, d, p) for o, d, p in seq_notes)
        bpm = bpm or seq_bpm
    if not notes:
        raise MidiError(name, "no pitched notes (empty, or drums only)")
    return Piece(notes=notes, bpm=bpm)


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


def _parse_tracks(tracks: list[bytes], tpq: int, name) -> tuple[list[tuple[float, float, int]], float | None]:
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
    notes = _joined_notes(score)
    bpm = None
    for mark in score.recurse().getElementsByClass("MetronomeMark"):
        if mark.number and MIN_BPM <= mark.number <= MAX_BPM:  # beyond these, a tempo is a typo
            bpm = float(mark.number)
            break
    return notes, bpm


def _joined_notes(score) -> list[tuple[float, float, int]]:
    """(offset, duration, pitch) of every note, sorted. music21 cuts a MIDI note that crosses a
    barline into tied pieces; the pieces are joined again, so it is one note, struck once."""
    notes: list[tuple[float, float, int]] = []
    for part in score.parts or [score]:
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


def export_bach(out_dir: str | os.PathLike, log=print, limit: int | None = None) -> int:
    """Write every Bach chorale in music21's corpus (the first `limit` only, if given) to `out_dir` as
    MIDI; returns the number written."""
    from music21 import corpus

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = 0
    for src in sorted(corpus.getComposer("bach"), key=str)[:limit]:
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

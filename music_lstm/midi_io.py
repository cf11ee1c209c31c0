"""MIDI in and out: the only module that touches music21.

Reading hands back plain Python values (a `Piece` of `(offset, duration, midi_pitch)` notes, offsets
and durations in quarter notes); writing takes the same kind of values. Everything musical above this
layer (slicing into chords, symbols, durations) is pure Python in `events` and `encoding`.

Four voices. Besides all its notes, reading gives a piece's four sung lines, `Piece.voices`
(Soprano, Alto, Tenor, Bass), or `Piece.no_voices`, a one-line reason why the file has none. The parts
are the ones music21 makes of the tracks, in score order, parts without notes left out:

- fewer than four parts: no voices (a piano piece, or a chorale with all voices in one track);
- if the part names (MIDI track names) name each voice exactly once, those four parts are the voices,
  whatever else the score holds. A name names a voice by its first word: Soprano/Sopran/Canto/Cantus/
  Discantus/Treble/S., Alto/Alt/Altus/Contralto/A., Tenor/Tenore/T., Bass/Basso/Bassus/B.
  ("Soprano 1" and "Bass Continuo" count, "Basso continuo" does not);
- otherwise exactly four parts are S, A, T, B in score order;
- more than four parts where names give one voice to two parts ("Soprano 1", "Soprano 2"): no voices,
  the texture has more than four voices;
- more than four parts without a name for each voice: parts that double another part are left out
  (most of a part's notes struck with the same pitch class, at unison or octaves, in another part;
  of two such parts the later in score order stays). If four remain they are S, A, T, B from the
  highest average pitch down; otherwise no voices.

Each voice is then made monophonic: of notes struck together in one part the highest is kept (the
lowest in the bass), and a note still sounding at the next onset is cut short there. Notes tied
across barlines are one note, as in `notes`.

Four voices go out as a MIDI file of four named tracks, a channel and a program each
(`write_voices_midi`; `instruments.voice_programs` reads `--instrument`), or as a chorale score in MusicXML
(`write_chorale_musicxml`): two staves, soprano and alto on the treble staff, tenor and bass on the bass
staff, stems apart, with the key signature of the analysed key and pitches spelled in that key.

A melody to harmonize (`read_melody`) comes from a MIDI file, a MusicXML/.mxl file (known by its
content, read within bounds: `melody_files`) or tinyNotation text (`"4/4 c'4 d' e' f' g'2"`, the
`tinyNotation:` prefix optional), as one line of notes; the rules are in its docstring.

    python -c "from music_lstm import midi_io; print(midi_io.read_midi('bach/bwv66.6.mid').notes[:8])"
"""

from __future__ import annotations

import math
import os
import re
import struct
from pathlib import Path

from . import melody_files
from .run_folder import atomic_path
from .errors import MelodyError, MidiError
from .events import VOICE_NAMES, Note, Piece

DRUM_CHANNEL = 10  # General MIDI percussion; its "pitches" are drum kinds, not notes
TICKS_PER_QUARTER = 480
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


# Part names that say which voice a part sings: the first word of the name, lower case, without dots
# or numbers ("Soprano 1" -> "soprano", "S." -> "s", "Bass\rContinuo" -> "bass").
VOICE_WORDS = (
    frozenset({"soprano", "sopran", "sopr", "canto", "cantus", "discantus", "discant", "treble", "s"}),
    frozenset({"alto", "alt", "altus", "contralto", "a"}),
    frozenset({"tenor", "tenore", "ten", "t"}),
    frozenset({"bass", "basso", "bassus", "bajo", "b"}),
)
DOUBLING_SHARE = 0.8  # a part whose notes are this share of another part's (same onset, same pitch class) doubles it


def voice_of_name(name: str | None) -> int | None:
    """0-3 (Soprano, Alto, Tenor, Bass) when a part name names a sung voice, else None."""
    words = re.split(r"[^a-z]+", (name or "").lower())
    words = [w for w in words if w]
    first = words[0] if words else ""
    if words[:2] == ["basso", "continuo"]:  # the instrumental bass line, not the sung one
        return None
    return next((v for v, table in enumerate(VOICE_WORDS) if first in table), None)


def select_voices(parts: list[tuple[str | None, list[Note]]]) -> tuple[tuple[list[Note], ...] | None, str | None]:
    """The four voices (S, A, T, B) of a score's parts, or None and a one-line reason.

    `parts` are (name, notes) in score order, parts without notes already left out. The rule is in
    the module docstring; each chosen part is then made monophonic by `monophonic`.
    """
    n = len(parts)
    if n < 4:
        return None, f"{n} part{'s' if n != 1 else ''} with notes (four voices need four parts)"
    by_voice: list[list[int]] = [[], [], [], []]
    for i, (name, _) in enumerate(parts):
        v = voice_of_name(name)
        if v is not None:
            by_voice[v].append(i)
    if all(len(ix) == 1 for ix in by_voice):
        chosen = [ix[0] for ix in by_voice]
    elif n == 4:
        chosen = [0, 1, 2, 3]
    else:
        crowded = next((v for v, ix in enumerate(by_voice) if len(ix) > 1), None)
        if crowded is not None:
            names = ", ".join(repr(parts[i][0]) for i in by_voice[crowded])
            return None, f"{len(by_voice[crowded])} parts sing the {VOICE_NAMES[crowded].lower()} ({names}): more than four voices"
        kept = _without_doublings([notes for _, notes in parts])
        if len(kept) != 4:
            return None, (
                f"{n} parts without a name for each voice, {len(kept)} after leaving out doublings: "
                "cannot tell which four are S, A, T, B"
            )
        chosen = sorted(kept, key=lambda i: -sum(p for _, _, p in parts[i][1]) / len(parts[i][1]))
    return tuple(monophonic(parts[i][1], lowest=(v == 3)) for v, i in enumerate(chosen)), None


def _without_doublings(parts: list[list[Note]]) -> list[int]:
    """Indices of the parts that double no other part, in score order. Part X doubles part Y when at
    least DOUBLING_SHARE of X's notes start with a note of the same pitch class in Y (unison or
    octaves); of two parts that double each other the later one is kept (scores list the instruments
    above the choir)."""
    onsets = [{(round(o, 6), p % 12) for o, _, p in notes} for notes in parts]
    kept = list(range(len(parts)))
    for i in range(len(parts)):
        for j in kept:
            if j != i:
                shared = sum((round(o, 6), p % 12) in onsets[j] for o, _, p in parts[i])
                if shared >= DOUBLING_SHARE * len(parts[i]):
                    kept.remove(i)
                    break
    return kept


def monophonic(notes: list[Note], lowest: bool = False) -> list[Note]:
    """One note at a time: of the notes struck together keep the highest (the lowest when `lowest`,
    for the bass), the longer of two on the same pitch; a note still sounding when the next one is
    struck is cut short there."""
    by_onset: dict[float, Note] = {}
    for o, d, p in notes:
        best = by_onset.get(o)
        if best is None or (p < best[2] if lowest else p > best[2]) or (p == best[2] and d > best[1]):
            by_onset[o] = (o, d, p)
    line = [by_onset[o] for o in sorted(by_onset)]
    return [(o, min(d, nxt[0] - o), p) for (o, d, p), nxt in zip(line, line[1:])] + line[-1:]


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
) -> None:
    """Write four voices as a MIDI file of four named tracks (Soprano, Alto, Tenor, Bass), atomically.

    Each voice is a list of `(offset, duration, midi_pitch)` notes; track k plays on channel k+1 with
    `programs[k]` (General MIDI, 0-based, see `instruments.voice_programs`). The first track also holds the tempo.
    """
    voices, programs, names = list(voices), list(programs), list(names)
    if not (len(voices) == len(programs) == len(names) == 4):
        raise ValueError(f"four voices, programs and names are needed, got {len(voices)}, {len(programs)}, {len(names)}")
    tracks = [
        _track_chunk(v, channel=k, program=programs[k], velocity=velocity, bpm=bpm if k == 0 else None, name=names[k])
        for k, v in enumerate(voices)
    ]
    with atomic_path(path) as tmp:
        Path(tmp).write_bytes(_file_bytes(tracks))


def _file_bytes(tracks: list[bytes]) -> bytes:
    header = b"MThd" + (6).to_bytes(4, "big") + (1).to_bytes(2, "big") + len(tracks).to_bytes(2, "big")
    return header + TICKS_PER_QUARTER.to_bytes(2, "big") + b"".join(tracks)


def _track_chunk(notes, channel: int, program: int, velocity: int, bpm: float | None, name: str | None = None) -> bytes:
    """One MTrk chunk: optional name and tempo, a program change, the notes (no running status)."""
    timed: list[tuple[int, int, bytes]] = []  # (tick, order, event): note-offs before note-ons at a tick
    if name is not None:
        text = str(name).encode("latin-1", "replace")
        timed.append((0, 0, b"\xff\x03" + _vlq(len(text)) + text))
    if bpm is not None:
        tempo_us = int(round(60_000_000 / max(1.0, float(bpm))))
        timed.append((0, 0, b"\xff\x51\x03" + tempo_us.to_bytes(3, "big")))
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


def write_chorale_musicxml(
    voices,
    path: str | os.PathLike,
    bpm: float = 90.0,
    title: str = "Chorale",
    time_signature: str = "4/4",
    pickup: float = 0.0,
    composer: str | None = None,
) -> None:
    """Write four voices as a chorale score in MusicXML, atomically: two staves, soprano (stems up)
    and alto (stems down) on the treble staff, tenor (up) and bass (down) on the bass staff, with the
    key signature of the piece's key (music21's key analysis of all four voices), `time_signature`,
    measures, ties across barlines, the tempo and `title`. `pickup` is the length in quarter notes of
    an upbeat before the first barline (0 for none). Pitches are spelled in the key; onsets and
    releases are moved to the nearest sixteenth or eighth-note triplet; no composer is named unless
    `composer` is given."""
    from music21 import clef, instrument, key, layout, meter, metadata, note, stream, tempo

    voices = [list(v) for v in voices]
    if len(voices) != 4:
        raise ValueError(f"four voices are needed, got {len(voices)}")
    voices = [_notatable(v, lowest=(k == 3)) for k, v in enumerate(voices)]
    ts = meter.TimeSignature(time_signature)
    bar = float(ts.barDuration.quarterLength)
    end = max((o + d for v in voices for o, d, _ in v), default=0.0)
    # Pad every voice to the end of its last measure so all four end on the same barline. After an
    # upbeat the last measure is short by the upbeat's length, when the music fits in that.
    total = pickup + bar * max(1, -(-(end - pickup - 1e-9) // bar))
    if 0 < pickup < bar and total - pickup >= end - 1e-9:
        total -= pickup

    everything = stream.Stream()
    for v in voices:
        for o, d, p in v:
            n = note.Note(p)
            n.quarterLength = d
            everything.insert(o, n)
    tonality = everything.analyze("key") if len(everything.notes) else key.Key("C")
    spell = _speller(tonality)

    def measures_of(line) -> list:
        flat = stream.Stream()
        t = 0.0
        for o, d, p in sorted(line):
            if o > t + 1e-9:
                flat.insert(t, note.Rest(quarterLength=o - t))
            n = note.Note(spell(p))
            n.quarterLength = d
            flat.insert(o, n)
            t = o + d
        if total > t + 1e-9:
            flat.insert(t, note.Rest(quarterLength=total - t))
        bars = []
        start = 0.0
        while start < total - 1e-9:
            length = pickup if (start == 0.0 and pickup > 0) else bar
            bars.append((start, min(start + length, total)))
            start += length
        out = []
        for a, b in bars:
            els = []
            for el in flat.getElementsByOffset(a, b, includeEndBoundary=False, mustFinishInSpan=False, mustBeginInSpan=False):
                o, e = float(el.offset), float(el.offset + el.quarterLength)
                if e <= a + 1e-9 or o >= b - 1e-9:
                    continue
                piece = note.Rest() if el.isRest else note.Note(el.pitch)
                piece.quarterLength = min(e, b) - max(o, a)
                if not el.isRest:
                    ties_in, ties_out = o < a - 1e-9, e > b + 1e-9
                    if ties_in or ties_out:
                        from music21 import tie

                        piece.tie = tie.Tie("continue" if ties_in and ties_out else "stop" if ties_in else "start")
                els.append((max(o, a) - a, piece))
            out.append(els)
        return out

    staves = []
    for (upper, lower), (part_name, short, staff_clef) in zip(
        ((0, 1), (2, 3)), (("Soprano, Alto", "S. A.", clef.TrebleClef()), ("Tenor, Bass", "T. B.", clef.BassClef()))
    ):
        part = stream.Part()
        part.partName, part.partAbbreviation = part_name, short
        inst = instrument.Vocalist()
        inst.partName, inst.partAbbreviation = part_name, short
        part.insert(0, inst)
        lines = [measures_of(voices[upper]), measures_of(voices[lower])]
        for number, (up, down) in enumerate(zip(*lines)):
            m = stream.Measure(number=number if pickup > 0 else number + 1)
            if number == 0:
                m.insert(0, staff_clef)
                m.insert(0, key.KeySignature(tonality.sharps))
                m.insert(0, meter.TimeSignature(time_signature))
                if upper == 0:
                    mark = tempo.MetronomeMark(number=round(bpm), referent=note.Note(type="quarter"))
                    mark.placement = "above"
                    m.insert(0, mark)
                if pickup > 0:
                    m.paddingLeft = bar - pickup
            last = number == len(lines[0]) - 1
            if last and number > 0 and pickup > 0 and (total - pickup) % bar:
                m.paddingRight = bar - (total - pickup) % bar  # the short last measure that completes the upbeat
            for vid, (els, stem) in enumerate(((up, "up"), (down, "down")), start=1):
                voice = stream.Voice(id=str(vid))
                for o, el in els:
                    if not el.isRest:
                        el.stemDirection = stem
                    voice.insert(o, el)
                m.insert(0, voice)
            part.append(m)
        part.makeBeams(inPlace=True)
        staves.append(part)

    score = stream.Score()
    score.metadata = metadata.Metadata()
    score.metadata.title = title
    score.metadata.movementName = title
    if composer:
        score.metadata.composer = composer
    for part in staves:
        score.insert(0, part)
    score.insert(0, layout.StaffGroup(staves, symbol="brace", barTogether=True))
    with atomic_path(path) as tmp:
        score.write("musicxml", fp=str(tmp))
        if not composer:  # music21 names itself the composer when none is given
            text = Path(tmp).read_text(encoding="utf-8")
            Path(tmp).write_text(text.replace('<creator type="composer">Music21</creator>', ""), encoding="utf-8")


def _notatable(line: list[Note], lowest: bool) -> list[Note]:
    """A voice whose onsets and releases lie on the grids reading gives (sixteenths and eighth-note
    triplets), so every duration can be written; one note at a time."""

    def snap(t: float) -> float:
        return min(round(t * 4) / 4, round(t * 3) / 3, key=lambda g: abs(g - t))

    snapped = []
    for o, d, p in line:
        a, b = snap(o), snap(o + d)
        snapped.append((a, (b if b > a else a + 0.25) - a, p))
    return monophonic(snapped, lowest=lowest)


def _speller(tonality):
    """A function midi pitch -> music21 Pitch spelled in `tonality`: scale notes as the scale spells
    them (minor keys: raised sixth and seventh too); other notes as a raised scale degree (the sharp
    fourth, a secondary leading tone), except the flat seventh in major and the flat second in minor."""
    from music21 import interval, pitch

    tonic = pitch.Pitch(tonality.tonic.name)  # a fresh pitch: an analysed tonic may carry an inferred spelling
    names: dict[int, str] = {}
    scale = [pitch.Pitch(p.name) for p in tonality.getScale(tonality.mode).pitches]
    if tonality.mode == "minor":
        scale += [tonic.transpose(interval.Interval("M6")), tonic.transpose(interval.Interval("M7"))]
    for p in scale:
        names.setdefault(p.pitchClass, p.name)
    by_pc = dict(names)
    flat_pc = (tonic.pitchClass + (10 if tonality.mode == "major" else 1)) % 12
    for pc in range(12):
        if pc in names:
            continue
        if pc == flat_pc and (pc + 1) % 12 in by_pc:
            names[pc] = pitch.Pitch(by_pc[(pc + 1) % 12]).transpose(interval.Interval("-A1")).name
        elif (pc - 1) % 12 in by_pc:
            names[pc] = pitch.Pitch(by_pc[(pc - 1) % 12]).transpose(interval.Interval("A1")).name
        else:
            names[pc] = pitch.Pitch(midi=pc).name
    # A raised or lowered degree that needs a double accidental (F## in D-sharp minor) gets the plain name.
    names = {pc: (n if n.count("#") + n.count("-") <= 1 else pitch.Pitch(midi=pc).name) for pc, n in names.items()}

    def spell(midi: int):
        p = pitch.Pitch(names[midi % 12])
        p.octave = 4
        p.octave += (int(midi) - p.midi) // 12
        return p

    return spell


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


# --- a melody to harmonize --------------------------------------------------------------------------

SOPRANO_REACH = (60, 81)  # C4..A5: what a soprano line may hold; a melody outside is moved by octaves
MAX_OCTAVES_MOVED = 2  # a melody further out than this is a mistake, not a register: refused
# The limits on a melody (notes, bars, time signatures, file sizes) live in melody_files, quoted by the docs.
MAX_MELODY_NOTES, MAX_MELODY_BARS = melody_files.MAX_MELODY_NOTES, melody_files.MAX_MELODY_BARS
TINY = "tinyNotation:"
MUSICXML_SUFFIXES = (".xml", ".musicxml", ".mxl")
MIDI_SUFFIXES = (".mid", ".midi")
# A tinyNotation token music21 understands: a note or rest with octave marks, accidentals, a duration,
# dots and a tie; a time signature; the brackets of triplets and quadruplets; a lyric. music21 skips
# anything else without a word, so it is checked here.
_TINY_TOKEN = re.compile(
    r"""^(?:\d+/\d+|(?:trip|quad)\{|\}|_\S*|(?:(?:trip|quad)\{)?(?:r|[a-gA-G]+(?:#+|-+|n)?'*)(?:\d+\.*)?~?\}?)$""")
_TINY_NOTE = re.compile(r"""^(?:(?:trip|quad)\{)?[a-gA-G]""")
_TINY_METER = re.compile(r"^(\d+)/(\d+)$")


def is_tune(source: str | os.PathLike) -> bool:
    """Whether `source` is typed tinyNotation rather than a file's name: text beginning `tinyNotation:`,
    or, where no file has that name, text whose every word is a tinyNotation token (`4/4 c'4 d' e'2`).
    A path object is always a file. The command line and the local page read a typed tune by this rule."""
    if isinstance(source, os.PathLike):
        return False
    text = str(source).strip()
    if text.startswith(TINY):
        return True
    words = text.split()
    if not words or not all(_TINY_TOKEN.match(w) for w in words):
        return False
    try:
        return not Path(text).exists()
    except (OSError, ValueError):  # a name too long for a file, or with a NUL in it
        return True


def as_tune(text: str) -> str:
    """Typed text as tinyNotation, the prefix added where it was left out: for text that must never be
    taken for a file's name (what a web page sends)."""
    text = str(text).strip()
    return text if text.startswith(TINY) else f"{TINY} {text}"


def read_melody(source: str | os.PathLike) -> tuple[list[Note], str | None]:
    """One line of notes to harmonize, and a one-line message saying what was done to it (or None).

    `source` is a MIDI file, a MusicXML or .mxl file (each known by its content, not its name:
    `melody_files`), or tinyNotation text, with or without its `tinyNotation:` prefix (`is_tune`).
    Notes are (offset, duration, midi pitch), quarter notes from the source's own start, one at a time.

    - A polyphonic source gives its top line, and the message says so: the soprano part when the
      file has four voices (`Piece.voices`; in MusicXML a staff of two voices counts as two parts,
      so a two-staff chorale score has four), else the highest note struck at each onset, leaving out
      notes struck under a higher note that is still sounding, each note cut short where the next
      one starts.
    - Chords only (every onset strikes two or more notes, and the file has no four voices) is
      refused: there is no tune to take.
    - A melody outside a soprano's reach (`SOPRANO_REACH`) is moved by whole octaves into it, the
      message saying by how much; one whose span fits the reach in no octave, or only
      `MAX_OCTAVES_MOVED` octaves or more away, is refused.
    - An empty, unreadable or too large source, one with no notes, a time signature other than 1 to 16
      over 1, 2, 4, 8 or 16, or more than `MAX_MELODY_NOTES` notes or `MAX_MELODY_BARS` bars raises
      `MelodyError` (one line: the source, the reason), a typed tune's before music21 reads it.
    """
    text = str(source)
    if is_tune(source):
        name = _short(text)
        parts, meter = _tiny_parts(text.strip(), name)
        voices = None
    elif not _exists(text) and _looks_typed(text):  # a tune with a word music21 does not know: say which
        name = _short(text)
        parts, meter = _tiny_parts(text.strip(), name)
        voices = None
    else:
        name = text
        parts, voices, meter = _file_parts(Path(text))
    notes = sorted(n for _, part in parts for n in part if n[1] > 0)
    if not notes:
        raise MelodyError(name, "no notes")
    messages = []
    if voices is not None:
        line = list(voices[0])
        if len(line) < len(notes):
            messages.append(f"four voices: harmonizing the soprano's {len(line)} notes (of {len(notes)})")
    elif _polyphonic(notes):
        onsets: dict[float, int] = {}
        for o, _, _ in notes:
            onsets[round(o, 6)] = onsets.get(round(o, 6), 0) + 1
        if min(onsets.values()) >= 2:
            raise MelodyError(name, f"chords only (all {len(onsets)} onsets strike two or more notes): give a melody")
        line = top_line(notes)
        messages.append(f"polyphonic: harmonizing its top line ({len(line)} of {len(notes)} notes)")
    else:
        line = notes
    _check_length(len(line), max(o + d for o, d, _ in line), meter, name)
    line, moved = into_soprano_reach(line, name)
    if moved:
        messages.append(moved)
    return line, "; ".join(messages) or None


def _check_length(notes: int, end: float, meter: tuple[int, int], name) -> None:
    """MelodyError when a melody of `notes` notes ending at `end` quarter notes is over the limits."""
    bar = 4 * meter[0] / meter[1]
    bars = math.ceil(end / bar - 1e-9)
    if notes > MAX_MELODY_NOTES or bars > MAX_MELODY_BARS:
        raise MelodyError(name, f"too long ({notes} notes, {bars} bars of {meter[0]}/{meter[1]}; at most "
                                f"{MAX_MELODY_NOTES} notes and {MAX_MELODY_BARS} bars)")


def _check_meter(numerator: int, denominator: int, name) -> tuple[int, int]:
    if numerator not in melody_files.METER_NUMERATORS or denominator not in melody_files.METER_DENOMINATORS:
        raise MelodyError(name, f"a time signature of {numerator}/{denominator} (give 1 to 16 beats over "
                                f"{', '.join(map(str, melody_files.METER_DENOMINATORS))})")
    return numerator, denominator


def into_soprano_reach(line: list[Note], name: str = "melody") -> tuple[list[Note], str | None]:
    """The line moved by the fewest octaves that bring it inside `SOPRANO_REACH`, and a message
    saying so (None when it was inside); MelodyError when it fits in no octave, or only more than
    `MAX_OCTAVES_MOVED` octaves away (a tune far above or below any voice is a mistake to say)."""
    low, high = min(p for _, _, p in line), max(p for _, _, p in line)
    lo, hi = SOPRANO_REACH
    if lo <= low and high <= hi:
        return line, None
    fits = [k for k in range(-11, 12) if lo <= low + 12 * k and high + 12 * k <= hi]
    reach = f"{_name(lo)}-{_name(hi)}"
    if not fits:
        raise MelodyError(name, f"spans {_name(low)}-{_name(high)}: outside a soprano's reach ({reach}) "
                                "in every octave")
    k = min(fits, key=abs)
    word = "up" if k > 0 else "down"
    if abs(k) > MAX_OCTAVES_MOVED:
        where = "above" if k < 0 else "below"
        raise MelodyError(name, f"spans {_name(low)}-{_name(high)}: {abs(k)} octaves {where} a soprano's reach "
                                f"({reach}); give the tune in the octave it is sung "
                                f"(at most {MAX_OCTAVES_MOVED} octaves are moved)")
    moved = [(o, d, p + 12 * k) for o, d, p in line]
    return moved, f"moved {word} {abs(k)} octave{'s' if abs(k) > 1 else ''} into a soprano's reach ({reach})"


def top_line(notes: list[Note]) -> list[Note]:
    """The highest line of a polyphonic texture: at each onset its highest struck note, unless a
    higher note struck earlier is still sounding; each kept note cut short where the next starts."""
    highest: dict[float, Note] = {}
    for o, d, p in notes:
        key = round(o, 6)
        if key not in highest or p > highest[key][2] or (p == highest[key][2] and d > highest[key][1]):
            highest[key] = (o, d, p)
    line: list[Note] = []
    for key in sorted(highest):
        o, d, p = highest[key]
        if line:
            po, pd, pp = line[-1]
            if po + pd > o + 1e-6 and pp > p:  # under a higher note still sounding: an inner voice
                continue
            line[-1] = (po, min(pd, o - po), pp)
        line.append((o, d, p))
    return line


def melody_key(notes: list[Note]) -> str:
    """The melody's key by music21's analysis, e.g. `G major`, `E minor`; where the analysis and its
    relative key share a key signature, the one whose tonic the melody ends on (a tune in G major that
    leans on F# is not in E minor)."""
    from music21 import note, stream

    s = stream.Stream()
    for o, d, p in notes:
        n = note.Note(p)
        n.quarterLength = d
        s.insert(o, n)
    k = s.analyze("key")
    last = max(notes)[2] % 12
    if k.tonic.pitchClass != last and k.relative.tonic.pitchClass == last:
        k = k.relative
    return f"{k.tonic.name.replace('-', 'b')} {k.mode}"


def melody_time_signature(source: str | os.PathLike) -> str:
    """The time signature a melody source gives first (tinyNotation's leading `3/4`, or a file's
    first), as text; `4/4` when it gives none or cannot be read. A file is read as `read_melody` reads
    it (by its content, within the same bounds)."""
    if is_tune(source):
        body = str(source).strip()
        body = body[len(TINY):] if body.startswith(TINY) else body
        m = re.match(r"\s*(\d+)/(\d+)\b", body)
        return f"{m.group(1)}/{m.group(2)}" if m else "4/4"
    try:
        from music21 import meter

        found = _music21_score(Path(source)).recurse().getElementsByClass(meter.TimeSignature)
        return found[0].ratioString if found else "4/4"
    except Exception:  # a source read_melody accepted, but music21 reads no meter from it
        return "4/4"


def _polyphonic(notes: list[Note]) -> bool:
    return any(b[0] < a[0] + a[1] - 1e-6 for a, b in zip(notes, notes[1:]))


def _short(text: str) -> str:
    text = " ".join(text.split())
    return repr(text if len(text) <= 40 else text[:37] + "...")


def _name(midi: int) -> str:
    from .encodings.common import pitch_name

    return pitch_name(midi).replace("-", "b")


def _exists(text: str) -> bool:
    try:
        return Path(text).exists()
    except (OSError, ValueError):
        return False


def _looks_typed(text: str) -> bool:
    """Text that is meant as notes rather than a file's name: several words, one of them a note."""
    words = text.split()
    return (len(words) > 1 and any(_TINY_NOTE.match(w) and _TINY_TOKEN.match(w) for w in words)
            and not any(Path(w).suffix.lower() in MIDI_SUFFIXES + MUSICXML_SUFFIXES for w in words))


def _tiny_parts(text: str, name: str) -> tuple[list[tuple[str | None, list[Note]]], tuple[int, int]]:
    """The notes of tinyNotation `text` (its prefix optional) and its time signature, the words and
    the limits checked before music21 reads it (music21 takes a long time over `1/1024`)."""
    body = text[len(TINY):] if text.startswith(TINY) else text
    words = body.split()
    bad = [t for t in words if not _TINY_TOKEN.match(t)]
    if bad:
        raise MelodyError(name, f"not tinyNotation: {bad[0]!r} "
                                "(notes look like c'4, e-8., r2, with an optional 3/4 first)")
    meters = [_check_meter(int(m.group(1)), int(m.group(2)), name) for m in map(_TINY_METER.match, words) if m]
    notes = sum(1 for t in words if _TINY_NOTE.match(t))
    if notes > MAX_MELODY_NOTES:
        raise MelodyError(name, f"too long ({notes} notes; at most {MAX_MELODY_NOTES} notes and {MAX_MELODY_BARS} bars)")
    from music21 import converter

    try:
        score = converter.parse(f"{TINY} {body}")
    except Exception as e:  # music21 raises many kinds on bad text; all mean "unreadable"
        raise MelodyError(name, f"cannot be read as tinyNotation ({_reason(e)})") from None
    return [(None, _stream_notes(score))], (meters[0] if meters else (4, 4))


def _music21_score(path: Path):
    """music21's score of a melody file, read from its bytes (`melody_files.melody_bytes`: by content, bounded)."""
    from music21 import converter

    kind, data = melody_files.melody_bytes(path)
    return converter.parseData(data, format="midi" if kind == melody_files.MIDI else "musicxml")


def _file_parts(path: Path) -> tuple[list[tuple[str | None, list[Note]]], tuple | None, tuple[int, int]]:
    """(name, notes) per part, the four voices when the file gives them, and its first time signature
    (4/4 for MIDI), every time signature checked."""
    kind, data = melody_files.melody_bytes(path)  # by content, within bounds: a MelodyError otherwise
    if kind == melody_files.MIDI:
        try:
            piece = parse_midi(data, path)
        except MidiError as e:
            raise MelodyError(path, e.reason) from None
        return [(None, piece.notes)], piece.voices, (4, 4)
    from music21 import converter, meter

    try:
        score = converter.parseData(data, format="musicxml")
    except Exception as e:
        raise MelodyError(path, f"damaged MusicXML ({_reason(e)})") from None
    meters = [_check_meter(int(ts.numerator), int(ts.denominator), path)
              for ts in score.recurse().getElementsByClass(meter.TimeSignature)]
    parts = []
    for part in score.parts or [score]:
        # A staff of two voices (a chorale's soprano and alto) is two parts, upper voice first.
        split = part.voicesToParts().parts if any(m.hasVoices() for m in part.getElementsByClass("Measure")) else [part]
        parts += [(getattr(part, "partName", None), _stream_notes(p)) for p in split]
    parts = [(n, notes) for n, notes in parts if notes]
    voices, _ = select_voices(parts) if len(parts) >= 4 else (None, None)
    return parts, voices, (meters[0] if meters else (4, 4))


def _stream_notes(s) -> list[Note]:
    """(offset, duration, pitch) of every note and chord member of a music21 stream, ties joined."""
    notes = []
    for el in s.stripTies().flatten().notes:
        d = float(el.quarterLength)
        for p in el.pitches:
            notes.append((float(el.offset), d, int(p.midi)))
    return sorted(notes)


def _reason(e: Exception) -> str:
    text = str(e).strip()
    return text.splitlines()[0][:120] if text else type(e).__name__

"""music21 streams in and out, for the Python API (api.py): beside midi_io, the other module that
touches music21.

- `four_part_score`: four voices as a music21 `Score` of four parts (Soprano, Alto, Tenor, Bass), in
  measures, spelled in the given key; what `Chorale.to_music21()` returns, to `.show()` in a notebook.
- `stream_file`: a music21 stream given as a melody, written to a temporary MusicXML file, so that
  `midi_io.read_melody` reads it by the same rules as a file (a four-voice score gives its soprano,
  a polyphonic one its top line).
- `write_mxl`: the chorale score of `midi_io.write_chorale_musicxml`, compressed as .mxl, atomically.

    python -c "from music_lstm.io import streams; streams.four_part_score([[(0, 1, 72)], [(0, 1, 67)], [(0, 1, 64)], [(0, 1, 48)]]).show('text')"
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
import zipfile
from pathlib import Path

from ..core.events import VOICE_NAMES, Note

MXL_CONTAINER = ('<?xml version="1.0" encoding="UTF-8"?>\n<container><rootfiles>'
                 '<rootfile full-path="{name}" media-type="application/vnd.recordare.musicxml+xml"/>'
                 '</rootfiles></container>\n')


def stream_notes(s) -> list:
    """(offset, duration, pitch) of every note and chord member of a music21 stream, ties joined, sorted."""
    notes = []
    for el in s.stripTies().flatten().notes:
        d = float(el.quarterLength)
        for p in el.pitches:
            notes.append((float(el.offset), d, int(p.midi)))
    return sorted(notes)


def is_stream(obj) -> bool:
    """Whether `obj` is a music21 stream (music21 is not imported for it: without it, none can exist)."""
    music21 = sys.modules.get("music21")
    return music21 is not None and isinstance(obj, music21.stream.Stream)


def music21_key(name: str):
    """A music21 `Key` from a name such as `G major`, `Bb major`, `F# minor` (`midi_io.melody_key`'s)."""
    from music21 import key

    tonic, mode = name.split()
    tonic = tonic[0] + tonic[1:].replace("b", "-")  # music21 writes flats as '-'
    return key.Key(tonic.lower() if mode == "minor" else tonic, mode)


def four_part_score(voices, key_name: str | None = None, time_signature: str = "4/4", bpm: float = 90.0,
                    title: str | None = None):
    """Four voices (S A T B, each `(offset, duration, midi_pitch)` notes in quarter notes) as a music21
    `Score` of four parts, one voice each, with rests between notes, measures of `time_signature`,
    ties across barlines, the key signature of `key_name` (None: music21's analysis) with pitches spelled
    in it, and the tempo. Offsets and durations are the voices' own: `stripTies()` gives them back."""
    from music21 import clef, instrument, key, meter, metadata, note, stream, tempo

    from .musicxml import _speller

    voices = [sorted(v) for v in voices]
    if len(voices) != 4:
        raise ValueError(f"four voices are needed, got {len(voices)}")
    if key_name is None:
        everything = stream.Stream()
        for o, d, p in (n for v in voices for n in v):
            everything.insert(o, note.Note(p, quarterLength=d))
        tonality = everything.analyze("key")
    else:
        tonality = music21_key(key_name)
    spell = _speller(tonality)
    score = stream.Score()
    if title:
        score.metadata = metadata.Metadata(title=title)
    clefs = (clef.TrebleClef, clef.TrebleClef, clef.Treble8vbClef, clef.BassClef)
    end = max((o + d for v in voices for o, d, _ in v), default=0.0)
    for k, (name, line) in enumerate(zip(VOICE_NAMES, voices)):
        part = stream.Part(id=name)
        part.partName = name
        singer = instrument.Vocalist()
        singer.partName = name
        part.insert(0, singer)
        part.insert(0, clefs[k]())
        part.insert(0, key.Key(tonality.tonic.name, tonality.mode))  # a fresh one per part
        part.insert(0, meter.TimeSignature(time_signature))
        if k == 0:
            part.insert(0, tempo.MetronomeMark(number=round(bpm)))
        t = 0.0
        for o, d, p in line:
            if o > t + 1e-9:
                part.insert(t, note.Rest(quarterLength=o - t))
            part.insert(o, note.Note(spell(p), quarterLength=d))
            t = o + d
        if end > t + 1e-9:  # every part ends on the same beat
            part.insert(t, note.Rest(quarterLength=end - t))
        score.insert(0, part)
    score.makeNotation(inPlace=True)  # measures, and ties where a note crosses a barline
    return score


@contextlib.contextmanager
def stream_file(s, name: str = "music21 stream"):
    """Yield the path of a temporary MusicXML file holding the music21 stream `s`; removed afterwards.
    A stream music21 cannot write out is a MelodyError naming it `name`."""
    from ..core.errors import MelodyError

    with tempfile.TemporaryDirectory(prefix="music_lstm_") as folder:
        path = Path(folder) / "melody.musicxml"
        try:
            s.write("musicxml", fp=str(path))
        except Exception as e:  # music21 raises many kinds; all mean it cannot be notated
            raise MelodyError(name, f"cannot be written as MusicXML ({type(e).__name__}: {str(e)[:100]})") from None
        yield path


def write_mxl(voices, path: str | os.PathLike, **options) -> None:
    """`midi_io.write_chorale_musicxml(voices, ..., **options)`, compressed as an .mxl archive at `path`,
    atomically."""
    from .musicxml import write_chorale_musicxml
    from ..core.files import atomic_path

    path = Path(path)
    inner = path.with_suffix(".musicxml").name
    with tempfile.TemporaryDirectory(prefix="music_lstm_") as folder:
        xml = Path(folder) / inner
        write_chorale_musicxml(voices, xml, **options)
        with atomic_path(path) as tmp:
            with zipfile.ZipFile(tmp, "w") as z:
                z.writestr("mimetype", "application/vnd.recordare.musicxml", compress_type=zipfile.ZIP_STORED)
                z.writestr("META-INF/container.xml", MXL_CONTAINER.format(name=inner),
                           compress_type=zipfile.ZIP_DEFLATED)
                z.write(xml, inner, compress_type=zipfile.ZIP_DEFLATED)


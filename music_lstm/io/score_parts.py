"""The parts of a MIDI or MusicXML file, each one line of notes, with what the file says besides the
notes: `read_parts`, for `--keep` (parts of a score kept as written while the others are harmonized).

Read within `melody_files`' bounds and limits, as a melody is (`melody_input`).

    python -c "from music_lstm.io.score_parts import read_parts; print(read_parts('chorale.musicxml').names)"
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import NamedTuple

from ..core.errors import MelodyError, MidiError
from ..core.events import Note
from ..core.lines import monophonic
from . import melody_files
from .melody_input import check_length, check_meter, fermata_marks, marked_onsets, midi_signs, musicxml_parts
from .midi_read import parse_midi

MAX_PARTS = 4  # --keep maps parts onto the four voices


class FileParts(NamedTuple):
    parts: list[list[Note]]  # each monophonic, in the file's order
    names: list[str | None]  # each part's name, None where the file gives none
    meter: tuple[int, int]  # the first time signature; 4/4 when none is given
    pickup: float  # quarter notes before the first barline (0 for MIDI)
    sharps: int | None  # the first key signature; None when the file has none
    mode: str | None  # "major" or "minor" where the file says, else None
    fermatas: tuple[float, ...]  # onsets of the notes marked with a fermata, in any part; () when none is written


def read_parts(path: str | os.PathLike) -> FileParts:
    """The parts of the MIDI or MusicXML file at `path` (known by content, read within `melody_files`'
    bounds), 1 to `MAX_PARTS` of them.

    A MusicXML staff holding two voices is two parts, upper voice first (as `melody_input` reads it); a
    MIDI file's parts are music21's (a track, or a channel of a format-0 file). Parts without pitched
    notes are left out. Each part is made one note at a time (`core.lines.monophonic`: the highest note
    of each onset, the lowest in the last part, the bass, when there are several). Fermatas are those
    written on the parts' notes (a MIDI file has none: `core.phrases.phrase_ends` gives phrase ends for
    whichever part the caller takes as the melody). A MelodyError naming the file when it has no notes,
    more than `MAX_PARTS` parts, a time signature outside the limits, or a part longer than a melody may be.
    """
    path = Path(path)
    kind, data = melody_files.melody_bytes(path)  # by content, within bounds: a MelodyError otherwise
    from music21 import converter

    if kind == melody_files.MIDI:
        try:
            parse_midi(data, path)  # its checks: damaged, too long, no pitched notes
        except MidiError as e:
            raise MelodyError(path, e.reason) from None
    try:
        score = converter.parseData(data, format="midi" if kind == melody_files.MIDI else "musicxml")
    except Exception as e:  # music21 raises many kinds on a damaged file
        raise MelodyError(path, f"cannot be read ({_reason(e)})") from None
    if kind == melody_files.MIDI:
        meter, sharps, mode = midi_signs(data)
        meter = check_meter(*meter, path) if meter else (4, 4)
        pickup, marks = 0.0, ()
        named = musicxml_parts(score)  # music21's parts of the MIDI file, read the same way
    else:
        from music21 import meter as m21meter

        from .chorale_scores import score_signs

        meters = [check_meter(int(ts.numerator), int(ts.denominator), path)
                  for ts in score.recurse().getElementsByClass(m21meter.TimeSignature)]
        _, pickup, sharps, mode = score_signs(score)
        meter = meters[0] if meters else (4, 4)
        marks = fermata_marks(score)
        named = musicxml_parts(score)
    if not named:
        raise MelodyError(path, "no notes")
    if len(named) > MAX_PARTS:
        raise MelodyError(path, f"{len(named)} parts; --keep maps at most four")
    parts = [monophonic(notes, lowest=(k == len(named) - 1 and k > 0)) for k, (_, notes) in enumerate(named)]
    for line in parts:
        check_length(len(line), max(o + d for o, d, _ in line), meter, path)
    fermatas = sorted({t for line in parts for t in marked_onsets(line, marks)})
    return FileParts(parts, [n for n, _ in named], meter, pickup, sharps, mode, tuple(fermatas))


def _reason(e: Exception) -> str:
    text = str(e).strip()
    return text.splitlines()[0][:120] if text else type(e).__name__

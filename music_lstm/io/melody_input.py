"""A melody to harmonize (`read_melody`) comes from a MIDI file, a MusicXML/.mxl file or tinyNotation
text (`"tinyNotation: 4/4 c'4 d' e' f' g'2"`), as one line of notes; the rules are in its docstring.

    python -c "from music_lstm.io.melody_input import read_melody; print(read_melody(\"tinyNotation: 4/4 c'4 d' e' f'\"))"
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from ..core.errors import MelodyError, MidiError
from ..core.events import Note
from ..core.lines import top_line
from ..core.ranges import SOPRANO_REACH
from .midi_read import parse_midi
from .voice_parts import select_voices

# --- a melody to harmonize --------------------------------------------------------------------------

MAX_MELODY_NOTES = 2_000  # longer melodies are refused (a chorale tune has 30 to 80 notes)
MAX_MELODY_QUARTERS = 1_000.0  # and so are melodies that last longer than this (about 8 minutes at 120 bpm)
TINY = "tinyNotation:"
MUSICXML_SUFFIXES = (".xml", ".musicxml", ".mxl")
MIDI_SUFFIXES = (".mid", ".midi")
# A tinyNotation token music21 understands: a note or rest with octave marks, accidentals, a duration,
# dots and a tie; a time signature; the brackets of triplets and quadruplets; a lyric. music21 skips
# anything else without a word, so it is checked here.
_TINY_TOKEN = re.compile(
    r"""^(?:\d+/\d+|(?:trip|quad)\{|\}|_\S*|(?:(?:trip|quad)\{)?(?:r|[a-gA-G]+(?:#+|-+|n)?'*)(?:\d+\.*)?~?\}?)$""")


def read_melody(source: str | os.PathLike) -> tuple[list[Note], str | None]:
    """One line of notes to harmonize, and a one-line message saying what was done to it (or None).

    `source` is a MIDI file, a MusicXML or .mxl file, or tinyNotation text beginning `tinyNotation:`.
    Notes are (offset, duration, midi pitch), quarter notes from the source's own start, one at a time.

    - A polyphonic source gives its top line, and the message says so: the soprano part when the
      file has four voices (`Piece.voices`; in MusicXML a staff of two voices counts as two parts,
      so a two-staff chorale score has four), else the highest note struck at each onset, leaving out
      notes struck under a higher note that is still sounding, each note cut short where the next
      one starts.
    - Chords only (every onset strikes two or more notes, and the file has no four voices) is
      refused: there is no tune to take.
    - A melody outside a soprano's reach (`SOPRANO_REACH`) is moved by whole octaves into it, the
      message saying by how much; one whose span does not fit the reach in any octave is refused.
    - An empty or unreadable source, one with no notes, or one longer than `MAX_MELODY_NOTES` notes
      or `MAX_MELODY_QUARTERS` quarter notes raises `MelodyError` (one line: the source, the reason).
    """
    text = str(source)
    if text.lstrip().startswith(TINY):
        name = _short(text)
        parts = _tiny_parts(text.lstrip(), name)
        voices = None
    else:
        name = text
        parts, voices = _file_parts(Path(text))
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
    end = max(o + d for o, d, _ in line)
    if len(line) > MAX_MELODY_NOTES or end > MAX_MELODY_QUARTERS:
        raise MelodyError(name, f"too long ({len(line)} notes, {end:.0f} quarter notes; at most "
                                f"{MAX_MELODY_NOTES} notes and {MAX_MELODY_QUARTERS:.0f} quarter notes)")
    line, moved = into_soprano_reach(line, name)
    if moved:
        messages.append(moved)
    return line, "; ".join(messages) or None


def into_soprano_reach(line: list[Note], name: str = "melody") -> tuple[list[Note], str | None]:
    """The line moved by the fewest octaves that bring it inside `SOPRANO_REACH`, and a message
    saying so (None when it was inside); MelodyError when it fits in no octave."""
    low, high = min(p for _, _, p in line), max(p for _, _, p in line)
    lo, hi = SOPRANO_REACH
    if lo <= low and high <= hi:
        return line, None
    fits = [k for k in range(-10, 11) if lo <= low + 12 * k and high + 12 * k <= hi]
    reach = f"{_name(lo)}-{_name(hi)}"
    if not fits:
        raise MelodyError(name, f"spans {_name(low)}-{_name(high)}: outside a soprano's reach ({reach}) "
                                "in every octave")
    k = min(fits, key=abs)
    word = "up" if k > 0 else "down"
    moved = [(o, d, p + 12 * k) for o, d, p in line]
    return moved, f"moved {word} {abs(k)} octave{'s' if abs(k) > 1 else ''} into a soprano's reach ({reach})"


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
    first), as text; `4/4` when it gives none or cannot be read."""
    text = str(source).lstrip()
    if text.startswith(TINY):
        m = re.match(r"\s*(\d+)/(\d+)\b", text[len(TINY):])
        return f"{m.group(1)}/{m.group(2)}" if m else "4/4"
    try:
        from music21 import converter, meter

        found = converter.parse(str(source)).recurse().getElementsByClass(meter.TimeSignature)
        return found[0].ratioString if found else "4/4"
    except Exception:  # a source read_melody accepted, but music21 reads no meter from it
        return "4/4"


def _polyphonic(notes: list[Note]) -> bool:
    return any(b[0] < a[0] + a[1] - 1e-6 for a, b in zip(notes, notes[1:]))


def _short(text: str) -> str:
    text = " ".join(text.split())
    return repr(text if len(text) <= 40 else text[:37] + "...")


def _name(midi: int) -> str:
    from ..core.pitches import pitch_name

    return pitch_name(midi).replace("-", "b")


def _tiny_parts(text: str, name: str) -> list[tuple[str | None, list[Note]]]:
    body = text[len(TINY):]
    bad = [t for t in body.split() if not _TINY_TOKEN.match(t)]
    if bad:
        raise MelodyError(name, f"not tinyNotation: {bad[0]!r} "
                                "(notes look like c'4, e-8., r2, with an optional 3/4 first)")
    from music21 import converter

    try:
        score = converter.parse(text)
    except Exception as e:  # music21 raises many kinds on bad text; all mean "unreadable"
        raise MelodyError(name, f"cannot be read as tinyNotation ({_reason(e)})") from None
    return [(None, _stream_notes(score))]


def _file_parts(path: Path) -> tuple[list[tuple[str | None, list[Note]]], tuple | None]:
    """(name, notes) per part, and the four voices when a MIDI file gives them."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise MelodyError(path, "no such file (a melody is a MIDI or MusicXML file, "
                                "or text beginning 'tinyNotation:')") from None
    except OSError as e:
        raise MelodyError(path, f"cannot be read ({e.strerror or e})") from None
    if not data:
        raise MelodyError(path, "empty file (0 bytes)")
    if data[:4] == b"MThd" or path.suffix.lower() in MIDI_SUFFIXES:
        try:
            piece = parse_midi(data, path)
        except MidiError as e:
            raise MelodyError(path, e.reason) from None
        return [(None, piece.notes)], piece.voices
    if path.suffix.lower() not in MUSICXML_SUFFIXES and b"<score-partwise" not in data[:4000]:
        raise MelodyError(path, "neither a MIDI nor a MusicXML file")
    from music21 import converter

    try:
        score = converter.parse(str(path), format="musicxml")
    except Exception as e:
        raise MelodyError(path, f"damaged MusicXML ({_reason(e)})") from None
    parts = []
    for part in score.parts or [score]:
        # A staff of two voices (a chorale's soprano and alto) is two parts, upper voice first.
        split = part.voicesToParts().parts if any(m.hasVoices() for m in part.getElementsByClass("Measure")) else [part]
        parts += [(getattr(part, "partName", None), _stream_notes(p)) for p in split]
    parts = [(n, notes) for n, notes in parts if notes]
    voices, _ = select_voices(parts) if len(parts) >= 4 else (None, None)
    return parts, voices


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

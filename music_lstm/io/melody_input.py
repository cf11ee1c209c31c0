"""A melody to harmonize (`read_melody`) comes from a MIDI file, a MusicXML/.mxl file (known by its
content, read within bounds: `melody_files`) or tinyNotation text (`"4/4 c'4 d' e' f' g'2"`, the
`tinyNotation:` prefix optional), as one line of notes; the rules are in its docstring. `read_tune`
reads the same with what the source says besides the notes (`TuneInput`: metre, key signature, phrase
ends); in typed text a note followed by `^` (`c'2^`) carries a fermata, which tinyNotation lacks.

    python -c "from music_lstm.io.melody_input import read_melody; print(read_melody(\"tinyNotation: 4/4 c'4 d' e' f'\"))"
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass
from pathlib import Path

from ..core.errors import MelodyError, MidiError
from ..core.events import Note
from ..core.lines import top_line
from ..core.phrases import phrase_ends
from ..core.ranges import SOPRANO_REACH
from . import melody_files
from .midi_read import parse_midi
from .voice_parts import select_voices

# --- a melody to harmonize --------------------------------------------------------------------------

MAX_OCTAVES_MOVED = 2  # a melody further out than this is a mistake, not a register: refused
# The limits on a melody (notes, bars, time signatures, file sizes) live in melody_files, quoted by the docs.
MAX_MELODY_NOTES, MAX_MELODY_BARS = melody_files.MAX_MELODY_NOTES, melody_files.MAX_MELODY_BARS
TINY = "tinyNotation:"
MUSICXML_SUFFIXES = (".xml", ".musicxml", ".mxl")
MIDI_SUFFIXES = (".mid", ".midi")
# A tinyNotation token music21 understands: a note or rest with octave marks, accidentals, a duration,
# dots and a tie; a time signature; the brackets of triplets and quadruplets; a lyric. music21 skips
# anything else without a word, so it is checked here. A note may end in `^`, a fermata (ours, not
# tinyNotation's: taken off before music21 reads the text).
_TINY_TOKEN = re.compile(
    r"""^(?:\d+/\d+|(?:trip|quad)\{|\}|_\S*|(?:(?:trip|quad)\{)?(?:r(?:\d+\.*)?~?|[a-gA-G]+(?:#+|-+|n)?'*(?:\d+\.*)?~?\^?)\}?)$""")
FERMATA = "^"  # after a typed note: a fermata on it, the end of a phrase
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
    tune = _read(source)
    return tune.notes, tune.remark


@dataclass(frozen=True)
class TuneInput:
    """A melody with what its source says besides the notes (`read_tune`)."""

    notes: list[Note]  # one line, as `read_melody` gives it
    meter: tuple[int, int]  # the first time signature (numerator, denominator); 4/4 when none is given
    pickup: float  # quarter notes before the first barline (0: typed text, MIDI, or no short first bar)
    sharps: int | None  # the first key signature (sharps > 0, flats < 0); None when the source has none
    mode: str | None  # "major" or "minor" when the source says so, else None
    fermatas: tuple[float, ...]  # onsets of the notes that end a phrase
    fermatas_written: bool  # True: marked in the source; False: found by `core.phrases.phrase_ends`
    remark: str | None  # what was done to the melody (as `read_melody` says), or None


def read_tune(source: str | os.PathLike) -> TuneInput:
    """`read_melody`'s line (same sources, checks and limits, same remark) with the source's metre,
    pickup, key signature, mode and phrase ends.

    - Typed tinyNotation: the metre is its first time signature, no pickup, no key signature or mode;
      a note token ending in `^` (`c'2^`, `e'4.~^`) marks a fermata on that note (on a tied note's
      continuation, on the note it continues).
    - MusicXML: the first time and key signatures, the mode where the key says it, the pickup from a
      short first measure (`chorale_scores.score_signs`); fermatas from the notes that carry one and
      sound the melody's pitch at that time, in any part.
    - MIDI: the first time and key signature events (the key's mode is the event's), no pickup, no fermatas.

    A source that marks no fermata gets its phrase ends from `core.phrases.phrase_ends` (and
    `fermatas_written` False). A time signature outside the limits is a MelodyError, as for a MusicXML
    melody.
    """
    tune = _read(source)
    marked = marked_onsets(tune.notes, tune.marks)
    if marked:
        fermatas, written = marked, True
    else:
        fermatas, written = phrase_ends(tune.notes, tune.meter, tune.pickup), False
    return TuneInput(tune.notes, tune.meter, tune.pickup, tune.sharps, tune.mode, tuple(fermatas), written, tune.remark)


@dataclass(frozen=True)
class _Read:
    notes: list[Note]
    remark: str | None
    meter: tuple[int, int]
    pickup: float = 0.0
    sharps: int | None = None
    mode: str | None = None
    marks: tuple[Note, ...] = ()  # (offset, duration, pitch) of the source's notes that carry a fermata


def _read(source: str | os.PathLike) -> _Read:
    """The melody's line and remark (`read_melody`'s rules) with what the source says besides."""
    text = str(source)
    signs: dict = {}
    if is_tune(source) or (not _exists(text) and _looks_typed(text)):  # the second: a word music21 does not know
        name = _short(text)
        parts, meter, marks = _tiny_parts(text.strip(), name)
        voices = None
    else:
        name = text
        parts, voices, meter, signs, marks = _file_parts(Path(text))
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
    check_length(len(line), max(o + d for o, d, _ in line), meter, name)
    kept = line
    line, moved = into_soprano_reach(line, name)
    if moved:
        messages.append(moved)
    shift = line[0][2] - kept[0][2]  # the octaves moved, so the marks' pitches move with the line
    marks = tuple((o, d, p + shift) for o, d, p in marks)
    return _Read(line, "; ".join(messages) or None, meter, marks=marks, **signs)


def marked_onsets(line: list[Note], marks) -> list[float]:
    """Onsets of the line's notes that a mark falls in (struck or held there) at the note's own pitch."""
    out = set()
    for t, _, pitch in marks:
        for o, d, p in line:
            if o - 1e-6 <= t < o + d - 1e-6 and p == pitch:
                out.add(float(o))
                break
    return sorted(out)


def check_length(notes: int, end: float, meter: tuple[int, int], name) -> None:
    """MelodyError when a melody of `notes` notes ending at `end` quarter notes is over the limits."""
    bar = 4 * meter[0] / meter[1]
    bars = math.ceil(end / bar - 1e-9)
    if notes > MAX_MELODY_NOTES or bars > MAX_MELODY_BARS:
        raise MelodyError(name, f"too long ({notes} notes, {bars} bars of {meter[0]}/{meter[1]}; at most "
                                f"{MAX_MELODY_NOTES} notes and {MAX_MELODY_BARS} bars)")


def check_meter(numerator: int, denominator: int, name) -> tuple[int, int]:
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
    from ..core.pitches import pitch_name

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


def _tiny_parts(text: str, name: str) -> tuple[list[tuple[str | None, list[Note]]], tuple[int, int], tuple[Note, ...]]:
    """The notes of tinyNotation `text` (its prefix optional), its time signature and the notes marked
    `^` (a fermata), the words and the limits checked before music21 reads it (music21 takes a long
    time over `1/1024`)."""
    body = text[len(TINY):] if text.startswith(TINY) else text
    words = body.split()
    bad = [t for t in words if not _TINY_TOKEN.match(t)]
    if bad:
        raise MelodyError(name, f"not tinyNotation: {bad[0]!r} "
                                "(notes look like c'4, e-8., r2, with an optional 3/4 first)")
    meters = [check_meter(int(m.group(1)), int(m.group(2)), name) for m in map(_TINY_METER.match, words) if m]
    notes = sum(1 for t in words if _TINY_NOTE.match(t))
    if notes > MAX_MELODY_NOTES:
        raise MelodyError(name, f"too long ({notes} notes; at most {MAX_MELODY_NOTES} notes and {MAX_MELODY_BARS} bars)")
    from music21 import converter

    note_words = [t for t in words if _TINY_NOTE.match(t)]
    marked = [k for k, t in enumerate(note_words) if FERMATA in t]
    try:
        score = converter.parse(f"{TINY} {' '.join(t.replace(FERMATA, '') for t in words)}")
    except Exception as e:  # music21 raises many kinds on bad text; all mean "unreadable"
        raise MelodyError(name, f"cannot be read as tinyNotation ({_reason(e)})") from None
    marks: tuple[Note, ...] = ()
    if marked:
        struck = list(score.flatten().notes)  # one per note word, in order (tied pieces apart)
        if len(struck) != len(note_words):
            raise MelodyError(name, f"cannot place its fermatas ({len(note_words)} notes typed, {len(struck)} read)")
        marks = tuple((float(struck[k].offset), float(struck[k].quarterLength), int(struck[k].pitch.midi))
                      for k in marked)
    return [(None, _stream_notes(score))], (meters[0] if meters else (4, 4)), marks


def _music21_score(path: Path):
    """music21's score of a melody file, read from its bytes (`melody_files.melody_bytes`: by content, bounded)."""
    from music21 import converter

    kind, data = melody_files.melody_bytes(path)
    return converter.parseData(data, format="midi" if kind == melody_files.MIDI else "musicxml")


def _file_parts(path: Path):
    """(name, notes) per part, the four voices when the file gives them, its first time signature
    (4/4 for MIDI), every time signature checked, what else it says (`_Read`'s pickup, sharps and
    mode, as keywords) and its notes that carry a fermata."""
    kind, data = melody_files.melody_bytes(path)  # by content, within bounds: a MelodyError otherwise
    if kind == melody_files.MIDI:
        try:
            piece = parse_midi(data, path)
        except MidiError as e:
            raise MelodyError(path, e.reason) from None
        meter, sharps, mode = midi_signs(data)
        if meter is not None:
            meter = check_meter(*meter, path)
        return [(None, piece.notes)], piece.voices, meter or (4, 4), {"sharps": sharps, "mode": mode}, ()
    from music21 import converter, meter

    from .chorale_scores import score_signs

    try:
        score = converter.parseData(data, format="musicxml")
    except Exception as e:
        raise MelodyError(path, f"damaged MusicXML ({_reason(e)})") from None
    meters = [check_meter(int(ts.numerator), int(ts.denominator), path)
              for ts in score.recurse().getElementsByClass(meter.TimeSignature)]
    parts = musicxml_parts(score)
    voices, _ = select_voices(parts) if len(parts) >= 4 else (None, None)
    _, pickup, sharps, mode = score_signs(score)
    signs = {"pickup": pickup, "sharps": sharps, "mode": mode}
    return parts, voices, (meters[0] if meters else (4, 4)), signs, fermata_marks(score)


def musicxml_parts(score) -> list[tuple[str | None, list[Note]]]:
    """(part name, notes) of each part of a music21 score read from MusicXML, parts without notes left out."""
    parts = []
    for part in score.parts or [score]:
        # A staff of two voices (a chorale's soprano and alto) is two parts, upper voice first.
        split = part.voicesToParts().parts if any(m.hasVoices() for m in part.getElementsByClass("Measure")) else [part]
        parts += [(getattr(part, "partName", None), _stream_notes(p)) for p in split]
    return [(n, notes) for n, notes in parts if notes]


def fermata_marks(score) -> tuple[Note, ...]:
    """(offset, duration, pitch) of every note of a music21 score that carries a fermata (tied pieces apart)."""
    from music21 import expressions

    return tuple((float(el.getOffsetInHierarchy(score)), float(el.quarterLength), int(p.midi))
                 for el in score.recurse().notes if any(isinstance(e, expressions.Fermata) for e in el.expressions)
                 for p in el.pitches)


def midi_signs(data: bytes) -> tuple[tuple[int, int] | None, int | None, str | None]:
    """A MIDI file's first time signature, key signature (sharps) and its mode, each None when absent
    (the first by time over all tracks)."""
    from music21 import midi as m21midi
    from music21.midi import DeltaTime, MetaEvents

    mf = m21midi.MidiFile()
    try:
        mf.readstr(data)
    except Exception:  # parse_midi read it already; what music21 cannot read again says nothing
        return None, None, None
    found: dict = {}
    for track in mf.tracks:
        tick = 0
        for ev in track.events:
            if isinstance(ev, DeltaTime):
                tick += ev.time
                continue
            payload = ev.data if isinstance(ev.data, bytes) else b""
            if ev.type == MetaEvents.TIME_SIGNATURE and len(payload) >= 2 and payload[0] >= 1 and payload[1] <= 6:
                kind, value = "meter", (payload[0], 2 ** payload[1])
            elif ev.type == MetaEvents.KEY_SIGNATURE and len(payload) >= 2:
                sf = int.from_bytes(payload[:1], "big", signed=True)
                if not -7 <= sf <= 7:
                    continue
                kind, value = "key", (sf, "minor" if payload[1] == 1 else "major")
            else:
                continue
            if kind not in found or tick < found[kind][0]:
                found[kind] = (tick, value)
    meter = found["meter"][1] if "meter" in found else None
    sharps, mode = found["key"][1] if "key" in found else (None, None)
    return meter, sharps, mode


def _stream_notes(s) -> list[Note]:
    """(offset, duration, pitch) of every note and chord member of a music21 stream, ties joined."""
    from .streams import stream_notes

    return stream_notes(s)


def _reason(e: Exception) -> str:
    text = str(e).strip()
    return text.splitlines()[0][:120] if text else type(e).__name__

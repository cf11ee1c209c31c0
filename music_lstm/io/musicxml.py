"""Scores in MusicXML through music21: notes chordified on one staff (`write_musicxml`), or four
voices as a chorale score (`write_chorale_musicxml`): two staves, soprano and alto on the treble staff,
tenor and bass on the bass staff, stems apart, with the key signature given (else the analysed key's)
and pitches spelled in that key. The chorale score is written as text by `musicxml_direct`; music21 only
analyses the key when none is given and writes a score with triplets.

    python -c "from music_lstm.io.musicxml import write_musicxml; write_musicxml([(0, 1, 60), (1, 1, 64)], 'two.musicxml')"
"""

from __future__ import annotations

import os
from pathlib import Path

from ..core.events import Note
from ..core.files import atomic_path
from ..core.lines import monophonic
from . import musicxml_direct


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
    sharps: int | None = None,
    minor: bool = False,
    fermatas=(),
) -> None:
    """Write four voices as a chorale score in MusicXML, atomically: two staves, soprano (stems up)
    and alto (stems down) on the treble staff, tenor (up) and bass (down) on the bass staff, with the
    key signature `sharps` (> 0 sharps, < 0 flats; `minor` a minor key's, which spells its raised sixth
    and seventh) or, when `sharps` is None, that of music21's key analysis of all four voices, `time_signature`,
    measures, ties across barlines, the tempo and `title`. `pickup` is the length in quarter notes of
    an upbeat before the first barline (0 for none). Pitches are spelled in the key; onsets and
    releases are moved to the nearest sixteenth or eighth-note triplet; no composer is named unless
    `composer` is given; a fermata over each soprano note struck at an onset in `fermatas`.

    The score is written directly (`musicxml_direct`); only a score with triplets goes through music21."""
    voices = [list(v) for v in voices]
    if len(voices) != 4:
        raise ValueError(f"four voices are needed, got {len(voices)}")
    voices = [_notatable(v, lowest=(k == 3)) for k, v in enumerate(voices)]
    _, _, bar = musicxml_direct.bar_length(time_signature)
    end = max((o + d for v in voices for o, d, _ in v), default=0.0)
    # Pad every voice to the end of its last measure so all four end on the same barline. After an
    # upbeat the last measure is short by the upbeat's length, when the music fits in that.
    total = pickup + bar * max(1, -(-(end - pickup - 1e-9) // bar))
    if 0 < pickup < bar and total - pickup >= end - 1e-9:
        total -= pickup
    if sharps is not None:
        if not -7 <= int(sharps) <= 7:
            raise ValueError(f"a key signature has -7 to 7 sharps, got {sharps}")
        sharps = int(sharps)
    else:
        sharps, minor = _analysed_key(voices)
    fermatas = [_snap(f) for f in fermatas]
    on_sixteenths = all(abs(t * 4 - round(t * 4)) < 1e-6 for v in voices for o, d, _ in v for t in (o, o + d))
    if on_sixteenths and abs(pickup * 4 - round(pickup * 4)) < 1e-6:
        text = musicxml_direct.chorale_text(voices, total, bar, time_signature, pickup, sharps, minor, bpm,
                                            title, composer, fermatas)
        with atomic_path(path) as tmp:
            tmp.write_text(text, encoding="utf-8")
    else:  # eighth-note triplets: music21 writes the tuplets
        _write_through_music21(voices, path, total, bar, bpm, title, time_signature, pickup, composer,
                               sharps, minor, fermatas)


def _analysed_key(voices) -> tuple[int, bool]:
    """The key signature (sharps, minor) of music21's key analysis of all the voices' notes (C major for none)."""
    from music21 import note, stream

    everything = stream.Stream()
    for v in voices:
        for o, d, p in v:
            everything.insert(o, note.Note(p, quarterLength=d))
    if not len(everything.notes):
        return 0, False
    tonality = everything.analyze("key")
    return int(tonality.sharps), tonality.mode == "minor"


def _write_through_music21(voices, path, total, bar, bpm, title, time_signature, pickup, composer, sharps,
                           minor, fermatas) -> None:
    """`write_chorale_musicxml` through music21 streams, for voices `_notatable` has already placed."""
    from music21 import clef, expressions, instrument, key, layout, metadata, meter, note, stream, tempo

    tonality = key.KeySignature(sharps).asKey("minor" if minor else "major")
    spell = _speller(tonality)
    held = {round(f * 12) for f in fermatas}

    def measures_of(line) -> list:
        flat = stream.Stream()
        t = 0.0
        for o, d, p in sorted(line):
            if o > t + 1e-9:
                flat.insert(t, note.Rest(quarterLength=o - t))
            n = note.Note(spell(p))
            n.quarterLength = d
            if line is voices[0] and round(o * 12) in held:
                n.expressions.append(expressions.Fermata())
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
                if not el.isRest and o >= a - 1e-9:
                    piece.expressions = list(el.expressions)
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
                m.insert(0, key.KeySignature(tonality.sharps).asKey(tonality.mode))  # the mode written too
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
    snapped = []
    for o, d, p in line:
        a, b = _snap(o), _snap(o + d)
        snapped.append((a, (b if b > a else a + 0.25) - a, p))
    return monophonic(snapped, lowest=lowest)


def _snap(t: float) -> float:
    """`t` moved to the nearest sixteenth or eighth-note triplet."""
    return min(round(t * 4) / 4, round(t * 3) / 3, key=lambda g: abs(g - t))


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

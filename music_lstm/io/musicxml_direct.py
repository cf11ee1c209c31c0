"""The chorale score as MusicXML text, built with the standard library alone (no music21): `chorale_text`
writes four voices already on the sixteenth grid as two staves (soprano and alto on the treble staff, tenor
and bass on the bass staff, joined by a brace) with measures, ties, rests, beams and accidentals;
`spelling` names a MIDI pitch in a key signature. `musicxml.write_chorale_musicxml` is the way in.

    python -c "from music_lstm.io.musicxml_direct import spelling; print(spelling(-1, False)(70))"

Why not music21: building its streams and letting it write them took 0.55-0.75 s for 16 bars, most of
the time the page waits for a score; this text is the same score in a few milliseconds.
"""

from __future__ import annotations

import datetime
from xml.sax.saxutils import escape

DIVISIONS = 12  # per quarter note: sixteenths (3) and eighth-note triplets (4) are whole numbers
# Note values one note can show, longest first: (length in divisions, type, dots).
WRITABLE = ((72, "whole", 1), (48, "whole", 0), (36, "half", 1), (24, "half", 0), (18, "quarter", 1),
            (12, "quarter", 0), (9, "eighth", 1), (6, "eighth", 0), (3, "16th", 0))
BEAMED = {"eighth", "16th"}
LETTERS = "FCGDAEB"  # the line of fifths: index + 7 * alter, F = -1, C = 0, G = 1 ...
STEP_PC = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}
PLAIN = (0, 7, 2, -3, 4, -1, 6, 1, -4, 3, -2, 5)  # music21's default names by pitch class: C C# D E- E F F# G G# A B- B


def bar_length(time_signature: str) -> tuple[int, int, float]:
    """`"3/4"` -> (3, 4, 3.0): beats, beat type and the measure's length in quarter notes."""
    try:
        beats, beat_type = (int(x) for x in time_signature.split("/"))
        if beats < 1 or beat_type not in (1, 2, 4, 8, 16, 32):
            raise ValueError
    except ValueError:
        raise ValueError(f"time signature {time_signature!r} is not N/D (e.g. 4/4, 3/2, 6/8)") from None
    return beats, beat_type, beats * 4 / beat_type


def _name(fifths: int) -> tuple[str, int]:
    """A point on the line of fifths as (letter, alter)."""
    return LETTERS[(fifths + 1) % 7], (fifths + 1) // 7


def spelling(sharps: int, minor: bool):
    """A function midi pitch -> (step, alter, octave) spelled in the key of `sharps` (> 0 sharps, < 0
    flats), as `musicxml._speller` spells: scale notes as the scale spells them (a minor key also its
    raised sixth and seventh); other notes as a raised scale degree, except the flat seventh in major and
    the flat second in minor; a name that would need a double accidental gets the plain one."""
    tonic = sharps + (3 if minor else 0)  # on the line of fifths
    scale = list(range(sharps - 1, sharps + 6)) + ([tonic + 3, tonic + 5] if minor else [])
    by_pc: dict[int, int] = {}
    for f in scale:
        by_pc.setdefault(f * 7 % 12, f)
    names = dict(by_pc)
    flat_pc = (tonic * 7 + (1 if minor else 10)) % 12
    for pc in range(12):
        if pc in names:
            continue
        if pc == flat_pc and (pc + 1) % 12 in by_pc:
            names[pc] = by_pc[(pc + 1) % 12] - 7  # a chromatic semitone down
        elif (pc - 1) % 12 in by_pc:
            names[pc] = by_pc[(pc - 1) % 12] + 7
        else:
            names[pc] = PLAIN[pc]
    names = {pc: (f if abs(_name(f)[1]) <= 1 else PLAIN[pc]) for pc, f in names.items()}
    table = {}
    for pc, f in names.items():
        step, alter = _name(f)
        table[pc] = (step, alter, (STEP_PC[step] + alter) // 12)  # B# is a C of the octave below's name

    def spell(midi: int) -> tuple[str, int, int]:
        step, alter, shift = table[int(midi) % 12]
        return step, alter, int(midi) // 12 - 1 - shift

    return spell


def _pieces(length: int) -> list[tuple[int, str, int]]:
    """`length` divisions as tied note values, longest first."""
    out = []
    while length > 0:
        piece = next(w for w in WRITABLE if w[0] <= length)
        out.append(piece)
        length -= piece[0]
    return out


def _rests(at: int, length: int, bar: int) -> list[tuple[int, str, int]]:
    """Rests for `length` divisions from `at` (divisions into the measure, counted from where a full
    measure would start): each undotted and starting on a multiple of its own length, as rests are
    written, and no whole rest unless the measure is four quarters (a reader takes one for a full measure)."""
    out = []
    while length > 0:
        piece = next(w for w in WRITABLE if w[0] <= length and w[2] == 0 and at % w[0] == 0
                     and (w[1] != "whole" or bar == 48))
        out.append(piece)
        at += piece[0]
        length -= piece[0]
    return out


def _measures(line, total: int, bounds: list[tuple[int, int]], bar: int) -> list[list[dict]]:
    """One voice (notes in divisions, sorted, one at a time) as the events of each measure: notes and
    rests cut at the barlines and into writable values, ties marked; a rest filling a whole `bar` is a
    measure rest (readers take a measure rest for a full measure, so an upbeat's is written plainly)."""
    events = []  # (start, end, midi or None, index of the note)
    t = 0
    for k, (o, d, p) in enumerate(line):
        if o > t:
            events.append((t, o, None, None))
        events.append((o, o + d, p, k))
        t = o + d
    if total > t:
        events.append((t, total, None, None))
    out = []
    i = 0
    for a, b in bounds:
        els: list[dict] = []
        while i < len(events) and events[i][0] < b:
            s, e, p, k = events[i]
            lo, hi = max(s, a), min(e, b)
            if p is None and lo == a and hi == b == a + bar:
                els.append({"rest": True, "length": b - a, "whole_measure": True})
            else:
                pieces = _pieces(hi - lo) if p is not None else _rests(lo - a + (bar - (b - a) if a == 0 else 0), hi - lo, bar)
                at = lo
                for j, (length, kind, dots) in enumerate(pieces):
                    el = {"rest": p is None, "length": length, "type": kind, "dots": dots, "at": at - a}
                    if p is not None:
                        el.update(midi=p, note=k, first=(at == s),
                                  tie_in=at > s, tie_out=at + length < e)
                    els.append(el)
                    at += length
            if e <= b:
                i += 1
            else:
                break
        out.append(els)
    return out


def _beam(els: list[dict], group: int) -> None:
    """Beams for the eighths and sixteenths of each beat group (`group` divisions); a rest breaks them."""
    runs: list[list[dict]] = []
    last_group = None
    for el in els:
        g = el.get("at", -1) // group
        if el["rest"] or el.get("type") not in BEAMED:
            last_group = None
            continue
        if g != last_group:
            runs.append([])
            last_group = g
        runs[-1].append(el)
    for run in runs:
        if len(run) < 2:
            continue
        for j, el in enumerate(run):
            el["beams"] = ["begin" if j == 0 else "end" if j == len(run) - 1 else "continue"]
        for j, el in enumerate(run):
            if el["type"] != "16th":
                continue
            before = j > 0 and run[j - 1]["type"] == "16th"
            after = j < len(run) - 1 and run[j + 1]["type"] == "16th"
            el["beams"].append("continue" if before and after else "end" if before else "begin" if after
                               else "forward hook" if j == 0 else "backward hook")


def _accidentals(voices_els: list[list[dict]], spell, key_alters: dict[str, int],
                 before: dict[tuple[str, int], int]) -> dict[tuple[str, int], int]:
    """Which notes of one staff's measure show an accidental: one that differs from the key signature or
    from an earlier note on the same line and octave in the measure (both voices together), and, as a
    courtesy, the first on a line that the measure before (`before`: its alterations) altered; a note
    tied over from before shows none and changes nothing. Returns this measure's alterations."""
    state: dict[tuple[str, int], int] = {}
    notes = sorted((el["at"], v, el) for v, els in enumerate(voices_els) for el in els if not el["rest"])
    for _, _, el in notes:
        step, alter, octave = el["pitch"] = spell(el["midi"])
        if el["tie_in"]:
            continue
        line = (step, octave)
        now = state.get(line, key_alters.get(step, 0))
        if alter != now or (line not in state and before.get(line, alter) != alter):
            el["accidental"] = {-1: "flat", 0: "natural", 1: "sharp"}[alter]
        state[line] = alter
    return {line: alter for line, alter in state.items() if alter != key_alters.get(line[0], 0)}


def chorale_text(voices, total: float, bar: float, time_signature: str, pickup: float, sharps: int,
                 minor: bool, bpm: float, title: str, composer: str | None, fermatas=()) -> str:
    """Four voices (`(onset, duration, midi)` in quarter notes on the sixteenth grid, one note at a time)
    as a score-partwise MusicXML 4.0 document padded with rests to `total` quarter notes, in measures of
    `bar` quarter notes after an upbeat of `pickup` (0: none); fermatas on the soprano notes struck at
    the onsets in `fermatas`."""
    beats, beat_type, _ = bar_length(time_signature)
    def q(t: float) -> int:  # quarter notes to divisions
        return int(round(t * DIVISIONS))

    lines = [[(q(o), q(o + d) - q(o), p) for o, d, p in sorted(v)] for v in voices]
    total_d, bar_d, pickup_d = q(total), q(bar), q(pickup)
    bounds, start = [], 0
    while start < total_d:
        length = pickup_d if (start == 0 and pickup_d > 0) else bar_d
        bounds.append((start, min(start + length, total_d)))
        start += length
    group = bar_d // beats * 3 if beat_type == 8 and beats % 3 == 0 else DIVISIONS  # compound: dotted quarters
    spell = spelling(sharps, minor)
    key_alters = {_name(f)[0]: _name(f)[1] for f in (range(6, 6 + sharps) if sharps > 0 else range(-2, -2 + sharps, -1))}
    held = {q(f) for f in fermatas}
    soprano_fermata = {k for k, (o, _, _) in enumerate(lines[0]) if o in held}
    by_voice = [_measures(line, total_d, bounds, bar_d) for line in lines]
    for v in by_voice:
        for els in v:
            _beam(els, group)
    for upper, lower in ((0, 1), (2, 3)):
        altered: dict[tuple[str, int], int] = {}
        for m in range(len(bounds)):
            altered = _accidentals([by_voice[upper][m], by_voice[lower][m]], spell, key_alters, altered)

    out = ['<?xml version="1.0" encoding="UTF-8"?>',
           '<!DOCTYPE score-partwise PUBLIC "-//Recordare//DTD MusicXML 4.0 Partwise//EN" '
           '"http://www.musicxml.org/dtds/partwise.dtd">',
           '<score-partwise version="4.0">',
           f"<work><work-title>{escape(title)}</work-title></work>",
           f"<movement-title>{escape(title)}</movement-title>",
           "<identification>"]
    if composer:
        out.append(f'<creator type="composer">{escape(composer)}</creator>')
    out += ["<encoding>", f"<encoding-date>{datetime.date.today().isoformat()}</encoding-date>",
            "<software>music_lstm</software>",
            '<supports element="accidental" type="yes"/>', '<supports element="beam" type="yes"/>',
            '<supports element="stem" type="yes"/>', "</encoding>", "</identification>",
            "<defaults><scaling><millimeters>7</millimeters><tenths>40</tenths></scaling></defaults>",
            "<part-list>",
            '<part-group number="1" type="start"><group-symbol>brace</group-symbol>'
            "<group-barline>yes</group-barline></part-group>"]
    staves = (("P1", "Soprano, Alto", "S. A.", ("G", 2)), ("P2", "Tenor, Bass", "T. B.", ("F", 4)))
    for channel, (pid, name, short, _) in enumerate(staves, start=1):
        out += [f'<score-part id="{pid}"><part-name>{name}</part-name><part-abbreviation>{short}</part-abbreviation>',
                f'<score-instrument id="{pid}-I1"><instrument-name>Voice</instrument-name></score-instrument>',
                f'<midi-instrument id="{pid}-I1"><midi-channel>{channel}</midi-channel>'
                "<midi-program>54</midi-program></midi-instrument>", "</score-part>"]
    out += ['<part-group number="1" type="stop"/>', "</part-list>"]
    mode = "minor" if minor else "major"
    for staff, (pid, _, _, (sign, line)) in enumerate(staves):
        out.append(f'<part id="{pid}">')
        upper, lower = 2 * staff, 2 * staff + 1
        for m, (a, b) in enumerate(bounds):
            number = m if pickup_d > 0 else m + 1
            implicit = ' implicit="yes"' if pickup_d > 0 and m == 0 else ""
            out.append(f'<measure number="{number}"{implicit}>')
            if m == 0:
                out.append(f"<attributes><divisions>{DIVISIONS}</divisions>"
                           f"<key><fifths>{sharps}</fifths><mode>{mode}</mode></key>"
                           f"<time><beats>{beats}</beats><beat-type>{beat_type}</beat-type></time>"
                           f"<clef><sign>{sign}</sign><line>{line}</line></clef></attributes>")
                if staff == 0:
                    out.append('<direction placement="above"><direction-type><metronome parentheses="no">'
                               f"<beat-unit>quarter</beat-unit><per-minute>{round(bpm)}</per-minute></metronome>"
                               f'</direction-type><sound tempo="{round(bpm)}"/></direction>')
            for vid, (k, stem) in enumerate(((upper, "up"), (lower, "down")), start=1):
                if vid == 2:
                    out.append(f"<backup><duration>{b - a}</duration></backup>")
                for el in by_voice[k][m]:
                    out.append(_note(el, vid, stem, fermata=(k == 0 and el.get("first") and el["note"] in soprano_fermata)))
            out.append("</measure>")
        out.append("</part>")
    out.append("</score-partwise>")
    return "\n".join(out) + "\n"


def _note(el: dict, voice: int, stem: str, fermata: bool) -> str:
    """One `<note>` element."""
    if el["rest"]:
        if el.get("whole_measure"):
            return f'<note><rest measure="yes"/><duration>{el["length"]}</duration><voice>{voice}</voice></note>'
        return (f'<note><rest/><duration>{el["length"]}</duration><voice>{voice}</voice><type>{el["type"]}</type>'
                + "<dot/>" * el["dots"] + "</note>")
    step, alter, octave = el["pitch"]
    parts = ["<note><pitch>", f"<step>{step}</step>", f"<alter>{alter}</alter>" if alter else "",
             f"<octave>{octave}</octave></pitch><duration>{el['length']}</duration>"]
    tied = []
    if el["tie_in"]:
        parts.append('<tie type="stop"/>')
        tied.append('<tied type="stop"/>')
    if el["tie_out"]:
        parts.append('<tie type="start"/>')
        tied.append('<tied type="start"/>')
    parts.append(f"<voice>{voice}</voice><type>{el['type']}</type>" + "<dot/>" * el["dots"])
    if "accidental" in el:
        parts.append(f"<accidental>{el['accidental']}</accidental>")
    parts.append(f"<stem>{stem}</stem>")
    parts += [f'<beam number="{n}">{kind}</beam>' for n, kind in enumerate(el.get("beams", ()), start=1)]
    if fermata:
        tied.append('<fermata type="upright"/>')
    if tied:
        parts.append("<notations>" + "".join(tied) + "</notations>")
    parts.append("</note>")
    return "".join(parts)

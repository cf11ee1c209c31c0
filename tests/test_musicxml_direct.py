"""The chorale score written directly as MusicXML (io/musicxml_direct.py through
`musicxml.write_chorale_musicxml`): music21 reads back the same notes per voice, the key, the time
signature, the measures, the fermatas, accidentals and beams; Verovio engraves it."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from music_lstm.io import musicxml
from music_lstm.io.musicxml_direct import spelling

RANGES = ((60, 81), (55, 74), (48, 69), (36, 62))  # S A T B


def read_voices(path):
    """Each of the four voices read back by music21 as (onset, duration, midi), tied pieces joined, and
    each part's measure lengths."""
    from music21 import converter

    score = converter.parse(str(path))
    assert len(score.parts) == 2
    voices, lengths = [], []
    for part in score.parts:
        measures = list(part.getElementsByClass("Measure"))
        lengths.append([float(m.duration.quarterLength) for m in measures])
        for vid in ("1", "2"):
            line, tied = [], False
            for m in measures:
                (voice,) = [v for v in m.voices if str(v.id) == vid]
                assert float(voice.duration.quarterLength) == float(m.duration.quarterLength)
                for n in voice.notes:
                    o, d, p = float(m.offset + n.offset), float(n.quarterLength), n.pitch.midi
                    if n.tie is not None and n.tie.type in ("stop", "continue"):
                        po, pd, pp = line[-1]
                        assert (pp, po + pd, tied) == (p, o, True), "a tie joins the same pitch, end to start"
                        line[-1] = (po, pd + d, p)
                    else:
                        line.append((o, d, p))
                    tied = n.tie is not None and n.tie.type in ("start", "continue")
            voices.append(line)
    assert lengths[0] == lengths[1]
    return voices, lengths[0]


@st.composite
def chorales(draw):
    """Four one-note-at-a-time lines on the sixteenth grid, a meter and an upbeat that fits a measure."""
    meter, bar = draw(st.sampled_from((("4/4", 4.0), ("3/4", 3.0), ("3/2", 6.0))))
    pickup = draw(st.sampled_from((0.0, 0.25, 1.0, 1.5, 2.0))) if draw(st.booleans()) else 0.0
    pickup = pickup if pickup < bar else 0.0
    voices = []
    for lo, hi in RANGES:
        t, line = 0.0, []
        for gap, length, p in draw(st.lists(st.tuples(st.integers(0, 6), st.integers(1, 20), st.integers(lo, hi)),
                                            max_size=12)):
            o = t + gap / 4
            line.append((o, length / 4, p))
            t = o + length / 4
        voices.append(line)
    return meter, bar, pickup, voices


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(chorales())
def test_music21_reads_back_every_voice_and_the_measures(tmp_path, chorale):
    meter, bar, pickup, voices = chorale
    path = tmp_path / "c.musicxml"
    musicxml.write_chorale_musicxml(voices, path, time_signature=meter, pickup=pickup, sharps=0)
    got, lengths = read_voices(path)
    assert got == [[(float(o), float(d), p) for o, d, p in v] for v in voices]
    # Padded to the first barline at or after the music's end: a full measure's, or after an upbeat the
    # end of a last measure short by the upbeat's length (which completes it).
    end = max([o + d for v in voices for o, d, _ in v] + [0.0])
    barlines = [k * bar for k in range(1, 40)] + [pickup + k * bar for k in range(1, 40) if pickup]
    total = min(t for t in barlines if t >= end)
    want = [pickup] if pickup else []
    while sum(want) < total:
        want.append(min(bar, total - sum(want)))
    assert lengths == want


def test_key_time_signature_and_fermatas_read_back(tmp_path):
    from music21 import converter, expressions, key, meter

    soprano = [(0.0, 1.0, 72), (1.0, 2.0, 71), (3.0, 3.0, 72), (6.0, 1.0, 74), (7.0, 2.0, 75)]
    voices = [soprano, [(0.0, 9.0, 67)], [(0.0, 9.0, 60)], [(0.0, 9.0, 48)]]
    path = tmp_path / "k.musicxml"
    musicxml.write_chorale_musicxml(voices, path, time_signature="3/4", sharps=-3, minor=True, fermatas=[3.0, 7.0])
    score = converter.parse(str(path))
    for part in score.parts:
        m1 = part.getElementsByClass("Measure")[0]
        (ks,) = m1.getElementsByClass(key.KeySignature)
        assert (ks.sharps, getattr(ks, "mode", None)) == (-3, "minor")
        assert m1.getElementsByClass(meter.TimeSignature)[0].ratioString == "3/4"
    held = sorted(float(n.getOffsetInHierarchy(score.parts[0])) for n in score.parts[0].recurse().notes
                  if any(isinstance(e, expressions.Fermata) for e in n.expressions))
    assert held == [3.0, 7.0]
    # Only the soprano's notes carry them; 71 in C minor is the raised seventh, B natural.
    assert path.read_text().count("<fermata") == 2
    assert {n.pitch.name for n in score.parts[0].recurse().notes if n.pitch.midi % 12 == 11} == {"B"}


def test_spelling_matches_the_music21_speller_in_every_key():
    from music21 import key

    for sharps in range(-7, 8):
        for minor in (False, True):
            old = musicxml._speller(key.KeySignature(sharps).asKey("minor" if minor else "major"))
            new = spelling(sharps, minor)
            for midi in range(36, 84):
                p = old(midi)
                assert new(midi) == (p.step, int(p.alter), p.octave), (sharps, minor, midi)


def _notes(path, part=0):
    root = ET.parse(path).getroot()
    return [n for m in root.findall("part")[part].findall("measure") for n in m.findall("note")]


def test_accidentals_follow_the_key_and_last_to_the_barline(tmp_path):
    # G major: F# needs none, F natural does, the F# after it in the measure needs its sharp again, and a
    # new measure starts from the key signature. The alto's C# and the soprano's C#5 are on other lines.
    soprano = [(0.0, 1.0, 78), (1.0, 1.0, 77), (2.0, 1.0, 78), (3.0, 1.0, 73), (4.0, 4.0, 77)]
    alto = [(0.0, 2.0, 61), (2.0, 2.0, 61), (4.0, 4.0, 62)]
    path = tmp_path / "a.musicxml"
    musicxml.write_chorale_musicxml([soprano, alto, [(0.0, 8.0, 55)], [(0.0, 8.0, 43)]], path, sharps=1)
    shown = [(n.findtext("pitch/step"), n.findtext("accidental")) for n in _notes(path)]
    assert shown == [("F", None), ("F", "natural"), ("F", "sharp"), ("C", "sharp"), ("C", "sharp"), ("C", None),
                     ("F", "natural"), ("D", None)]


def test_a_line_altered_in_the_measure_before_gets_a_courtesy_accidental(tmp_path):
    # C major: the F#4 of measure 1 makes measure 2's F4 show its natural, once; measure 3's F4 shows none.
    # The bass's F#3 is tied into measure 2, and the F3 after the tie is reminded too.
    alto = [(0.0, 4.0, 66), (4.0, 2.0, 65), (6.0, 2.0, 65), (8.0, 4.0, 65)]
    bass = [(0.0, 2.0, 48), (2.0, 4.0, 54), (6.0, 2.0, 53), (8.0, 4.0, 53)]
    path = tmp_path / "c.musicxml"
    musicxml.write_chorale_musicxml([[(0.0, 12.0, 72)], alto, [(0.0, 12.0, 60)], bass], path, sharps=0)
    assert [n.findtext("accidental") for n in _notes(path) if n.findtext("pitch/step") == "F"] == \
        ["sharp", "natural", None, None]
    bass_f = [n for n in _notes(path, part=1) if n.findtext("pitch/step") == "F"]
    assert [n.findtext("accidental") for n in bass_f] == ["sharp", None, "natural", None]


def test_beams_join_eighths_and_sixteenths_within_a_beat(tmp_path):
    soprano = [(0.0, 0.5, 72), (0.5, 0.5, 74), (1.0, 0.25, 76), (1.25, 0.75, 77), (2.0, 0.5, 79), (2.5, 1.5, 77)]
    path = tmp_path / "b.musicxml"
    musicxml.write_chorale_musicxml([soprano, [(0.0, 4.0, 67)], [(0.0, 4.0, 60)], [(0.0, 4.0, 48)]], path, sharps=0)
    beams = [[b.text for b in n.findall("beam")] for n in _notes(path)[:6]]
    assert beams == [["begin"], ["end"], ["begin", "forward hook"], ["end"], [], []]


def test_verovio_engraves_the_written_score(tmp_path):
    pytest.importorskip("verovio")
    from music_lstm.io import render

    voices = [[(float(b), 1.0, p + (b % 3)) for b in range(10)] for p in (72, 67, 60, 48)]
    path, svg = tmp_path / "v.musicxml", tmp_path / "v.svg"
    musicxml.write_chorale_musicxml(voices, path, pickup=2.0, sharps=2, fermatas=[9.0])
    pages = render.render_score(path, svg)
    assert pages and all("<svg" in p.read_text() for p in pages)
    assert 'class="fermata"' in pages[0].read_text() and 'class="note"' in pages[0].read_text()

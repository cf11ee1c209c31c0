"""`read_parts`: a file's parts for --keep, each one line, with its metre, pickup, key, mode and
written fermatas; two voices on a staff are two parts; more than four parts are refused."""

from __future__ import annotations

import pytest

from music_lstm.core.errors import MelodyError
from music_lstm.io import melody_files
from music_lstm.io.midi_write import write_voices_midi
from music_lstm.io.musicxml import write_chorale_musicxml
from music_lstm.io.score_parts import read_parts

from midi_bytes import track_bytes, write

VOICES = (
    [(0, 1, 72), (1, 1, 74), (2, 2, 76), (4, 4, 72)],
    [(0, 2, 67), (2, 2, 67), (4, 4, 64)],
    [(0, 2, 64), (2, 2, 60), (4, 4, 60)],
    [(0, 2, 48), (2, 2, 55), (4, 4, 48)],
)


def _score(path, parts, fermata=None, sharps=0, ts="4/4"):
    """A MusicXML file of one part per entry: a list of (offset, duration, pitches) (pitches a tuple: a chord)."""
    from music21 import chord, expressions, key, meter, note, stream

    score = stream.Score()
    for k, line in enumerate(parts):
        part = stream.Part()
        part.partName = f"P{k}"
        part.insert(0, key.KeySignature(sharps))
        part.insert(0, meter.TimeSignature(ts))
        for o, d, pitches in line:
            el = note.Rest(quarterLength=d) if not pitches else (
                note.Note(pitches[0], quarterLength=d) if len(pitches) == 1 else chord.Chord(pitches, quarterLength=d))
            if fermata is not None and o == fermata and pitches:
                el.expressions.append(expressions.Fermata())
            part.insert(o, el)
        score.insert(0, part)
    score.write("musicxml", fp=str(path))
    return path


def test_a_two_staff_chorale_score_gives_four_parts_in_order(tmp_path):
    path = tmp_path / "c.musicxml"
    write_chorale_musicxml(VOICES, path, sharps=-1, minor=True)
    got = read_parts(path)
    assert [list(p) for p in got.parts] == [list(v) for v in VOICES]
    assert len(got.names) == 4
    assert (got.meter, got.pickup, got.sharps, got.mode) == ((4, 4), 0.0, -1, "minor")
    assert got.fermatas == ()
    parts, names, meter, pickup, sharps, mode, fermatas = got  # unpacks as the seven values
    assert parts is got.parts


def test_more_than_four_parts_are_refused_naming_the_file(tmp_path):
    path = _score(tmp_path / "five.musicxml", [[(0, 4, (60 + 3 * k,))] for k in range(5)])
    with pytest.raises(MelodyError, match=r"five\.musicxml.*5 parts; --keep maps at most four"):
        read_parts(path)


def test_parts_without_notes_are_left_out_and_chords_made_one_line(tmp_path):
    path = _score(tmp_path / "p.musicxml", [
        [(0, 2, (72, 76)), (2, 2, (74,))],  # chords: the top note
        [(0, 4, ())],  # rests only: left out
        [(0, 2, (48, 55)), (2, 2, (50,))],  # the last part: the bass, the lowest note
    ], fermata=2.0, sharps=2, ts="3/4")
    got = read_parts(path)
    assert got.parts == [[(0.0, 2.0, 76), (2.0, 2.0, 74)], [(0.0, 2.0, 48), (2.0, 2.0, 50)]]
    assert got.names == ["P0", "P2"]
    assert got.meter == (3, 4) and got.sharps == 2 and got.mode is None
    assert got.fermatas == (2.0,)


def test_a_midi_file_gives_its_tracks_key_and_no_fermatas(tmp_path):
    write_voices_midi(VOICES, tmp_path / "v.mid", sharps=2, minor=False)
    got = read_parts(tmp_path / "v.mid")
    assert got.parts == [list(v) for v in VOICES]
    assert got.names == ["Soprano", "Alto", "Tenor", "Bass"]
    assert (got.sharps, got.mode, got.pickup, got.fermatas) == (2, "major", 0.0, ())


def test_a_midi_drum_track_is_no_part(tmp_path):
    tune = [(0, 1, 72), (1, 1, 74), (2, 2, 76)]
    drums = [(0, 1, 36), (1, 1, 38), (2, 1, 36)]
    write(tmp_path / "d.mid", [track_bytes(tune, channel=0), track_bytes(drums, channel=9)])
    assert read_parts(tmp_path / "d.mid").parts == [tune]


def test_one_part_is_enough(tmp_path):
    write(tmp_path / "one.mid", [track_bytes([(0, 1, 72), (1, 3, 74)])])
    got = read_parts(tmp_path / "one.mid")
    assert got.parts == [[(0.0, 1.0, 72), (1.0, 3.0, 74)]] and got.sharps is None


def test_read_within_the_melody_files_bounds(tmp_path):
    path = tmp_path / "big.musicxml"
    write_chorale_musicxml(VOICES, path)
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("</score-partwise>", " " * melody_files.MAX_FILE_BYTES + "</score-partwise>"))
    with pytest.raises(MelodyError, match=r"big\.musicxml.*too large"):
        read_parts(path)
    (tmp_path / "text.mid").write_text("not music")
    with pytest.raises(MelodyError, match="neither a MIDI nor a MusicXML"):
        read_parts(tmp_path / "text.mid")


@pytest.mark.slow
def test_a_corpus_chorales_parts_and_fermatas(tmp_path):
    from music21 import corpus

    from music_lstm.io.chorale_scores import corpus_score

    path = tmp_path / "bwv66.6.musicxml"
    corpus.parse("bach/bwv66.6").write("musicxml", fp=str(path))
    got = read_parts(path)
    score = corpus_score("bwv66.6")
    assert got.parts[0] == score.voices[0] and len(got.parts) == 4
    assert got.fermatas == score.fermatas

"""`read_tune`: a melody with its metre, pickup, key signature, mode and phrase ends. A typed note
ending in `^` carries a fermata; a MusicXML file's fermatas on the melody are kept; a MIDI file gives
its key signature and time signature events; without fermatas the phrase rule gives the ends."""

from __future__ import annotations

from pathlib import Path

import pytest

from music_lstm.core.errors import MelodyError
from music_lstm.core.phrases import phrase_ends
from music_lstm.io.melody_input import is_tune, read_melody, read_tune
from music_lstm.io.midi_write import write_voices_midi

from midi_bytes import track_bytes, write

TUNE = "3/4 g4 c'2^ d'4 e'2 f'4 g'2.^ r4 e'4 d' c'2."


def test_a_caret_marks_a_fermata_on_its_note():
    tune = read_tune(TUNE)
    assert tune.fermatas == (1.0, 7.0)
    assert tune.fermatas_written is True
    assert tune.meter == (3, 4) and tune.pickup == 0.0
    assert tune.sharps is None and tune.mode is None


def test_the_caret_is_taken_off_before_music21_reads_the_tune():
    plain = TUNE.replace("^", "")
    assert read_melody(TUNE) == read_melody(plain)
    assert read_tune(TUNE).notes == read_melody(plain)[0]
    assert is_tune("c'2^ d'4") and is_tune("tinyNotation: 4/4 c'2^")


def test_a_caret_on_a_tied_continuation_or_in_a_triplet_marks_its_note():
    tune = read_tune("4/4 c'2~ c'4^ d'4 trip{e'8 f' g'^} a'2")
    assert tune.notes[0] == (0.0, 3.0, 72)  # the tie joined
    assert tune.fermatas == (0.0, pytest.approx(4 + 2 / 3))


def test_a_tune_moved_by_octaves_keeps_its_fermatas():
    tune = read_tune("4/4 C4 D E F G2^ A4 B c1^")
    assert tune.remark and "moved up" in tune.remark
    assert tune.fermatas == (4.0, 8.0) and tune.fermatas_written


@pytest.mark.parametrize("text, word", [("4/4 c'4 r4^ d'2", "r4^"), ("4/4 c'4 ^ d'2", "^"), ("4/4 c'4^^ d'2", "c'4^^")])
def test_a_caret_on_a_rest_alone_or_twice_is_refused_naming_the_word(text, word):
    with pytest.raises(MelodyError, match=repr(word).replace("^", r"\^")):
        read_tune(text)


def test_without_fermatas_the_phrase_rule_gives_the_ends():
    text = "4/4 c'4 d' e' f' g'2 g' a'4 a' a' a' g'1"
    tune = read_tune(text)
    assert tune.fermatas_written is False
    assert tune.fermatas == phrase_ends(tune.notes, (4, 4), 0.0) and tune.fermatas
    assert tune.fermatas[-1] == tune.notes[-1][0]


def test_read_tune_keeps_read_melodys_limits():
    with pytest.raises(MelodyError, match="time signature of 5/7"):
        read_tune("5/7 c'4^ d'")
    with pytest.raises(MelodyError, match="no such file"):
        read_tune("/nonexistent/tune.mid")


def _musicxml(path: Path, sharps: int, mode: str | None, fermata_on: int, pickup: bool) -> Path:
    from music21 import expressions, key, meter, note, stream

    part = stream.Part()
    pitches = [67, 72, 74, 76, 74, 72, 71, 72]
    m = stream.Measure(number=0 if pickup else 1)
    m.insert(0, key.KeySignature(sharps) if mode is None else key.KeySignature(sharps).asKey(mode))
    m.insert(0, meter.TimeSignature("3/4"))
    measures, current, room = [], m, 1.0 if pickup else 3.0
    for k, p in enumerate(pitches):
        n = note.Note(p, quarterLength=1.0)
        if k == fermata_on:
            n.expressions.append(expressions.Fermata())
        current.append(n)
        room -= 1.0
        if room <= 0 and k < len(pitches) - 1:
            if pickup and not measures:
                current.paddingLeft = 2.0
            measures.append(current)
            current, room = stream.Measure(number=len(measures) + (0 if pickup else 1)), 3.0
    measures.append(current)
    for x in measures:
        part.append(x)
    stream.Score([part]).write("musicxml", fp=str(path))
    return path


def test_a_musicxml_melody_gives_its_key_metre_pickup_and_fermata(tmp_path):
    path = _musicxml(tmp_path / "t.musicxml", sharps=-2, mode="minor", fermata_on=3, pickup=True)
    tune = read_tune(path)
    assert tune.meter == (3, 4)
    assert tune.pickup == 1.0
    assert tune.sharps == -2 and tune.mode == "minor"
    assert tune.fermatas == (3.0,) and tune.fermatas_written


def test_a_musicxml_melody_without_a_mode_or_fermata(tmp_path):
    path = _musicxml(tmp_path / "u.musicxml", sharps=1, mode=None, fermata_on=-1, pickup=False)
    tune = read_tune(path)
    assert tune.sharps == 1 and tune.pickup == 0.0
    assert tune.fermatas_written is False and tune.fermatas == phrase_ends(tune.notes, (3, 4), 0.0)


@pytest.mark.slow
def test_a_chorale_scores_fermatas_are_its_sopranos():
    from music21 import corpus

    from music_lstm.io.chorale_scores import corpus_score

    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "bwv66.6.musicxml"
        corpus.parse("bach/bwv66.6").write("musicxml", fp=str(path))
        tune = read_tune(path)
    score = corpus_score("bwv66.6")
    assert tune.notes == score.voices[0]
    assert tune.fermatas == score.fermatas and tune.fermatas_written
    assert (tune.sharps, tune.pickup, tune.meter) == (score.sharps, score.pickup, score.meter)


def test_a_midi_file_gives_its_key_signature(tmp_path):
    voices = ([(0, 1, 72), (1, 1, 74), (2, 2, 76), (4, 4, 72)], [(0, 8, 67)], [(0, 8, 64)], [(0, 8, 48)])
    write_voices_midi(voices, tmp_path / "k.mid", sharps=-1, minor=True)
    tune = read_tune(tmp_path / "k.mid")
    assert (tune.sharps, tune.mode) == (-1, "minor")
    assert tune.meter == (4, 4) and tune.fermatas_written is False
    write_voices_midi(voices, tmp_path / "n.mid")
    assert read_tune(tmp_path / "n.mid").sharps is None and read_tune(tmp_path / "n.mid").mode is None


def test_a_midi_files_time_signature_event_is_its_metre(tmp_path):
    three_eight = (0, b"\xff\x58\x04\x03\x03\x18\x08")  # 3/8
    notes = [(k * 0.5, 0.5, 72 + k % 3) for k in range(6)]
    write(tmp_path / "m.mid", [track_bytes(notes, extra_meta=[three_eight])])
    assert read_tune(tmp_path / "m.mid").meter == (3, 8)
    seven_sixtyfour = (0, b"\xff\x58\x04\x11\x06\x18\x08")  # 17/64: past the limits
    write(tmp_path / "x.mid", [track_bytes(notes, extra_meta=[seven_sixtyfour])])
    with pytest.raises(MelodyError, match="time signature"):
        read_tune(tmp_path / "x.mid")

"""Seed symbols: pitch names, normal order as music21 computes it, slices equal to chordify."""

import random

import pytest
from midi_bytes import chorale

from music_lstm.io import midi_read
from music_lstm.encodings import chords, get
from music_lstm.core import pitches
from music_lstm.core.events import Piece, slices


@pytest.mark.parametrize("midi, name", [(60, "C4"), (63, "E-4"), (61, "C#4"), (70, "B-4"), (21, "A0"), (0, "C-1")])
def test_pitch_names_follow_music21_spelling_and_parse_back(midi, name):
    assert pitches.pitch_name(midi) == name
    assert pitches.parse_pitch_name(name) == midi


def test_normal_order_agrees_with_music21_on_a_sample_of_pitch_class_sets():
    from music21 import chord

    rng = random.Random(1)
    masks = rng.sample(range(1, 4096), 150)
    for mask in masks:
        pcs = [i for i in range(12) if mask >> i & 1]
        assert chords.normal_order(pcs) == chord.Chord([60 + p for p in pcs]).normalOrder, pcs


def test_single_note_and_chord_symbols():
    piece = Piece(notes=[(0, 1, 63), (1, 1, 60), (1, 1, 64), (1, 1, 67), (1, 1, 72)])
    assert get("chords").encode(piece) == ["E-4", "0.4.7"]


def test_slices_mark_struck_and_held_notes_and_rests():
    notes = [(0, 2, 48), (0, 1, 64), (1, 1, 65), (3, 1, 60)]
    s = slices(notes)
    assert [(x.offset, x.duration, x.pitches, x.struck) for x in s] == [
        (0, 1, (64, 48), (True, True)),
        (1, 1, (65, 48), (True, False)),
        (2, 1, (), ()),
        (3, 1, (60,), (True,)),
    ]


def test_seed_symbols_equal_music21_chordify_on_a_four_track_file(tmp_path):
    from music21 import converter

    path = chorale(tmp_path / "c.mid", bars=3)
    ours = get("chords").encode(midi_read.read_midi(path))
    score = converter.parse(str(path)).chordify()
    ref = [
        el.pitches[0].nameWithOctave if len(el.pitches) == 1 else ".".join(map(str, el.normalOrder))
        for el in score.recurse().notes
    ]
    assert ours == ref


def test_decode_places_symbols_half_a_beat_apart_and_voices_chords_upwards():
    notes = get("chords").decode(["C4", "0.4.7", "bogus"]).notes
    assert notes[0] == (0.0, 0.5, 60)
    assert sorted(p for o, _, p in notes if o == 0.5) == [60, 64, 67]
    assert all(o < 1.0 for o, _, _ in notes)  # the malformed symbol was skipped


def test_nearest_symbol_prefers_shared_pitch_classes():
    assert get("seed").nearest("0.4.7.10", ["2.5.9", "0.4.7", "C4"]) == "0.4.7"
    assert get("seed").nearest("C#4", ["C4", "G4"]) == "C4"

"""midi_io's four voices: which parts are S, A, T, B, one note at a time, and four parts written out
as MIDI tracks and as a two-staff chorale score."""

import pytest
from midi_bytes import TPQ, midi_bytes, track_bytes, write

from music_lstm.core import instruments, lines
from music_lstm.io import midi_read
from music_lstm.io import midi_write
from music_lstm.io import musicxml
from music_lstm.io import voice_parts
from music_lstm.core.events import VOICE_NAMES

# Four short lines, soprano to bass: a held note (tenor, two beats), a re-struck one (soprano,
# two quarters on one pitch), a unison (alto and tenor on G4 at beat 3), a rest (bass, beat 2).
SATB = (
    [(0.0, 1.0, 72), (1.0, 1.0, 72), (2.0, 2.0, 71)],
    [(0.0, 1.0, 64), (1.0, 1.0, 65), (2.0, 1.0, 67), (3.0, 1.0, 67)],
    [(0.0, 2.0, 55), (2.0, 1.0, 67), (3.0, 1.0, 62)],
    [(0.0, 1.0, 48), (2.0, 1.0, 43), (3.0, 1.0, 43)],
)


def name_meta(name: str) -> tuple[int, bytes]:
    text = name.encode("latin-1")
    return (0, b"\xff\x03" + bytes([len(text)]) + text)


def named_track(notes, name=None, channel=0):
    return track_bytes(notes, channel=channel, extra_meta=[name_meta(name)] if name else ())


def shifted(notes, semitones):
    return [(o, d, p + semitones) for o, d, p in notes]


def test_four_unnamed_parts_are_satb_in_score_order(tmp_path):
    piece = midi_read.read_midi(write(tmp_path / "f.mid", [named_track(v, channel=k) for k, v in enumerate(SATB)]))
    assert piece.voices == SATB and piece.no_voices is None
    assert sorted(piece.notes) == sorted(n for v in SATB for n in v)  # notes stay every note of every part


def test_four_parts_named_out_of_order_follow_their_names(tmp_path):
    order = [3, 1, 0, 2]  # bass, alto, soprano, tenor in score order
    tracks = [named_track(SATB[v], VOICE_NAMES[v], channel=k) for k, v in enumerate(order)]
    assert midi_read.read_midi(write(tmp_path / "f.mid", tracks)).voices == SATB


@pytest.mark.parametrize("n", [1, 3])
def test_fewer_than_four_parts_give_no_voices_and_a_reason(tmp_path, n):
    piece = midi_read.read_midi(write(tmp_path / "f.mid", [named_track(v, channel=k) for k, v in enumerate(SATB[:n])]))
    assert piece.voices is None
    assert piece.no_voices.startswith(f"{n} part") and "four" in piece.no_voices and "\n" not in piece.no_voices
    assert len(piece.notes) == sum(len(v) for v in SATB[:n])


def test_five_parts_keep_the_named_voices_not_the_horn(tmp_path):
    horn = [(o, d, p) for o, d, p in SATB[0]] + [(0.5, 0.5, 74)]  # doubles the soprano, with a passing note
    tracks = [named_track(horn, "Horn 1", channel=0)]
    tracks += [named_track(v, n, channel=k + 1) for k, (v, n) in enumerate(zip(SATB, ["Soprano", "Alto", "Tenor", "Bass Continuo"]))]
    piece = midi_read.read_midi(write(tmp_path / "f.mid", tracks))
    assert piece.voices == SATB
    assert len(piece.notes) == len(horn) + sum(len(v) for v in SATB)


def test_eight_unnamed_parts_leave_out_doublings_and_sort_by_pitch(tmp_path):
    # Four instruments double the voices (octave above, unison, octave below); the voices come
    # last in score order and are listed bass first, so only the doubling rule and pitch order find them.
    doublings = [shifted(SATB[0], 12), SATB[1], shifted(SATB[2], -12), SATB[3]]
    tracks = [named_track(v, channel=k) for k, v in enumerate(doublings)]
    tracks += [named_track(v, channel=4 + k) for k, v in enumerate(reversed(SATB))]
    piece = midi_read.read_midi(write(tmp_path / "f.mid", tracks))
    assert piece.voices == SATB


def test_eight_unnamed_independent_parts_give_no_voices(tmp_path):
    parts = [[(float(k), 1.0, 40 + 5 * i + k) for k in range(4)] for i in range(8)]
    piece = midi_read.read_midi(write(tmp_path / "f.mid", [named_track(v, channel=i) for i, v in enumerate(parts)]))
    assert piece.voices is None and "8 parts" in piece.no_voices and "S, A, T, B" in piece.no_voices


def test_two_sopranos_are_more_than_four_voices(tmp_path):
    names = ["Soprano 1", "Soprano 2", "Alto", "Tenor", "Bass"]
    lines = [SATB[0], shifted(SATB[0], -3), *SATB[1:]]
    piece = midi_read.read_midi(write(tmp_path / "f.mid", [named_track(v, n, channel=k) for k, (v, n) in enumerate(zip(lines, names))]))
    assert piece.voices is None and "more than four voices" in piece.no_voices and "Soprano 2" in piece.no_voices


def test_chords_keep_the_top_note_and_the_bass_keeps_the_bottom(tmp_path):
    chordal = [(0.0, 1.0, 72), (0.0, 1.0, 67), (1.0, 1.0, 71)]  # a two-note chord, then one note
    tracks = [named_track(chordal, "Soprano", 0), named_track(SATB[1], "Alto", 1), named_track(SATB[2], "Tenor", 2)]
    tracks.append(named_track([(0.0, 1.0, 48), (0.0, 1.0, 36), (1.0, 1.0, 43)], "Bass", 3))
    voices = midi_read.read_midi(write(tmp_path / "f.mid", tracks)).voices
    assert voices[0] == [(0.0, 1.0, 72), (1.0, 1.0, 71)]
    assert voices[3] == [(0.0, 1.0, 36), (1.0, 1.0, 43)]


def test_overlapping_notes_in_a_part_are_cut_at_the_next_onset():
    assert lines.monophonic([(0.0, 2.0, 60), (1.0, 1.0, 62), (1.0, 0.5, 59)]) == [(0.0, 1.0, 60), (1.0, 1.0, 62)]
    assert lines.monophonic([(0.0, 1.0, 60), (0.0, 2.0, 60)]) == [(0.0, 2.0, 60)]  # same pitch twice: the longer


def test_part_names_name_voices_by_their_first_word():
    assert [voice_parts.voice_of_name(n) for n in ["Sopran", "S.", "Canto", "Alt", "A.", "Tenore", "T.", "Bassus", "B."]] == [
        0, 0, 0, 1, 1, 2, 2, 3, 3
    ]
    assert voice_parts.voice_of_name("Soprano\rOboe 1,2\rViolin1") == 0
    assert [voice_parts.voice_of_name(n) for n in ["Basso continuo", "Bassoon", "Oboe", "Timpani", "", None]] == [None] * 6


def test_voices_midi_round_trip_is_exact_with_four_named_tracks_on_four_channels(tmp_path):
    path = tmp_path / "out.mid"
    midi_write.write_voices_midi(SATB, path, bpm=72, programs=(52, 52, 48, 19))
    piece = midi_read.read_midi(path)
    assert piece.voices == SATB
    assert piece.bpm == pytest.approx(72, abs=0.5)
    # the held tenor note stays one note; the soprano's repeated C stays two
    assert (0.0, 2.0, 55) in piece.voices[2] and [n for n in piece.voices[0] if n[2] == 72] == [(0.0, 1.0, 72), (1.0, 1.0, 72)]

    from music21 import midi

    mf = midi.MidiFile()
    mf.open(str(path))
    mf.read()
    mf.close()
    names, channels, programs = [], [], []
    for track in mf.tracks:
        names += [ev.data.decode() for ev in track.events if ev.type == midi.MetaEvents.SEQUENCE_TRACK_NAME]
        channels.append({ev.channel for ev in track.events if ev.isNoteOn()})
        programs += [ev.data for ev in track.events if ev.type == midi.ChannelVoiceMessages.PROGRAM_CHANGE]
    assert names == list(VOICE_NAMES)
    assert channels == [{1}, {2}, {3}, {4}]
    assert programs == [52, 52, 48, 19]
    assert mf.ticksPerQuarterNote == TPQ


def test_write_voices_midi_refuses_three_voices(tmp_path):
    with pytest.raises(ValueError, match="four voices"):
        midi_write.write_voices_midi(SATB[:3], tmp_path / "x.mid")
    assert not list(tmp_path.iterdir())


def test_chorale_musicxml_has_two_staves_four_voices_key_time_and_title(tmp_path):
    from music21 import converter, key, meter

    # In F major (a B-flat in the soprano), with a tie across the first barline in the alto.
    voices = (
        [(0.0, 2.0, 72), (2.0, 2.0, 70), (4.0, 4.0, 69)],
        [(0.0, 3.0, 65), (3.0, 2.0, 64), (5.0, 3.0, 65)],
        [(0.0, 2.0, 57), (2.0, 2.0, 55), (4.0, 4.0, 60)],
        [(0.0, 2.0, 41), (2.0, 2.0, 48), (4.0, 4.0, 41)],
    )
    path = tmp_path / "chorale.musicxml"
    musicxml.write_chorale_musicxml(voices, path, bpm=80, title="Test Chorale")
    score = converter.parse(str(path))
    assert len(score.parts) == 2
    assert score.metadata.bestTitle == "Test Chorale"
    assert "Music21" not in path.read_text()
    for part, (upper, lower), clef_sign in zip(score.parts, ((0, 1), (2, 3)), ("G", "F")):
        m1 = part.getElementsByClass("Measure")[0]
        assert m1.getElementsByClass(key.KeySignature)[0].sharps == -1
        assert m1.getElementsByClass(meter.TimeSignature)[0].ratioString == "4/4"
        assert part.recurse().getElementsByClass("Clef")[0].sign == clef_sign
        assert len(part.getElementsByClass("Measure")) == 2
        for vid, k in (("1", upper), ("2", lower)):
            pitches = []
            for m in part.getElementsByClass("Measure"):
                voice = next(v for v in m.voices if str(v.id) == vid)
                for n in voice.notes:
                    assert n.stemDirection == ("up" if vid == "1" else "down")
                    if n.tie is None or n.tie.type == "start":
                        pitches.append(n.pitch.midi)
            assert pitches == [p for _, _, p in voices[k]]
    flat_names = {n.pitch.name for n in score.recurse().notes}
    assert "B-" in flat_names and "A#" not in flat_names  # spelled in F major
    alto = [n for m in score.parts[0].getElementsByClass("Measure") for v in m.voices if str(v.id) == "2" for n in v.notes]
    assert [n.tie.type if n.tie else None for n in alto] == [None, "start", "stop", None]


def test_chorale_musicxml_is_written_atomically(tmp_path):
    path = tmp_path / "c.musicxml"
    path.write_text("old")
    with pytest.raises(ValueError):
        musicxml.write_chorale_musicxml(SATB[:2], path)
    assert path.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["c.musicxml"]


@pytest.mark.parametrize(
    "spec, programs",
    [("organ", (19, 19, 19, 19)), ("52", (52,) * 4), ("choir,choir,strings,organ", (52, 52, 48, 19)), ("52, 52,48 ,0", (52, 52, 48, 0))],
)
def test_voice_programs(spec, programs):
    assert instruments.voice_programs(spec) == programs


@pytest.mark.parametrize(
    "spec, words",
    [("kazoo", "kazoo"), ("organ,organ", "four separated by commas"), ("choir,choir,,organ", "four"), ("52,52,128,0", "tenor: ")],
)
def test_voice_programs_bad_input_is_one_line(spec, words):
    with pytest.raises(ValueError) as info:
        instruments.voice_programs(spec)
    assert words in str(info.value) and "\n" not in str(info.value)


def test_chorale_musicxml_upbeat_and_a_short_last_measure(tmp_path):
    from music21 import converter

    # A quarter-note upbeat and three more beats: an upbeat measure and a three-beat last measure, no padding rests.
    voices = [[(float(b), 1.0, p + 2 * b) for b in range(4)] for p in (67, 62, 55, 43)]
    path = tmp_path / "upbeat.musicxml"
    musicxml.write_chorale_musicxml(voices, path, title="Upbeat", pickup=1.0)
    for part in converter.parse(str(path)).parts:
        measures = part.getElementsByClass("Measure")
        assert [m.barDuration.quarterLength - m.paddingLeft - m.paddingRight for m in measures][:1] == [1.0]
        assert [float(m.duration.quarterLength) for m in measures] == [1.0, 3.0]
        assert not list(part.recurse().getElementsByClass("Rest"))


def test_spelling_follows_the_key():
    from music21 import key

    assert [musicxml._speller(key.Key("f#"))(m).name for m in (65, 63, 60)] == ["E#", "D#", "B#"]
    assert [musicxml._speller(key.Key("F"))(m).name for m in (70, 63, 68)] == ["B-", "E-", "G#"]
    assert [musicxml._speller(key.Key("d"))(m).name for m in (61, 63, 70, 71)] == ["C#", "E-", "B-", "B"]


def test_chorale_musicxml_moves_off_grid_times_to_sixteenths_and_triplets(tmp_path):
    from music21 import converter

    soprano = [(0.0, 1 / 3, 72), (1 / 3, 1 / 3, 74), (2 / 3, 1 / 3, 76), (1.0, 0.23, 77), (1.23, 2.77, 79)]
    path = tmp_path / "grid.musicxml"
    musicxml.write_chorale_musicxml([soprano, [(0.0, 4.0, 67)], [(0.0, 4.0, 60)], [(0.0, 4.0, 48)]], path)
    m1 = converter.parse(str(path)).parts[0].getElementsByClass("Measure")[0]
    top = next(v for v in m1.voices if str(v.id) == "1")
    got = []
    for n in top.notes:  # a tied note is written as pieces: join them
        if n.tie is not None and n.tie.type in ("continue", "stop"):
            o, d, p = got[-1]
            got[-1] = (o, d + round(float(n.quarterLength) * 12), p)
        else:
            got.append((round(float(n.offset) * 12), round(float(n.quarterLength) * 12), n.pitch.midi))
    assert got == [(0, 4, 72), (4, 4, 74), (8, 4, 76), (12, 3, 77), (15, 33, 79)]  # twelfths of a quarter


def test_bar_phase_puts_offbeat_music_back_on_the_beats():
    from music_lstm.core.events import bar_phase

    # half notes starting half a beat late, the last one a whole note: shifted by 0.5 they fall on beats 1 and 3
    voice = [(0.5, 2.0, 60), (2.5, 2.0, 62), (4.5, 4.0, 64)]
    assert bar_phase([voice] * 4) == 3.5  # 0.5 + 3.5 = 4: the whole note lands on a downbeat
    on_beat = [(0.0, 2.0, 60), (2.0, 2.0, 62), (4.0, 4.0, 64)]
    assert bar_phase([on_beat] * 4) == 0.0
    sixteenth_late = [(o + 0.25, d, p) for o, d, p in on_beat]  # generated music may start on any sixteenth
    assert bar_phase([sixteenth_late] * 4) == 3.75

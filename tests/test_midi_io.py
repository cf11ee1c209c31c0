"""midi_io: every part and track is read, drums are not pitches, bad files are one-line MidiErrors."""

import pytest
from midi_bytes import chorale, track_bytes, write

from music_lstm.io import midi_read
from music_lstm.io import midi_write
from music_lstm.core.errors import MidiError


def test_reads_every_track_not_only_the_first(tmp_path):
    piece = midi_read.read_midi(chorale(tmp_path / "c.mid", bars=1))
    onset0 = sorted(p for o, d, p in piece.notes if o == 0)
    assert onset0 == [48, 64, 67, 72]  # bass, tenor, alto, soprano from four tracks


def test_reads_tempo(tmp_path):
    assert midi_read.read_midi(chorale(tmp_path / "c.mid", tempo_bpm=72)).bpm == pytest.approx(72, abs=0.5)


def test_drum_channel_is_left_out(tmp_path):
    melody = track_bytes([(0, 1, 60), (1, 1, 62)], channel=0)
    drums = track_bytes([(0, 0.5, 36), (0.5, 0.5, 38), (1.0, 0.5, 42)], channel=9)
    piece = midi_read.read_midi(write(tmp_path / "d.mid", [melody, drums]))
    assert sorted(p for _, _, p in piece.notes) == [60, 62]




def test_drums_only_file_is_rejected(tmp_path):
    path = write(tmp_path / "drums.mid", [track_bytes([(0, 1, 36), (1, 1, 38)], channel=9)])
    with pytest.raises(MidiError, match="no pitched notes"):
        midi_read.read_midi(path)


@pytest.mark.parametrize(
    "content, reason",
    [
        (b"", "empty file"),
        (b"hello, this is text\n", "not a MIDI file"),
        (bytes(range(256)) * 4, "not a MIDI file"),
        (b"MThd\x00\x00\x00\x06\x00\x01\x00\x02\x01\xe0MTrk\x00\x00\x01\x00\x00\x90", "truncated"),
    ],
    ids=["zero-bytes", "text", "random-bytes", "truncated"],
)
def test_bad_files_raise_one_line_midi_error(tmp_path, content, reason):
    path = tmp_path / "bad.mid"
    path.write_bytes(content)
    with pytest.raises(MidiError) as info:
        midi_read.read_midi(path)
    message = str(info.value)
    assert reason in message and str(path) in message and "\n" not in message


def test_no_notes_is_rejected(tmp_path):
    path = write(tmp_path / "silent.mid", [track_bytes([], channel=0, tempo_bpm=120)])
    with pytest.raises(MidiError, match="no pitched notes"):
        midi_read.read_midi(path)


def test_write_then_read_round_trips_notes_durations_and_tempo(tmp_path):
    notes = [(0.0, 1.0, 60), (0.0, 1.0, 64), (1.0, 0.5, 62), (2.0, 1.5, 67), (2.0, 1.5, 55)]
    path = tmp_path / "out.mid"
    midi_write.write_midi(notes, path, bpm=84)
    back = midi_read.read_midi(path)
    assert sorted(back.notes) == sorted(notes)
    assert back.bpm == pytest.approx(84, abs=0.5)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary left behind


@pytest.mark.parametrize("notes", [
    [(3.5, 1.5, 80), (3.5, 1.5, 88), (5.0, 0.5, 71)],  # a chord held across the barline at beat 4
    [(0.0, 9.0, 60), (1.0, 2.0, 64), (3.0, 6.5, 67)],  # notes held over one and two barlines
    [(3.0, 1.0, 60), (4.0, 1.0, 60), (5.0, 2.0, 60)],  # the same pitch struck again on the barline
])
def test_a_note_across_a_barline_is_read_as_one_note_struck_once(tmp_path, notes):
    # music21 cuts such notes into tied pieces at each barline; reading joins them again
    path = tmp_path / "tied.mid"
    midi_write.write_midi(notes, path)
    assert sorted(midi_read.read_midi(path).notes) == sorted(notes)


def test_format0_file_with_drums_on_channel_10_keeps_only_pitched_notes(tmp_path):
    one_track = track_bytes([(0, 1, 60, 0), (1, 1, 64, 3), (0.25, 0.5, 36, 9), (2, 1, 38, 9)])
    path = write(tmp_path / "f0.mid", [one_track], fmt=0)
    assert sorted(p for _, _, p in midi_read.read_midi(path).notes) == [60, 64]


def _music21_event_file(notes, bpm, program, velocity=80) -> bytes:
    """The same notes written through music21's own MIDI event objects: the reference for the bytes."""
    from music21 import midi as m

    mf = m.MidiFile()
    mf.ticksPerQuarterNote = 480
    track = m.MidiTrack(1)
    mf.tracks.append(track)
    tempo = m.MidiEvent(track, type=m.MetaEvents.SET_TEMPO)
    tempo.data = int(round(60_000_000 / bpm)).to_bytes(3, "big")
    pc = m.MidiEvent(track, type=m.ChannelVoiceMessages.PROGRAM_CHANGE, channel=1)
    pc.data = program
    timed = [(0, 0, tempo), (0, 1, pc)]
    for offset, dur, pitch in notes:
        on, off = round(offset * 480), max(round(offset * 480) + 1, round((offset + dur) * 480))
        for tick, kind, vel, order in ((on, m.ChannelVoiceMessages.NOTE_ON, velocity, 3),
                                       (off, m.ChannelVoiceMessages.NOTE_OFF, 0, 2)):
            ev = m.MidiEvent(track, type=kind, channel=1)
            ev.pitch, ev.velocity = pitch, vel
            timed.append((tick, order, ev))
    last = 0
    for tick, _, ev in sorted(timed, key=lambda t: t[:2]):
        track.events += [m.DeltaTime(track, time=tick - last), ev]
        last = tick
    end = m.MidiEvent(track, type=m.MetaEvents.END_OF_TRACK)
    end.data = b""
    track.events += [m.DeltaTime(track, time=0), end]
    track.updateEvents()
    return mf.writestr()


def test_written_bytes_equal_music21s_event_writer_for_the_same_notes(tmp_path):
    import random

    rng = random.Random(3)
    notes = [(rng.randrange(0, 800) / rng.choice([1, 2, 3, 4]), rng.randrange(0, 9) / 4, rng.randrange(0, 128))
             for _ in range(300)]  # chords, zero durations, long gaps (multi-byte delta times)
    path = tmp_path / "w.mid"
    midi_write.write_midi(notes, path, bpm=73.5, program=19)
    assert path.read_bytes() == _music21_event_file(notes, 73.5, 19)

"""The key signature in what is written: a MIDI file's key signature meta event (FF 59 02 sf mi) in
its first track, read back by music21 and in the bytes; a chorale score's key signature as given."""

from __future__ import annotations

import pytest

from music_lstm.io.midi_write import key_signature_event, write_voices_midi
from music_lstm.io.musicxml import write_chorale_musicxml

VOICES = (
    [(0, 1, 67), (1, 1, 66), (2, 2, 67)],
    [(0, 1, 62), (1, 1, 62), (2, 2, 62)],
    [(0, 1, 59), (1, 1, 57), (2, 2, 59)],
    [(0, 1, 43), (1, 1, 50), (2, 2, 43)],
)


def _chunks(data: bytes) -> list[bytes]:
    """The MTrk chunks' bodies of a Standard MIDI File."""
    out, at = [], 14
    while at < len(data):
        assert data[at:at + 4] == b"MTrk"
        n = int.from_bytes(data[at + 4:at + 8], "big")
        out.append(data[at + 8:at + 8 + n])
        at += 8 + n
    return out


@pytest.mark.parametrize("sharps, minor", [(1, False), (-3, True), (0, False), (7, False), (-7, True)])
def test_key_signature_event_bytes(sharps, minor):
    event = key_signature_event(sharps, minor)
    assert event[:3] == b"\xff\x59\x02"
    assert int.from_bytes(event[3:4], "big", signed=True) == sharps
    assert event[4] == (1 if minor else 0)


@pytest.mark.parametrize("sharps", [8, -8])
def test_key_signature_out_of_range_refused(sharps):
    with pytest.raises(ValueError, match="-7 to 7"):
        key_signature_event(sharps)


def test_midi_key_signature_in_first_track_only(tmp_path):
    path = tmp_path / "g.mid"
    write_voices_midi(VOICES, path, sharps=-2, minor=True)
    tracks = _chunks(path.read_bytes())
    assert len(tracks) == 4
    assert tracks[0].count(b"\xff\x59\x02\xfe\x01") == 1  # -2 is 0xFE; minor
    assert all(b"\xff\x59" not in t for t in tracks[1:])


def test_midi_without_sharps_writes_no_key_signature(tmp_path):
    path = tmp_path / "none.mid"
    write_voices_midi(VOICES, path)
    assert all(b"\xff\x59" not in t for t in _chunks(path.read_bytes()))


@pytest.mark.parametrize("sharps, minor, tonic", [(1, False, "G"), (-3, True, "C"), (4, False, "E")])
def test_midi_key_signature_read_back_by_music21(tmp_path, sharps, minor, tonic):
    from music21 import converter, key

    path = tmp_path / "k.mid"
    write_voices_midi(VOICES, path, sharps=sharps, minor=minor)
    found = list(converter.parse(str(path)).recurse().getElementsByClass(key.KeySignature))
    assert found, "music21 finds no key signature"
    assert {int(k.sharps) for k in found} == {sharps}
    first = found[0]
    if isinstance(first, key.Key):  # music21 reads the mode byte as a Key
        assert first.mode == ("minor" if minor else "major") and first.tonic.name == tonic
    # the notes are still there, four parts of three
    assert [len(p.flatten().notes) for p in converter.parse(str(path)).parts] == [3, 3, 3, 3]


@pytest.mark.parametrize("sharps, minor", [(-4, False), (3, True), (0, True)])
def test_chorale_musicxml_writes_the_given_key_signature(tmp_path, sharps, minor):
    from music21 import converter, key

    path = tmp_path / "k.musicxml"
    write_chorale_musicxml(VOICES, path, sharps=sharps, minor=minor)  # a G major tune, written in another key
    sigs = list(converter.parse(str(path)).recurse().getElementsByClass(key.KeySignature))
    assert sigs and {int(k.sharps) for k in sigs} == {sharps}


def test_chorale_musicxml_spells_in_the_given_minor_key(tmp_path):
    from music21 import converter

    path = tmp_path / "e.musicxml"
    # E minor's raised seventh is D#, not E-: pitch class 3 in a one-sharp minor key
    voices = ([(0, 1, 64), (1, 1, 63), (2, 2, 64)],) + VOICES[1:]
    write_chorale_musicxml(voices, path, sharps=1, minor=True)
    names = {p.name for p in converter.parse(str(path)).parts[0].flatten().pitches}
    assert "D#" in names and "E-" not in names


def test_chorale_musicxml_without_sharps_analyses_the_key(tmp_path):
    from music21 import converter, key

    path = tmp_path / "a.musicxml"
    write_chorale_musicxml(VOICES, path)  # G major by analysis
    sigs = list(converter.parse(str(path)).recurse().getElementsByClass(key.KeySignature))
    assert sigs and int(sigs[0].sharps) == 1

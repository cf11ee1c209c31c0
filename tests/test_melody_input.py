"""A melody's front door (`melody_input.read_melody`, `melody_files`): files read by their content, zip bombs
refused without being unpacked, a melody's length and time signature bounded before any work, a typed
tune read the same with or without its prefix, a tune far out of every voice's reach refused."""

import io
import zipfile

import pytest
from midi_bytes import midi_bytes, track_bytes

from music_lstm.io import melody_files
from music_lstm.io import melody_input
from music_lstm.core.errors import MelodyError

TUNE = "tinyNotation: 4/4 c'4 d' e' f' g'2 e'2 c'1"
NOTES = [(0.0, 1.0, 72), (1.0, 1.0, 74), (2.0, 1.0, 76), (3.0, 1.0, 77), (4.0, 2.0, 79), (6.0, 2.0, 76), (8.0, 4.0, 72)]
SCORE = ("<?xml version='1.0' encoding='utf-8'?>\n<score-partwise version='3.1'><part-list><score-part id='P1'>"
         "<part-name>Melody</part-name></score-part></part-list><part id='P1'><measure number='1'><attributes>"
         "<divisions>1</divisions><time><beats>{beats}</beats><beat-type>{beat_type}</beat-type></time></attributes>"
         "{notes}</measure></part></score-partwise>")
NOTE = "<note><pitch><step>{step}</step><octave>5</octave></pitch><duration>1</duration><type>quarter</type></note>"


def score(beats=3, beat_type=4, steps="CDE", pad=0) -> bytes:
    notes = "".join(NOTE.format(step=s) for s in steps)
    return (SCORE.format(beats=beats, beat_type=beat_type, notes=notes) + " " * pad).encode()


def mxl(members: dict[str, bytes]) -> bytes:
    """An .mxl (a zip) holding `members`, compressed."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in members.items():
            z.writestr(name, data)
    return out.getvalue()


CONTAINER = (b"<?xml version='1.0'?><container><rootfiles><rootfile full-path='score.xml' "
             b"media-type='application/vnd.recordare.musicxml+xml'/></rootfiles></container>")


def refused(source, *words) -> str:
    with pytest.raises(MelodyError) as info:
        melody_input.read_melody(source)
    text = str(info.value)
    assert "\n" not in text, text
    for w in words:
        assert w in text, text
    return text


# --- read by content, not by name -----------------------------------------------------------------------

def test_a_midi_file_named_xml_is_read_as_midi(tmp_path):
    path = tmp_path / "tune.xml"
    path.write_bytes(midi_bytes([track_bytes([(o, d, p) for o, d, p in NOTES])]))
    assert melody_input.read_melody(path)[0] == NOTES


def test_musicxml_named_mid_and_an_mxl_named_xml_are_read_as_scores(tmp_path):
    (tmp_path / "score.mid").write_bytes(score())
    (tmp_path / "score.xml").write_bytes(mxl({"META-INF/container.xml": CONTAINER, "score.xml": score()}))
    want = [(0.0, 1.0, 72), (1.0, 1.0, 74), (2.0, 1.0, 76)]
    assert melody_input.read_melody(tmp_path / "score.mid")[0] == want
    assert melody_input.read_melody(tmp_path / "score.xml")[0] == want
    assert melody_input.melody_time_signature(tmp_path / "score.xml") == "3/4"  # the score inside the zip


def test_a_file_that_is_neither_is_refused_by_its_content(tmp_path):
    (tmp_path / "page.musicxml").write_text("<html><script>alert(1)</script></html>")
    (tmp_path / "page.xml").write_text("<?xml version='1.0'?><html xmlns='http://www.w3.org/1999/xhtml'/>")
    refused(tmp_path / "page.musicxml", "page.musicxml", "neither a MIDI nor a MusicXML")
    refused(tmp_path / "page.xml", "page.xml", "neither a MIDI nor a MusicXML")


def test_a_plain_file_larger_than_the_cap_is_refused_unread(tmp_path):
    path = tmp_path / "big.musicxml"
    path.write_bytes(score(pad=melody_files.MAX_FILE_BYTES))
    refused(path, "big.musicxml", "too large")


# --- .mxl: zip bombs --------------------------------------------------------------------------------------

def test_an_mxl_that_unpacks_past_the_cap_is_refused_from_its_headers(tmp_path, monkeypatch):
    bomb = mxl({"META-INF/container.xml": CONTAINER, "score.xml": b"\0" * (melody_files.MAX_MXL_BYTES + 1)})
    assert len(bomb) < melody_files.MAX_MXL_BYTES // 100  # a small file holding a great deal
    (tmp_path / "bomb.mxl").write_bytes(bomb)
    opened = []
    monkeypatch.setattr(zipfile.ZipFile, "open", lambda *a, **kw: opened.append(a) or pytest.fail("unpacked"))
    refused(tmp_path / "bomb.mxl", "bomb.mxl", "unpacks to", "MB")
    assert not opened


def test_a_valid_score_padded_with_whitespace_past_the_cap_is_refused(tmp_path):
    (tmp_path / "padded.mxl").write_bytes(mxl({"score.xml": score(pad=melody_files.MAX_MXL_BYTES)}))
    refused(tmp_path / "padded.mxl", "padded.mxl", "unpacks to")


def test_an_mxl_whose_header_lies_about_its_size_is_refused_while_unpacking(tmp_path):
    big = melody_files.MAX_MXL_BYTES + 2**20
    data = bytearray(mxl({"score.xml": b"<?xml version='1.0'?><score-partwise>" + b" " * big}))
    # Say 1,000 bytes in the local header (offset 22) and the central directory's entry (offset 24).
    local, central = data.index(b"PK\x03\x04"), data.index(b"PK\x01\x02")
    data[local + 22:local + 26] = data[central + 24:central + 28] = (1000).to_bytes(4, "little")
    (tmp_path / "liar.mxl").write_bytes(bytes(data))
    refused(tmp_path / "liar.mxl", "liar.mxl")


def test_an_mxl_of_too_many_members_is_refused(tmp_path):
    members = {f"image{i}.png": b"x" for i in range(melody_files.MAX_MXL_MEMBERS)} | {"score.xml": score()}
    (tmp_path / "many.mxl").write_bytes(mxl(members))
    refused(tmp_path / "many.mxl", "many.mxl", f"{melody_files.MAX_MXL_MEMBERS + 1} files")


def test_a_damaged_mxl_is_one_line(tmp_path):
    (tmp_path / "cut.mxl").write_bytes(mxl({"score.xml": score()})[:60])
    refused(tmp_path / "cut.mxl", "cut.mxl", ".mxl")


# --- a melody's length and time signature -------------------------------------------------------------

def test_a_time_signature_of_1_1024_is_refused_before_music21_reads_it(monkeypatch):
    from music21 import converter

    monkeypatch.setattr(converter, "parse", lambda *a, **kw: pytest.fail("music21 read it"))
    refused("tinyNotation: 1/1024 c'4 d'", "1/1024", "time signature")
    refused("tinyNotation: 17/4 c'4 d'", "17/4")


def test_a_score_with_a_strange_time_signature_is_refused(tmp_path):
    (tmp_path / "odd.musicxml").write_bytes(score(beats=5, beat_type=3))
    refused(tmp_path / "odd.musicxml", "odd.musicxml", "5/3")


def test_more_notes_than_the_cap_are_refused_before_music21_reads_them(monkeypatch):
    from music21 import converter

    monkeypatch.setattr(converter, "parse", lambda *a, **kw: pytest.fail("music21 read it"))
    n = melody_input.MAX_MELODY_NOTES + 1
    refused("tinyNotation: 4/4 " + "c'16 " * n, "too long", f"{n} notes")


def test_more_bars_than_the_cap_are_refused():
    bars = melody_input.MAX_MELODY_BARS + 1
    refused("tinyNotation: 2/4 " + "c'2 " * bars, "too long", f"{bars} bars of 2/4")
    notes, _ = melody_input.read_melody("tinyNotation: 2/4 " + "c'2 " * (bars - 1))  # one bar less is a melody
    assert len(notes) == bars - 1


def test_a_long_midi_file_is_refused_in_bars(tmp_path):
    bars = melody_input.MAX_MELODY_BARS + 1
    path = tmp_path / "long.mid"
    path.write_bytes(midi_bytes([track_bytes([(4.0 * b, 4.0, 72) for b in range(bars)])]))
    refused(path, "long.mid", f"{bars} bars")


# --- a typed tune ---------------------------------------------------------------------------------------

def test_a_typed_tune_is_read_the_same_with_or_without_its_prefix():
    body = TUNE[len(melody_input.TINY):]
    assert melody_input.read_melody(body)[0] == melody_input.read_melody(TUNE)[0] == NOTES
    assert melody_input.read_melody("c'4 d'")[0] == NOTES[:2]  # no time signature either
    assert melody_input.melody_time_signature("3/4 c'4 d' e'") == "3/4"
    assert melody_input.as_tune(body) == f"{melody_input.TINY} {body.strip()}" and melody_input.as_tune(TUNE) == TUNE


def test_a_typed_tune_with_a_wrong_word_names_the_word_and_a_missing_file_is_no_such_file(tmp_path):
    refused("4/4 c'4 zz d'4", "'zz'")
    refused(str(tmp_path / "missing.mid"), "missing.mid", "no such file")


def test_a_file_named_like_a_note_is_read_as_the_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "c4").write_bytes(midi_bytes([track_bytes([(0, 1, 67)])]))
    assert melody_input.read_melody("c4")[0] == [(0.0, 1.0, 67)]


# --- out of every voice's reach -------------------------------------------------------------------------

def test_a_tune_far_above_any_voice_is_refused_and_one_an_octave_up_is_moved():
    refused("tinyNotation: c''''''4 d''''''", "above a soprano's reach", "octave it is sung")
    refused("CCC4 DDD", "below a soprano's reach")  # C1 D1
    notes, message = melody_input.read_melody("tinyNotation: 4/4 c''4 d'' e''")
    assert [p for _, _, p in notes] == [72, 74, 76] and "moved down 1 octave" in message

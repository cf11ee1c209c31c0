"""Every kind of bad or odd input: used correctly, or skipped with one line naming the file and the
reason while the run carries on, and the summary lists every skipped file."""

import os
import random
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from midi_bytes import chorale, midi_bytes, track_bytes, write

from music_lstm.io import midi_read
from music_lstm.encodings.ingest import encode_folder
from music_lstm.core.errors import MidiError

ROOT = Path(__file__).resolve().parent.parent


def ingest(folder, **kw):
    lines = []
    corpus = encode_folder(folder, "seed", workers=1, progress=False, log=lines.append, **kw)
    return corpus, lines


def skip_lines(lines, name):
    return [line for line in lines if line.startswith("skipped ") and name in line and "skipped files" not in line]


@pytest.fixture
def folder(tmp_path):
    """A folder with one good piece, so a run with a bad file in it still has something to use."""
    d = tmp_path / "in"
    d.mkdir()
    chorale(d / "good.mid", bars=2)
    return d


def assert_skipped(folder, name, reason):
    corpus, lines = ingest(folder)
    assert list(corpus.sequences) == ["good.mid"], "the run carries on with the good file"
    assert name in corpus.skipped and reason in corpus.skipped[name]
    mine = skip_lines(lines, name)
    assert len(mine) == 1 and reason in mine[0] and "\n" not in mine[0], lines
    assert any(line.startswith("skipped files:") and name in line for line in lines), "the summary lists it"
    assert any("1 files used, 1 skipped" in line for line in lines)


def test_zero_byte_file_is_skipped(folder):
    (folder / "zero.mid").write_bytes(b"")
    assert_skipped(folder, "zero.mid", "empty file")


def test_random_bytes_are_skipped(folder):
    (folder / "noise.mid").write_bytes(random.Random(0).randbytes(3000))
    assert_skipped(folder, "noise.mid", "not a MIDI file")


def test_random_bytes_after_a_midi_header_are_skipped(folder):
    (folder / "noise2.mid").write_bytes(b"MThd" + random.Random(1).randbytes(3000))
    corpus, lines = ingest(folder)
    assert "noise2.mid" in corpus.skipped and len(skip_lines(lines, "noise2.mid")) == 1


@pytest.mark.parametrize("cut", [10, 20, 60, 0.5, -3])
def test_truncated_midi_is_skipped(folder, cut):
    data = (folder / "good.mid").read_bytes()
    n = int(len(data) * cut) if isinstance(cut, float) else cut
    (folder / "cut.mid").write_bytes(data[:n])
    assert_skipped(folder, "cut.mid", "truncated")


def test_text_file_named_mid_is_skipped(folder):
    (folder / "notes.mid").write_text("These are my notes about MIDI.\nNot a MIDI file.\n")
    assert_skipped(folder, "notes.mid", "not a MIDI file")


def test_drums_only_file_is_skipped(folder):
    write(folder / "drums.mid", [track_bytes([(t * 0.5, 0.5, 36 + t % 10) for t in range(32)], channel=9)])
    assert_skipped(folder, "drums.mid", "no pitched notes")


def test_single_note_is_read_but_too_short_to_train_on(folder):
    write(folder / "one.mid", [track_bytes([(0, 1, 60)])])
    assert midi_read.read_midi(folder / "one.mid").notes == [(0.0, 1.0, 60)]
    assert ingest(folder)[0].sequences["one.mid"] == ["C4"]  # used where one symbol is enough
    corpus, lines = ingest(folder, min_symbols=2)  # training needs an (input, target) pair
    assert corpus.skipped["one.mid"] == "1 symbol: too short to learn from"
    assert len(skip_lines(lines, "one.mid")) == 1


@pytest.mark.slow
def test_tens_of_thousands_of_notes_are_all_read(folder):
    chords = [(k * 1.0, 1.0, 30 + (k * 5 + v * 5) % 80) for k in range(1250) for v in range(16)]
    write(folder / "dense.mid", [track_bytes(chords)])
    corpus, _ = ingest(folder)
    assert len(midi_read.read_midi(folder / "dense.mid").notes) == 20_000
    assert len(corpus.sequences["dense.mid"]) == 1250  # one symbol per 16-note chord


def test_a_file_too_long_to_read_is_skipped_at_once(folder):
    write(folder / "long.mid", [track_bytes([(0, 1, 60), (midi_read.MAX_QUARTERS + 10, 1, 62)])])
    assert_skipped(folder, "long.mid", "too long")


def test_non_ascii_file_names_are_used_and_named(folder):
    chorale(folder / "Präludium_été_夜.mid", bars=2, shift=3)
    (folder / "Ärger_ß.mid").write_bytes(b"")
    corpus, lines = ingest(folder)
    assert "Präludium_été_夜.mid" in corpus.sequences
    assert corpus.skipped == {"Ärger_ß.mid": "empty file (0 bytes)"}
    assert len(skip_lines(lines, "Ärger_ß.mid")) == 1


def test_unreadable_file_is_skipped(tmp_path):
    """Permissions: chmod 000. Root reads any file, so as root the run drops the power to do so."""
    d = tmp_path / "perm"
    d.mkdir()
    chorale(d / "good.mid", bars=2)
    chorale(d / "locked.mid", bars=2, shift=2)
    os.chmod(d / "locked.mid", 0)
    code = ("import sys; from music_lstm.encodings.ingest import encode_folder\n"
            "c = encode_folder(sys.argv[1], 'seed', workers=1, use_cache=False, progress=False)\n"
            "print(sorted(c.sequences), c.skipped)")
    prefix = []
    if os.geteuid() == 0:
        if not shutil.which("setpriv"):
            pytest.skip("running as root without setpriv: no way to make a file unreadable")
        prefix = ["setpriv", "--bounding-set", "-dac_override,-dac_read_search"]
    out = subprocess.run([*prefix, sys.executable, "-c", code, str(d)], capture_output=True, text=True, cwd=ROOT,
                         env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert out.returncode == 0, out.stderr
    assert "['good.mid'] {'locked.mid': 'cannot be read (Permission denied)'}" in out.stdout
    skipped = [line for line in out.stderr.splitlines() if line.startswith("skipped /") and "locked.mid" in line]
    assert len(skipped) == 1 and "Permission denied" in skipped[0]


def test_symlink_loop_in_a_recursive_walk_is_named_and_not_followed(folder):
    sub = folder / "sub"
    sub.mkdir()
    chorale(sub / "inner.MIDI", bars=2, shift=1)
    (sub / "loop").symlink_to(folder, target_is_directory=True)
    corpus, lines = ingest(folder, recursive=True)
    assert sorted(corpus.sequences) == ["good.mid", "sub/inner.MIDI"]  # each file once, any suffix case
    loop = [line for line in lines if "sub/loop" in line]
    assert len(loop) == 1 and "symlink" in loop[0]
    assert list(ingest(folder)[0].sequences) == ["good.mid"]  # not recursive: the top folder only


def test_extreme_tempo_and_time_signature_changes_are_read(folder):
    notes = [(i * 0.5, 0.5, 60 + i % 12) for i in range(48)]
    tempo = lambda us: b"\xff\x51\x03" + us.to_bytes(3, "big")  # noqa: E731
    ts = lambda n, d: b"\xff\x58\x04" + bytes([n, d, 24, 8])  # noqa: E731
    meta = [(0, tempo(1)), (240, tempo(0xFFFFFF)), (480, tempo(0)), (720, ts(0, 2)), (960, ts(255, 0)),
            (1200, ts(1, 6)), (1440, ts(3, 255))]
    meta += [(1680 + 30 * k, ts(1 + k % 13, k % 6)) for k in range(64)]  # a new metre every 1/16
    meta += [(1680 + 30 * k + 15, tempo(1 + 997 * k)) for k in range(64)]
    path = write(folder / "wild.mid", [track_bytes(notes, extra_meta=meta)])
    piece = midi_read.read_midi(path)
    onsets = {(o, p) for o, _, p in piece.notes}
    assert {(o, p) for o, _, p in notes} <= onsets  # every note is there where it was struck
    assert {p for _, _, p in piece.notes} == {p for _, _, p in notes}
    assert piece.bpm is None or midi_read.MIN_BPM <= piece.bpm <= midi_read.MAX_BPM
    assert "wild.mid" in ingest(folder)[0].sequences


def test_format0_file_with_all_sixteen_channels_keeps_every_pitched_channel(folder):
    notes = [(k * 0.5, 0.5, 40 + k, k % 16) for k in range(64)]  # channel 9 (10 in 1-based) is drums
    path = write(folder / "f0.mid", [track_bytes(notes)], fmt=0)
    pitches = sorted({p for _, _, p in midi_read.read_midi(path).notes})
    assert pitches == sorted(40 + k for k in range(64) if k % 16 != 9)
    assert "f0.mid" in ingest(folder)[0].sequences


def test_format2_sequences_are_read_one_after_another(folder):
    first = track_bytes([(0, 1, 60), (1, 1, 62)])
    second = track_bytes([(0, 1, 64), (1, 2, 65)])
    path = write(folder / "f2.mid", [first, second], fmt=2)
    assert midi_read.read_midi(path).notes == [(0.0, 1.0, 60), (1.0, 1.0, 62), (2.0, 1.0, 64), (3.0, 2.0, 65)]
    assert ingest(folder)[0].sequences["f2.mid"] == ["C4", "D4", "E4", "F4"]


@pytest.mark.parametrize("header, reason", [
    (b"MThd\x00\x00\x00\x06\x00\x01\x00\x01\x00\x00", "0 ticks per quarter"),
    (b"MThd\x00\x00\x00\x06\x00\x01\x00\x01\xe7\x28", "SMPTE"),
    (b"MThd\x00\x00\x00\x06\x00\x07\x00\x01\x01\xe0", "unknown MIDI format 7"),
])
def test_impossible_headers_are_named(tmp_path, header, reason):
    path = tmp_path / "h.mid"
    path.write_bytes(header + track_bytes([(0, 1, 60)]))
    with pytest.raises(MidiError, match=reason):
        midi_read.read_midi(path)


def test_unknown_chunks_are_skipped_as_the_standard_says(tmp_path):
    track = track_bytes([(0, 1, 60), (1, 1, 64)])
    alien = b"XFIH\x00\x00\x00\x04abcd"
    path = tmp_path / "alien.mid"
    path.write_bytes(midi_bytes([track])[:14] + alien + track)
    assert [p for _, _, p in midi_read.read_midi(path).notes] == [60, 64]


def test_every_bad_input_at_once_the_run_carries_on_and_the_summary_names_each(folder):
    (folder / "zero.mid").write_bytes(b"")
    (folder / "text.midi").write_text("hello")
    (folder / "cut.MID").write_bytes((folder / "good.mid").read_bytes()[:100])
    write(folder / "drums.mid", [track_bytes([(0, 1, 36)], channel=9)])
    chorale(folder / "other.Mid", bars=2, shift=5)
    (folder / "readme.txt").write_text("not a candidate")
    corpus, lines = ingest(folder)
    bad = ["cut.MID", "drums.mid", "text.midi", "zero.mid"]
    assert sorted(corpus.sequences) == ["good.mid", "other.Mid"] and sorted(corpus.skipped) == bad
    assert "2 files used, 4 skipped" in lines[-2]
    assert lines[-1] == "skipped files: " + ", ".join(bad)
    for name in bad:
        assert len(skip_lines(lines, name)) == 1

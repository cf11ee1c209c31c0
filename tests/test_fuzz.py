"""Fuzzing the MIDI reader's front door: whatever the bytes, the only exception that leaves it is
`MidiError`, and what it does return is a well-formed piece."""

import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from midi_bytes import midi_bytes, track_bytes

from music_lstm.io import midi_read
from music_lstm.core.errors import MidiError

SEED = midi_bytes([
    track_bytes([(0, 1, 60), (1, 0.5, 64), (1.5, 0.5, 67)], channel=0, tempo_bpm=96,
                extra_meta=[(0, b"\xff\x58\x04\x03\x02\x18\x08")]),
    track_bytes([(0, 2, 48), (2, 1, 43, 9)], channel=1),
])
FUZZ = settings(max_examples=150, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def check(data: bytes) -> None:
    try:
        piece = midi_read.parse_midi(data, "fuzz.mid")
    except MidiError as e:
        assert "\n" not in str(e) and str(e).startswith("fuzz.mid: ")
        return
    assert piece.notes
    for offset, duration, pitch in piece.notes:
        assert 0 <= pitch <= 127 and duration > 0 and math.isfinite(offset) and offset >= 0
    assert piece.bpm is None or midi_read.MIN_BPM <= piece.bpm <= midi_read.MAX_BPM


@FUZZ
@given(st.binary(max_size=400))
def test_random_bytes(data):
    check(data)


@FUZZ
@given(st.binary(max_size=400))
def test_random_bytes_behind_a_midi_header(data):
    check(SEED[:14] + data)


@FUZZ
@given(
    edits=st.lists(st.tuples(st.integers(0, len(SEED) - 1), st.integers(0, 255)), min_size=1, max_size=6),
    cut=st.integers(0, len(SEED)),
    insert=st.tuples(st.integers(0, len(SEED)), st.binary(max_size=8)),
)
def test_mutated_midi(edits, cut, insert):
    data = bytearray(SEED)
    for pos, value in edits:
        data[pos] = value
    at, extra = insert
    data[at:at] = extra
    check(bytes(data[: max(cut, len(data) - 4)]) if cut % 3 == 0 else bytes(data))


def test_the_file_front_door_too(tmp_path):
    path = tmp_path / "m.mid"
    path.write_bytes(SEED[:-7])  # a file cut short: the reader must refuse it, naming the file
    with pytest.raises(MidiError) as caught:
        midi_read.read_midi(path)
    assert str(caught.value).startswith(f"{path}: ") and "\n" not in str(caught.value)
    assert midi_read.read_midi(_write(tmp_path / "ok.mid", SEED)).notes  # the seed itself is fine


def _write(path, data):
    path.write_bytes(data)
    return path

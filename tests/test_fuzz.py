"""Fuzzing the MIDI reader: whatever the bytes, the only exception that leaves it is `MidiError`, and
what it does return is a well-formed piece. Random bytes test the front door; valid files made in code
and then damaged (bytes flipped, inserted, deleted, chunks cut short, lengths and delta times wrong,
events changed) reach the chunk splitter and the track parser behind it; the same files undamaged
always parse to the notes they were made from."""

import math
import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from midi_bytes import TPQ, chunk, midi_bytes, track_bytes, track_events

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


# --- valid files, made in code, and the ways to damage them ---------------------------------------------

TEMPOS = (60, 80, 96, 120)  # a whole number of microseconds per quarter: read back exactly


def good_file(choose):
    """(tracks as event lists, the notes they hold, bpm): one to three monophonic tracks, each on its own
    channel, notes on the eighth-note grid. `choose(lo, hi)` draws an integer (hypothesis or random)."""
    bpm = TEMPOS[choose(0, len(TEMPOS) - 1)]
    tracks, notes = [], []
    for k in range(choose(1, 3)):
        line, t = [], 0.0
        for _ in range(choose(1, 8)):
            t += choose(0, 2) / 2  # a rest of 0 to 1 quarter
            dur = choose(1, 4) / 2
            line.append((t, dur, choose(36, 96)))
            t += dur
        tracks.append(track_events(line, channel=k, tempo_bpm=bpm if k == 0 else None))
        notes += line
    return tracks, sorted(notes), bpm


def damage_events(tracks, choose):
    """Change one event of one track: its delta time (huge, or a VLQ that never ends), its status byte
    (an unknown one, or none: running status), a data byte (above 127), a meta event's length; or drop it."""
    events = tracks[choose(0, len(tracks) - 1)]
    i = choose(0, len(events) - 1)
    delta, payload = events[i]
    kind = choose(0, 5)
    if kind == 0:  # now and then far beyond the reader's length limit
        events[i] = (choose(0, 0x0FFFFFFF) if choose(0, 3) == 0 else choose(0, 8 * TPQ), payload)
    elif kind == 1:
        events[i] = (bytes([0x80 | choose(0, 127)] * choose(1, 5)), payload)
    elif kind == 2:
        events[i] = (delta, bytes([choose(0xF1, 0xFE)]) + payload[1:])
    elif kind == 3:
        events[i] = (delta, payload[1:])
    elif kind == 4:
        j = choose(1, len(payload) - 1) if len(payload) > 1 else 0
        events[i] = (delta, payload[:j] + bytes([choose(128, 255)]) + payload[j + 1:])
    else:
        del events[i]
        if not events:
            events.append((0, b"\xff\x2f\x00"))
    if kind != 5 and payload[:1] == b"\xff" and len(payload) > 2:  # a meta event: sometimes a wrong length
        if choose(0, 1):
            d, p = events[i]
            events[i] = (d, p[:2] + bytes([choose(0, 255)]) + p[3:])


def damage_bytes(data: bytearray, start: int, choose) -> None:
    """Flip, insert or delete bytes from `start` on, or cut the bytes short there or later."""
    kind = choose(0, 3)
    if kind == 0:
        data[choose(start, len(data) - 1)] ^= choose(1, 255)
    elif kind == 1:
        at = choose(start, len(data))
        data[at:at] = bytes(choose(0, 255) for _ in range(choose(1, 6)))
    elif kind == 2:
        at = choose(start, len(data) - 1)
        del data[at:at + choose(1, 6)]
    else:
        del data[choose(start, len(data) - 1):]


def damaged_file(choose) -> bytes:
    """A valid file damaged: events changed, then bytes of a track changed inside a chunk whose length is
    made to fit (so the damage reaches the track parser), then now and then the file itself: bytes after
    the header changed, or a chunk's length made wrong."""
    tracks, _, _ = good_file(choose)
    for _ in range(choose(0, 3)):
        damage_events(tracks, choose)
    chunks = [bytearray(chunk(t)) for t in tracks]
    for _ in range(choose(0, 2)):
        body = chunks[choose(0, len(chunks) - 1)]
        if len(body) > 8:
            damage_bytes(body, 8, choose)
            body[4:8] = (len(body) - 8).to_bytes(4, "big")
    data = bytearray(midi_bytes([bytes(c) for c in chunks]))
    if choose(0, 2) == 0:
        if choose(0, 1):
            damage_bytes(data, 14, choose)
        else:
            at = [i for i in range(14, len(data) - 7) if data[i:i + 4] == b"MTrk"][choose(0, len(chunks) - 1)]
            old = int.from_bytes(data[at + 4:at + 8], "big")
            new = choose(0, 0xFFFFFFFF) if choose(0, 1) else max(0, old + choose(-8, 8))
            data[at + 4:at + 8] = new.to_bytes(4, "big")
    return bytes(data)


def _drawn(draw):
    return lambda lo, hi: draw(st.integers(lo, hi))


@settings(FUZZ, max_examples=100)
@given(st.data())
def test_damaged_valid_files_are_a_piece_or_one_line_midi_error(data):
    check(damaged_file(_drawn(data.draw)))


@settings(max_examples=40, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_undamaged_files_always_parse_to_the_notes_they_hold(data):
    tracks, notes, bpm = good_file(_drawn(data.draw))
    piece = midi_read.parse_midi(midi_bytes([chunk(t) for t in tracks], fmt=0 if len(tracks) == 1 else 1), "good.mid")
    assert piece.notes == notes and piece.bpm == bpm


# What the chunk splitter refuses (or the front door); everything else got to the track parser.
SPLITTER = ("not a MIDI file", "empty file", "truncated MIDI file", "damaged MIDI header", "unknown MIDI format",
            "SMPTE", "no tracks")


@pytest.mark.slow
def test_damaged_files_reach_the_track_parser_and_each_of_its_outcomes():
    outcomes = []
    for seed in range(60):
        rng = random.Random(seed)
        try:
            midi_read.parse_midi(damaged_file(rng.randint), "fuzz.mid")
            outcomes.append("a piece")
        except MidiError as e:
            outcomes.append(str(e).removeprefix("fuzz.mid: ").split(" (")[0])
    past = [o for o in outcomes if not o.startswith(SPLITTER)]
    assert len(past) >= len(outcomes) // 3, sorted(set(outcomes))  # a third or more get past the splitter
    assert {"a piece", "damaged MIDI data", "no pitched notes"} <= set(past), sorted(set(outcomes))
    assert {"truncated MIDI file"} <= set(outcomes) - set(past)  # and the splitter's own refusals are met too

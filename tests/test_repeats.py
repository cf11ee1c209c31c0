"""`core.repeats.repeats`: stretches of a melody repeating an earlier one note for note (pitch,
duration, place in the bar), two bars at least, maximal and not overlapping."""

from __future__ import annotations

import random

import pytest

from music_lstm.core.repeats import MIN_BARS, repeats

A = [(0, 1, 67), (1, 1, 69), (2, 2, 71), (4, 1, 72), (5, 1, 71), (6, 2, 69)]  # two bars of 4/4


def at(notes, t, dp=0):
    return [(o + t, d, p + dp) for o, d, p in notes]


def test_a_stollen_repeated_is_found():
    tune = A + at(A, 8) + [(16, 2, 64), (18, 2, 62), (20, 4, 60)]
    assert repeats(tune, 4.0) == [(0.0, 8.0, 8.0)]


def test_a_phrase_said_three_times_is_two_repeats_of_the_first():
    assert repeats(A + at(A, 8) + at(A, 16), 4.0) == [(0.0, 8.0, 8.0), (0.0, 16.0, 8.0)]


def test_a_repeat_ends_where_a_note_differs_and_must_last_two_bars():
    changed = at(A[:-1], 8) + [(14, 1, 69), (15, 1, 67)]  # the last half note split in two
    assert repeats(A + changed, 4.0) == []  # what matches is 6 quarter notes: under two bars
    assert repeats(A + changed, 4.0, min_length=1.5) == [(0.0, 8.0, 6.0)]
    longer = A + [(8, 4, 67)] + at(A, 12) + [(20, 2, 67)]  # the same phrase, its last note longer
    assert repeats(longer, 4.0) == [(0.0, 12.0, 8.0)]


def test_the_same_notes_elsewhere_in_the_bar_are_no_repeat():
    assert repeats(A + at(A, 10), 4.0) == []  # two beats later: other beats stressed
    assert repeats(A + at(A, 10), 2.0) == [(0.0, 10.0, 8.0)]  # in 2/4 the place in the bar is the same


def test_the_place_in_the_bar_with_a_pickup():
    tune = [(0, 1, 62)] + at(A, 1) + [(9, 1, 62)] + at(A, 10)
    assert repeats(tune, 4.0, pickup=1.0) == []  # A starts on beat 1, then on beat 2
    assert repeats(tune, 3.0, pickup=1.0) == [(0.0, 9.0, 9.0)]  # 3/4: both start after the barline


def test_other_pitches_or_rests_break_a_repeat():
    assert repeats(A + at(A, 8, dp=2), 4.0) == []  # transposed: not note for note
    gapped = A[:3] + at(A[3:], 1) + at(A[:3], 12) + at(A[3:], 12)  # a rest in the first, none in the second
    assert repeats(gapped, 4.0) == []
    # the same notes on the same beats, a bar's rest in the first and none in the second
    rested = [(0, 1, 60), (1, 1, 62), (2, 2, 64), (8, 2, 65), (10, 2, 67)]
    plain = [(16, 1, 60), (17, 1, 62), (18, 2, 64), (20, 2, 65), (22, 2, 67)]
    assert repeats(rested + plain, 4.0) == []
    assert repeats(rested + at(rested, 16), 4.0) == [(0.0, 16.0, 12.0)]


def test_min_length_is_two_bars_by_default():
    assert MIN_BARS == 2.0
    half = A[:3]  # one bar
    assert repeats(half + at(half, 4), 4.0) == []
    assert repeats(half + at(half, 4), 4.0, min_length=1) == [(0.0, 4.0, 4.0)]


@pytest.mark.parametrize("seed", range(20))
def test_repeats_match_note_for_note_and_do_not_overlap(seed):
    rng = random.Random(seed)
    phrase, t = [], 0.0
    while t < 8:
        d = min(rng.choice([0.5, 1.0, 1.0, 2.0]), 8 - t)
        phrase.append((t, d, rng.randint(60, 72)))
        t += d
    tune = phrase + at(phrase, 8) + [(16 + k, 1, rng.randint(60, 72)) for k in range(8)] + at(phrase, 24)
    found = repeats(tune, 4.0)
    assert any(r[1] == 8.0 and r[0] == 0.0 and r[2] >= 8 for r in found)
    for src, rep, length in found:
        assert length >= 8.0 - 1e-9 and src + length <= rep + 1e-9
        a = [(o - src, d, p) for o, d, p in tune if src <= o < src + length]
        b = [(o - rep, d, p) for o, d, p in tune if rep <= o < rep + length]
        assert a == b and (rep - src) % 4.0 == 0
    spans = sorted((rep, rep + length) for _, rep, length in found)
    assert all(e <= s2 + 1e-9 for (_, e), (s2, _) in zip(spans, spans[1:]))

"""Musical metrics of a piece, cropping to equal length, and the comparison with a reference band."""

import math

import pytest

from music_lstm.eval.metrics import METRICS, compare, crop, format_table, measure

# Two bars of a four-voice C major progression: I (held) - IV - V - I, eighths in the soprano.
CHORALE = [
    (0, 2, 48), (0, 2, 55), (0, 2, 64), (0, 1, 72), (1, 0.5, 74), (1.5, 0.5, 76),
    (2, 1, 53), (2, 1, 57), (2, 1, 65), (2, 1, 77),
    (3, 1, 55), (3, 1, 59), (3, 1, 62), (3, 1, 79),
    (4, 2, 48), (4, 2, 55), (4, 2, 64), (4, 2, 72),
]


def test_each_metric_of_a_small_chorale():
    m = measure(CHORALE)
    assert m["pitch_range"] == 79 - 48
    assert m["pitches_used"] == len({p for _, _, p in CHORALE})
    assert m["scale_consistency"] == 1.0  # all in C major
    assert m["polyphony"] == pytest.approx((4 + 4 + 4 + 4 + 4 + 4) / 6)  # held notes count as sounding
    assert m["distinct_durations"] == 3  # 1/2, 1, 2
    assert m["half_beat_onsets"] == pytest.approx(2 / 5)  # gaps 1, .5, .5, 1, 1
    assert m["longest_chord_run"] == 1
    assert "copy_rate" not in m


def test_pitch_class_entropy_is_log2_of_equally_used_classes():
    notes = [(i, 1, 60 + pc) for i, pc in enumerate([0, 4, 7, 11])]
    assert measure(notes)["pitch_class_entropy"] == pytest.approx(2.0)
    assert measure([(0, 1, 60), (1, 1, 72)])["pitch_class_entropy"] == 0.0


def test_one_note_repeated_is_one_long_run_of_one_chord():
    m = measure([(i * 0.5, 0.5, 60) for i in range(100)])
    assert m["longest_chord_run"] == 100 and m["half_beat_onsets"] == 1.0 and m["pitches_used"] == 1


def test_copy_rate_counts_eight_grams_found_in_training_pieces():
    line = [(i, 1, 60 + i) for i in range(12)]  # 12 onsets: 5 eight-grams
    from music_lstm.eval.metrics import chords, ngrams

    train = set(ngrams(chords(line[:9])))  # the training piece shares the first 9 chords: 2 eight-grams
    assert measure(line, train)["copy_rate"] == pytest.approx(2 / 5)
    assert measure(line, set())["copy_rate"] == 0.0


def test_crop_keeps_the_first_onsets_and_cuts_notes_still_sounding():
    notes = [(0, 4, 48), (0, 1, 60), (1, 1, 62), (2, 1, 64), (3, 1, 65)]
    assert crop(notes, 2) == [(0, 2, 48), (0, 1, 60), (1, 1, 62)]
    assert crop(notes, 10) == notes


def test_compare_marks_what_falls_outside_the_reference_band():
    longer = [(o + 6 * rep, d, p) for rep in range(3) for o, d, p in CHORALE]  # 18 onsets
    reference = [[(o, d, p + k) for o, d, p in longer] for k in range(-3, 4)]
    one_note = [(i * 0.5, 0.5, 60) for i in range(20)]
    result = compare({"bach-like": longer, "one-note": one_note}, reference, reference, crop_onsets=20)
    assert result.outside["bach-like"] == []
    assert {"pitch_range", "pitches_used", "polyphony", "longest_chord_run"} <= set(result.outside["one-note"])
    assert result.reference["copy_rate"]["mean"] == 1.0  # the reference pieces are the training pieces
    assert result.inside_counts()["pitch_range"] == 1
    table = format_table(result)
    assert all(label in table for label, _ in METRICS.values()) and "one-note: outside on" in table
    js = result.to_json()
    assert js["summary"]["pitch_range"] == {"generated_mean": pytest.approx((31 + 0) / 2), "inside": 1, "pieces": 2}
    assert math.isclose(js["generated"]["bach-like"]["scale_consistency"], 1.0)


def test_measure_rejects_an_empty_piece():
    with pytest.raises(ValueError, match="no notes"):
        measure([])


def test_a_crop_shorter_than_one_ngram_is_refused():
    with pytest.raises(ValueError, match="invalid crop: 3"):
        compare({"a": CHORALE}, [CHORALE], [CHORALE], crop_onsets=3)

"""Voice-leading measures of four voices on hand-made progressions, and the classifier two-sample test."""

import json

import numpy as np
import pytest

from music_lstm.eval import two_sample
from music_lstm.eval.metrics import voice_report_pieces
from music_lstm.core.events import Piece
from music_lstm.eval.voice_leading import chord_type, compare, crop_voices, format_table, measure, voice_slices
from music_lstm.core.ranges import voice_ranges


def chorale(*chords, duration=1.0):
    """Four voices from a list of (S, A, T, B) pitches, one chord per beat; a pitch repeated from the chord
    before is held over, None is a rest."""
    voices = [[], [], [], []]
    for i, chord in enumerate(chords):
        for v, p in enumerate(chord):
            if p is None:
                continue
            if i and chords[i - 1][v] == p and voices[v] and voices[v][-1][0] + voices[v][-1][1] == i * duration:
                o, d, q = voices[v][-1]
                voices[v][-1] = (o, d + duration, q)
            else:
                voices[v].append((i * duration, duration, p))
    return voices


def test_slices_hold_each_voice_and_say_which_struck():
    sl = voice_slices([[(0, 2, 72)], [(0, 1, 64), (1, 1, 65)], [(0, 2, 55)], [(0.5, 1.5, 48)]])
    assert [s.offset for s in sl] == [0, 0.5, 1]
    assert sl[0].pitches == (72, 64, 55, None) and not sl[0].full
    assert sl[1].struck == (False, False, False, True) and sl[1].full
    assert sl[2].pitches == (72, 65, 55, 48) and sl[2].struck == (False, True, False, False)
    assert [s.duration for s in sl] == [0.5, 0.5, 1]
    sl = voice_slices([[(0, 1, 72), (2, 1, 74)], [(0, 3, 64)], [(0, 3, 55)], [(0, 3, 48)]])
    assert [s.offset for s in sl] == [0, 1, 2]  # the soprano's rest makes a slice
    assert sl[1].pitches == (None, 64, 55, 48) and sl[1].struck == (False,) * 4


def test_one_parallel_fifth_is_counted_once():
    # tenor and bass G3/C3 -> A3/D3: a fifth moving up to a fifth; the soprano steps down against them
    m = measure(chorale((72, 64, 55, 48), (71, 65, 57, 50)))
    assert m["transitions"] == 1
    assert m["parallels"] == 100 and m["parallel_fifths"] == 100 and m["parallel_octaves"] == 0


def test_contrary_and_oblique_fifths_and_repeated_notes_are_not_parallels():
    # T-B: fifth -> twelfth by contrary motion; S-T: oblique
    assert measure(chorale((72, 64, 55, 48), (72, 64, 60, 41)))["parallels"] == 0
    # tenor moves from a fifth to a twelfth above a held bass: oblique
    assert measure(chorale((72, 64, 55, 48), (74, 65, 67, 48)))["parallels"] == 0
    # alto and tenor re-strike their fifth while the others move: no motion, no parallel
    m = measure([
        [(0, 1, 76), (1, 1, 77)], [(0, 1, 64), (1, 1, 64)], [(0, 1, 57), (1, 1, 57)], [(0, 1, 48), (1, 1, 50)]
    ])
    assert m["transitions"] == 1 and m["parallels"] == 0


def test_parallel_octave_and_unison():
    m = measure(chorale((72, 64, 55, 48), (74, 64, 55, 50)))  # S and B: C5/C3 -> D5/D3
    assert m["parallel_octaves"] == 100 and m["parallel_fifths"] == 0
    m = measure(chorale((72, 64, 64, 48), (72, 65, 65, 48)))  # A and T in unison E4 -> F4
    assert m["parallel_octaves"] == 100 and m["parallels"] == 100


def test_parallels_are_per_hundred_transitions_of_four_voices():
    # a parallel octave, a move with no parallel, a rest in the alto, then S and B in octaves again: the
    # rest breaks the last pair, so two transitions only
    m = measure(chorale((72, 64, 55, 48), (74, 64, 55, 50), (74, 65, 55, 50), (74, None, 55, 50), (72, 64, 55, 48)))
    assert m["transitions"] == 2 and m["parallels"] == 50


def test_one_hidden_octave_in_the_outer_voices():
    # S leaps G4 -> C5 while B rises A2 -> C3: similar motion into an octave
    m = measure(chorale((67, 64, 55, 45), (72, 64, 55, 48)))
    assert m["hidden"] == 100 and m["parallels"] == 0
    # the same with the soprano by step is not hidden, nor is contrary motion into the octave
    assert measure(chorale((71, 64, 55, 45), (72, 64, 55, 48)))["hidden"] == 0
    assert measure(chorale((76, 64, 55, 45), (72, 64, 55, 48)))["hidden"] == 0


def test_crossing_and_spacing_are_shares_of_four_voice_slices():
    m = measure(chorale((72, 55, 60, 48), (72, 64, 55, 48), (72, 64, None, 48)))  # alto below tenor, once
    assert m["crossings"] == 0.5 and m["full_slices"] == 2
    m = measure(chorale((76, 60, 55, 48), (72, 64, 55, 48), (76, 64, 50, 43), (79, 71, 60, 43)))
    assert m["wide_sa"] == 0.25  # S-A 16 in the first; 12 in the third is not wider than an octave
    assert m["wide_at"] == 0.25  # A-T 14 in the third
    assert m["crossings"] == 0


def test_range_is_share_of_each_voice_notes_outside():
    voices = chorale((72, 64, 55, 48), (81, 64, 55, 48), (74, 65, 55, 34), (72, 64, 55, 48))
    m = measure(voices, [(60, 80), (55, 74), (48, 67), (36, 60)])
    assert m["outside_S"] == 0.25 and m["outside_A"] == 0 and m["outside_T"] == 0
    assert m["outside_B"] == pytest.approx(1 / 3)  # B: C3 (held), Bb1, C3
    assert "outside_S" not in measure(voices)


def test_voice_ranges_are_first_and_ninety_ninth_percentiles():
    piece = [[(i, 1, 20 + i) for i in range(101)]] + [[(i, 1, 60) for i in range(5)]] * 3
    r = voice_ranges([piece])
    assert r[0] == (21, 119) and r[1] == (60, 60)


def test_chord_types_complete_and_incomplete():
    assert chord_type({0, 4, 7}) == "major"
    assert chord_type({0, 4}) == "major"  # root and third
    assert chord_type({9, 0}) == "minor"
    assert chord_type({7, 11, 5}) == "dominant7"  # G B F, no fifth
    assert chord_type({11, 2, 5, 8}) == "diminished7"
    assert chord_type({2, 5, 8, 0}) == "half-diminished7"
    assert chord_type({0, 7}) is None  # open fifth
    assert chord_type({0}) is None
    assert chord_type({0, 2, 4, 7}) is None  # a non-chord tone


def test_sonority_share():
    chords = [(72, 64, 55, 48), (76, 72, 64, 48), (71, 65, 59, 43), (67, 60, 55, 48), (67, 64, 62, 48), (68, 65, 62, 47)]
    m = measure(chorale(*chords))
    # C major, C-E, G7 without fifth, open fifth, C-D-E-G, B diminished seventh
    assert m["sonority"] == pytest.approx(4 / 6)


def test_comparison_table_and_json():
    bach = [chorale((72, 64, 55, 48), (71, 65, 62, 43), (72, 64, 55, 48)) for _ in range(5)]
    bach.append(chorale((72, 64, 55, 48), (74, 65, 57, 50), (72, 64, 55, 48)))  # two parallel octaves
    gen = {"a.mid": chorale((72, 64, 55, 48), (74, 66, 57, 50))}
    c = compare(gen, bach)
    j = c.to_json()
    assert j["generated"]["a.mid"]["parallels"] == 200  # S-B octave and T-B fifth, one transition
    assert j["parallels"]["bach_median"] == 0 and j["parallels"]["at_or_below_bach_p90"] == 0
    assert "parallels" in j["outside"]["a.mid"]
    table = format_table(c)
    assert "parallel 5ths/8ves" in table and "0/1 pieces at or below Bach's 90th percentile" in table
    assert c.ranges == voice_ranges(bach)
    narrow = compare(gen, bach, ranges=[(72, 72), (0, 127), (0, 127), (0, 127)])
    assert narrow.generated["a.mid"]["outside_S"] == 0.5
    cropped = compare(gen, bach, crop_slices=1)  # one slice: no transition left
    assert cropped.generated["a.mid"]["parallels"] == 0 and cropped.generated["a.mid"]["transitions"] == 0


def test_crop_voices_cuts_held_notes_short():
    voices = chorale((72, 64, 55, 48), (74, 64, 55, 50), (72, 64, 55, 48))
    assert crop_voices(voices, 2) == [[(0, 1, 72), (1, 1, 74)], [(0, 2, 64)], [(0, 2, 55)], [(0, 1, 48), (1, 1, 50)]]
    assert crop_voices(voices, 3) == voices


def random_walk_piece(rng, n=96, parallel=False):
    """A four-voice piece of quarter notes moving by small random steps; `parallel` moves all voices by the
    same step (parallel fifths and octaves everywhere)."""
    start = np.array([72, 64, 55, 48]) + rng.integers(-2, 3, 4)
    pitches = [start]
    for _ in range(n - 1):
        step = rng.integers(-2, 3, 4) if not parallel else np.full(4, rng.choice([-2, -1, 1, 2]))
        nxt = pitches[-1] + step
        nxt = np.where(np.abs(nxt - start) > 6, pitches[-1] - step, nxt)
        pitches.append(nxt)
    return [[(float(i), 1.0, int(p[v])) for i, p in enumerate(pitches)] for v in range(4)]


def test_classifier_separates_different_sets_and_not_a_set_from_itself():
    rng = np.random.default_rng(0)
    plain = [random_walk_piece(rng) for _ in range(40)]
    moving = [random_walk_piece(rng, parallel=True) for _ in range(40)]
    assert two_sample.two_sample_test(plain, moving, length=32, seed=0).accuracy > 0.9
    same = two_sample.calibrate(plain, length=32, seed=0)
    assert 0.35 <= same.accuracy <= 0.65
    assert same.pieces_a == same.pieces_b == 20 and same.excerpts_a == same.excerpts_b == 60


def test_report_from_pieces_runs_the_classifier_and_leaves_out_pieces_without_voices():
    rng = np.random.default_rng(1)
    bach = [Piece(voices=tuple(random_walk_piece(rng))) for _ in range(6)]
    gen = {f"{i}.mid": Piece(voices=tuple(random_walk_piece(rng, parallel=True))) for i in range(4)}
    gen["flat.mid"] = Piece(notes=[(0, 1, 60)])
    text, out = voice_report_pieces(gen, bach, seed=0)
    assert out["left_out"] == {"generated": ["flat.mid"], "reference": 0}
    assert set(out["generated"]) == {f"{i}.mid" for i in range(4)}
    assert out["two_sample"]["generated_vs_bach"]["pieces_a"] == 4
    assert out["two_sample"]["bach_vs_bach"]["pieces_a"] == 3
    assert "classifier two-sample test" in text and "left out, no four voices: 1 generated" in text
    json.dumps(out)


def test_grouped_folds_keep_a_piece_on_one_side():
    groups = np.repeat(np.arange(12), 3)
    labels = (groups >= 6).astype(float)
    fold = two_sample.group_folds(groups, labels, 3, seed=1)
    for g in range(12):
        assert len(set(fold[groups == g])) == 1
    for f in range(3):  # each fold holds pieces of both classes
        assert set(labels[fold == f]) == {0.0, 1.0}


def test_too_few_pieces_for_the_classifier_is_an_error():
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="too few pieces"):
        two_sample.two_sample_test([random_walk_piece(rng)], [random_walk_piece(rng, n=10)], length=32)


def test_feature_names_name_each_feature_in_order():
    rng = np.random.default_rng(3)
    sl = voice_slices(random_walk_piece(rng, n=48))
    x = two_sample.excerpt_features(sl)
    names = two_sample.feature_names()
    assert len(names) == len(x) == len(set(names))
    # the soprano's step histogram sums to one, and the named entries are the ones that do
    steps = [i for i, n in enumerate(names) if n.startswith("S step") and n != "S steps up"]
    assert len(steps) == 14 and abs(x[steps].sum() - 1) < 1e-9
    assert names.index("onsets on the beat") < names.index("degree 0")
    assert x[names.index("onsets on the beat")] == 1.0  # every slice of the walk starts on a beat

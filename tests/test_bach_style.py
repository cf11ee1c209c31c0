"""Bach's style figures on hand-made voices whose every figure is known: repeated notes, bass eighths and
off-beat starts, cadences at fermatas, strong-beat chromatic clashes, Bach's band and the style table;
and one real chorale's cadences."""

import math

import pytest

from music_lstm.core.scores import Score4
from music_lstm.eval.bach_style import (
    Cadences, band, cadence_kind, cadences, chromatic_clashes, eighth_share, format_style_table, offbeat_share,
    repeated_share, strong_beats, style_table, triad,
)

C_MAJOR, G_MAJOR_FIRST_INV = (72, 67, 64, 48), (74, 67, 62, 59)
G_MAJOR, A_MINOR, F_MAJOR = (71, 67, 62, 43), (72, 64, 60, 45), (72, 69, 65, 53)


def chorale(*chords, duration=1.0):
    """Four voices from (S, A, T, B) pitches, one chord per beat; a pitch repeated from the chord before
    is held over."""
    voices = [[], [], [], []]
    for i, chord in enumerate(chords):
        for v, p in enumerate(chord):
            if i and chords[i - 1][v] == p and voices[v][-1][0] + voices[v][-1][1] == i * duration:
                o, d, q = voices[v][-1]
                voices[v][-1] = (o, d + duration, q)
            else:
                voices[v].append((i * duration, duration, p))
    return voices


# --- lines ---------------------------------------------------------------------------------------------

def test_a_repeated_note_line_gives_its_exact_share():
    line = [(0, 1, 60), (1, 1, 60), (2, 1, 62), (3, 1, 62), (4, 1, 62), (5, 1, 64)]
    assert repeated_share(line) == 3 / 5
    assert repeated_share([line[i] for i in (3, 0, 5, 2, 4, 1)]) == 3 / 5  # notes are read in order of onset
    assert repeated_share([(0, 2, 60), (2, 1, 62)]) == 0.0  # a held note is one note, not a repeat
    assert repeated_share([(0, 1, 60), (2, 1, 60)]) == 1.0  # a rest between does not matter
    assert repeated_share([(0, 1, 60)]) == 0.0


def test_bass_eighths_are_notes_of_half_a_quarter_or_less():
    bass = [(0, 1, 48), (1, 0.5, 50), (1.5, 0.25, 52), (1.75, 0.75, 53), (2.5, 1.5, 55)]
    assert eighth_share(bass) == 2 / 5  # the dotted eighth (0.75) is not an eighth
    assert eighth_share([]) == 0.0


def test_off_beat_starts_are_counted_from_the_first_barline():
    bass = [(0, 1, 48), (1, 0.5, 50), (1.5, 0.5, 52), (2, 2, 53)]
    assert offbeat_share(bass) == 1 / 4
    assert offbeat_share(bass, pickup=0.5) == 3 / 4  # beats fall at 0.5, 1.5, 2.5
    assert offbeat_share(bass, beat=1.5) == 2 / 4  # compound metre: only 0 and 1.5 are beats


# --- cadences ------------------------------------------------------------------------------------------

def test_the_root_of_a_triad_comes_from_its_pitch_classes():
    assert triad((64, 55, 60)) == (0, "major")  # inverted
    assert triad((60, 64, 72)) == (0, "major")  # no fifth
    assert triad((57, 60, 64)) == (9, "minor")
    assert triad((60, 67)) is None and triad((59, 62, 65)) is None  # open fifth, diminished


def test_a_V_I_at_a_fermata_counts_and_a_V_vi_does_not():
    voices = chorale(C_MAJOR, G_MAJOR, C_MAJOR, G_MAJOR, A_MINOR)
    assert cadence_kind(voices, 2, 1.0, tonic=0) == "authentic"
    assert cadence_kind(voices, 4, 1.0, tonic=0) is None  # deceptive
    c = cadences(voices, (2, 4), (4, 4), 0.0, 0, "major")
    assert c == Cadences(2, 1, 0, 0) and c.share == 0.5
    assert cadences(voices, (2,), tonic=7).share == 1.0  # V-I in any key


def test_a_suspension_or_a_six_four_resolved_within_the_beat_before_still_makes_V_I():
    sus = [[(0, 1, 74), (1, 1, 72)], [(0, 0.5, 72), (0.5, 0.5, 71), (1, 1, 72)], [(0, 1, 67), (1, 1, 64)],
           [(0, 1, 43), (1, 1, 48)]]  # G C D G resolving to G B D G, then C
    assert cadence_kind(sus, 1, 1.0, tonic=0) == "authentic"
    sus[1] = [(0, 1, 72), (1, 1, 72)]  # the fourth never resolves: no dominant before the arrival
    assert cadence_kind(sus, 1, 1.0, tonic=0) is None
    six_four = [[(0, 0.5, 72), (0.5, 0.5, 71), (1, 1, 72)], [(0, 0.5, 64), (0.5, 0.5, 62), (1, 1, 64)],
                [(0, 1, 55), (1, 1, 55)], [(0, 1, 43), (1, 1, 48)]]  # I6/4 on the beat, V on its second half
    assert cadence_kind(six_four, 1, 1.0, tonic=0) == "authentic"
    six_four[0][:2], six_four[1][:2] = [(0, 1, 72)], [(0, 1, 64)]  # the six-four held: no V
    assert cadence_kind(six_four, 1, 1.0, tonic=0) is None


def test_plagal_and_half_cadences_and_the_home_key_of_the_half():
    plagal = chorale(F_MAJOR, C_MAJOR)
    assert cadence_kind(plagal, 1, 1.0, tonic=0) == "plagal"
    half = chorale((74, 69, 62, 53), (74, 67, 59, 55))  # ii6 - V
    assert cadence_kind(half, 1, 1.0, tonic=0) == "half"
    assert cadence_kind(half, 1, 1.0, tonic=5) is None  # G is not F major's V
    assert cadence_kind(chorale((74, 69, 62, 53), (74, 67, 58, 55)), 1, 1.0, tonic=0) is None  # G minor is no V
    i_v = chorale(C_MAJOR, (74, 67, 59, 55))
    assert cadence_kind(i_v, 1, 1.0, tonic=0) == "half"  # not IV-I in G
    assert cadences(i_v, (1,), tonic=0, mode="minor") == Cadences(1, 0, 0, 1)


def test_the_arrival_must_be_in_root_position_unless_asked():
    voices = chorale(G_MAJOR, (72, 67, 60, 52))  # V - I6
    assert cadence_kind(voices, 1, 1.0, tonic=0) is None
    assert cadence_kind(voices, 1, 1.0, tonic=0, root_position=False) == "authentic"
    assert cadences(voices, (1,), root_position=False).authentic == 1
    assert cadence_kind(chorale(G_MAJOR_FIRST_INV, C_MAJOR), 1, 1.0, tonic=0) == "authentic"  # V6 - I


def test_a_fermata_on_the_first_beat_has_no_approach():
    voices = chorale(C_MAJOR, G_MAJOR)
    assert cadence_kind(voices, 0, 1.0, tonic=0) is None
    assert cadence_kind(voices, 0, 1.0, tonic=5) == "half"  # the arrival alone: C is F major's V


# --- chromatic clashes ---------------------------------------------------------------------------------

def test_strong_beats_are_beats_one_and_three_in_four_four_and_beat_one_otherwise():
    assert strong_beats((4, 4), 0.0, 8.0) == [0, 2, 4, 6]
    assert strong_beats((4, 4), 1.0, 6.0) == [1, 3, 5]
    assert strong_beats((3, 4), 0.0, 6.0) == [0, 3]
    assert strong_beats((3, 4), 2.0, 8.0) == [2, 5]
    assert strong_beats((2, 2), 0.0, 8.0) == [0, 4]


def test_an_E_flat_with_an_E_natural_on_a_strong_beat_counts_in_C_major_and_E_with_F_does_not():
    clash, plain, e_f = (76, 63, 60, 48), C_MAJOR, (77, 64, 60, 48)
    assert chromatic_clashes(chorale(plain, clash, plain, clash), (4, 4), 0.0, 0, "major") == (2, 0)  # weak beats
    c = chromatic_clashes(chorale(clash, plain, plain, plain, e_f, plain), (4, 4), 0.0, 0, "major")
    assert c == (3, 1) and c.share == 1 / 3
    assert chromatic_clashes(chorale(clash, plain, plain, plain, e_f, plain), (3, 4), 0.0, 0).clashes == 1
    assert chromatic_clashes(chorale(plain, e_f), (4, 4), 1.0, 0).share == 0.0  # E-F struck on beat 3 (pickup 1)
    assert chromatic_clashes(chorale(plain, e_f), (4, 4), 1.0, 3).share == 1.0  # in E-flat major, E is outside
    assert chromatic_clashes(chorale((79, 66, 62, 50)), tonic=0).clashes == 1  # F-sharp with G in C major
    lone = [[(0, 4, 72)], [(0, 2, 64)], [(0, 2, 55)], [(0, 2, 48)]]  # beat 3: the soprano alone, no chord
    assert chromatic_clashes(lone) == (1, 0)


def test_in_minor_both_sixths_and_sevenths_belong_to_the_scale():
    f_fs, bb_b = (77, 66, 57, 45), (71, 70, 62, 43)
    assert chromatic_clashes(chorale(f_fs), tonic=9, mode="minor").clashes == 0
    assert chromatic_clashes(chorale(f_fs), tonic=9, mode="major").clashes == 1  # F is outside A major
    assert chromatic_clashes(chorale(bb_b), tonic=9, mode="minor").clashes == 1


# --- band and table ------------------------------------------------------------------------------------

def test_the_band_is_bachs_percentiles_and_the_share_inside_it():
    b = band(list(range(11)), [0.5, 1, 5, 9, 9.5])
    assert (b.low, b.high) == (1.0, 9.0) and b.share == 3 / 5
    assert band(list(range(11)), [0.5, 9.5], lo=0, hi=100).share == 1.0
    assert band([2.0, 4.0], [2.5], lo=50, hi=50) == (3.0, 3.0, 0.0)
    assert math.isnan(band([1.0], []).share)
    with pytest.raises(ValueError):
        band([], [1.0])


def test_the_style_table_sets_a_system_beside_bach():
    pieces = [chorale(C_MAJOR, G_MAJOR, C_MAJOR, A_MINOR, G_MAJOR, C_MAJOR),
              chorale(A_MINOR, F_MAJOR, G_MAJOR, A_MINOR, G_MAJOR, C_MAJOR),
              chorale(C_MAJOR, A_MINOR, F_MAJOR, G_MAJOR, G_MAJOR, C_MAJOR)]
    bach = [Score4(tuple(v), fermatas=(2.0, 5.0), name=f"p{i}") for i, v in enumerate(pieces)]
    stuck = [[v[0], [(o, d, 67) for o, d, _ in v[1]], v[2], v[3]] for v in pieces]  # the alto on G throughout
    table = style_table(bach, {"same": pieces, "stuck alto": stuck})
    same, stuck_col, own = (table["columns"][k] for k in ("same", "stuck alto", "Bach"))
    assert list(table["columns"]) == ["same", "stuck alto", "Bach"]
    assert same["alto_repeated"] == own["alto_repeated"] == sorted(repeated_share(v[1]) for v in pieces)[1]
    assert stuck_col["alto_repeated"] == 1.0 and stuck_col["inner_inside"] == 0.0 and same["inner_inside"] == 1.0
    assert same["chord_agreement"] == same["bass_agreement"] == 1.0 and stuck_col["chord_agreement"] < 1.0
    assert same["cadence_share"] == own["cadence_share"] == 5 / 6  # piece 3's fermata at 2 lands on F after A minor
    assert own["clash_share"] == 0.0 and own["fermatas"] == 6
    assert math.isnan(same["two_sample"])  # six-slice pieces give no 48-slice excerpt
    text = format_style_table(table)
    assert "| 3 held-out chorales | same | stuck alto | Bach |" in text
    assert "| fermatas that are cadences (all fermatas pooled) | 0.833 | " in text
    with pytest.raises(ValueError):
        style_table(bach, {"short": pieces[:2]})


@pytest.mark.slow
def test_bachs_own_chorale_ends_its_phrases_on_cadences_without_chromatic_clashes():
    from music_lstm.io.chorale_scores import corpus_score

    s = corpus_score("bwv269")
    c = cadences(s.voices, s.fermatas, s.meter, s.pickup, s.tonic, s.mode)
    assert c.fermatas >= 4 and c.share > 0.6
    clash = chromatic_clashes(s.voices, s.meter, s.pickup, s.tonic, s.mode)
    assert clash.chords > 20 and clash.share < 0.1

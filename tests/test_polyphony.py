"""Voiced and grid encodings keep octaves, durations and rests; decoding repairs ill-formed streams."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from midi_bytes import chorale

from music_lstm.io import midi_read
from music_lstm.encodings import get
from music_lstm.core.events import Piece, slices

VOICED, GRID = get("voiced"), get("grid")

NOTES = [(0, 2, 48), (0, 1, 64), (1, 1, 65), (3, 0.5, 72), (3.5, 1.5, 60)]  # a held bass, a rest at 2


def sliced(notes):
    return [(round(s.offset, 6), round(s.duration, 6), s.pitches, s.struck) for s in slices(notes)]


def heard(notes):
    """Slices as a listener hears them: a unison doubling that ends while its twin sounds on is no new
    slice (the encodings keep each pitch once)."""
    out = []
    for o, d, ps, struck in sliced(notes):
        if out and out[-1][2] == ps and not any(struck):
            out[-1] = (out[-1][0], round(out[-1][1] + d, 6), ps)
        else:
            out.append((o, d, ps))
    return out


def test_voiced_symbols_list_pitches_high_to_low_with_held_marks_then_a_duration():
    assert VOICED.encode(Piece(NOTES)) == ["E4", "C3", "d1", "F4", "C3~", "d1", "r1", "C5", "d1/2", "C4", "d3/2"]


def test_voiced_round_trips_every_octave_duration_and_rest():
    decoded = VOICED.decode(VOICED.encode(Piece(NOTES)))
    assert sorted(decoded.notes) == sorted(NOTES)
    assert decoded.events == 5 and decoded.repairs == 0


def test_voiced_round_trips_a_four_track_chorale_slice_for_slice(tmp_path):
    piece = midi_read.read_midi(chorale(tmp_path / "c.mid", bars=3, shift=2))
    decoded = VOICED.decode(VOICED.encode(piece))
    assert decoded.repairs == 0 and sliced(decoded.notes) == sliced(piece.notes)


def test_grid_frames_are_sixteenths_with_a_frame_end_each():
    symbols = GRID.encode(Piece([(0, 0.5, 60), (0.5, 0.25, 62)]))
    assert symbols == ["C4", "|", "C4~", "|", "D4", "|"]
    assert sorted(GRID.decode(symbols).notes) == [(0, 0.5, 60), (0.5, 0.25, 62)]


def test_grid_round_trips_notes_on_the_grid():
    decoded = GRID.decode(GRID.encode(Piece(NOTES)))
    assert sorted(decoded.notes) == sorted(NOTES) and decoded.repairs == 0 and decoded.events == 20


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 15), st.integers(1, 8), st.integers(40, 84)), min_size=1, max_size=25))
def test_voiced_decoding_gives_back_the_same_slices_for_any_piece(raw):
    notes = [(on / 4, d / 4, p) for on, d, p in raw]  # on a 16th grid
    first = min(o for o, _, _ in notes)
    decoded = VOICED.decode(VOICED.encode(Piece(notes)))
    assert decoded.repairs == 0
    assert heard(decoded.notes) == heard([(o - first, d, p) for o, d, p in notes])


@settings(max_examples=80, deadline=None)
@given(st.lists(st.sampled_from(["C4", "E4", "G4~", "C3~", "d1/2", "d1", "r1", "<unk>", "dx", "|"]), max_size=40))
def test_any_symbol_stream_decodes_to_well_formed_notes(symbols):
    for decode in (VOICED.decode, GRID.decode):
        d = decode(symbols)
        assert 0 <= d.repairs <= d.events
        assert all(dur > 0 and o >= 0 for o, dur, _ in d.notes)
        starts = {}
        for o, dur, p in d.notes:  # no pitch sounds twice at once
            assert all(not (o < e and s < o + dur) for s, e in starts.get(p, []))
            starts.setdefault(p, []).append((o, o + dur))


@pytest.mark.parametrize(
    "symbols, repairs",
    [
        (["C4", "d1", "d1"], 1),  # a duration with nothing sounding becomes a rest
        (["C4", "E4", "d1"], 1),  # pitches low to high are put in order
        (["E4", "E4", "d1"], 1),  # a pitch twice
        (["C4~", "d1"], 1),  # held over from nothing: struck instead
        (["C4", "r1"], 1),  # pitches closed by a rest sound for its length
        (["C4", "<unk>", "d1"], 1),  # an unknown symbol is dropped
        (["E4", "C4", "d1", "E4~", "d1/2"], 0),
    ],
)
def test_voiced_repairs_are_counted(symbols, repairs):
    d = VOICED.decode(symbols)
    assert d.repairs == repairs and d.notes


def test_repaired_held_note_is_struck_and_held_note_extends():
    assert VOICED.decode(["C4~", "d1"]).notes == [(0, 1, 60)]
    assert VOICED.decode(["C4", "d1", "C4~", "d1/2"]).notes == [(0, 1.5, 60)]
    assert VOICED.decode(["C4", "d1", "C4", "d1/2"]).notes == [(0, 1, 60), (1, 0.5, 60)]
    assert VOICED.decode(["C4", "d1", "E4"]).notes == [(0, 1, 60)]  # cut off by the length limit


def test_seed_with_durations_keeps_durations_and_rests_and_decodes_them():
    symbols = get("seed", durations=True).encode(Piece(NOTES))
    assert symbols == ["0.4|1", "0.5|1", "rest|1", "C5|1/2", "C4|3/2"]
    notes = get("seed").decode(symbols).notes
    assert (3.0, 0.5, 72) in notes and (3.5, 1.5, 60) in notes
    assert get("seed").encode(Piece(NOTES)) == ["0.4", "0.5", "C5", "C4"]  # unchanged without


def test_dispatch_names_the_unknown_encoding():
    from music_lstm.core.errors import ConfigError

    with pytest.raises(ConfigError, match="invalid encoding: 'midi'"):
        get("midi")


def test_nearest_symbol_maps_events_to_their_own_kind():
    known = ["C4", "C4~", "G4", "d1/2", "d2", "r1", "|"]
    assert get("voiced").nearest("C#4", known) == "C4"
    assert get("voiced").nearest("F#4~", known) == "G4"
    assert get("voiced").nearest("d3", known) == "d2"
    assert get("voiced").nearest("r2", known) == "r1"
    assert get("seed").nearest("C4|3/2", ["C4|1", "G4|3/2", "rest|3/2"]) == "C4|1"
    assert get("seed").nearest("rest|2", ["C4|1", "rest|1/2"]) == "rest|1/2"


def test_a_continuation_is_read_in_the_context_of_its_prompt():
    prompt = ["E4", "C3", "d1", "F4"]  # ends inside a slice
    generated = ["C3~", "d1", "G4", "C3~", "d1/2"]
    d = get("voiced").decode_continuation(prompt, generated)
    assert d.repairs == 0 and d.events == 2
    assert sorted(d.notes) == [(0, 1, 65), (0, 1.5, 48), (1, 0.5, 67)]  # the held bass starts at 0
    alone = get("voiced").decode(generated)
    assert alone.repairs == 1  # without its prompt the held C3 is ill-formed
    seed = get("seed").decode_continuation(["C4", "E4"], ["G4"])
    assert seed.notes == [(0, 0.5, 67)] and seed.events == 1


def test_a_stream_cut_mid_piece_is_not_blamed_for_notes_struck_before_the_cut():
    cut = ["F3~", "d1/2", "B-4", "A4~", "F4", "d1/2", "B-4~", "G4~", "d1/2"]
    assert get("voiced").decode(cut).repairs == 3
    d = get("voiced").decode(cut, open_start=True)
    assert d.repairs == 1 and (0.5, 1.0, 70) in d.notes  # G4~ in the third slice is still an error


# --- sampling guards that keep the texture of the music being continued ---------------------------

GUARD_SYMBOLS = ["<unk>", "C5", "C5~", "G4", "G4~", "E4", "E4~", "C4", "C4~", "C3", "C3~", "d1", "r1"]


def _ids(text):
    return [GUARD_SYMBOLS.index(s) for s in text.split()]


def _loop_model(cycle):
    """A fake step function that wants `cycle` (ids) over and over: the successor of the last id gets
    nearly all the probability, every other symbol a little."""
    import numpy as np

    nxt = {a: b for a, b in zip(cycle, cycle[1:] + cycle[:1])}

    def step(ids):
        p = np.full((len(ids), len(GUARD_SYMBOLS)), 1e-3)
        p[np.arange(len(ids)), [nxt.get(int(i), cycle[0]) for i in ids]] = 1.0
        return p / p.sum(axis=1, keepdims=True)

    return step


def _chord_runs(symbols):
    """Longest run of one chord (sounding pitches at consecutive onsets) in a voiced stream."""
    from music_lstm.eval.metrics import chords

    seq = chords(get("voiced").decode(symbols).notes)
    best = run = 1
    for a, b in zip(seq, seq[1:]):
        run = run + 1 if a == b else 1
        best = max(best, run)
    return best


@pytest.mark.parametrize("limit", [1, 2])
def test_chord_guard_stops_one_chord_from_repeating_more_than_allowed(limit):
    import numpy as np

    from music_lstm.core.sampling import generate_ids
    from music_lstm.encodings.pitch_events import EventGrammar
    from music_lstm.core.sampling import Sampling

    step = _loop_model(_ids("C5 G4 E4 C3 d1"))  # wants the same C major chord forever
    grammar = EventGrammar(GUARD_SYMBOLS, batch=2, max_chord_repeat=limit)
    out = generate_ids(step, step(np.array(_ids("d1 d1"))), 100, Sampling(temperature=0, max_repeat=0),
                       np.random.default_rng(0), grammar=grammar)
    for row in out:
        symbols = [GUARD_SYMBOLS[i] for i in row]
        assert get("voiced").decode(symbols).repairs == 0
        assert _chord_runs(symbols) == limit + 1  # repeated as often as allowed, and no more
    # without the guard the fake model writes one chord 20 times in a row
    free = generate_ids(step, step(np.array(_ids("d1"))), 100, Sampling(temperature=0, max_repeat=0),
                        np.random.default_rng(0), grammar=EventGrammar(GUARD_SYMBOLS, batch=1))
    assert _chord_runs([GUARD_SYMBOLS[i] for i in free[0]]) == 20


def test_chord_guard_counts_onsets_not_rests_or_held_slices():
    from music_lstm.encodings.pitch_events import EventGrammar

    grammar = EventGrammar(GUARD_SYMBOLS, batch=1, max_chord_repeat=1)
    for i in _ids("C5 G4 d1 r1 C5 G4~ d1 C5~ G4~ d1 C5"):  # C5+G4 at two onsets, a rest and a tie between
        grammar.feed([i])
    ban = grammar.ban()[0]
    assert ban[GUARD_SYMBOLS.index("G4")] and ban[GUARD_SYMBOLS.index("G4~")]  # a third onset of C5+G4: no
    assert not ban[GUARD_SYMBOLS.index("E4")] and not ban[GUARD_SYMBOLS.index("d1")]  # anything else may come


def test_voices_are_limited_to_the_prompts_texture_but_not_below_the_floor():
    import numpy as np

    from music_lstm.encodings.pitch_events import EventGrammar, texture

    grammar = EventGrammar(GUARD_SYMBOLS, batch=2)
    for column in np.array([_ids("C5 G4 E4 d1 C5 d1"), _ids("C5 d1 C5 d1 C5 d1")]).T:
        grammar.feed(column)
    grammar.limit_voices(floor=2)
    grammar.feed(_ids("C5 C5"))  # both rows start a slice
    grammar.feed(_ids("G4 G4"))
    ban = grammar.ban()
    e4 = GUARD_SYMBOLS.index("E4")
    assert not ban[0, e4] and ban[1, e4]  # row 0's prompt had three voices, row 1's one (floor: two)
    pieces = [np.array(_ids(t)) for t in ("C5 G4 E4 C3 d1 C5 d1", "C5 G4 d1 r1", "C5 G4 E4 d1")]
    assert texture(pieces, GUARD_SYMBOLS) == 3  # the median of each piece's widest slice (4, 2, 3)


def test_common_lengths_are_the_chorales_and_judge_only_the_sixteenths():
    from music_lstm.core.events import common_length

    assert all(common_length(x) for x in (0.25, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0, 8.0))
    assert not any(common_length(x) for x in (0.75, 1.25, 1.75, 2.5, 3.5, 5.0))
    assert common_length(1 / 3) and common_length(float("nan"))  # triplets and unknown lengths pass

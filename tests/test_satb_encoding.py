"""The satb encoding keeps four lines apart; its decoder repairs ill-formed streams; its grammar (and
voice-leading guard) lets sampling write only well-formed streams."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from music_lstm.core.lines import monophonic
from music_lstm.core.events import common_length
from music_lstm.encodings.satb import training_voices, REST, Grammar, classify, decode_satb, encode_satb, nearest_satb, rhythm_mask

# S holds C5 over two beats; A re-strikes G4; T rests on beat 2; B doubles T in unison on beat 3.
VOICES = (
    [(0, 2, 72), (2, 1, 74)],
    [(0, 1, 67), (1, 1, 67), (2, 1, 67)],
    [(0, 1, 64), (2, 1, 55)],
    [(0, 2, 48), (2, 1, 55)],
)


def test_round_trip_keeps_each_voice_exactly():
    decoded = decode_satb(encode_satb(VOICES))
    assert decoded.voices == tuple([(float(o), float(d), p) for o, d, p in v] for v in VOICES)
    assert (decoded.events, decoded.repairs, decoded.end) == (3, 0, 3.0)


def test_held_re_struck_rest_and_unison_symbols():
    symbols = encode_satb(VOICES)
    assert symbols == ["C5", "G4", "E4", "C3", "d1",
                       "C5~", "G4", REST, "C3~", "d1",
                       "D5", "G4", "G3", "G3", "d1"]
    assert decode_satb(symbols).notes.count((2.0, 1.0, 55)) == 2  # a unison stays two notes


def test_slot_order_is_a_choice_and_decodes_to_the_same_voices():
    symbols = encode_satb(VOICES, order="BSAT")
    assert symbols[:5] == ["C3", "C5", "G4", "E4", "d1"]
    assert decode_satb(symbols, order="BSAT").voices == decode_satb(encode_satb(VOICES)).voices
    with pytest.raises(ValueError, match="order"):
        encode_satb(VOICES, order="SATT")


def test_needs_four_voices():
    with pytest.raises(ValueError, match="4 voices"):
        encode_satb(VOICES[:3])


def test_overlapping_notes_in_one_voice_become_a_line():
    assert monophonic([(0, 2, 60), (0, 1, 64), (1, 1, 62)], on_grid=True) == [(0, 1, 64), (1, 1, 62)]


line = st.lists(st.tuples(st.sampled_from([0, 0, 0.5, 1]), st.sampled_from([0.25, 0.5, 1, 1.5, 2]),
                          st.integers(40, 80)), min_size=1, max_size=8)


@settings(max_examples=60, deadline=None)
@given(st.tuples(line, line, line, line))
def test_round_trip_of_random_four_part_music(spec):
    voices = []
    for notes in spec:
        t, out = 0.0, []
        for gap, dur, pitch in notes:
            out.append((t + gap, float(dur), pitch))
            t += gap + dur
        voices.append(out)
    start = min(v[0][0] for v in voices)
    decoded = decode_satb(encode_satb(voices))
    assert decoded.repairs == 0
    assert decoded.voices == tuple([(o - start, d, p) for o, d, p in v] for v in voices)


@pytest.mark.parametrize("stream, repairs, expected", [
    (["C5", "G4", "E4", "d1"], 1, ([(0, 1, 72)], [(0, 1, 67)], [(0, 1, 64)], [])),  # a slot missing: rest
    (["C5", "G4", "E4", "C3", "A3", "d1"], 1, ([(0, 1, 72)], [(0, 1, 67)], [(0, 1, 64)], [(0, 1, 48)])),  # one too many
    (["C5~", "G4", "E4", "C3", "d1"], 1, ([(0, 1, 72)], [(0, 1, 67)], [(0, 1, 64)], [(0, 1, 48)])),  # held from nothing
    (["C5", "<unk>", "G4", "E4", "C3", "d1"], 1, ([(0, 1, 72)], [(0, 1, 67)], [(0, 1, 64)], [(0, 1, 48)])),
    (["C5", "G4", "E4", "C3", "d1", "C5", "G4~", "F4~", "C3~", "d1"], 1,  # F4 was not sounding in T
     ([(0, 1, 72), (1, 1, 72)], [(0, 2, 67)], [(0, 1, 64), (1, 1, 65)], [(0, 2, 48)])),
    (["C5", "G4", "E4", "C3", "d1", "C5"], 0, ([(0, 1, 72)], [(0, 1, 67)], [(0, 1, 64)], [(0, 1, 48)])),  # cut off
])
def test_decode_repairs_ill_formed_groups_and_counts_them(stream, repairs, expected):
    decoded = decode_satb(stream)
    assert decoded.repairs == repairs
    assert decoded.voices == tuple([(float(o), float(d), p) for o, d, p in v] for v in expected)


def test_open_start_drops_the_group_begun_before_the_cut_and_forgives_held_notes():
    stream = encode_satb(VOICES)[2:]  # cut inside the first group
    decoded = decode_satb(stream, open_start=True)
    assert (decoded.events, decoded.repairs) == (2, 0)
    assert decoded.voices[0] == [(0.0, 1.0, 72), (1.0, 1.0, 74)]
    assert decode_satb(stream).repairs > 0


VOCAB = ["<unk>", REST, "d1/2", "d1", "d2", *(f"{n}{o}{h}" for o in (2, 3, 4, 5) for n in ("C", "E", "G", "A", "B")
                                              for h in ("", "~"))]


def sample_stream(grammar, steps, seed, prompt=()):
    rng = np.random.default_rng(seed)
    batch = len(grammar.filled)
    rows = [[] for _ in range(batch)]
    for sym in prompt:
        grammar.feed(np.full(batch, VOCAB.index(sym)))
        for r in rows:
            r.append(sym)
    for _ in range(steps):
        ban = grammar.ban()
        assert not ban.all(axis=1).any()  # never left without a choice
        ids = np.array([rng.choice(np.flatnonzero(~b)) for b in ban])
        grammar.feed(ids)
        for r, i in zip(rows, ids):
            r.append(VOCAB[i])
    return rows


RANGES = [(60, 81), (55, 74), (48, 69), (36, 62)]


@pytest.mark.parametrize("options", [{}, {"guard": True, "no_crossing": True, "ranges": RANGES, "no_clash": True},
                                     {"order": "BSAT", "guard": True}])
def test_grammar_lets_random_sampling_write_only_well_formed_streams(options):
    order = options.get("order", "SATB")
    grammar = Grammar(VOCAB, batch=8, **options)
    prompt = ["G4", "C3", "d1"] if order == "SATB" else ["C4", "G4", "E4", "d1"]  # cut mid-group
    for row in sample_stream(grammar, 400, seed=1, prompt=prompt):
        decoded = decode_satb(row, open_start=True, order=order)
        assert decoded.events >= 400 // 5 - 2 and decoded.repairs == 0
        if "ranges" in options:
            for v, (low, high) in enumerate(options["ranges"]):
                assert all(low <= p <= high for _, _, p in decoded.voices[v])


def test_no_crossing_keeps_each_voice_under_the_one_above():
    grammar = Grammar(VOCAB, batch=4, no_crossing=True)
    for row in sample_stream(grammar, 300, seed=2, prompt=["d1"]):
        voices = decode_satb(row[1:]).voices
        for t in sorted({o for v in voices for o, _, _ in v}):
            sounding = [next((p for o, d, p in v if o <= t < o + d), None) for v in voices]
            heard = [p for p in sounding if p is not None]
            assert heard == sorted(heard, reverse=True)


def banned(grammar, symbol):
    return bool(grammar.ban()[0, VOCAB.index(symbol)])


def feed(grammar, symbols):
    for s in symbols:
        grammar.feed([VOCAB.index(s)])


def test_guard_refuses_a_parallel_fifth_and_allows_contrary_motion():
    grammar = Grammar(VOCAB, batch=1, guard=True)
    feed(grammar, ["d1", "G4", "C4", "E3", "C3", "d1"])  # S G4 and A C4: a fifth
    feed(grammar, ["E5"])  # S rises
    assert banned(grammar, "A4")  # A rising to the fifth below E5: parallel fifths
    assert not banned(grammar, "C4~")  # A holds: oblique motion
    assert not banned(grammar, "A3")  # A falls to a fifth (a twelfth) below E5: contrary motion
    assert not banned(grammar, "G4") and not banned(grammar, REST)
    unguarded = Grammar(VOCAB, batch=1)
    feed(unguarded, ["d1", "G4", "C4", "E3", "C3", "d1", "E5"])
    assert not banned(unguarded, "A4")  # without the guard the fifths are the model's choice


def test_guard_refuses_parallel_octaves_between_outer_voices_only_when_on():
    for guard in (True, False):
        grammar = Grammar(VOCAB, batch=1, guard=guard)
        feed(grammar, ["d1", "C5", "G4", "E4", "C3", "d1", "E5", "G4~", "E4~"])
        assert banned(grammar, "E3") == guard  # C3->E3 under C5->E5: parallel octaves
        assert not banned(grammar, "A2")


def test_guard_refuses_a_hidden_fifth_between_outer_voices_when_the_soprano_leaps():
    for guard in (True, False):
        grammar = Grammar(VOCAB, batch=1, guard=guard)
        feed(grammar, ["d1", "C5", "G4", "E4", "G2", "d1", "E5", "G4~", "E4~"])  # S leaps a third up
        assert banned(grammar, "A2") == guard  # G2->A2 under C5->E5: into a fifth the same way, a hidden fifth
        assert not banned(grammar, "E2") and not banned(grammar, "C3")  # contrary motion; into a sixth
    grammar = Grammar(VOCAB, batch=1, guard=True)
    feed(grammar, ["d1", "B4", "G4", "E4", "E2", "d1", "C5", "G4~", "E4~"])  # S moves by a step
    assert not banned(grammar, "C3")  # into an octave the same way, but the soprano steps: allowed, as Bach does
    grammar = Grammar(VOCAB, batch=1, order="BSAT", guard=True)  # the bass written first: the soprano is checked
    feed(grammar, ["d1", "G2", "C5", "G4", "E4", "d1", "A2"])
    assert banned(grammar, "E5") and not banned(grammar, "G5") and not banned(grammar, "C5~")


def test_no_clash_refuses_a_seventh_struck_against_a_struck_voice_but_allows_a_suspension():
    grammar = Grammar(VOCAB, batch=1, no_clash=True)
    feed(grammar, ["d1", "C5", "G4", "E4", "C3", "d1", "C5~"])
    assert not banned(grammar, "B4")  # A strikes a second under the held C5: a suspension
    feed(grammar, ["B4"])
    assert banned(grammar, "C4")  # T: a major seventh under the struck B4
    assert not banned(grammar, "B3") and not banned(grammar, "E4~") and not banned(grammar, "G4")
    unchecked = Grammar(VOCAB, batch=1)
    feed(unchecked, ["d1", "C5", "G4", "E4", "C3", "d1", "C5~", "B4"])
    assert not banned(unchecked, "C4")


def test_grammar_ban_after_four_slots_allows_only_lengths():
    grammar = Grammar(VOCAB, batch=1)
    feed(grammar, ["d1", "C5", "G4", "E4", "C3"])
    allowed = {VOCAB[i] for i in np.flatnonzero(~grammar.ban()[0])}
    assert allowed == {"d1/2", "d1", "d2"}
    feed(grammar, ["d1"])
    allowed = {VOCAB[i] for i in np.flatnonzero(~grammar.ban()[0])}
    assert "C5~" in allowed and "G4~" not in allowed and "d1" not in allowed and "<unk>" not in allowed


def test_each_row_has_its_ranges_moved_by_its_offset():
    grammar = Grammar(VOCAB, batch=3, ranges=RANGES, range_offsets=[0, 2, -3])
    feed_all = lambda sym: grammar.feed([VOCAB.index(sym)] * 3)  # noqa: E731
    feed_all("d1")
    allowed = [{VOCAB[i] for i in np.flatnonzero(~grammar.ban()[r]) if VOCAB[i][-1].isdigit()} for r in range(3)]
    assert "A5" in allowed[0] and "B5" not in allowed[0]  # soprano 60..81: A5 = 81
    assert "B5" in allowed[1] and "C4" not in allowed[1]  # moved up 2: 62..83
    assert "E5" in allowed[2] and "G5" not in allowed[2] and "A3" in allowed[2]  # moved down 3: 57..78
    grammar.select(np.array([1, 1, 1]))
    assert {VOCAB[i] for i in np.flatnonzero(~grammar.ban()[2]) if VOCAB[i][-1].isdigit()} == allowed[1]


def test_ranges_of_moved_pieces_are_taken_in_their_own_keys():
    ids = [np.array([VOCAB.index(s) for s in ["C5", "G4", "E4", "C3", "d1"]])] * 2
    plain = training_voices(VOCAB, ids)
    back = training_voices(VOCAB, ids, shifts=[2, -3])
    assert [p for _, _, p in plain[0]] == [72, 72] and [p for _, _, p in back[0]] == [70, 75]


def lengths_allowed(grammar, row=0):
    return {VOCAB[i] for i in np.flatnonzero(~grammar.ban()[row]) if VOCAB[i].startswith("d")}


def test_keep_beat_ends_a_group_begun_off_the_beat_by_the_next_beat():
    kept, free = Grammar(VOCAB, batch=1, keep_beat=True), Grammar(VOCAB, batch=1)
    for grammar in (kept, free):
        feed(grammar, ["d1", "C5", "G4", "E4", "C3"])
    assert lengths_allowed(kept) == lengths_allowed(free) == {"d1/2", "d1", "d2"}  # on the beat: any length
    for grammar in (kept, free):
        feed(grammar, ["d1/2", "E5", "G4~", "E4~", "C3~"])  # begun half a beat in
    assert lengths_allowed(kept) == {"d1/2"} and lengths_allowed(free) == {"d1/2", "d1", "d2"}
    feed(kept, ["d1/2", "G5", "G4", "C4", "C3"])  # back on the beat
    assert lengths_allowed(kept) == {"d1/2", "d1", "d2"}
    assert kept.position.tolist() == [2.0]  # the first d1 only ends the group the stream began inside


def test_keep_beat_places_the_prompt_by_the_music_before_it_and_never_leaves_no_length():
    grammar = Grammar(VOCAB, batch=2, keep_beat=True)
    before = [np.array([VOCAB.index(s) for s in ["C5", "G4", "E4", "C3", "d1/2"]]), np.array([], np.int64)]
    grammar.prime(np.array([[VOCAB.index(s)] * 2 for s in ["E5", "G4", "C4", "C3"]]).T, before=before)
    assert grammar.position.tolist() == [0.5, 0.0]
    feed_rows = [VOCAB.index("d1"), VOCAB.index("d1")]
    grammar.feed(feed_rows)  # the groups the prompts were cut inside end: at 1.5 and at 1.0
    grammar.feed([VOCAB.index("C5")] * 2)
    for s in ["G4", "E4", "C3"]:
        grammar.feed([VOCAB.index(s)] * 2)
    assert lengths_allowed(grammar, 0) == {"d1/2"} and lengths_allowed(grammar, 1) == {"d1/2", "d1", "d2"}
    grammar.select(np.array([1, 1]))
    assert grammar.position.tolist() == [1.0, 1.0]
    odd = Grammar(VOCAB, batch=1, keep_beat=True)
    feed(odd, ["d1", "C5", "G4", "E4", "C3", "d1/2", "C5~", "G4~", "E4~", "C3~", "d1/2", "C5", "G4", "E4", "C3"])
    odd.position[:] = 0.75  # no length of this vocabulary ends by the next beat: none is banned
    assert lengths_allowed(odd) == {"d1/2", "d1", "d2"}


def test_keep_beat_holds_no_note_struck_between_two_eighths_past_the_next_one():
    vocab = VOCAB + ["d1/4"]
    for keep in (True, False):
        grammar = Grammar(vocab, batch=1, keep_beat=keep)
        for sym in ["d1", "C5", "G4", "E4", "C3", "d1/2", "C5~", "G4~", "E4~", "C3~", "d1/4",  # at 1.5
                    "B4", "G4~", "E4~", "C3~", "d1/4"]:  # the soprano's B4 struck at 1.75
            grammar.feed([vocab.index(sym)])
        ban = lambda sym: bool(grammar.ban()[0, vocab.index(sym)])  # noqa: E731
        assert ban("B4~") == keep  # at 2.0 it may not go on
        assert not ban("A4") and not ban("C5") and not ban(REST)
        grammar.feed([vocab.index("C5")])
        assert not ban("G4~")  # the alto's G4 was struck on the beat: it may be held


def test_common_lengths_holds_a_note_on_past_a_dotted_eighth():
    vocab = VOCAB + ["d1/4"]
    for common in (True, False):
        grammar = Grammar(vocab, batch=1, common_lengths=common)
        ban = lambda sym: bool(grammar.ban()[0, vocab.index(sym)])  # noqa: E731
        feed_all = lambda syms: [grammar.feed([vocab.index(x)]) for x in syms]  # noqa: E731
        feed_all(["d1", "C5", "G4", "E4", "C3", "d1/2", "C5", "G4~", "E4~", "C3", "d1/4"])  # now at 1.75
        assert not ban("E5") and not ban(REST)  # the soprano's C5 struck at 1.5: a sixteenth may end
        feed_all(["E5"])
        # the alto's G4 struck at 1.0 has lasted a dotted eighth: it may only go on
        assert [ban("G4~"), ban("A4"), ban("G4"), ban(REST)] == [False, common, common, common]
        feed_all(["G4~"])
        assert [ban("E4~"), ban("C4"), ban(REST)] == [False, common, common]  # the tenor's E4 the same
        feed_all(["E4~"])
        assert not ban("A2") and not ban(REST)  # the bass struck at 1.5
        feed_all(["C3~", "d1/4"])  # at 2.0 the alto's G4 has lasted a quarter note
        feed_all(["E5"])
        assert not ban("A4") and not ban(REST)


@pytest.mark.parametrize("seed", [1, 2])
def test_random_sampling_under_common_lengths_ends_no_note_at_an_uncommon_length(seed):
    for common in (True, False):
        rows = sample_stream(Grammar(VOCAB, batch=6, common_lengths=common), 500, seed=seed, prompt=["d1"])
        lengths = []
        for row in rows:
            voices = decode_satb(row[1:]).voices
            end = max(o + d for v in voices for o, d, _ in v)
            lengths += [d for v in voices for o, d, _ in v if o + d < end - 1e-9]  # the last notes are cut
        odd = [d for d in lengths if not common_length(d)]
        assert (not odd) if common else len(odd) > 10, odd[:5]


@pytest.mark.parametrize("seed", [1, 2])
def test_random_sampling_under_keep_beat_never_crosses_a_beat_from_between_beats(seed):
    grammar = Grammar(VOCAB, batch=6, keep_beat=True)
    for row in sample_stream(grammar, 500, seed=seed, prompt=["d1"]):
        voices = decode_satb(row[1:]).voices
        onsets = sorted({o for v in voices for o, _, _ in v} | {o + d for v in voices for o, d, _ in v})
        cuts = [(a, b) for a, b in zip(onsets, onsets[1:])]
        assert any(a % 1 for a, _ in cuts)  # some slices do begin between beats
        assert all(b <= int(a) + 1 + 1e-9 for a, b in cuts if a % 1), cuts


def test_nearest_symbol_keeps_the_kind_and_held_mark():
    known = ["C4", "C4~", "E4", REST, "d1", "d2"]
    assert nearest_satb("D4", known) == "C4"
    assert nearest_satb("C#4~", known) == "C4~"
    assert nearest_satb("d3/2", known) == "d1"
    assert nearest_satb(REST, known) == REST
    assert nearest_satb("nonsense", known) is None
    assert classify("d0")[0] == "bad"


def test_rhythm_mask_marks_the_lengths():
    assert rhythm_mask(["<unk>", REST, "d1", "C4"]).tolist() == [False, False, True, False]

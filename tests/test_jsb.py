"""The JSB Chorales reader, the frame serialization, and the exactness of the per-frame NLL.

Every file here is a tiny synthetic one in the benchmark's JSON format, written by the test.
"""

import importlib.util
import itertools
import json
import math
import sys
from pathlib import Path

import numpy as np
import pytest

from music_lstm.encodings import jsb
from music_lstm.core.errors import MusicLSTMError

SETS = {
    "train": [[[60, 64, 67], [62, 65, 69, 74], [], [60.0, 64.0, 64.0, 72.0]], [[55, 59, 62, 67]]],
    "valid": [[[57, 60, 64], [59]]],
    "test": [[[], [48, 60], [60, 64, 67, 72]]],
}
VOICES = {
    "train": [[[72, 67, 64, 48], [72, 67, -1, 48], [-1, -1, -1, -1]]],
    "valid": [[[74, 67, 62, 55]]],
    "test": [[[71, 67, 62, 55], [72, 67, 64, 64]]],
}


def write(tmp_path, obj, name="jsb.json"):
    path = tmp_path / name
    path.write_text(obj if isinstance(obj, str) else json.dumps(obj))
    return path


def test_reader_keeps_the_files_splits_and_reads_each_frame_as_a_set(tmp_path):
    data = jsb.read_jsb(write(tmp_path, SETS))
    assert data.layout == "sets"
    assert [len(data.splits[s]) for s in jsb.SPLITS] == [2, 1, 1]  # as given: nothing moved between splits
    first = data.splits["train"][0]
    assert first[0] == (60, 64, 67) and first[2] == () and first[3] == (60, 64, 72)  # 73.0 -> 73; a unison is one pitch
    assert all(type(p) is int for seq in data.splits["train"] for f in seq for p in f)
    assert data.frames("test") == 3 and data.notes("test") == 6  # the silent frame is a frame, with no note


def test_voice_separated_file_is_detected_and_keeps_silence_and_unisons(tmp_path):
    data = jsb.read_jsb(write(tmp_path, VOICES))
    assert data.layout == "voices"
    assert data.splits["train"][0][1] == (72, 67, -1, 48)
    assert data.splits["test"][0][1] == (72, 67, 64, 64)  # tenor and bass in unison: two notes
    assert data.notes("test") == 8 and data.notes("train") == 7


@pytest.mark.parametrize("content, layout, says", [
    (None, "auto", "no such file"),
    ("{not json", "auto", "not JSON"),
    ([[60]], "auto", "expected an object"),
    ({"train": [[[60]]], "valid": [[[60]]]}, "auto", "no 'test' split"),
    ({**SETS, "valid": []}, "auto", "split 'valid' is not a non-empty list"),
    ({**SETS, "test": [[[60], 61]]}, "auto", "test sequence 0 frame 1 is not a list of integer MIDI pitches"),
    ({**SETS, "test": [[[60.5]]]}, "auto", "not a list of integer MIDI pitches"),
    ({**SETS, "test": [[[True]]]}, "auto", "not a list of integer MIDI pitches"),
    ({**SETS, "train": [[[60, 128]]]}, "auto", "pitch 128 outside MIDI 0..127"),
    ({**SETS, "train": [[[60, -1]]]}, "sets", "pitch -1 (a silent voice)"),
    (SETS, "voices", "exactly 4 entries"),
])
def test_a_bad_file_is_one_line_naming_the_file_and_the_fault(tmp_path, content, layout, says):
    path = tmp_path / "missing.json" if content is None else write(tmp_path, content)
    with pytest.raises(jsb.JSBError) as e:
        jsb.read_jsb(path, layout)
    msg = str(e.value)
    assert isinstance(e.value, MusicLSTMError) and "\n" not in msg
    assert msg.startswith(str(path)) and says in msg


def test_cli_prints_one_error_line_and_exits_non_zero(tmp_path, capsys):
    assert jsb.main([str(write(tmp_path, {"train": []}))]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: ") and "jsb.json" in err


@pytest.mark.parametrize("order, expect", [
    ("high", ["p67", "p64", "p60", "|"]),
    ("low", ["p60", "p64", "p67", "|"]),
    ("relative", ["p67", "d3", "d4", "|"]),
])
def test_a_frame_is_its_pitches_in_order_then_the_marker(order, expect):
    assert jsb.frame_tokens((60, 64, 67), order) == expect
    assert jsb.frame_tokens((), order) == ["|"]  # a silent frame is the marker alone


def test_voices_are_four_tokens_with_rest_for_silence():
    assert jsb.frame_tokens((72, -1, 64, 64), "voices") == ["p72", "rest", "p64", "p64", "|"]


@pytest.mark.parametrize("order", [*jsb.ORDERS, "voices"])
def test_serialization_is_one_to_one(tmp_path, order):
    data = jsb.read_jsb(write(tmp_path, VOICES if order == "voices" else SETS))
    for split in jsb.SPLITS:
        for seq in data.splits[split]:
            tokens = jsb.encode_sequence(seq, order)
            assert tokens.count("|") == len(seq) + 1  # one marker per frame, plus the start
            assert set(tokens) <= set(jsb.vocabulary(order))
            assert jsb.decode_sequence(tokens, order) == seq


def test_load_tokens_gives_token_lists_per_split(tmp_path):
    tokens = jsb.load_tokens(write(tmp_path, SETS))
    assert list(tokens) == list(jsb.SPLITS)
    assert tokens["valid"] == [["|", "p64", "p60", "p57", "|", "p59", "|"]]
    with pytest.raises(ValueError):
        jsb.load_tokens(write(tmp_path, SETS), order="voices")


def test_transposition_moves_pitches_keeps_silence_and_refuses_to_leave_midi():
    assert jsb.transpose([(72, -1, 60, 48), ()], 2) == [(74, -1, 62, 50), ()]
    assert jsb.transpose([(120, 127)], 1) is None and jsb.transpose([(0, 5)], -1) is None
    assert jsb.transpose([(120, 126)], 1) == [(121, 127)]


class FakeModel:
    """Next-token probabilities that depend on the whole prefix (a seeded draw per prefix), with all
    mass on the marker, `rest` and the pitches in `pitches`: a stand-in for a network."""

    def __init__(self, vocab: list[str], pitches, seed=0):
        self.vocab, self.seed, self.pitches = vocab, seed, set(pitches)

    def next_probs(self, prefix: list[str]) -> np.ndarray:
        last = None  # the pitch a relative step would move down from
        for t in prefix:
            last = None if t == "|" else last - int(t[1:]) if t.startswith("d") else int(t[1:]) if t.startswith("p") else last
        support = np.array([t in ("|", "rest") or (t.startswith("p") and int(t[1:]) in self.pitches)
                            or (t.startswith("d") and last is not None and last - int(t[1:]) in self.pitches)
                            for t in self.vocab])
        rng = np.random.default_rng([self.seed, *(self.vocab.index(t) for t in prefix)])
        p = rng.random(len(self.vocab)) * support
        return p / p.sum()

    def probs(self, tokens: list[str]) -> np.ndarray:
        """(len(tokens) - 1, vocab): step t predicts tokens[t + 1] from tokens[: t + 1]."""
        return np.stack([self.next_probs(tokens[: t + 1]) for t in range(len(tokens) - 1)])


def index(order):
    vocab = jsb.vocabulary(order)
    return vocab, {t: i for i, t in enumerate(vocab)}


def test_frame_nll_is_minus_log_of_the_product_of_the_frames_conditionals():
    vocab, idx = index("high")
    model = FakeModel(vocab, range(128))
    frames = [(60, 64, 67), (), (55, 71)]
    tokens = jsb.encode_sequence(frames, "high")
    got = jsb.frame_nll(model.probs(tokens), tokens, "high", idx, renormalise=False)
    # by hand: frame 1 is p67 p64 p60 | after the start marker, and so on
    p = lambda prefix, tok: model.next_probs(prefix)[idx[tok]]  # noqa: E731
    t = tokens
    want = [
        -math.log(p(t[:1], "p67") * p(t[:2], "p64") * p(t[:3], "p60") * p(t[:4], "|")),
        -math.log(p(t[:5], "|")),
        -math.log(p(t[:6], "p71") * p(t[:7], "p55") * p(t[:8], "|")),
    ]
    assert len(got) == len(frames)
    np.testing.assert_allclose(got, want, rtol=1e-12)


def test_renormalising_divides_each_conditional_by_the_mass_on_the_tokens_allowed_there():
    vocab, idx = index("high")
    model = FakeModel(vocab, range(128), seed=3)
    tokens = jsb.encode_sequence([(60, 64)], "high")  # | p64 p60 |
    probs = model.probs(tokens)
    below = lambda step, pitch: probs[step, [idx[f"p{q}"] for q in range(pitch)]].sum() + probs[step, idx["|"]]  # noqa: E731
    want = -math.log(probs[0, idx["p64"]] / 1.0  # after the start marker every token is allowed
                     * probs[1, idx["p60"]] / below(1, 64)  # after p64: p0..p63 or the marker
                     * probs[2, idx["|"]] / below(2, 60))
    got = jsb.frame_nll(probs, tokens, "high", idx)
    np.testing.assert_allclose(got, [want], rtol=1e-12)


@pytest.mark.parametrize("order", jsb.ORDERS)
def test_renormalised_frame_probabilities_sum_to_one_over_every_possible_frame(order):
    """A proper distribution over frames: with the model's mass on three pitches, the 8 possible next
    frames (every subset, silence included) after a fixed history get probability summing to 1."""
    vocab, idx = index(order)
    model = FakeModel(vocab, {60, 64, 67}, seed=7)
    history = [(60, 67)]
    total = 0.0
    for n in range(4):
        for frame in itertools.combinations((60, 64, 67), n):
            tokens = jsb.encode_sequence(history + [frame], order)
            total += math.exp(-jsb.frame_nll(model.probs(tokens), tokens, order, idx)[-1])
    assert total == pytest.approx(1.0, abs=1e-12)


def test_voice_frames_sum_to_one_and_the_marker_costs_nothing():
    vocab, idx = index("voices")
    model = FakeModel(vocab, {60, 64}, seed=1)
    choices = (60, 64, -1)
    total = 0.0
    for frame in itertools.product(choices, repeat=4):
        tokens = jsb.encode_sequence([frame], "voices")
        probs = model.probs(tokens)
        nll = jsb.frame_nll(probs, tokens, "voices", idx)[0]
        total += math.exp(-nll)
        by_hand = -sum(math.log(probs[t, idx[tokens[t + 1]]] / (1 - probs[t, idx["|"]])) for t in range(4))
        assert nll == pytest.approx(by_hand, rel=1e-12)  # after four voices the marker is certain
    assert total == pytest.approx(1.0, abs=1e-12)


def test_a_token_the_serialization_forbids_is_an_error():
    vocab, idx = index("high")
    tokens = ["|", "p60", "p64", "|"]  # ascending: not a `high` frame
    with pytest.raises(ValueError):
        jsb.frame_nll(FakeModel(vocab, range(128)).probs(tokens), tokens, "high", idx)


@pytest.mark.slow
def test_frame_nll_of_a_keras_model_matches_its_outputs_read_step_by_step():
    """A tiny network run once over the sequence gives the same conditionals as run on each prefix, and the
    frame NLL is -log of their product."""
    import dataclasses

    import keras

    from music_lstm.runs.config import Config
    from music_lstm.models.model import build_model
    from music_lstm.core.vocab import Vocab

    order = "high"
    vocab = Vocab(jsb.vocabulary(order))
    keras.utils.set_random_seed(0)
    model = build_model(len(vocab), dataclasses.replace(Config(), embed_dim=4, units=4, dense_units=4))
    tokens = jsb.encode_sequence([(60, 67), (), (62,)], order)
    ids = vocab.encode(tokens)
    probs = np.asarray(model(ids[None, :-1], training=False))[0]  # (steps, vocab)
    got = jsb.frame_nll(probs, tokens, order, vocab.symbol_to_index, renormalise=False)
    step = [np.asarray(model(ids[None, : t + 1], training=False))[0, -1, ids[t + 1]] for t in range(len(ids) - 1)]
    np.testing.assert_allclose(probs[np.arange(len(step)), ids[1:]], step, rtol=1e-5)
    ends = [2, 3, 5]  # the steps writing each frame's marker: | p67 p60 [|] [|] p62 [|]
    want = [-math.log(math.prod(step[a + 1 : b + 1])) for a, b in zip([-1, *ends[:-1]], ends)]
    np.testing.assert_allclose(got, want, rtol=1e-5)


@pytest.mark.slow
def test_benchmark_runs_end_to_end_on_a_tiny_file(tmp_path, capsys, monkeypatch):
    spec = importlib.util.spec_from_file_location("bench_jsb", Path(__file__).parent.parent / "benchmarks" / "jsb.py")
    bench = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "bench_jsb", bench)  # its dataclass looks its module up there
    spec.loader.exec_module(bench)
    out = tmp_path / "r.json"
    assert bench.main(["--data", str(write(tmp_path, SETS)), "--epochs", "2", "--units", "4", "--embed", "4",
                       "--dense", "4", "--ngram", "2", "--json", str(out),
                       "--results-dir", str(tmp_path / "results")]) == 0
    assert len(list((tmp_path / "results").glob("jsb-*.json"))) == 1  # its record, never in the checkout
    results = json.loads(out.read_text())["results"]
    assert set(results) == {"KN 2-gram, high", "LSTM 2x4, high", "LSTM 2x4, high, transposed -5..+6"}
    for r in results.values():
        assert r["test"]["frames"] == 3 and r["test"]["notes"] == 6 and math.isfinite(r["test"]["per_frame"])
    assert "published" in capsys.readouterr().out

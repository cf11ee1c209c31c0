"""Vocabulary and config: saved with the run and read back unchanged; bad values are named."""

import dataclasses
import json

import pytest

from music_lstm.runs.config import Config
from music_lstm.runs.run_folder import read_config, read_vocab, write_config, write_vocab
from music_lstm.core.errors import RunFolderError
from music_lstm.core.vocab import UNK, Vocab


def test_vocab_is_sorted_with_unk_first_and_maps_unknown_to_zero():
    v = Vocab.from_sequences([["E4", "0.4.7"], ["C4", "E4"]])
    assert v.index_to_symbol == [UNK, "0.4.7", "C4", "E4"]
    assert list(v.encode(["C4", "F#9", "0.4.7"])) == [2, 0, 1]
    assert v.decode([3, 1]) == ["E4", "0.4.7"]


def test_vocab_round_trips_through_json(tmp_path):
    v = Vocab(["b", "a", "c"])
    write_vocab(tmp_path / "vocab.json", v)
    assert json.loads((tmp_path / "vocab.json").read_text())["symbol_to_index"]["a"] == 1
    assert read_vocab(tmp_path / "vocab.json").index_to_symbol == v.index_to_symbol


def test_corrupt_vocab_is_a_run_folder_error(tmp_path):
    (tmp_path / "vocab.json").write_text('{"symbol_to_index": {"a": 5}}')
    with pytest.raises(RunFolderError, match="vocab.json"):
        read_vocab(tmp_path / "vocab.json")


def test_config_round_trips_and_validates(tmp_path):
    cfg = dataclasses.replace(Config(), units=32, seq_len=16)
    write_config(tmp_path / "config.json", cfg)
    assert read_config(tmp_path / "config.json") == cfg
    assert json.loads((tmp_path / "config.json").read_text())["seq_len"] == 16
    with pytest.raises(ValueError, match="dropout"):
        Config(dropout=1.5)
    with pytest.raises(ValueError, match="encoding"):
        Config(encoding="nope")


def test_factors_split_two_part_symbols_and_join_two_softmaxes_into_one_distribution():
    import numpy as np

    from music_lstm.core.vocab import Factors, Vocab

    vocab = Vocab(["0.4.7|1", "0.4.7|1/2", "rest|1", "2.5.9|1"])  # <unk> 0, then sorted
    f = Factors(vocab)
    assert f.first.index_to_symbol == ["<unk>", "0.4.7", "2.5.9", "rest"]
    assert f.second.index_to_symbol == ["<unk>", "1", "1/2"]
    assert [f.first.index_to_symbol[i] for i in f.first_of] == ["<unk>", "0.4.7", "0.4.7", "2.5.9", "rest"]
    p_chord = np.array([[0.0, 0.5, 0.3, 0.2]])
    p_dur = np.array([[0.0, 0.6, 0.4]])
    joint = f.joint(p_chord, p_dur)[0]
    pairs = {s: joint[i] for i, s in enumerate(vocab.index_to_symbol)}
    assert pairs["<unk>"] == 0 and np.isclose(joint.sum(), 1)
    # proportional to p(chord) * p(duration) over the pairs the vocabulary holds
    assert np.isclose(pairs["0.4.7|1"] / pairs["0.4.7|1/2"], 0.6 / 0.4)
    assert np.isclose(pairs["rest|1"] / pairs["2.5.9|1"], 0.2 / 0.3)

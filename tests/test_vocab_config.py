"""Vocabulary and config: saved with the run and read back unchanged; bad values are named."""

import dataclasses
import json

import pytest

from music_lstm.config import Config
from music_lstm.errors import RunFolderError
from music_lstm.vocab import UNK, Vocab


def test_vocab_is_sorted_with_unk_first_and_maps_unknown_to_zero():
    v = Vocab.from_sequences([["E4", "0.4.7"], ["C4", "E4"]])
    assert v.index_to_symbol == [UNK, "0.4.7", "C4", "E4"]
    assert list(v.encode(["C4", "F#9", "0.4.7"])) == [2, 0, 1]
    assert v.decode([3, 1]) == ["E4", "0.4.7"]


def test_vocab_round_trips_through_json(tmp_path):
    v = Vocab(["b", "a", "c"])
    v.save(tmp_path / "vocab.json")
    assert json.loads((tmp_path / "vocab.json").read_text())["symbol_to_index"]["a"] == 1
    assert Vocab.load(tmp_path / "vocab.json").index_to_symbol == v.index_to_symbol


def test_corrupt_vocab_is_a_run_folder_error(tmp_path):
    (tmp_path / "vocab.json").write_text('{"symbol_to_index": {"a": 5}}')
    with pytest.raises(RunFolderError, match="vocab.json"):
        Vocab.load(tmp_path / "vocab.json")


def test_config_round_trips_and_validates(tmp_path):
    cfg = dataclasses.replace(Config(), units=32, seq_len=16)
    cfg.save(tmp_path / "config.json")
    assert Config.load(tmp_path / "config.json") == cfg
    assert json.loads((tmp_path / "config.json").read_text())["seq_len"] == 16
    with pytest.raises(ValueError, match="dropout"):
        Config(dropout=1.5)
    with pytest.raises(ValueError, match="encoding"):
        Config(encoding="nope")

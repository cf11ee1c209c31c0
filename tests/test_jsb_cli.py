"""`train --jsb FILE`: a JSB Chorales file's own splits into a run folder; `evaluate` scores its test split
exactly, as benchmarks/jsb.py does; `generate` refuses; bad input is one line and exit 2.

Every file here is a tiny synthetic one in the benchmark's JSON format, written by the test.
"""

import importlib.util
import json
import math
import sys
from pathlib import Path

import numpy as np
import pytest

from music_lstm.encodings import jsb
from music_lstm.runs import run_folder
from music_lstm.app.cli import main
from music_lstm.runs.config import Config
from music_lstm.core.errors import ConfigError

SETS = {
    "train": [[[60, 64, 67], [62, 65, 69, 74], [], [60, 64, 72]], [[55, 59, 62, 67], [57, 60, 64]] * 3,
              [[60, 64, 67], [62, 67, 71]] * 4],
    "valid": [[[57, 60, 64], [59]] * 2, [[48, 55, 64]]],
    "test": [[[], [48, 60], [60, 64, 67, 72]], [[55, 59, 62]] * 3],
}


def write(tmp_path, obj, name="jsb.json"):
    path = tmp_path / name
    path.write_text(obj if isinstance(obj, str) else json.dumps(obj))
    return path


def one_error_line(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("music_lstm: error: "), err
    return err[0]


def test_jsb_with_data_dir_is_one_line_and_exit_2(tmp_path, capsys):
    path = write(tmp_path, SETS)
    assert main(["train", "--jsb", str(path), "--data-dir", str(tmp_path), "--run-dir", str(tmp_path / "run")]) == 2
    assert "--jsb and --data-dir" in one_error_line(capsys)
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("content, args, says", [
    ('{"train": [[[60]]]}', [], "no 'valid' / 'test' split"),
    ("{not json", [], "not JSON"),
    (SETS, ["--jsb-order", "voices"], "order 'voices' does not fit its sets layout"),
])
def test_a_bad_jsb_file_is_one_line_and_exit_2(tmp_path, capsys, content, args, says):
    path = write(tmp_path, content)
    assert main(["train", "--jsb", str(path), "--run-dir", str(tmp_path / "run"), *args]) == 2
    line = one_error_line(capsys)
    assert str(path) in line and says in line


def test_a_missing_jsb_file_is_one_line_and_exit_2(tmp_path, capsys):
    assert main(["train", "--jsb", str(tmp_path / "none.json"), "--run-dir", str(tmp_path / "run")]) == 2
    assert "no such file" in one_error_line(capsys)


def test_config_refuses_an_unknown_jsb_order():
    with pytest.raises(ConfigError, match="jsb_order"):
        Config(jsb="x.json", jsb_order="sideways")


def test_training_keys_of_a_jsb_file_keep_a_piece_that_a_shift_would_push_out_of_midi(tmp_path):
    from music_lstm.training.train import _jsb_corpus

    data = {**SETS, "train": [[[60, 64]], [[120, 127]]]}
    cfg = Config(jsb=str(write(tmp_path, data)), transpose_low=0, transpose_high=1)
    _, train, valid, variants, vocab, order = _jsb_corpus(cfg, [0, 1])
    assert order == "high" and train == ["train/0", "train/1"] and valid == ["valid/0", "valid/1"]
    assert variants[0] == [["|", "p64", "p60", "|"], ["|", "p65", "p61", "|"]]
    assert variants[1] == [["|", "p127", "p120", "|"]] * 2  # +1 would leave 0..127: the piece as it is
    assert len(vocab) == len(jsb.vocabulary("high")) + 1  # every writable token, and <unk>


def bench_module(monkeypatch):
    spec = importlib.util.spec_from_file_location("bench_jsb", Path(__file__).parent.parent / "benchmarks" / "jsb.py")
    bench = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "bench_jsb", bench)  # its dataclass looks its module up there
    spec.loader.exec_module(bench)
    return bench


@pytest.mark.slow
def test_train_jsb_uses_the_files_splits_and_evaluate_scores_its_test_split_as_the_benchmark(tmp_path, capsys, monkeypatch):
    path, run = write(tmp_path, SETS), tmp_path / "run"
    assert main(["train", "--jsb", str(path), "--jsb-order", "low", "--run-dir", str(run), "--epochs", "2",
                 "--units", "4", "--embed-dim", "4", "--seq-len", "8"]) == 0

    # The file's splits as given: every train sequence trains, every valid one validates, none of test is used.
    train, valid = run_folder.read_split(run)
    assert train == ["train/0", "train/1", "train/2"] and valid == ["valid/0", "valid/1"]
    cfg = run_folder.read_config(run / run_folder.CONFIG)
    assert cfg.jsb == str(path.resolve()) and cfg.jsb_order == "low"
    vocab = run_folder.read_vocab(run / run_folder.VOCAB)
    assert vocab.index_to_symbol[1:] == sorted(jsb.vocabulary("low"))  # no test token is unknown
    corpus = run_folder.load_corpus(run / run_folder.CORPUS)
    for part, split in (("train", "train"), ("val", "valid")):
        want = [vocab.encode(jsb.encode_sequence(seq, "low")) for seq in jsb.read_jsb(path).splits[split]]
        assert [list(ids) for ids in corpus[part]] == [list(ids) for ids in want]
    capsys.readouterr()

    assert main(["evaluate", "--run-dir", str(run)]) == 0
    out = capsys.readouterr().out
    test = run_folder.read_json(run / run_folder.EVALUATION)["jsb_test"]
    assert test["frames"] == 6 and test["notes"] == 15 and test["sequences"] == 2 and test["order"] == "low"
    assert f"{test['per_frame']:.4f} nats per frame" in out and f"{test['per_note']:.4f} per note" in out

    # The benchmark's own scoring of the same model on the same test split gives the same figure.
    bench = bench_module(monkeypatch)
    model = run_folder.load_model(run / run_folder.MODEL)
    bcorpus = bench.make_corpus(jsb.read_jsb(path), "low", [0])
    want = bench.score(bench.sequence_probs(model, [bcorpus.vocab.encode(t) for t in bcorpus.test]), bcorpus.test, bcorpus)
    assert test["per_frame"] == pytest.approx(want["per_frame"], rel=1e-6)
    # ... and so does the network read whole, sequence by sequence, summed frame by frame.
    nll = 0.0
    for tokens in bcorpus.test:
        ids = vocab.encode(tokens)
        probs = np.asarray(model(ids[None, :-1], training=False))[0]  # (steps, vocab)
        nll += jsb.frame_nll(probs, tokens, "low", vocab.symbol_to_index).sum()
    assert test["per_frame"] == pytest.approx(nll / 6, rel=1e-5) and math.isfinite(nll)

    assert main(["generate", "--run-dir", str(run), "--output-dir", str(tmp_path)]) == 2
    assert "JSB" in one_error_line(capsys)
    assert not list(tmp_path.glob("*.mid"))

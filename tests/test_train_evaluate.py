"""A tiny run with transposition: held-out evaluation, --resume with optimizer state, Ctrl-C, curves.
(A real SIGINT to a training process: test_run_folder.py.)"""

import json
import math
import shutil
from pathlib import Path

import numpy as np
import pytest

from music_lstm.app.cli import main

pytestmark = pytest.mark.slow


@pytest.fixture
def run2(tiny_run):
    """The session's tiny seed run (two epochs, transposed -2..2): each test below copies it before changing it."""
    return tiny_run("seed")[:2]


def _copy(run, tmp_path):
    dest = tmp_path / "run"
    shutil.copytree(run, dest)
    return dest


def _no_temporaries(run):
    return not [p.name for p in Path(run).iterdir() if p.name.startswith(".")]


def test_training_pieces_are_transposed_and_validation_pieces_are_not(run2):
    from music_lstm.core.keys import key_shift
    from music_lstm.io.corpus import load_folder
    from music_lstm.encodings import get
    from music_lstm.runs.run_folder import load_corpus, read_vocab

    data, run = run2
    split = json.loads((run / "split.json").read_text())
    pieces = load_folder(data, workers=1, log=lambda m: None).pieces
    vocab = read_vocab(run / "vocab.json")
    corpus = load_corpus(run / "corpus.npz")
    keyed = dict(zip(split["train"] + split["validation"], [*corpus["train_shifts"], *corpus["val_shifts"]]))
    assert keyed == {n: key_shift(pieces[n]) for n in keyed}  # each piece first moved to C's key signature (the default)
    moved = {s for n in split["train"] for k in (-2, 2) for s in get("seed").encode(pieces[n].transpose(keyed[n] + k))}
    assert moved <= set(vocab.index_to_symbol)  # the vocabulary covers every transposed training symbol
    assert [v.tolist() for v in corpus["val"]] == [
        vocab.encode(get("seed").encode(pieces[n].transpose(keyed[n]))).tolist() for n in split["validation"]]


def test_history_png_and_checkpoint_are_written_each_epoch(run2):
    _, run = run2
    assert (run / "history.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    history = json.loads((run / "history.json").read_text())
    assert [h["epoch"] for h in history] == [1, 2]
    assert all({"loss", "val_loss", "learning_rate", "seconds"} <= set(h) for h in history)
    assert history[1]["seconds"] > history[0]["seconds"] > 0
    assert json.loads((run / "train_state.json").read_text())["epoch"] == 2
    assert (run / "checkpoint.keras").is_file() and _no_temporaries(run)


def test_evaluate_scores_model_and_baselines_exactly(run2, tmp_path, capsys):
    import keras

    from music_lstm.runs.run_folder import load_corpus, read_vocab

    _, run = run2
    run = _copy(run, tmp_path)
    assert main(["evaluate", "--run-dir", str(run)]) == 0
    out = capsys.readouterr().out
    assert all(name in out for name in ("lstm", "kn_bigram", "kn_trigram", "perplexity", "top-5"))
    report = json.loads((run / "evaluation.json").read_text())
    val = load_corpus(run / "corpus.npz")["val"]
    assert report["pieces"] == len(val) and report["targets"] == sum(len(v) - 1 for v in val)
    # The model's cross-entropy, recomputed piece by piece (no batching, no padding) by hand.
    model = keras.saving.load_model(run / "model.keras", compile=False)
    nll, n = 0.0, 0
    for piece in val:
        probs = np.asarray(model(piece[None, :-1], training=False))[0]
        keep = piece[1:] != 0
        nll -= np.log(probs[np.arange(len(piece) - 1), piece[1:]][keep]).sum()
        n += keep.sum()
    lstm = report["models"]["lstm"]
    assert lstm["symbols"] == n and lstm["cross_entropy"] == pytest.approx(nll / n, rel=1e-5)
    assert lstm["perplexity"] == pytest.approx(math.exp(nll / n), rel=1e-5)
    # per quarter note of the held-out music: the same NLL over the decoded pieces' length
    from music_lstm.runs.run_folder import read_config

    encoding = read_config(run / "config.json").encoder()
    quarters = sum(encoding.decode(read_vocab(run / "vocab.json").decode(p)).end for p in val)
    assert quarters > 0 and lstm["bits_per_quarter"] == pytest.approx(nll / math.log(2) / quarters, rel=1e-5)
    assert "bits/quarter" in out
    for m in report["models"].values():
        assert 0 <= m["top1"] <= m["top5"] <= 1 and m["perplexity"] < report["vocab_size"] * 10


def test_evaluate_without_a_run_is_one_line_error(tmp_path, capsys):
    assert main(["evaluate", "--run-dir", str(tmp_path / "nothing")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no such run folder" in err[0]


def test_resume_continues_the_epochs_with_the_optimizer_state(run2, tmp_path):
    import keras

    _, run = run2
    run = _copy(run, tmp_path)
    before = int(keras.saving.load_model(run / "checkpoint.keras").optimizer.iterations)
    assert before > 0  # the checkpoint carries Adam's step count (and moments)
    assert main(["train", "--resume", "--run-dir", str(run), "--epochs", "3", "--max-minutes", "0"]) == 0
    history = json.loads((run / "history.json").read_text())
    assert [h["epoch"] for h in history] == [1, 2, 3]
    after = int(keras.saving.load_model(run / "checkpoint.keras").optimizer.iterations)
    assert after == before * 3 // 2  # one more epoch of the same number of steps, counted on from before
    assert json.loads((run / "config.json").read_text())["transpose_low"] == -2  # the run's own settings


def test_resume_without_checkpoint_is_one_line_error(tmp_path, capsys):
    (tmp_path / "r").mkdir()
    assert main(["train", "--resume", "--run-dir", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no checkpoint to resume from" in err[0]


def test_interrupt_mid_epoch_keeps_the_best_model_and_resume_picks_up(run2, tmp_path):
    import keras

    from music_lstm.runs.config import Config
    from music_lstm.training.train import train

    data, _ = run2

    class CtrlC(keras.callbacks.Callback):  # what SIGINT does: KeyboardInterrupt inside fit
        def on_train_batch_end(self, batch, logs=None):
            if self.params and batch == 1 and self._epoch == 1:
                raise KeyboardInterrupt

        def on_epoch_begin(self, epoch, logs=None):
            self._epoch = epoch

    run = tmp_path / "run"
    cfg = Config(units=16, embed_dim=8, seq_len=16, batch_size=8, max_minutes=0, epochs=5, transpose_low=-2, transpose_high=2)
    logs = []
    with pytest.raises(KeyboardInterrupt):
        train(cfg, data, run, workers=1, verbose=0, callbacks=[CtrlC()], log=logs.append)
    assert any("stopped after epoch 1" in m and "--resume" in m for m in logs)
    assert _no_temporaries(run)
    model = keras.saving.load_model(run / "model.keras")
    assert np.allclose(np.asarray(model(np.ones((1, 4), "int32"))).sum(-1), 1, atol=1e-4)  # usable
    assert main(["generate", "--run-dir", str(run), "--output", str(tmp_path / "g.mid"), "--length", "8"]) == 0
    assert main(["train", "--resume", "--run-dir", str(run), "--epochs", "2", "--max-minutes", "0"]) == 0
    assert [h["epoch"] for h in json.loads((run / "history.json").read_text())] == [1, 2]

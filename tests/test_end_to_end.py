"""Train a tiny model on synthetic pieces, generate from its run folder, and drive the CLI."""

import json
import subprocess
import sys

import numpy as np
import pytest

from music_lstm.io import midi_read
from music_lstm.app.cli import main

pytestmark = pytest.mark.slow


@pytest.fixture
def trained(tiny_run):
    """The session's tiny seed run, trained on six pieces and a broken file (training is the slow part)."""
    return tiny_run("seed")


def test_train_fills_the_run_folder(trained):
    _, run, _ = trained
    for name in ["model.keras", "vocab.json", "config.json", "history.json", "split.json", "corpus.npz"]:
        assert (run / name).is_file(), name
    split = json.loads((run / "split.json").read_text())
    assert len(split["validation"]) == 2 and len(split["train"]) == 4  # --val-fraction 0.34 of six pieces
    assert not set(split["train"]) & set(split["validation"])
    assert "broken.mid" not in split["train"] + split["validation"]
    assert json.loads((run / "config.json").read_text())["seq_len"] == 16
    history = json.loads((run / "history.json").read_text())
    assert len(history) == 2 and "val_loss" in history[0]


def test_saved_model_honours_the_contract(trained):
    import keras

    run = trained.run
    model = keras.saving.load_model(run / "model.keras")
    vocab = json.loads((run / "vocab.json").read_text())["symbol_to_index"]
    probs = np.asarray(model(np.ones((2, 7), "int32")))
    assert probs.shape == (2, 7, len(vocab))
    assert np.allclose(probs.sum(-1), 1, atol=1e-4)


def test_bad_file_is_skipped_and_counted(trained):
    log = trained.log
    assert "skipped" in log and "broken.mid" in log and "6 files used, 1 skipped" in log


def test_generate_writes_midi_and_same_seed_gives_same_piece(trained, tmp_path):
    run = trained.run
    a, b, c = tmp_path / "a.mid", tmp_path / "b.mid", tmp_path / "c.mid"
    for out, seed in [(a, 5), (b, 5), (c, 6)]:
        assert main(["generate", "--run-dir", str(run), "--output", str(out), "--length", "40", "--seed", str(seed)]) == 0
    assert a.read_bytes() == b.read_bytes()
    assert a.read_bytes() != c.read_bytes()
    notes = midi_read.read_midi(a).notes
    onsets = sorted({o for o, _, _ in notes})
    assert len(onsets) == 40 and np.allclose(np.diff(onsets), 0.5)


def test_generate_with_primer_and_many_outputs(trained, tmp_path):
    data, run, _ = trained
    rc = main(["generate", "--run-dir", str(run), "--output-dir", str(tmp_path), "--num-outputs", "3",
               "--length", "10", "--primer", str(data / "piece0.mid"), "--include-primer", "--seed", "1"])
    assert rc == 0
    outs = sorted(tmp_path.glob("generated_midi_*.mid"))
    assert [p.name for p in outs] == ["generated_midi_1.mid", "generated_midi_2.mid", "generated_midi_3.mid"]
    assert len({o for o, _, _ in midi_read.read_midi(outs[0]).notes}) > 10  # primer written too


def test_mismatched_vocab_is_one_line_error(trained, tmp_path, capsys):
    import shutil

    run = trained.run
    bad = tmp_path / "bad_run"
    shutil.copytree(run, bad)
    table = json.loads((bad / "vocab.json").read_text())["symbol_to_index"]
    table["extra-symbol"] = len(table)
    (bad / "vocab.json").write_text(json.dumps({"symbol_to_index": table}))
    assert main(["generate", "--run-dir", str(bad), "--output", str(tmp_path / "x.mid")]) != 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "vocab.json" in err[0] and "Traceback" not in err[0]
    assert not (tmp_path / "x.mid").exists()


def test_missing_folder_and_empty_folder_exit_non_zero_with_one_line(tmp_path, capsys):
    assert main(["train", "--data-dir", str(tmp_path / "nowhere"), "--run-dir", str(tmp_path / "r")]) == 2
    assert "no such folder" in capsys.readouterr().err
    (tmp_path / "junk").mkdir()
    (tmp_path / "junk" / "a.mid").write_bytes(b"")
    assert main(["train", "--data-dir", str(tmp_path / "junk"), "--run-dir", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert "no usable MIDI file" in err and "Traceback" not in err


def test_primer_starts_the_piece_and_include_primer_writes_its_notes(trained, tmp_path, monkeypatch):
    from music_lstm import encodings
    from music_lstm.models import stepper
    from music_lstm.runs.run_folder import load_run

    data, run, _ = trained
    loaded = load_run(run)
    primer = data / "piece0.mid"
    symbols = encodings.get("chords").encode(midi_read.read_midi(primer))
    prompts = []
    prime = stepper.LSTMStepper.prime
    monkeypatch.setattr(stepper.LSTMStepper, "prime", lambda self, prompt: prompts.append(prompt.copy()) or prime(self, prompt))
    assert main(["generate", "--run-dir", str(run), "--output", str(tmp_path / "alone.mid"), "--length", "12",
                 "--primer", str(primer), "--seed", "3"]) == 0
    assert prompts[0][0].tolist() == loaded.vocab.encode(symbols)[-loaded.config.seq_len:].tolist()  # the primer's symbols

    assert main(["generate", "--run-dir", str(run), "--output", str(tmp_path / "with.mid"), "--length", "12",
                 "--primer", str(primer), "--include-primer", "--seed", "3"]) == 0
    primer_notes = encodings.get("chords").decode(symbols).notes  # the primer as this encoding writes it
    end = max(o + d for o, d, _ in primer_notes)
    written = midi_read.read_midi(tmp_path / "with.mid").notes
    head = sorted((round(o, 3), p) for o, _, p in written if o < end - 1e-6)
    assert head == sorted((round(o, 3), p) for o, _, p in primer_notes)  # the primer's notes open the piece
    alone = midi_read.read_midi(tmp_path / "alone.mid").notes
    assert sorted((round(o - end, 3), p) for o, _, p in written if o >= end - 1e-6) == sorted((round(o, 3), p) for o, _, p in alone)


def test_trained_model_loads_in_a_fresh_interpreter_that_never_imports_music_lstm(trained):
    run = trained.run
    code = ("import sys, keras, numpy as np; m = keras.saving.load_model(sys.argv[1], compile=False); "
            "p = np.asarray(m(np.ones((1, 5), 'int32'))); assert abs(p.sum(-1) - 1).max() < 1e-4; "
            "assert not any(k.startswith('music_lstm') for k in sys.modules); print(m.layers[1].__class__.__name__)")
    out = subprocess.run([sys.executable, "-c", code, str(run / "model.keras")], capture_output=True, text=True, cwd=run)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "LSTM"


def test_tensorflow_start_up_lines_are_hidden_unless_verbose(trained, tmp_path):
    run = trained.run
    command = [sys.executable, "-m", "music_lstm", "generate", "--run-dir", str(run), "--length", "5",
               "--output", str(tmp_path / "q.mid")]
    env = {k: v for k, v in __import__("os").environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}  # as a user has it
    out = subprocess.run(command, capture_output=True, text=True, env=env)
    assert out.returncode == 0, out.stderr[-2000:]
    chatter = [line for line in out.stderr.splitlines() if line[:5] in ("I0000", "E0000", "W0000") or "absl::" in line]
    assert not chatter, chatter

"""A run folder survives a training process killed mid-epoch; a run folder with a missing, corrupt or
mismatched file makes `generate` say which file, in one line, with a non-zero exit."""

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from midi_bytes import chorale

from music_lstm.io import midi_read
from music_lstm.app.cli import main

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parent.parent
TINY = ["--encoding", "seed", "--units", "8", "--embed-dim", "4", "--seq-len", "8", "--max-minutes", "0", "--workers", "1"]


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    root = tmp_path_factory.mktemp("runfolder")
    data = root / "midi"
    data.mkdir()
    for k in range(4):
        chorale(data / f"p{k}.mid", bars=3, shift=k)
    run = root / "run"
    assert main(["train", "--data-dir", str(data), "--run-dir", str(run), "--epochs", "1", *TINY]) == 0
    return run


def damage(run: Path, tmp_path: Path, what: str) -> Path:
    bad = tmp_path / "bad_run"
    shutil.copytree(run, bad)
    kind, name = what.split(":")
    if kind == "missing":
        (bad / name).unlink()
    elif kind == "corrupt":
        (bad / name).write_bytes(b"\x00garbage\xff" * 10)
    elif name == "vocab.json":  # one symbol more than the model predicts
        table = json.loads((bad / name).read_text())["symbol_to_index"]
        table["extra-symbol"] = len(table)
        (bad / name).write_text(json.dumps({"symbol_to_index": table}))
    elif name == "corpus.npz":  # ids from some other, larger vocabulary
        with np.load(bad / name) as z:
            arrays = dict(z)
        arrays["train_ids"] = arrays["train_ids"] + 1000
        np.savez(bad / name, **arrays)
    return bad


CASES = [f"{kind}:{name}" for kind in ("missing", "corrupt") for name in
         ("config.json", "vocab.json", "model.keras", "corpus.npz")] + ["mismatch:vocab.json", "mismatch:corpus.npz"]


@pytest.mark.parametrize("what", CASES)
def test_generate_names_the_bad_file_in_one_line(run, tmp_path, capsys, what):
    bad = damage(run, tmp_path, what)
    out = tmp_path / "x.mid"
    assert main(["generate", "--run-dir", str(bad), "--output", str(out), "--length", "5"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    name = what.split(":")[1]
    assert len(err) == 1 and err[0].startswith("music_lstm: error: ") and name in err[0], err
    assert not out.exists()


def test_generate_on_a_corrupt_model_prints_one_line_from_the_command_line(run, tmp_path):
    bad = damage(run, tmp_path, "corrupt:model.keras")
    out = subprocess.run([sys.executable, "-m", "music_lstm", "generate", "--run-dir", str(bad), "--output",
                          str(tmp_path / "x.mid")], capture_output=True, text=True, cwd=ROOT,
                         env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert out.returncode == 2
    # TensorFlow's C++ start-up notices (printed on import, before its logging can be set) are not counted.
    lines = [line for line in out.stderr.splitlines() if line.startswith("music_lstm")]
    assert len(lines) == 1 and "model.keras: damaged" in lines[0] and "Traceback" not in out.stderr


def test_training_killed_mid_epoch_leaves_a_run_that_generates(tmp_path):
    data = tmp_path / "midi"
    data.mkdir()
    for k in range(4):
        chorale(data / f"p{k}.mid", bars=12, shift=k)  # enough windows that an epoch takes a moment
    run = tmp_path / "run"
    cmd = [sys.executable, "-m", "music_lstm", "train", "--data-dir", str(data), "--run-dir", str(run),
           "--epochs", "1000", "--batch-size", "2", "--patience", "1000", *TINY]
    proc = subprocess.Popen(cmd, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 240
        while not ((run / "model.keras").exists() and (run / "history.json").exists()):  # the first epoch's end
            assert proc.poll() is None, "training ended before its first epoch did"
            assert time.monotonic() < deadline, "no epoch finished in time"
            time.sleep(0.05)
        epochs = len(json.loads((run / "history.json").read_text()))
        time.sleep(0.3)  # into the next epoch
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == -signal.SIGKILL
    assert len(json.loads((run / "history.json").read_text())) < 1000
    assert epochs >= 1
    out = tmp_path / "after_kill.mid"
    assert main(["generate", "--run-dir", str(run), "--output", str(out), "--length", "12", "--seed", "0"]) == 0
    assert len({o for o, _, _ in midi_read.read_midi(out).notes}) == 12


def test_an_atomic_write_that_fails_midway_leaves_the_old_file_whole(tmp_path, monkeypatch):
    from music_lstm.runs import run_folder

    path = tmp_path / "config.json"
    run_folder.write_json(path, {"old": True})
    before = path.read_bytes()

    def write_half_then_fail(self, text, *a, **kw):  # the disk fills up halfway through the new file
        with open(self, "w") as f:
            f.write(text[: len(text) // 2])
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Path, "write_text", write_half_then_fail)
    with pytest.raises(OSError):
        run_folder.write_json(path, {"new": list(range(100))})
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["config.json"]  # and no temporary file left

    def no_rename(src, dst):
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(os, "replace", no_rename)
    with pytest.raises(OSError):
        run_folder.write_json(path, {"new": 1})
    monkeypatch.undo()
    assert path.read_bytes() == before and [p.name for p in tmp_path.iterdir()] == ["config.json"]

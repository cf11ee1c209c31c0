"""A run folder survives a training process stopped by a signal, mid-epoch or in the middle of writing a
file: each file whole, none half-written in its place; a run folder with a missing, corrupt or mismatched
file makes `generate` say which file, in one line, with a non-zero exit."""

import json
import os
import queue
import shutil
import signal
import subprocess
import sys
import threading
import zipfile
from pathlib import Path

import numpy as np
import pytest

from music_lstm.io import midi_read
from music_lstm.app.cli import main

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def run(tiny_run):
    return tiny_run("seed").run  # copied by `damage` before any change


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


# A training process that says on stdout where it stands ("batch EPOCH BATCH" at each batch's end) and,
# while it writes the second epoch's checkpoint, halts half-way ("writing TEMPORARY-PATH": the archive's
# config is on disk, its weights are not) until its stdin closes, answering "still writing" to each line:
# so the test signals it at a moment it knows, not after a guessed sleep.
TRAINER = r"""
import sys
from keras.src.saving import saving_lib
from music_lstm.training import callbacks
from music_lstm.app.cli import main

def say(*words):
    print(*words, flush=True)

callbacks.Checkpointer.on_train_batch_end = lambda self, batch, logs=None: say("batch", self.epochs_done + 1, batch + 1)
writing, checkpoints = [], []
real_file, real_state = saving_lib._save_model_to_fileobj, saving_lib._save_state

def save_file(model, fileobj, *a, **kw):
    writing.append(fileobj)
    try:
        return real_file(model, fileobj, *a, **kw)
    finally:
        writing.pop()

def save_state(*a, **kw):
    if writing and kw.get("inner_path") == "" and ".checkpoint.keras." in writing[-1].name:
        checkpoints.append(writing[-1].name)
        if len(checkpoints) == 2:
            writing[-1].flush()
            say("writing", writing[-1].name)
            for _ in sys.stdin:
                say("still writing")
    return real_state(*a, **kw)

saving_lib._save_model_to_fileobj, saving_lib._save_state = save_file, save_state
sys.exit(main(sys.argv[1:]))
"""


class Trainer:
    """`TRAINER` training into `run` in a child process; its stdout lines read as they come."""

    def __init__(self, data, run, tmp_path, tiny):
        self.err = tmp_path / "stderr.txt"  # a file: a full stderr pipe would stall the child
        with open(self.err, "w") as err:
            self.proc = subprocess.Popen(
                [sys.executable, "-c", TRAINER, "train", "--data-dir", str(data), "--run-dir", str(run),
                 *tiny("--encoding", "seed", "--seq-len", "16", "--batch-size", "2", "--epochs", "1000", "--patience", "1000")],
                cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, stdin=subprocess.PIPE,
                stdout=subprocess.PIPE, stderr=err, text=True)  # patience 1000: only the signal stops it
        self.lines = queue.Queue()
        threading.Thread(target=lambda: [self.lines.put(line.strip()) for line in self.proc.stdout], daemon=True).start()

    def wait_for(self, start: str) -> str:
        while True:
            try:
                line = self.lines.get(timeout=240)
            except queue.Empty:
                pytest.fail(f"no line {start!r} in time; stderr: {self.err.read_text()[-3000:]}")
            if line.startswith(start):
                return line

    def end(self) -> int:
        try:
            return self.proc.wait(timeout=240)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()


def _temporaries(run: Path) -> list[str]:
    return sorted(p.name for p in run.iterdir() if p.name.startswith("."))


def _state_epoch(run: Path) -> int:
    """The epoch `train_state.json` says training has finished (what --resume carries on from)."""
    return json.loads((run / "train_state.json").read_text())["epoch"]


def _loads(path: Path):
    import keras

    return keras.saving.load_model(path)  # raises on a half-written archive


@pytest.mark.parametrize("stop", ["mid-epoch", "twice ctrl-c while writing", "kill while writing"])
def test_a_signal_to_training_leaves_every_file_whole_and_a_run_that_generates(tiny_run, tmp_path, tiny, stop):
    run = tmp_path / "run"
    trainer = Trainer(tiny_run("seed").data, run, tmp_path, tiny)
    try:
        if stop == "mid-epoch":
            trainer.wait_for("batch 2 2")  # the first epoch saved, the second under way (of some 8 batches)
            trainer.proc.send_signal(signal.SIGINT)  # Ctrl-C: stop at this batch's end
        else:
            temporary = Path(trainer.wait_for("writing ").split(" ", 1)[1])
            # caught in the middle: epoch 1's checkpoint in place, epoch 2's half written beside it
            assert temporary.parent == run and temporary.stat().st_size > 0 and not zipfile.is_zipfile(temporary)
            assert _state_epoch(run) == 1 and _loads(run / "checkpoint.keras")
            if stop == "kill while writing":
                trainer.proc.send_signal(signal.SIGKILL)
            else:
                trainer.proc.send_signal(signal.SIGINT)
                trainer.proc.stdin.write("\n")
                trainer.proc.stdin.flush()
                trainer.wait_for("still writing")  # the first Ctrl-C was handled: it only asks for a stop
                trainer.proc.send_signal(signal.SIGINT)  # the second stops at once, mid-write
        trainer.proc.stdin.close()
        code = trainer.end()
    finally:
        if trainer.proc.poll() is None:
            trainer.proc.kill()
    err = trainer.err.read_text()
    history = [h["epoch"] for h in json.loads((run / "history.json").read_text())]
    if stop == "kill while writing":
        assert code == -signal.SIGKILL
        assert _temporaries(run) == [temporary.name]  # no clean-up after a kill, but only beside the checkpoint
        assert _state_epoch(run) == 1
    else:
        assert code == 130, err[-3000:]
        assert "Traceback" not in err and "music_lstm: interrupted" in err
        assert _temporaries(run) == []  # the half-written file is removed
        said = int(err.split("stopped after epoch ")[1].split(":")[0])
        assert f"{run / 'model.keras'} holds the best model so far" in err and "train --resume" in err
        if stop == "twice ctrl-c while writing":
            # epoch 2's checkpoint was never finished: the state and checkpoint are epoch 1's, the history ran ahead
            assert _state_epoch(run) == 1 and history == [1, 2]
        else:  # stopped at the batch's end: the epoch recorded, its files written whole
            assert _state_epoch(run) == said == 2 and history == [1, 2]
    assert _loads(run / "model.keras") and _loads(run / "checkpoint.keras")
    out = tmp_path / "after.mid"
    assert main(["generate", "--run-dir", str(run), "--output", str(out), "--length", "12", "--seed", "0"]) == 0
    assert len({o for o, _, _ in midi_read.read_midi(out).notes}) == 12
    if stop != "mid-epoch":  # and training carries on from the last whole checkpoint
        assert main(["train", "--resume", "--run-dir", str(run), "--epochs", str(_state_epoch(run) + 1)]) == 0
        assert [h["epoch"] for h in json.loads((run / "history.json").read_text())] == list(range(1, _state_epoch(run) + 1))


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

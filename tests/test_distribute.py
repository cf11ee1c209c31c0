"""Distributed training: who writes the run folder, TF_CONFIG errors, the cuDNN-ready LSTMs, and real
runs with MirroredStrategy over two CPU devices and with two worker processes (the example in docs/CLI.md)."""

import contextlib
import json
import os
import re
import shlex
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import tiny_flags

from music_lstm.training import distribute
from music_lstm.io import midi_read
from music_lstm.app.cli import main
from music_lstm.core.errors import MusicLSTMError

ROOT = Path(__file__).parent.parent
ONE_EPOCH = ("--encoding", "seed", "--epochs", "1", "--seq-len", "16", "--dropout", "0")  # no dropout noise
TINY = tiny_flags(*ONE_EPOCH)


def tf_config(addresses, index, kind="worker"):
    return json.dumps({"cluster": {"worker": addresses}, "task": {"type": kind, "index": index}})


def test_worker_0_is_chief_and_writes_the_run_folder_others_a_temporary_one(tmp_path, monkeypatch):
    addresses = ["127.0.0.1:1", "127.0.0.1:2"]
    monkeypatch.setenv("TF_CONFIG", tf_config(addresses, 0))
    assert distribute.is_chief("multiworker")
    with distribute.writable_run_dir(tmp_path / "run", "multiworker") as d:
        assert d == tmp_path / "run"
    monkeypatch.setenv("TF_CONFIG", tf_config(addresses, 1))
    monkeypatch.setenv("TMPDIR", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    monkeypatch.setattr("tempfile.tempdir", None)  # let tempfile read TMPDIR again
    assert not distribute.is_chief("multiworker")
    assert distribute.is_chief("mirrored") and distribute.is_chief("none")  # TF_CONFIG only counts for multiworker
    with distribute.writable_run_dir(tmp_path / "run", "multiworker") as d:
        assert d.parent == tmp_path / "tmp" and d.is_dir()
        (d / "model.keras").write_text("x")
    assert not d.exists() and not (tmp_path / "run").exists()


def test_a_separate_chief_task_is_the_chief_and_worker_0_is_not(monkeypatch):
    conf = {"cluster": {"chief": ["h:1"], "worker": ["h:2", "h:3"]}}
    monkeypatch.setenv("TF_CONFIG", json.dumps({**conf, "task": {"type": "chief", "index": 0}}))
    assert distribute.is_chief("multiworker")
    monkeypatch.setenv("TF_CONFIG", json.dumps({**conf, "task": {"type": "worker", "index": 0}}))
    assert not distribute.is_chief("multiworker")


@pytest.mark.parametrize("value, says", [
    (None, "not set"),
    ("{not json", "not a valid cluster"),
    ('{"cluster": {"worker": ["h:1"]}}', "not a valid cluster"),
    ('{"cluster": {"worker": ["h:1"]}, "task": {"type": "worker", "index": 3}}', "not in the cluster"),
    ('{"cluster": {"worker": ["h:1"]}, "task": {"type": "evaluator", "index": 0}}', "not supported"),
])
def test_bad_tf_config_is_one_line_error_before_any_work(tmp_path, monkeypatch, capsys, value, says):
    if value is None:
        monkeypatch.delenv("TF_CONFIG", raising=False)
    else:
        monkeypatch.setenv("TF_CONFIG", value)
    with pytest.raises(MusicLSTMError, match=says):
        distribute.task()
    rc = main(["train", "--distribute", "multiworker", "--data-dir", str(tmp_path / "nowhere"),
               "--run-dir", str(tmp_path / "run")])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and "TF_CONFIG" in err[0] and says in err[0]
    assert not (tmp_path / "run").exists()


def test_unknown_strategy_is_refused():
    with pytest.raises(ValueError, match="distribute"):
        distribute.strategy_for("parameter-server")
    assert main(["train", "--distribute", "parameter-server"]) == 2  # one line, before any work


def test_lstm_layers_keep_the_configuration_that_allows_the_cudnn_kernel():
    import keras

    from music_lstm.runs.config import Config
    from music_lstm.models.model import build_model

    model = build_model(11, Config(units=8, embed_dim=4, dense_units=8))
    lstms = [layer for layer in model.layers if isinstance(layer, keras.layers.LSTM)]
    assert len(lstms) == 2
    for layer in lstms:
        assert layer.activation is keras.activations.tanh, layer.name
        assert layer.recurrent_activation is keras.activations.sigmoid, layer.name
        assert layer.recurrent_dropout == 0 and not layer.unroll and layer.use_bias, layer.name
        assert layer.use_cudnn in ("auto", True), layer.name
    assert not model.get_layer("embedding").mask_zero  # a mask with gaps would also rule cuDNN out


def _child_env(**extra):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]), **extra)
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    return env


def _generates(run, tmp_path):
    from music_lstm.tasks.generate import generate

    paths = generate(run, tmp_path / "out.mid", length=12, seed=0)
    assert len({o for o, _, _ in midi_read.read_midi(paths[0]).notes}) == 12


# Logical CPU devices must be configured before TensorFlow initialises: hence a fresh process.
TWO_CPUS = """
import sys, tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
from music_lstm.app.cli import main
sys.exit(main(sys.argv[1:]))
"""


@pytest.mark.slow
def test_mirrored_over_two_cpu_devices_trains_a_run_folder_that_generates(corpus_dir, tmp_path):
    run = tmp_path / "run"
    out = subprocess.run(
        [sys.executable, "-c", TWO_CPUS, "train", "--distribute", "mirrored", "--data-dir", str(corpus_dir),
         "--run-dir", str(run), *TINY],
        capture_output=True, text=True, env=_child_env(), timeout=300,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    assert "mirrored: 2 replicas, 8 windows each, 16 a step" in out.stderr
    assert len(json.loads((run / "history.json").read_text())) == 1
    _generates(run, tmp_path)


def readme_workers():
    """(TF_CONFIG, command arguments) of each worker in the multi-machine example of docs/CLI.md."""
    text = (ROOT / "docs" / "CLI.md").read_text(encoding="utf-8")
    found = re.findall(r"TF_CONFIG='([^']*)' \\\n\s*python -m music_lstm ([^&\n]*)", text)
    return [(json.loads(conf), shlex.split(args)) for conf, args in found]


@contextlib.contextmanager
def _held_ports(n):
    """`n` free ports, held (bound) until the block ends, so no other process takes one while the cluster
    is set up. TensorFlow's gRPC server refuses SO_REUSEPORT, so the block must end just before the workers
    start; a port taken in the moment after is caught by `_start_cluster`, which tries again."""
    socks = [socket.socket() for _ in range(n)]
    try:
        for s in socks:
            s.bind(("127.0.0.1", 0))
        yield [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def _start_cluster(workers, corpus_dir, tmp_path):
    """Start every worker of the cluster on held ports; returns the processes and their stderr."""
    tmp_path.mkdir()
    procs = []
    with _held_ports(len(workers)) as ports:
        addresses = [f"127.0.0.1:{p}" for p in ports]
        commands = []
        for i, (conf, args) in enumerate(workers):
            conf["cluster"]["worker"] = addresses
            args = _with(_with(args, "--data-dir", str(corpus_dir)), "--run-dir", str(tmp_path / f"run{i}"))
            (tmp_path / f"tmp{i}").mkdir()
            env = _child_env(TF_CONFIG=json.dumps(conf), TMPDIR=str(tmp_path / f"tmp{i}"))
            budget = ["--epochs", "3", "--max-minutes", "60" if i == 0 else "0.0001"]
            commands.append(([sys.executable, "-m", "music_lstm", *args, *TINY, *budget], env))
    # released here, the moment before the workers start and bind them
    try:
        for command, env in commands:
            procs.append(subprocess.Popen(command, env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
        errs = [p.communicate(timeout=300)[1] for p in procs]
    finally:
        for p in procs:
            p.kill()
    return procs, errs


def test_held_ports_cannot_be_taken_by_another_process_until_released():
    with _held_ports(2) as ports:
        assert len(set(ports)) == 2
        for port in ports:
            other = socket.socket()
            with pytest.raises(OSError):
                other.bind(("127.0.0.1", port))  # a plain bind, as another program would: refused
            other.close()
    again = socket.socket()
    again.bind(("127.0.0.1", ports[0]))  # released once the block ends
    again.close()


def _with(args, flag, value):
    """`args` with `flag` set to `value` (replaced if present, else appended)."""
    args = list(args)
    if flag in args:
        args[args.index(flag) + 1] = value
        return args
    return args + [flag, value]


def test_readme_example_is_two_workers_of_one_cluster():
    workers = readme_workers()
    assert [c["task"] for c, _ in workers] == [{"type": "worker", "index": 0}, {"type": "worker", "index": 1}]
    assert workers[0][0]["cluster"] == workers[1][0]["cluster"] and len(workers[0][0]["cluster"]["worker"]) == 2
    assert all(args[:3] == ["train", "--distribute", "multiworker"] for _, args in workers)


@pytest.mark.slow
def test_two_workers_from_the_readme_match_one_process_with_the_same_global_batch(corpus_dir, tmp_path):
    """Both exit 0; only the chief's run folder exists and it generates; the other worker's temporary
    folder is gone; the loss equals one process's with batch 2 x 8 to a loose tolerance. Worker 1's
    time budget runs out after the first of three epochs: both must stop there, or the chief would wait
    forever for it."""
    workers = readme_workers()
    for attempt in range(3):
        procs, errs = _start_cluster(workers, corpus_dir, tmp_path / f"try{attempt}")
        if not any("already in use" in err or "start gRPC server" in err for err in errs):
            break
    tmp_path = tmp_path / f"try{attempt}"
    for p, err in zip(procs, errs):
        assert p.returncode == 0, err[-3000:]
        assert "multiworker: 2 replicas, 8 windows each, 16 a step" in err
    chief = tmp_path / "run0"
    assert not (tmp_path / "run1").exists()  # only the chief writes a run folder
    assert not any((tmp_path / "tmp1").iterdir())  # the other worker cleaned up its temporary folder
    _generates(chief, tmp_path)

    single = tmp_path / "single"
    assert main(["train", "--data-dir", str(corpus_dir), "--run-dir", str(single), *tiny_flags(*ONE_EPOCH, "--batch-size", "16")]) == 0
    multi = json.loads((chief / "history.json").read_text())
    one = json.loads((single / "history.json").read_text())
    assert len(multi) == len(one) == 1
    for key in ("loss", "val_loss"):
        assert multi[0][key] == pytest.approx(one[0][key], rel=0.02), key
    assert np.isfinite(multi[0]["loss"])

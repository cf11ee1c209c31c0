"""Every script in benchmarks/ and experiments/ runs from a checkout: `--help` at once without TensorFlow, and each
script that offers `--smoke` runs whole at that size, printing no line of TensorFlow's C++ start-up.

The scripts are found by listing the folders, so a new one is covered without editing this file.
"""

from __future__ import annotations

import json
import math
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCRIPTS = sorted([*ROOT.glob("benchmarks/*.py"), *ROOT.glob("experiments/*.py")])
# The peer's own code needs the [peer] extra (torch), which CI never installs: its --help is checked, not its smoke.
NEEDS_PEER = {"peer_deepbach.py"}
# Within CI's time: the soak's and the LSTM kernels' smoke runs are the longest, and what they exercise is
# tested directly (tests/test_serve_security.py, tests/test_lstm.py); their --help is still checked.
COVERED = {"serve_soak.py", "bench_lstm.py"}
SMOKE = [p for p in SCRIPTS if '"--smoke"' in p.read_text(encoding="utf-8") and p.name not in NEEDS_PEER | COVERED]
# TensorFlow's C++ start-up lines (`I0000 00:00:... cudart_stub.cc`, `E0000 ... failed call to cuInit`) and absl's notice.
TF_LINE = re.compile(r"^[IWEF]\d{4} \d\d:\d\d:|absl::InitializeLog|cuda_|cuInit|oneDNN", re.M)

# Imports each script as `__main__` with `--help` and reports whether TensorFlow or Keras got loaded.
HELP = """
import contextlib, io, runpy, sys
sys.argv = [sys.argv[1], "--help"]
out = io.StringIO()
code = 0
try:
    with contextlib.redirect_stdout(out):
        runpy.run_path(sys.argv[0], run_name="__main__")
except SystemExit as e:
    code = e.code or 0
print(code, "tensorflow" in sys.modules or "keras" in sys.modules, len(out.getvalue()))
"""


def run(argv: list[str], timeout: float) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("TF_CPP_MIN_LOG_LEVEL", "GRPC_VERBOSITY")}
    return subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=timeout, env=env)


def test_the_folders_hold_scripts():
    assert len(SCRIPTS) >= 8 and len(SMOKE) >= 5


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_help_answers_without_tensorflow(script):
    out = run([sys.executable, "-c", HELP, str(script)], timeout=60)
    assert out.returncode == 0, out.stderr[-2000:]
    code, tf_loaded, help_chars = out.stdout.split()
    assert code == "0", f"--help exited {code}"
    assert tf_loaded == "False", "--help imported TensorFlow"
    assert int(help_chars) > 40, "--help printed no usage"
    assert not TF_LINE.search(out.stderr), out.stderr


def tiny_jsb(path: Path) -> Path:
    """A JSB file in the published layout: train/valid/test lists of sequences of pitch sets (a silent frame too)."""
    chords = [[60, 64, 67, 72], [62, 65, 69, 74], [59, 62, 67, 74], [], [57, 60, 64, 69], [55, 59, 62, 67]]
    seq = lambda k: [chords[(i * (k + 1)) % len(chords)] for i in range(12 + k)]  # noqa: E731
    path.write_text(json.dumps({"train": [seq(k) for k in range(6)], "valid": [seq(7), seq(8)], "test": [seq(9), seq(10)]}))
    return path


@pytest.fixture(scope="module")
def smoke_runs(tmp_path_factory):
    """Every `--smoke` script run once, two at a time: each is mostly one core's work (TensorFlow's import,
    a shipped model's load, a small network), so the pair shares the CI machine's two cores."""
    from concurrent.futures import ThreadPoolExecutor

    def one(script: Path):
        folder = tmp_path_factory.mktemp(script.stem)
        argv = [sys.executable, str(script), "--smoke"]
        if script.name == "jsb.py":
            argv += ["--data", str(tiny_jsb(folder / "tiny.json")), "--results-dir", str(folder / "results")]
        return run(argv, timeout=300), folder

    with ThreadPoolExecutor(max_workers=2) as pool:
        return dict(zip(SMOKE, pool.map(one, SMOKE)))


@pytest.mark.slow
@pytest.mark.parametrize("script", SMOKE, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_smoke_size_runs_quietly(script, smoke_runs):
    out, folder = smoke_runs[script]
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.strip(), "printed no table"
    assert not TF_LINE.search(out.stderr), "TensorFlow's start-up lines on stderr:\n" + out.stderr[:2000]
    if script.name == "jsb.py":
        check_jsb_results(folder / "results", out.stdout)


def check_jsb_results(folder: Path, printed: str):
    files = list(folder.glob("jsb-*.json"))
    assert len(files) == 1, files
    r = json.loads(files[0].read_text())
    assert r["benchmark"] == "jsb" and r["seed"] == 0 and r["smoke"] is True
    assert re.fullmatch(r"[0-9a-f]{7,40}(-dirty)?|unknown", r["commit"])
    assert "CPUs" in r["machine"] and "/" not in r["machine"]  # the machine in words, no paths
    chosen = r["chosen"]
    assert r["chosen_on_valid"].startswith("LSTM") and chosen["parameters"] > 0
    for key in ("valid_per_frame", "test_per_frame", "test_per_note", "train_seconds"):
        assert math.isfinite(chosen[key]) and chosen[key] > 0, key
    assert r["results"][r["chosen_on_valid"]]["test"]["per_frame"] == chosen["test_per_frame"]
    assert r["settings"]["units"] == 16 and r["seconds"] > 0
    # The printed table: every published figure, with its kind and whether it was checked against its paper.
    for model, figure in (("SRNN", "4.74"), ("Coconet", "5.03"), ("DBN-LSTM", "3.47"), ("TP-LSTM-NADE", "5.88"),
                          ("BALSTM", "5.86"), ("LSTM-NADE", "6.00"), ("RNN-RBM", "6.27"), ("RNN-NADE", "5.56")):
        line = next((ln for ln in printed.splitlines() if ln.split()[:1] == [model]), None)
        assert line is not None, f"{model} missing from the published table"
        assert figure in line and re.search(r"\b(cited|checked)$", line), line
        assert "Table" in line, line
    assert "bound" in next(ln for ln in printed.splitlines() if ln.strip().startswith("SRNN"))
    assert "orderless" in next(ln for ln in printed.splitlines() if ln.strip().startswith("Coconet"))
    assert f"{chosen['test_per_frame']:.2f}" in next(ln for ln in printed.splitlines() if ln.strip().startswith("music_lstm"))


def test_the_jsb_ensemble_is_the_mixture_of_its_members_frame_probabilities(tmp_path):
    """`jsb.py --ensemble`: each frame's probability the members' mean, so the NLL stays exact; one member
    alone is itself, and a mixture is never worse than its members' mean NLL (Jensen)."""
    import importlib.util

    import numpy as np

    spec = importlib.util.spec_from_file_location("jsb_benchmark", ROOT / "benchmarks" / "jsb.py")
    bench = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = bench  # its dataclasses look their module up
    spec.loader.exec_module(bench)
    rng = np.random.default_rng(0)
    members = [{s: rng.uniform(0.5, 9.0, size=n) for s, n in (("valid", 7), ("test", 11))} for _ in range(3)]
    paths = []
    for i, m in enumerate(members):
        paths.append(tmp_path / f"m{i}.frames.npz")
        np.savez(paths[-1], **m)
    out = bench.ensemble([str(p) for p in paths])
    for split in ("valid", "test"):
        probs = np.mean([np.exp(-m[split]) for m in members], axis=0)
        assert out[split]["per_frame"] == pytest.approx(float(np.mean(-np.log(probs))), rel=1e-12)
        assert out[split]["frames"] == members[0][split].size
        assert out[split]["per_frame"] <= np.mean([m[split].mean() for m in members])
    alone = bench.ensemble([str(paths[1])])
    assert alone["test"]["per_frame"] == pytest.approx(members[1]["test"].mean(), rel=1e-12)

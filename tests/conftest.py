import os
import sys
from pathlib import Path

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).parent))  # midi_bytes
sys.path.insert(0, str(Path(__file__).parent.parent))  # the package, when run from a checkout

import midi_bytes  # noqa: E402

# The parse cache a run outside the tests would use: no test may write there.
REAL_CACHE = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "music_lstm"


@pytest.fixture(scope="session", autouse=True)
def _session_cache(tmp_path_factory):
    """Every cache of the whole session, module- and session-scoped fixtures and child processes included,
    goes to a temporary folder."""
    cache = tmp_path_factory.mktemp("xdg_cache")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("XDG_CACHE_HOME", str(cache))
        yield {"cache": cache}


@pytest.fixture
def corpus_dir(tmp_path):
    """Six small four-voice pieces in different keys."""
    return midi_bytes.chorale_folder(tmp_path / "midi")


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))


TINY_TRAIN = ["--epochs", "2", "--units", "16", "--embed-dim", "8", "--seq-len", "32", "--batch-size", "8",
              "--max-minutes", "0", "--workers", "1", "--val-fraction", "0.34", "--transpose", "-6", "6"]


@pytest.fixture(scope="session")
def tiny_satb_run(tmp_path_factory, _session_cache):
    """A tiny satb run folder (16 cells, 2 epochs, about 10 s) trained on six synthetic four-part pieces
    seen in every key: the page's tests harmonize and compose with it."""
    from music_lstm.app.cli import main

    root = tmp_path_factory.mktemp("tiny_satb")
    data = midi_bytes.chorale_folder(root / "midi")
    run = root / "run"
    assert main(["train", "--data-dir", str(data), "--run-dir", str(run), "--encoding", "satb", *TINY_TRAIN]) == 0
    return run

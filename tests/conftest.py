import os
import sys
from pathlib import Path

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).parent))  # midi_bytes
sys.path.insert(0, str(Path(__file__).parent.parent))  # the package, when run from a checkout

import midi_bytes  # noqa: E402


@pytest.fixture
def corpus_dir(tmp_path):
    """Six small four-voice pieces in different keys."""
    return midi_bytes.chorale_folder(tmp_path / "midi")


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))

"""No test writes to the real parse cache: the session's caches, module-scoped fixtures' included, go to
a temporary folder (conftest's `_session_cache`)."""

import uuid

import pytest
from midi_bytes import track_bytes, write

from music_lstm.encodings import ingest
from music_lstm.io import corpus


@pytest.fixture(scope="module")
def ingested(tmp_path_factory):
    """A module-scoped fixture that reads, with the default cache, a file no one else has: its key
    can only be in a cache this session wrote."""
    folder = tmp_path_factory.mktemp("unique")
    text = uuid.uuid4().hex.encode()
    path = write(folder / "unique.mid", [track_bytes([(0, 1, 60), (1, 1, 64), (2, 2, 67)],
                                                     extra_meta=[(0, b"\xff\x01" + bytes([len(text)]) + text)])])
    ingest.encode_folder(folder, "voiced", workers=1, progress=False, log=lambda m: None)
    return corpus._piece_key(path.read_bytes())


def test_a_module_fixture_caches_in_the_session_folder_not_the_real_one(ingested, _session_cache):
    from conftest import REAL_CACHE

    key = ingested
    assert (_session_cache["cache"] / "music_lstm" / key[:2] / key).is_file()
    assert not (REAL_CACHE / key[:2] / key).exists()

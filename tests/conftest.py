import os
import sys
from pathlib import Path
from typing import NamedTuple

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


# --- the tiny model every training test uses ---------------------------------------------------------

# 16 cells, 2 epochs, a third of the pieces held out: a run in seconds. Every test that trains builds its
# flags from these (`tiny_flags`), so one edit here changes them all.
TINY = ("--epochs", "2", "--units", "16", "--embed-dim", "8", "--seq-len", "32", "--batch-size", "8",
        "--max-minutes", "0", "--workers", "1", "--val-fraction", "0.34")


def tiny_flags(*changes) -> list[str]:
    """TINY with flags changed: `tiny_flags("--seq-len", "16", "--encoding", "seed", "--transpose", "-2", "2")`.

    Each flag in `changes` takes the values that follow it (none for a switch such as `--durations`); a flag
    TINY has is replaced in place, one it lacks is appended."""
    out = list(TINY)
    groups = []
    for item in changes:
        if item.startswith("--"):
            groups.append([item])
        else:
            groups[-1].append(item)
    for flag, *values in groups:
        if flag in out:
            at = end = out.index(flag)
            end += 1
            while end < len(out) and not out[end].startswith("--"):
                end += 1
            out[at:end] = [flag, *values]
        else:
            out += [flag, *values]
    return out


@pytest.fixture
def tiny():
    """`tiny_flags`, for tests that take it as a fixture."""
    return tiny_flags


# --- one trained run per kind of network, for the whole session -----------------------------------------

class TinyRun(NamedTuple):
    data: Path  # the MIDI folder it was trained on
    run: Path  # its run folder: read it, or copy it (shutil.copytree) before changing anything in it
    log: str  # what training printed on stderr


def _seed_data(folder: Path) -> Path:
    data = midi_bytes.chorale_folder(folder)
    (data / "broken.mid").write_bytes(b"MThd garbage")  # skipped and counted
    return data


# kind: (the flags beside TINY's, how the training folder is made). The six synthetic four-part pieces
# are in six keys (midi_bytes.chorale_folder).
TINY_RUNS = {
    "satb": ((), midi_bytes.chorale_folder),  # the default encoding: no --encoding
    # the same pieces also seen in every key: a vocabulary that holds any typed tune in reach (the page's tests)
    "satb_all_keys": (("--transpose", "-6", "6"), midi_bytes.chorale_folder),
    "melody": (("--melody-context", "--transpose", "-6", "6"), midi_bytes.chorale_folder),
    "voiced": (("--encoding", "voiced"), midi_bytes.chorale_folder),
    "seed": (("--encoding", "seed", "--seq-len", "16", "--transpose", "-2", "2"), _seed_data),
}


def _snapshot(run: Path) -> dict:
    return {p.name: p.stat().st_mtime_ns for p in run.iterdir()}


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory, _session_cache):
    """`tiny_run(kind)`: the session's one tiny run of that kind (TINY_RUNS), trained the first time it is
    asked for. The runs are shared: a test that changes one fails the session (checked at its end)."""
    import contextlib
    import io

    from music_lstm.app.cli import main

    runs: dict[str, TinyRun] = {}
    before: dict[str, dict] = {}

    def get(kind: str) -> TinyRun:
        if kind not in runs:
            flags, make_data = TINY_RUNS[kind]
            root = tmp_path_factory.mktemp(f"tiny_{kind}")
            data, run, log = make_data(root / "midi"), root / "run", io.StringIO()
            with contextlib.redirect_stderr(log), pytest.MonkeyPatch.context() as mp:
                mp.setenv("XDG_CACHE_HOME", str(_session_cache["cache"]))  # not the asking test's own cache
                rc = main(["train", "--data-dir", str(data), "--run-dir", str(run), *tiny_flags(*flags)])
            assert rc == 0, log.getvalue()
            runs[kind] = TinyRun(data, run, log.getvalue())
            before[kind] = _snapshot(run)
        return runs[kind]

    yield get
    changed = [kind for kind, r in runs.items() if _snapshot(r.run) != before[kind]]
    assert not changed, f"a test changed the shared tiny run(s) {changed}: copy a run before changing it"


@pytest.fixture(scope="session")
def tiny_satb_run(tiny_run):
    """The tiny satb run folder (16 cells, 2 epochs, about 10 s) trained on six synthetic four-part pieces
    seen in every key: the page's tests harmonize and compose with it."""
    return tiny_run("satb_all_keys").run

"""A folder of MIDI files -> parsed pieces, skipping (and counting) every file that cannot be used.

Parsing is spread over worker processes and cached by file content, so a re-run parses only new or
changed files. A bad file costs one warning line naming it and the reason, never the run.

    python -c "from music_lstm.corpus import load_folder; print(len(load_folder('bach').pieces))"
"""

from __future__ import annotations

import hashlib
import os
import pickle
import sys
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from . import __version__
from .errors import MidiError, MusicLSTMError
from .events import Piece

MIDI_SUFFIXES = {".mid", ".midi"}
CACHE_FORMAT = 1  # bump when what read_midi extracts changes


@dataclass
class Corpus:
    pieces: dict[str, Piece] = field(default_factory=dict)  # file name (relative to the folder) -> piece
    skipped: dict[str, str] = field(default_factory=dict)  # file name -> reason


def find_midi_files(folder: Path, recursive: bool = False) -> list[Path]:
    """`.mid`/`.midi` files (any case), sorted; a recursive walk never follows a symlink loop."""
    if not recursive:
        return sorted(p for p in folder.iterdir() if p.suffix.lower() in MIDI_SUFFIXES and not p.is_dir())
    found, seen = [], set()
    for root, dirs, files in os.walk(folder, followlinks=True):
        key = os.path.realpath(root)
        if key in seen:  # a symlink back up the tree: stop here
            dirs[:] = []
            continue
        seen.add(key)
        dirs.sort()
        found.extend(Path(root) / f for f in files if Path(f).suffix.lower() in MIDI_SUFFIXES)
    return sorted(found)


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "music_lstm"


def _cache_key(data: bytes) -> str:
    h = hashlib.sha256(data)
    h.update(f"|{CACHE_FORMAT}|{__version__}".encode())
    return h.hexdigest()


def _parse_one(path: str, cache_dir: str | None) -> tuple[str, Piece | None, str | None]:
    """Worker: (path, piece or None, reason or None). Never raises."""
    from . import midi_io

    try:
        data = Path(path).read_bytes()
    except OSError as e:
        return path, None, f"cannot be read ({e.strerror or e})"
    entry = Path(cache_dir) / _cache_key(data)[:2] / _cache_key(data) if cache_dir else None
    if entry is not None and entry.exists():
        try:
            piece, reason = pickle.loads(entry.read_bytes())
            return path, piece, reason
        except Exception:
            pass  # a damaged cache entry is re-parsed and rewritten
    try:
        piece, reason = midi_io.read_midi(path), None
    except MidiError as e:
        piece, reason = None, e.reason
    except Exception as e:  # defensive: no file may ever end the run
        piece, reason = None, f"unreadable ({type(e).__name__})"
    if entry is not None:
        try:
            from .artifacts import atomic_path

            with atomic_path(entry) as tmp:
                tmp.write_bytes(pickle.dumps((piece, reason)))
        except OSError:
            pass  # a read-only cache is no reason to fail
    return path, piece, reason


def load_folder(
    folder: str | os.PathLike,
    recursive: bool = False,
    workers: int | None = None,
    cache_dir: str | os.PathLike | None = None,
    use_cache: bool = True,
    log=lambda msg: print(msg, file=sys.stderr),
) -> Corpus:
    """Parse every MIDI file in `folder`. Raises MusicLSTMError if there is no usable file."""
    folder = Path(folder)
    if not folder.is_dir():
        raise MusicLSTMError(f"{folder}: no such folder")
    files = find_midi_files(folder, recursive)
    if not files:
        raise MusicLSTMError(f"{folder}: no .mid or .midi files")
    cache = str(cache_dir or default_cache_dir()) if use_cache else None
    workers = max(1, min(workers or os.cpu_count() or 1, len(files)))
    corpus = Corpus()
    names = {str(p): str(p.relative_to(folder)) for p in files}
    if workers == 1:
        results = (_parse_one(str(p), cache) for p in files)
        _collect(results, names, corpus, log, len(files))
    else:
        with ProcessPoolExecutor(workers) as pool:
            results = pool.map(_parse_one, [str(p) for p in files], [cache] * len(files), chunksize=4)
            _collect(results, names, corpus, log, len(files))
    log(f"{folder}: {len(corpus.pieces)} files used, {len(corpus.skipped)} skipped")
    if not corpus.pieces:
        raise MusicLSTMError(f"{folder}: no usable MIDI file ({len(corpus.skipped)} skipped)")
    return corpus


def _collect(results, names, corpus: Corpus, log, total: int) -> None:
    for path, piece, reason in results:
        name = names[path]
        if piece is None:
            corpus.skipped[name] = reason
            log(f"skipped {path}: {reason}")
        else:
            corpus.pieces[name] = piece

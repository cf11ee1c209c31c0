"""A folder of MIDI files -> encoded pieces, skipping (and counting) every file that cannot be used.

Parsing is spread over worker processes and cached by file content, so a re-run parses only new or
changed files. A bad file costs one line naming it and the reason, never the run. Results stream in:
each file is read, encoded to symbols in the worker and only the symbols come back, so a folder of
any size costs its symbols in memory, not its notes.

    python -c "from music_lstm.encodings.ingest import encode_folder; print(len(encode_folder('bach', 'voiced').sequences))"
"""

from __future__ import annotations

import hashlib
import multiprocessing
import os
import pickle
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path

from ..core.version import __version__
from ..core.errors import ConfigError, EncodingError, MidiError, MusicLSTMError
from ..core.events import Piece

MIDI_SUFFIXES = {".mid", ".midi"}
CACHE_FORMAT = 2  # bump when what a cache entry holds changes
IN_FLIGHT = 4  # files handed to each worker ahead of time: enough to keep it busy, few enough to stay small


@dataclass
class Corpus:
    """Parsed pieces as notes (`load_folder`)."""

    pieces: dict[str, Piece] = field(default_factory=dict)  # file name (relative to the folder) -> piece
    skipped: dict[str, str] = field(default_factory=dict)  # file name -> reason
    parsed: int = 0  # files parsed in this run; the rest came from the cache


@dataclass
class EncodedCorpus:
    """Pieces as symbols (`encode_folder`): what training needs, and nothing else of each piece."""

    sequences: dict[str, list[str]] = field(default_factory=dict)  # file name -> symbols (interned)
    bpms: dict[str, float] = field(default_factory=dict)  # file name -> first tempo, where there is one
    skipped: dict[str, str] = field(default_factory=dict)  # file name -> reason
    parsed: int = 0


def find_midi_files(folder: Path, recursive: bool = False, on_skip: Callable[[str, str], None] | None = None) -> list[Path]:
    """`.mid`/`.midi` files (any case), sorted; a recursive walk never follows a symlink loop.

    `on_skip(path, reason)` hears of every folder left out (a loop, or one that cannot be read).
    """
    on_skip = on_skip or (lambda path, reason: None)
    folder = Path(folder)
    if not recursive:
        return sorted(p for p in folder.iterdir() if p.suffix.lower() in MIDI_SUFFIXES and not p.is_dir())
    found, seen = [], set()

    def unreadable(e: OSError) -> None:
        on_skip(str(e.filename), f"cannot be read ({e.strerror or e})")

    for root, dirs, files in os.walk(folder, followlinks=True, onerror=unreadable):
        key = os.path.realpath(root)
        if key in seen:  # a symlink to a folder already read (a loop back up the tree, or a second way in)
            on_skip(root, f"symlink to a folder already read ({key}): not read twice")
            dirs[:] = []
            continue
        seen.add(key)
        dirs.sort()
        found.extend(Path(root) / f for f in files if Path(f).suffix.lower() in MIDI_SUFFIXES)
    return sorted(p for p in found if not p.is_dir())


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "music_lstm"


_SETTINGS: str | None = None


def _settings() -> str:
    """Everything besides the file's bytes that decides what reading gives: formats and versions."""
    global _SETTINGS
    if _SETTINGS is None:
        from importlib.metadata import PackageNotFoundError, version

        from .midi_read import EXTRACTION

        try:
            m21 = version("music21")
        except PackageNotFoundError:
            m21 = "?"
        _SETTINGS = f"|{CACHE_FORMAT}|{__version__}|{EXTRACTION}|music21 {m21}"
    return _SETTINGS


def _piece_key(data: bytes) -> str:
    return hashlib.sha256(data + _settings().encode()).hexdigest()


def _symbols_key(piece_key: str, encoder) -> str:
    return hashlib.sha256(f"{piece_key}|{encoder.cache_key}".encode()).hexdigest()


def _cache_get(cache: str | None, key: str):
    if cache is None:
        return None
    try:
        return pickle.loads((Path(cache) / key[:2] / key).read_bytes())
    except FileNotFoundError:
        return None
    except Exception:
        return None  # a damaged entry is parsed again and rewritten


def _cache_put(cache: str | None, key: str, value) -> None:
    if cache is None:
        return
    try:
        from ..core.files import atomic_path

        with atomic_path(Path(cache) / key[:2] / key) as tmp:
            tmp.write_bytes(pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL))
    except OSError:
        pass  # a read-only or full cache is no reason to fail


# A result is (path, value, bpm, reason, parsed): value is a Piece or a symbol list (None when the file
# is skipped, with the reason), parsed says whether music21 ran on it (False: it came from the cache).


def _read_one(path: str, cache: str | None, encoding):
    """Read, parse (or take from the cache) and encode one file. Runs in a worker; never raises.
    `encoding` is None (the piece is wanted) or an `Encoding` (its symbols are; it travels to the
    worker pickled, so this layer never imports the encodings)."""
    try:
        data = Path(path).read_bytes()
    except OSError as e:
        return path, None, None, f"cannot be read ({e.strerror or e})", False
    key = _piece_key(data)
    if encoding is not None:
        hit = _cache_get(cache, _symbols_key(key, encoding))
        if hit is not None:
            return (path, *hit, False)
    parsed = False
    hit = _cache_get(cache, key)
    if hit is not None:
        piece, reason = hit
    else:
        from . import midi_read

        parsed = True
        try:
            piece, reason = midi_read.parse_midi(data, path), None
        except MidiError as e:
            piece, reason = None, e.reason
        except Exception as e:  # defensive: no file may ever end the run
            piece, reason = None, f"unreadable ({type(e).__name__})"
        _cache_put(cache, key, (piece, reason))
    if encoding is None:
        return path, piece, piece.bpm if piece else None, reason, parsed
    symbols = None
    if piece is not None:
        try:
            symbols = encoding.encode(piece)
        except EncodingError as e:  # the encoding refuses this piece, and says why in one line
            reason = str(e)
        except Exception as e:  # an encoder's bug on one odd piece must not end the run either
            reason = f"cannot be encoded as {encoding.spec} ({type(e).__name__}: {str(e).splitlines()[0][:80] if str(e) else ''})"
    _cache_put(cache, _symbols_key(key, encoding), (symbols, piece.bpm if piece else None, reason))
    return path, symbols, piece.bpm if piece else None, reason, parsed


def _cached(path: Path, cache: str | None, encoding):
    """The result for `path` if the cache holds it (read in this process: no worker needed), else None."""
    if cache is None:
        return None
    try:
        data = path.read_bytes()
    except OSError:
        return None  # the worker reports it
    key = _piece_key(data)
    if encoding is not None:
        hit = _cache_get(cache, _symbols_key(key, encoding))
        return None if hit is None else (str(path), *hit, False)
    hit = _cache_get(cache, key)
    if hit is None:
        return None
    piece, reason = hit
    return str(path), piece, piece.bpm if piece else None, reason, False


def _results(files: list[Path], cache: str | None, encoding, workers: int) -> Iterator[tuple]:
    """Every file's result, cached ones first, the rest as workers finish them (not in file order)."""
    misses = []
    for path in files:
        hit = _cached(path, cache, encoding)
        if hit is None:
            misses.append(path)
        else:
            yield hit
    workers = min(workers, len(misses))
    if workers <= 1:
        for path in misses:
            yield _read_one(str(path), cache, encoding)
        return
    # Largest files first, so no worker is left with a long file while the others sit idle at the end.
    misses.sort(key=_size, reverse=True)
    todo = iter(misses)
    # spawn, not fork: the parent may hold TensorFlow's threads, which a forked child must not inherit.
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        pending: set = set()
        try:
            while True:
                # Only a few files per worker are in flight: memory stays flat however big the folder.
                while len(pending) < IN_FLIGHT * workers and (path := next(todo, None)) is not None:
                    pending.add(pool.submit(_read_one, str(path), cache, encoding))
                if not pending:
                    return
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                for future in done:
                    yield future.result()
        except BrokenProcessPool:
            raise MusicLSTMError("a parser process died (out of memory?); try again with --workers 1") from None


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _ingest(folder, recursive, workers, cache_dir, use_cache, encoding, min_symbols, log, progress, stats) -> Iterator[tuple[str, tuple]]:
    """(name relative to the folder, result) for every MIDI file in `folder`, with progress shown;
    `stats` gets the rate in files per second."""
    folder = Path(folder)
    if workers is not None and workers < 1:
        raise ConfigError(f"invalid workers: {workers} (must be >= 1)")
    if not folder.is_dir():
        raise MusicLSTMError(f"{folder}: no such folder")
    skipped_dirs = []
    try:
        files = find_midi_files(folder, recursive, lambda path, reason: skipped_dirs.append((path, reason)))
    except OSError as e:
        raise MusicLSTMError(f"{folder}: cannot be read ({e.strerror or e})") from None
    for path, reason in skipped_dirs:
        log(f"skipped {path}: {reason}")
    if not files:
        raise MusicLSTMError(f"{folder}: no .mid or .midi files")
    cache = str(cache_dir or default_cache_dir()) if use_cache else None
    workers = max(1, workers or os.cpu_count() or 1)
    bar = _progress_bar(len(files), f"reading {folder}", progress)
    start = time.perf_counter()
    done = skipped = 0
    try:
        for path, value, bpm, reason, parsed in _results(files, cache, encoding, workers):
            if value is not None and encoding is not None and len(value) < min_symbols:
                value, reason = None, f"{len(value)} symbol{'s' if len(value) != 1 else ''}: too short to learn from"
            done += 1
            if value is None:
                skipped += 1
                bar.clear()
                log(f"skipped {path}: {reason}")
                bar.set_postfix_str(f"{skipped} skipped", refresh=False)
            bar.update(1)
            yield str(Path(path).relative_to(folder)), (value, bpm, reason, parsed)
    finally:
        bar.close()
        stats["rate"] = done / max(time.perf_counter() - start, 1e-9)


def _progress_bar(total: int, label: str, live: bool | None):
    """A tqdm bar on stderr: on a terminal (or `live`); in a log it stays silent, as the summary line that
    follows gives the totals and the rate."""
    from tqdm import tqdm

    if live is None:
        live = sys.stderr.isatty()
    return tqdm(total=total, desc=label, unit="file", file=sys.stderr, disable=not live, leave=False, mininterval=0.1)


def _summary(folder, used: int, skipped: dict[str, str], parsed: int, rate: float, log, hint: str | None = None) -> None:
    total = used + len(skipped)
    log(f"{folder}: {used} files used, {len(skipped)} skipped ({parsed} parsed, {total - parsed} from the cache, "
        f"{rate:.1f} files/s)")
    if skipped:
        names = sorted(skipped)
        more = f" and {len(names) - 20} more" if len(names) > 20 else ""
        log(f"skipped files: {', '.join(names[:20])}{more}")
    if not used:
        raise MusicLSTMError(f"{folder}: no usable MIDI file ({len(skipped)} skipped){'; ' + hint if hint else ''}")


def _stderr(msg: str) -> None:
    print(msg, file=sys.stderr)


def load_folder(
    folder: str | os.PathLike,
    recursive: bool = False,
    workers: int | None = None,
    cache_dir: str | os.PathLike | None = None,
    use_cache: bool = True,
    log=_stderr,
    progress: bool | None = None,
) -> Corpus:
    """Parse every MIDI file in `folder` into notes. Raises MusicLSTMError if there is no usable file.

    Keeps every piece's notes; training uses `encode_folder`, which keeps only symbols.
    """
    corpus, stats = Corpus(), {}
    for name, (piece, _, reason, parsed) in _ingest(folder, recursive, workers, cache_dir, use_cache, None, 0, log, progress, stats):
        corpus.parsed += parsed
        if piece is None:
            corpus.skipped[name] = reason
        else:
            corpus.pieces[name] = piece
    corpus.pieces = dict(sorted(corpus.pieces.items()))
    _summary(folder, len(corpus.pieces), corpus.skipped, corpus.parsed, stats["rate"], log)
    return corpus

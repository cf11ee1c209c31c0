"""How many threads NumPy's BLAS may use, for one stretch of code (the generation loop).

A generation step is a few (batch, 1024) x (1024, 2048) products, small enough that how BLAS shares
them out matters. Measured on a 2-core machine (docs/BENCHMARKS.md): when the machine is otherwise
idle, BLAS's own two threads step 500 symbols in 0.18 s against 0.31 s on one thread; when the other
core is busy with other work, a second thread that must wait for it made a step 2 to 10 times slower.
Generation uses GENERATION_THREADS: None leaves BLAS as it is (all cores), the quiet-machine choice;
1 is the safe choice on a shared machine. NumPy has no setter for this, so `threads` calls OpenBLAS's
own in the library NumPy loaded; with any other BLAS it does nothing.

    python -c "from music_lstm.blas import threads; print(threads(1).__enter__())"
"""

from __future__ import annotations

import contextlib
import ctypes
import glob
import os

import numpy as np

_PREFIXES = ("scipy_openblas", "openblas")  # NumPy's wheels name OpenBLAS's symbols with a prefix
_SETTERS = [f"{p}_set_num_threads{s}" for p in _PREFIXES for s in ("64_", "")]
_GETTERS = [f"{p}_get_num_threads{s}" for p in _PREFIXES for s in ("64_", "")]
_found: list = []  # [(get, set) or None], filled on first use

GENERATION_THREADS = None  # BLAS's default; see the module docstring and docs/BENCHMARKS.md


def _candidates() -> list[str]:
    """Shared libraries that may hold NumPy's OpenBLAS: those already mapped, then NumPy's own folders."""
    paths = []
    try:
        with open("/proc/self/maps") as maps:
            paths += [line.split()[-1] for line in maps if "openblas" in line.lower() and "/" in line]
    except OSError:
        pass  # not Linux
    root = os.path.dirname(np.__file__)
    for pattern in ("../numpy.libs/*openblas*", ".dylibs/*openblas*", "../numpy.libs/*blas*"):
        paths += glob.glob(os.path.join(root, pattern))
    return list(dict.fromkeys(paths))


def _openblas():
    if not _found:
        _found.append(None)
        for path in _candidates():
            try:
                lib = ctypes.CDLL(path)
            except OSError:
                continue
            get = next((getattr(lib, n) for n in _GETTERS if hasattr(lib, n)), None)
            put = next((getattr(lib, n) for n in _SETTERS if hasattr(lib, n)), None)
            if get and put:
                get.restype, put.restype, put.argtypes = ctypes.c_int, None, [ctypes.c_int]
                _found[0] = (get, put)
                break
    return _found[0]


@contextlib.contextmanager
def threads(n: int | None):
    """Let BLAS use `n` threads inside the block; yields `n`, or None where it left BLAS as it was
    (n is None, or no OpenBLAS was found)."""
    lib = _openblas() if n else None
    if lib is None:
        yield None
        return
    get, put = lib
    before = get()
    put(int(n))
    try:
        yield int(n)
    finally:
        put(before)

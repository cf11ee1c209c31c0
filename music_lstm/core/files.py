"""Atomic writes: every file goes to a temporary file beside it first and is moved into place with
`os.replace` (atomic on POSIX and Windows), so a reader sees the old file or the new one, never a part.

    python -c "from music_lstm.core.files import atomic_path; exec('with atomic_path(\'x.txt\') as t: t.write_text(\'hi\')')"
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

# --- atomic writes ---------------------------------------------------------------------------------

@contextlib.contextmanager
def atomic_path(path: str | os.PathLike):
    """Yield a temporary path beside `path`; on success move it onto `path`, on failure remove it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp" + path.suffix, dir=path.parent)
    os.close(fd)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; give the file the mode a plain open() would
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise

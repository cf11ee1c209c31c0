"""music21's own Bach chorales written out as MIDI files, a training folder (`python -m music_lstm
export-bach`).

    python -m music_lstm export-bach --output-dir bach_midi --limit 10
"""

from __future__ import annotations

import os
from pathlib import Path

from ..core.files import atomic_path


def export_bach(out_dir: str | os.PathLike, log=print, limit: int | None = None) -> int:
    """Write every Bach chorale in music21's corpus (the first `limit` only, if given) to `out_dir` as
    MIDI; returns the number written."""
    from music21 import corpus

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = 0
    for src in sorted(corpus.getComposer("bach"), key=str)[:limit]:
        src = Path(str(src))
        name = src.name.split(".")[0] if src.suffix == ".krn" else src.stem
        dest = out / f"{name}.mid"
        try:
            score = corpus.parse(str(src))
            from music21.midi import translate

            mf = translate.streamToMidiFile(score)
            with atomic_path(dest) as tmp:
                mf.open(str(tmp), "wb")
                try:
                    mf.write()
                finally:
                    mf.close()
            written += 1
        except Exception as e:  # a corpus file music21 itself cannot convert: skip it, say so
            log(f"skipped {src.name}: {str(e).splitlines()[0][:100] if str(e) else type(e).__name__}")
    return written

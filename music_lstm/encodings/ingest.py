"""A folder of MIDI files as one encoding's symbols: `io.corpus` reads (and caches) the pieces in
worker processes, and each worker encodes its own with the `Encoding` it is handed.

    python -c "from music_lstm.encodings.ingest import encode_folder; print(len(encode_folder('bach', 'voiced').sequences))"
"""

from __future__ import annotations

import os
import sys

from ..io.corpus import EncodedCorpus, _ingest, _stderr, _summary


def encode_folder(
    folder: str | os.PathLike,
    encoding: str,
    recursive: bool = False,
    workers: int | None = None,
    cache_dir: str | os.PathLike | None = None,
    use_cache: bool = True,
    min_symbols: int = 1,
    log=_stderr,
    progress: bool | None = None,
) -> EncodedCorpus:
    """Every MIDI file in `folder` as `encoding` symbols; a piece shorter than `min_symbols` is skipped.

    `encoding` is an encoder spec (`encodings.Encoding.spec`): a name, with its options, e.g. `chords+durations`.

    Raises MusicLSTMError if there is no usable file.
    """
    from . import from_spec

    encoder = from_spec(encoding)  # its own name, options included, is part of the cache key
    corpus, stats = EncodedCorpus(), {}
    args = (folder, recursive, workers, cache_dir, use_cache, encoder, min_symbols, log, progress, stats)
    for name, (symbols, bpm, reason, parsed) in _ingest(*args):
        corpus.parsed += parsed
        if symbols is None:
            corpus.skipped[name] = reason
            continue
        corpus.sequences[name] = [sys.intern(s) for s in symbols]  # one string per distinct symbol
        if bpm:
            corpus.bpms[name] = bpm
    corpus.sequences = dict(sorted(corpus.sequences.items()))
    _summary(folder, len(corpus.sequences), corpus.skipped, corpus.parsed, stats["rate"], log, encoder.empty_hint)
    return corpus

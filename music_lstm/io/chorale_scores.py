"""Reading a four-part score with what it says besides the notes: `read_score` gives a `core.scores.Score4`
(the voices, time signature, pickup, key signature and mode, the soprano's fermatas).

From MusicXML (music21's own chorales among them) the fermatas are the score's; from MIDI, which has
none, and from a score without any, the phrase ends come from `core.phrases.phrase_ends`. The voices are
chosen among the parts by `io.voice_parts.select_voices`.

    python -c "from music_lstm.io.chorale_scores import corpus_score; print(corpus_score('bwv1.6').fermatas)"
"""

from __future__ import annotations

import os
from pathlib import Path

from ..core.errors import MelodyError
from ..core.events import Note
from ..core.phrases import phrase_ends
from ..core.scores import Score4
from .voice_parts import select_voices


def corpus_score(name: str) -> Score4:
    """A chorale of music21's corpus by name (`bwv1.6`, the name of the MIDI `export-bach` writes)."""
    from music21 import corpus

    return score_of(corpus.parse(f"bach/{name}"), name)


def corpus_names() -> list[str]:
    """Names of the chorales music21's corpus holds as MusicXML (those `corpus_score` reads)."""
    from music21 import corpus

    out = []
    for src in sorted(corpus.getComposer("bach"), key=str):
        src = Path(str(src))
        if src.suffix in (".mxl", ".xml", ".musicxml"):
            out.append(src.stem)
    return out


def score_of(score, name: str = "", parts: list[tuple[str | None, list[Note]]] | None = None) -> Score4:
    """The `Score4` of a music21 score: its four voices (a MelodyError naming `name` when it has none)."""
    from music21 import expressions, key, meter

    if parts is None:
        parts = []
        for p in score.parts:
            # A staff of two voices (our own chorale scores: soprano and alto on one) is two parts, upper first.
            split = p.voicesToParts().parts if any(m.hasVoices() for m in p.getElementsByClass("Measure")) else [p]
            parts += [(getattr(p, "partName", None), _notes(q)) for q in split]
        parts = [(n, notes) for n, notes in parts if notes]
    voices, why = select_voices(parts) if len(parts) >= 4 else (None, f"{len(parts)} parts, not four voices")
    if voices is None:
        raise MelodyError(name or "score", why or "no four voices")
    meters = list(score.recurse().getElementsByClass(meter.TimeSignature))
    ts = (int(meters[0].numerator), int(meters[0].denominator)) if meters else (4, 4)
    sigs = list(score.recurse().getElementsByClass(key.KeySignature))
    sharps = int(sigs[0].sharps) if sigs else 0
    mode = getattr(sigs[0], "mode", None) if sigs else None
    if mode not in ("major", "minor"):
        try:
            mode = score.analyze("key").mode
        except Exception:  # an analysis music21 cannot make: major
            mode = "major"
    pickup = _pickup(score, ts)
    fermatas = _fermatas(score, voices[0])
    written = bool(fermatas)
    if not written:
        fermatas = phrase_ends(voices[0], ts, pickup)
    return Score4(tuple(voices), ts, pickup, sharps, mode, tuple(fermatas), name, written)


def score_signs(score) -> tuple[tuple[int, int], float, int | None, str | None]:
    """What a music21 score says besides its notes: its first time signature (4/4 when none), the
    pickup (`_pickup`), its first key signature's sharps (None when it has none) and that signature's
    mode (None when the file does not say)."""
    from music21 import key, meter

    meters = list(score.recurse().getElementsByClass(meter.TimeSignature))
    ts = (int(meters[0].numerator), int(meters[0].denominator)) if meters else (4, 4)
    sigs = list(score.recurse().getElementsByClass(key.KeySignature))
    sharps = int(sigs[0].sharps) if sigs else None
    mode = getattr(sigs[0], "mode", None) if sigs else None
    return ts, _pickup(score, ts), sharps, mode if mode in ("major", "minor") else None


def read_score(path: str | os.PathLike) -> Score4:
    """The `Score4` of a MusicXML or MIDI file of four voices (a MelodyError naming the file otherwise)."""
    from music21 import converter

    from . import melody_files

    path = Path(path)
    kind, data = melody_files.melody_bytes(path)
    try:
        score = converter.parseData(data, format="midi" if kind == melody_files.MIDI else "musicxml")
    except Exception as e:  # music21 raises many kinds on a damaged file
        raise MelodyError(path, f"cannot be read ({str(e).splitlines()[0][:100] if str(e) else type(e).__name__})") from None
    return score_of(score, str(path))


def _notes(part) -> list[Note]:
    from .streams import stream_notes

    return stream_notes(part)


def _pickup(score, ts: tuple[int, int]) -> float:
    """Quarter notes before the first full bar: the first measure's length when it is short of a bar."""
    part = score.parts[0] if score.parts else score
    measures = list(part.getElementsByClass("Measure"))
    if not measures:
        return 0.0
    bar = ts[0] * 4.0 / ts[1]
    first = float(measures[0].duration.quarterLength)
    pad = float(getattr(measures[0], "paddingLeft", 0.0) or 0.0)
    if pad > 0 and pad < bar:
        return bar - pad
    if 0 < first < bar - 1e-6 and len(measures) > 1:
        return first
    return 0.0


def _fermatas(score, soprano: list[Note]) -> list[float]:
    """Onsets of soprano notes marked with a fermata (in the part whose notes are the soprano's)."""
    from music21 import expressions

    starts = {round(o, 6) for o, _, _ in soprano}
    best: list[float] = []
    for part in score.parts:
        marked = []
        for el in part.stripTies().flatten().notes:
            if any(isinstance(e, expressions.Fermata) for e in el.expressions):
                marked.append(float(el.offset))
        hit = [t for t in marked if round(t, 6) in starts]
        if len(hit) > len(best):
            best = hit
    return sorted(set(best))

"""A melody file's bytes, read by their content and within bounds, before any parser sees them.

`melody_bytes(path)` says what a file is by its first bytes, never by its name: `MThd` a MIDI file,
`PK\\x03\\x04` a compressed MusicXML file (.mxl, a zip), an XML prolog or a `<score-partwise>` /
`<score-timewise>` root plain MusicXML. Anything else is refused. A file is read to `MAX_FILE_BYTES` at
most; an .mxl's members are counted and their unpacked sizes added up from the zip's headers, and the
score is unpacked in pieces with the same limit enforced on what comes out, so a header that lies gets
no further. Every refusal is a one-line `MelodyError` naming the file.

The limits on a melody itself (notes, bars, time signatures) are here too, so the command line, the
local page and the docs quote one set: `midi_io.read_melody` applies them.

    python -c "from music_lstm.io.melody_files import melody_bytes; print(melody_bytes('tune.mxl')[0])"
"""

from __future__ import annotations

import io
import os
import re
import zipfile
from pathlib import Path, PurePosixPath

from ..core.errors import MelodyError

MAX_FILE_BYTES = 4 * 2**20  # a melody file read at most (a chorale's MusicXML is about 100 kB)
MAX_MXL_BYTES = 20 * 2**20  # an .mxl's members unpacked, all together, at most
MAX_MXL_MEMBERS = 64  # files in an .mxl at most (a score, its container.xml, a few images)
MAX_MELODY_NOTES = 1_000  # notes in a melody at most (a chorale tune has 30 to 80)
MAX_MELODY_BARS = 128  # bars of its time signature at most (a chorale has 10 to 30)
METER_NUMERATORS = range(1, 17)  # time signatures from 1/x to 16/x
METER_DENOMINATORS = (1, 2, 4, 8, 16)

MIDI, MUSICXML, MXL = "midi", "musicxml", "mxl"
_XML_START = re.compile(rb"^(?:\xef\xbb\xbf)?\s*(?:<\?xml|<!DOCTYPE\s+score-(?:partwise|timewise)|<score-(?:partwise|timewise))")
_SCORE_ROOT = re.compile(rb"<score-(?:partwise|timewise)[\s>]")
_CHUNK = 1 << 16


def _mb(n: int) -> str:
    return f"{n / 2**20:.0f} MB" if n >= 2**20 else f"{n / 1024:.0f} kB"


def read_limited(path: Path, limit: int = MAX_FILE_BYTES) -> bytes:
    """The file's bytes; a MelodyError when it holds more than `limit` (read no further than that)."""
    try:
        with open(path, "rb") as f:
            data = f.read(limit + 1)
    except FileNotFoundError:
        raise MelodyError(path, "no such file (a melody is a MIDI or MusicXML file, "
                                "or tinyNotation text such as \"4/4 c'4 d' e'2\")") from None
    except IsADirectoryError:
        raise MelodyError(path, "a folder, not a melody file") from None
    except OSError as e:
        raise MelodyError(path, f"cannot be read ({e.strerror or e})") from None
    if len(data) > limit:
        raise MelodyError(path, f"too large for a melody (more than {_mb(limit)})")
    return data


def sniff(data: bytes) -> str | None:
    """MIDI, MXL or MUSICXML by the first bytes (a plain score's root within its first 64 kB), else None."""
    if data[:4] == b"MThd":
        return MIDI
    if data[:4] == b"PK\x03\x04":
        return MXL
    if _XML_START.match(data[:1024]) and _SCORE_ROOT.search(data[:_CHUNK]):
        return MUSICXML
    return None


def melody_bytes(path: str | os.PathLike) -> tuple[str, bytes]:
    """(kind, bytes) of a melody file: MIDI's bytes, or a MusicXML score's (unpacked from an .mxl)."""
    path = Path(path)
    data = read_limited(path)
    if not data:
        raise MelodyError(path, "empty file (0 bytes)")
    kind = sniff(data)
    if kind is None:
        raise MelodyError(path, "neither a MIDI nor a MusicXML file by its content (MIDI begins MThd, "
                                "MusicXML <?xml or <score-partwise, an .mxl is a zip)")
    if kind == MXL:
        return MUSICXML, unpack_mxl(data, path)
    return kind, data


def unpack_mxl(data: bytes, name) -> bytes:
    """The score of an .mxl (the rootfile its META-INF/container.xml names, else its first .xml or
    .musicxml member), unpacked within `MAX_MXL_BYTES`, the members counted first."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            infos = z.infolist()
            if len(infos) > MAX_MXL_MEMBERS:
                raise MelodyError(name, f"an .mxl of {len(infos)} files (at most {MAX_MXL_MEMBERS})")
            declared = sum(i.file_size for i in infos)
            if declared > MAX_MXL_BYTES:
                raise MelodyError(name, f"an .mxl that unpacks to {_mb(declared)} (at most {_mb(MAX_MXL_BYTES)})")
            budget = [MAX_MXL_BYTES]
            names = {i.filename: i for i in infos}
            root = None
            if "META-INF/container.xml" in names:
                container = _unpack(z, names["META-INF/container.xml"], budget, name)
                m = re.search(rb"<rootfile[^>]*\bfull-path\s*=\s*[\"']([^\"']+)[\"']", container)
                root = names.get(m.group(1).decode("utf-8", "replace")) if m else None
            if root is None:
                candidates = [i for i in infos if not i.filename.startswith("META-INF/")
                              and PurePosixPath(i.filename).suffix.lower() in (".xml", ".musicxml")]
                if not candidates:
                    raise MelodyError(name, "an .mxl that holds no MusicXML score")
                root = candidates[0]
            score = _unpack(z, root, budget, name)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, EOFError, RuntimeError) as e:
        raise MelodyError(name, f"a damaged .mxl ({str(e).splitlines()[0][:100] if str(e) else type(e).__name__})") from None
    if sniff(score) != MUSICXML:
        raise MelodyError(name, "an .mxl whose score is not MusicXML")
    return score


def _unpack(z: zipfile.ZipFile, info: zipfile.ZipInfo, budget: list[int], name) -> bytes:
    """One member's bytes, in pieces, taking no more than `budget[0]` bytes (which it lowers)."""
    out = bytearray()
    with z.open(info) as f:
        while chunk := f.read(min(_CHUNK, budget[0] + 1)):
            out += chunk
            if len(out) > budget[0]:
                raise MelodyError(name, f"an .mxl that unpacks to more than {_mb(MAX_MXL_BYTES)} "
                                        "(more than its headers say)")
    budget[0] -= len(out)
    return bytes(out)

"""How composed pieces end: the share whose last chord is a root-position triad on the tonic reached
from its V (or IV), the key read as `generate --cadence` reads it (`tasks.steer.piece_key`) from each
piece as first composed. Give the folder of pieces composed without `--cadence` and, optionally, the
folder of the same seeds with it (files matched by name).

    python experiments/composed_endings.py --plain DIR_1 --ended DIR_1_CADENCE
"""

import argparse
import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def ending(voices, tonic: int):
    """(the cadence `eval.bach_style.cadence_kind` reads at the last onset, whether it is a V-I or IV-I
    onto a root-position tonic triad)."""
    from music_lstm.eval.bach_style import cadence_kind

    t = max(o for v in voices for o, _, _ in v)
    kind = cadence_kind(voices, t, 1.0, tonic)
    bass = min((p for v in voices for o, d, p in v if o <= t < o + d), default=None)
    return kind, bass is not None and bass % 12 == tonic and kind in ("authentic", "plagal")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--plain", required=True, help="a folder of pieces composed without --cadence")
    ap.add_argument("--ended", help="a folder of the same pieces composed with --cadence")
    a = ap.parse_args(argv)
    from music_lstm.core.scores import Score4
    from music_lstm.io import midi_read
    from music_lstm.tasks.steer import piece_key

    counts = {"plain": Counter(), "ended": Counter()}
    for path in sorted(Path(a.plain).glob("*.mid")):
        plain = midi_read.read_midi(path).voices
        if plain is None:
            continue
        sharps, mode = piece_key(plain)
        tonic = Score4(tuple(plain), sharps=sharps, mode=mode).tonic
        sets = [("plain", plain)] + ([("ended", midi_read.read_midi(Path(a.ended) / path.name).voices)] if a.ended else [])
        for name, voices in sets:
            kind, ok = ending(voices, tonic)
            counts[name]["pieces"] += 1
            counts[name]["tonic cadence"] += ok
            counts[name][kind or "none"] += 1
    for name, c in counts.items():
        if c["pieces"]:
            print(f"{name}: {c['tonic cadence']} of {c['pieces']} end on a root-position tonic triad from V or IV; "
                  + ", ".join(f"{k} {v}" for k, v in sorted(c.items()) if k not in ("pieces", "tonic cadence")))
    return 0


if __name__ == "__main__":
    sys.exit(main())

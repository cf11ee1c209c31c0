"""How well the phrase rule (`core.phrases.phrase_ends`, used where a file has no fermatas) finds
Bach's written fermatas: precision and recall over music21's corpus chorales that write fermatas. A
rule end within a quarter note of a written fermata counts as found, and a fermata within a quarter
note of a rule end counts as recalled.

    python benchmarks/phrase_rule.py
    python benchmarks/phrase_rule.py --cache /tmp/chorale_scores.pkl   # scores kept between runs
    python benchmarks/phrase_rule.py --voice bass   # the rule read on the bass line
    python benchmarks/phrase_rule.py --smoke   # five chorales: seconds
"""

from __future__ import annotations

import argparse
import pickle
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the package, from a checkout

SMOKE_PIECES = 5
TOLERANCE = 1.0  # quarter notes


def scores(limit: int | None, cache: Path | None) -> list:
    """The corpus chorales' `Score4`s, those music21 cannot make four voices of left out; `cache` a
    pickle of name -> Score4 (or None), read first and written back with what was missing."""
    from music_lstm.io.chorale_scores import corpus_names, corpus_score

    names = corpus_names()[:limit] if limit else corpus_names()
    have = pickle.loads(cache.read_bytes()) if cache is not None and cache.exists() else {}
    missing = [n for n in names if n not in have]
    for name in missing:
        try:
            have[name] = corpus_score(name)
        except Exception:  # a corpus file without four voices (a MelodyError) or one music21 cannot read
            have[name] = None
    if cache is not None and missing:
        cache.write_bytes(pickle.dumps(have))
    return [have[n] for n in names if have[n] is not None]


def agreement(pieces, rule, voice: int = 0) -> dict:
    """Precision, recall and F1 of `rule(line, meter, pickup)` on one voice (0: the soprano) against the
    written fermatas."""
    hits = ends = found = written = 0
    for s in pieces:
        ours = rule(s.voices[voice], s.meter, s.pickup)
        hits += sum(any(abs(t - f) <= TOLERANCE for f in s.fermatas) for t in ours)
        found += sum(any(abs(t - f) <= TOLERANCE for t in ours) for f in s.fermatas)
        ends, written = ends + len(ours), written + len(s.fermatas)
    p, r = hits / max(ends, 1), found / max(written, 1)
    return {"pieces": len(pieces), "rule ends": ends, "fermatas": written, "precision": p, "recall": r,
            "f1": 2 * p * r / max(p + r, 1e-12)}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--smoke", action="store_true", help=f"{SMOKE_PIECES} chorales only")
    ap.add_argument("--cache", type=Path, default=None, help="a pickle of the corpus scores, written on the first full run")
    ap.add_argument("--voice", choices=("soprano", "alto", "tenor", "bass"), default="soprano",
                    help="the line the rule reads (default: soprano; bass: a given bass without fermatas)")
    args = ap.parse_args(argv)
    from music_lstm.core.phrases import phrase_ends

    pieces = [s for s in scores(SMOKE_PIECES * 3 if args.smoke else None, args.cache) if s.fermatas_written]
    pieces = pieces[:SMOKE_PIECES] if args.smoke else pieces
    a = agreement(pieces, phrase_ends, ("soprano", "alto", "tenor", "bass").index(args.voice))
    print(f"phrase rule on the {args.voice} vs written fermatas ({a['pieces']} chorales, {a['fermatas']} fermatas, "
          f"{a['rule ends']} rule ends, within {TOLERANCE:g} quarter note)")
    print(f"precision {a['precision']:.3f}  recall {a['recall']:.3f}  F1 {a['f1']:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Bach's style in a harmonization, piece by piece: how often the inner voices repeat a pitch, how the bass
moves in eighths and off the beat, whether the phrase ends are cadences, and whether a strong beat sounds
a chromatic clash; `style_table` sets systems' harmonizations of held-out chorales beside Bach's own on
these, on Bach's 10th-90th percentile band, on chord/bass agreement and on the classifier two-sample test.

Pure NumPy and Python on plain values: a line is a monophonic list of `(offset, duration, midi)` notes in
quarter notes; four voices are S, A, T, B; the metre, pickup, key and fermatas come from Bach's
`core.scores.Score4` of the same piece (a system harmonizes Bach's soprano, so his phrase ends are its too).

The rules, exactly:

- **Notes** of a line are its notes of positive duration, in order of onset. A *move* is a pair of
  consecutive notes (a rest between them does not matter). Held notes are one note; only a re-struck note
  of the same pitch is a repeat.
- **Beats**: the quarter note (`beat_length`: a dotted quarter in 6/8, 9/8, 12/8), counted from the first
  barline, `pickup`. A time is *on the beat* when `(t - pickup) / beat` is a whole number.
- **Strong beats**: beats 1 and 3 of a 4/4 bar; the first beat of the bar in every other metre.
- **Sounding chord at time t**: the pitches of the voices whose note starts at or before `t` and ends
  after it (struck there or held over); its bass is the lowest of them.
- **Triad**: a pitch-class set is a major (minor) triad on root r when it holds r and r's major (minor)
  third and nothing outside r's major (minor) triad; so an incomplete triad without its fifth counts, an
  open fifth or a bare octave does not. The root is unique. A **dominant** on r: the set holds r and r+4
  and lies within r + {0, 4, 7, 10} (a major triad, or a dominant seventh complete or without its fifth).
- **Cadence** at a fermata (onset t of a soprano note that ends a phrase): the *arrival* is the chord
  sounding at t; the *approach* is either the chord sounding one beat before (t - beat) or the last chord
  struck before t and at or after t - beat (so a 4-3 suspension or a passing seventh resolved within the
  beat still gives the dominant). The arrival must be a major or minor triad in *root position* (its bass
  the root; `root_position=False` drops this). It is then
  *authentic* when an approach chord is a dominant on the arrival's root + 7 (V-I or V7-I, in any key),
  else *half* when the arrival is a major triad on the home tonic + 7 (the home key's V, however
  approached), else *plagal* when an approach chord is a major or minor triad on the arrival's root + 5
  (IV-I, iv-i). Each fermata counts once, in that order; the share is cadences / fermatas.
- **Chromatic clash**: the home key's scale is the major scale on the tonic, or in minor the natural minor
  with both forms of the 6th and 7th degrees (tonic + 0 2 3 5 7 8 9 10 11). A strong-beat chord (two or
  more voices sounding) clashes when it holds two pitch classes a semitone apart of which at least one lies
  outside the scale: E-flat with E-natural in C major, or F-sharp with G; E with F (both in the scale) does
  not, nor, in minor, F with F-sharp.

    python -c "from music_lstm.eval.bach_style import repeated_share; print(repeated_share([(0, 1, 60), (1, 1, 60), (2, 1, 62)]))"
    python benchmarks/bach_style.py   # Bach's own figures on the held-out chorales
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import NamedTuple

import numpy as np

from ..core.events import Note
from ..core.scores import Score4

EPS = 1e-6
EIGHTH = 0.5
MAJOR_SCALE = (0, 2, 4, 5, 7, 9, 11)
MINOR_SCALE = (0, 2, 3, 5, 7, 8, 9, 10, 11)  # natural minor plus the raised 6th and 7th degrees
MAJOR, MINOR = (0, 4, 7), (0, 3, 7)
DOMINANT = (0, 4, 7, 10)
BAND = (10, 90)  # percentiles of Bach's pieces that make the band
Voices = Sequence[Sequence[Note]]


# --- per line ----------------------------------------------------------------------------------------

def _notes(line: Sequence[Note]) -> list[Note]:
    return sorted((n for n in line if n[1] > EPS), key=lambda n: (n[0], n[2]))


def repeated_share(line: Sequence[Note]) -> float:
    """Share of the line's moves (pairs of consecutive notes) that strike the same pitch again; 0.0 for a
    line of fewer than two notes."""
    notes = _notes(line)
    if len(notes) < 2:
        return 0.0
    return sum(a[2] == b[2] for a, b in zip(notes, notes[1:])) / (len(notes) - 1)


def eighth_share(line: Sequence[Note]) -> float:
    """Share of the line's notes that last an eighth (0.5 quarter note) or less; 0.0 for an empty line."""
    notes = _notes(line)
    return sum(d <= EIGHTH + EPS for _, d, _ in notes) / len(notes) if notes else 0.0


def offbeat_share(line: Sequence[Note], pickup: float = 0.0, beat: float = 1.0) -> float:
    """Share of the line's notes whose onset falls off the beat (beats of `beat` quarter notes counted
    from the first barline at `pickup`); 0.0 for an empty line."""
    notes = _notes(line)
    return sum(not _on_grid(o - pickup, beat) for o, _, _ in notes) / len(notes) if notes else 0.0


def _on_grid(t: float, step: float) -> bool:
    x = t / step
    return abs(x - round(x)) < EPS / step


def beat_length(meter: tuple[int, int]) -> float:
    """Quarter notes per beat: a dotted quarter in compound metres (6/8, 9/8, 12/8), else a quarter."""
    num, den = meter
    return 1.5 if den == 8 and num % 3 == 0 and num > 3 else 1.0


# --- chords ------------------------------------------------------------------------------------------

def sounding(voices: Voices, t: float) -> list[int]:
    """The pitches sounding at time `t` (a note struck at or before `t` and ending after it), per voice."""
    out = []
    for v in voices:
        for o, d, p in v:
            if o <= t + EPS and o + d > t + EPS:
                out.append(p)
                break
    return out


def _holds(pcs: frozenset, root: int, steps: tuple[int, ...]) -> bool:
    return root in pcs and (root + steps[1]) % 12 in pcs and pcs <= {(root + s) % 12 for s in steps}


def triad(pitches: Sequence[int]) -> tuple[int, str] | None:
    """(root pitch class, "major" or "minor") of a major or minor triad, complete or without its fifth,
    or None."""
    pcs = frozenset(p % 12 for p in pitches)
    for root in range(12):
        if _holds(pcs, root, MAJOR):
            return root, "major"
        if _holds(pcs, root, MINOR):
            return root, "minor"
    return None


def is_dominant(pitches: Sequence[int], root: int) -> bool:
    """Whether the pitches are a major triad or a dominant seventh on `root` (complete or not, by the
    module's rule)."""
    return bool(pitches) and _holds(frozenset(p % 12 for p in pitches), root % 12, DOMINANT)


@dataclass(frozen=True)
class Cadences:
    fermatas: int
    authentic: int  # V-I (or V7-I) in any key
    plagal: int  # IV-I or iv-i, not on the home key's V
    half: int  # an arrival on the home key's V not approached by its own dominant

    @property
    def cadences(self) -> int:
        return self.authentic + self.plagal + self.half

    @property
    def share(self) -> float:
        return self.cadences / self.fermatas if self.fermatas else 0.0

    def __add__(self, other: "Cadences") -> "Cadences":
        return Cadences(*(a + b for a, b in zip(asdict(self).values(), asdict(other).values())))

    def to_json(self) -> dict:
        return {**asdict(self), "cadences": self.cadences, "share": self.share}


def cadence_kind(voices: Voices, t: float, beat: float, tonic: int, root_position: bool = True) -> str | None:
    """"authentic", "plagal", "half" or None: the cadence (by the module's rule) at a fermata at time `t`."""
    arrival = sounding(voices, t)
    found = triad(arrival)
    if found is None or (root_position and min(arrival) % 12 != found[0]):
        return None
    root, quality = found
    approaches = []
    if t - beat >= -EPS:
        approaches.append(sounding(voices, t - beat))
        last = max((o for v in voices for o, d, _ in v if t - beat - EPS <= o < t - EPS and d > EPS), default=None)
        if last is not None:
            approaches.append(sounding(voices, last))
    if any(is_dominant(a, root + 7) for a in approaches):
        return "authentic"
    if quality == "major" and root == (tonic + 7) % 12:
        return "half"  # before plagal: I-V would otherwise read as IV-I in the dominant
    if any((tri := triad(a)) is not None and tri[0] == (root + 5) % 12 for a in approaches):
        return "plagal"
    return None


def cadences(voices: Voices, fermatas: Sequence[float], meter: tuple[int, int] = (4, 4), pickup: float = 0.0,
             tonic: int = 0, mode: str = "major", root_position: bool = True) -> Cadences:
    """How many of the fermatas are authentic, plagal and half cadences (the module's rule). `pickup` does
    not move the beat before a fermata (a beat's length before it); `mode` does not change the rule (the
    home key's V is major in both modes). Both are taken so every measure reads the same score values."""
    beat = beat_length(meter)
    kinds = [cadence_kind(voices, t, beat, tonic, root_position) for t in fermatas]
    return Cadences(len(kinds), kinds.count("authentic"), kinds.count("plagal"), kinds.count("half"))


def scale(tonic: int, mode: str) -> frozenset[int]:
    """The home key's pitch classes: the major scale, or the minor with both its 6ths and 7ths."""
    return frozenset((tonic + s) % 12 for s in (MINOR_SCALE if mode == "minor" else MAJOR_SCALE))


def strong_beats(meter: tuple[int, int], pickup: float, end: float) -> list[float]:
    """Times of the strong beats from 0 up to `end`: beats 1 and 3 in 4/4, beat 1 of the bar otherwise."""
    bar = meter[0] * 4.0 / meter[1]
    step = bar / 2 if tuple(meter) == (4, 4) else bar
    first = pickup % step
    return [float(t) for t in np.arange(first, end - EPS, step)]


def clashes(pitches: Sequence[int], key: frozenset[int]) -> bool:
    """Whether the pitches hold two pitch classes a semitone apart, at least one of them outside `key`."""
    pcs = {p % 12 for p in pitches}
    return any((p + 1) % 12 in pcs and not (p in key and (p + 1) % 12 in key) for p in pcs)


class Clashes(NamedTuple):
    chords: int  # strong-beat chords of two or more voices
    clashes: int  # those with a chromatic clash

    @property
    def share(self) -> float:
        return self.clashes / self.chords if self.chords else 0.0


def chromatic_clashes(voices: Voices, meter: tuple[int, int] = (4, 4), pickup: float = 0.0, tonic: int = 0,
                      mode: str = "major") -> Clashes:
    """The strong-beat chords of two or more voices and how many of them hold a chromatic clash (the
    module's rule) in the home key of `tonic` and `mode`; `.share` is the second over the first."""
    end = max((o + d for v in voices for o, d, _ in v), default=0.0)
    key = scale(tonic, mode)
    chords = [c for c in (sounding(voices, t) for t in strong_beats(meter, pickup, end)) if len(c) >= 2]
    return Clashes(len(chords), sum(clashes(c, key) for c in chords))


# --- Bach's band -------------------------------------------------------------------------------------

class Band(NamedTuple):
    low: float  # Bach's `lo`-th percentile per piece
    high: float  # and his `hi`-th
    share: float  # share of the system's pieces inside [low, high] (nan when it has none)


def inside(values: Sequence[float], low: float, high: float) -> np.ndarray:
    """Per value, whether it lies in [low, high] (inclusive, with float tolerance)."""
    v = np.asarray(values, dtype=float)
    return (v >= low - 1e-9) & (v <= high + 1e-9)


def band(values_bach: Sequence[float], values_system: Sequence[float], lo: float = BAND[0],
         hi: float = BAND[1]) -> Band:
    """Bach's per-piece `lo`-`hi` percentile band (NumPy's linear percentiles) and the share of the
    system's per-piece values that lie inside it."""
    if not len(values_bach):
        raise ValueError("no Bach pieces to make a band of")
    low, high = (float(x) for x in np.percentile(np.asarray(values_bach, dtype=float), [lo, hi]))
    share = float(inside(values_system, low, high).mean()) if len(values_system) else math.nan
    return Band(low, high, share)


# --- the table ---------------------------------------------------------------------------------------

def piece_measures(voices: Voices, score: Score4) -> dict[str, float]:
    """Every per-piece figure of four voices, read with the metre, pickup, key and fermatas of `score`."""
    cad = cadences(voices, score.fermatas, score.meter, score.pickup, score.tonic, score.mode)
    chords, clash = chromatic_clashes(voices, score.meter, score.pickup, score.tonic, score.mode)
    return {
        "alto_repeated": repeated_share(voices[1]),
        "tenor_repeated": repeated_share(voices[2]),
        "bass_eighths": eighth_share(voices[3]),
        "bass_offbeat": offbeat_share(voices[3], score.pickup, beat_length(score.meter)),
        "fermatas": float(cad.fermatas),
        "cadences": float(cad.cadences),
        "strong_chords": float(chords),
        "clashes": float(clash),
    }


# row -> (label, format); a label's {band} is filled with Bach's band of that row's measure
ROWS = {
    "alto_repeated": ("alto repeated notes (share of moves), median; Bach 10-90% {band}", "{:.3f}"),
    "tenor_repeated": ("tenor repeated notes, median; Bach 10-90% {band}", "{:.3f}"),
    "inner_inside": ("pieces with alto and tenor both inside Bach's band", "{:.2f}"),
    "bass_eighths": ("bass notes of an eighth or less, median; Bach 10-90% {band}", "{:.3f}"),
    "bass_eighths_inside": ("pieces with bass eighths inside Bach's band", "{:.2f}"),
    "bass_offbeat": ("bass notes starting off the beat, median", "{:.3f}"),
    "cadence_share": ("fermatas that are cadences (all fermatas pooled)", "{:.3f}"),
    "clash_share": ("strong-beat chords with a chromatic clash (pooled)", "{:.3f}"),
    "two_sample": ("classifier two-sample accuracy vs Bach (0.5 = cannot tell)", "{:.2f}"),
    "bass_agreement": ("beats with Bach's bass pitch class", "{:.3f}"),
    "chord_agreement": ("beats with Bach's chord (pitch-class set)", "{:.3f}"),
}
BANDED = ("alto_repeated", "tenor_repeated", "bass_eighths")


def _column(measures: list[dict], bands: dict[str, tuple[float, float]]) -> dict[str, float]:
    col = lambda k: np.array([m[k] for m in measures])  # noqa: E731
    pooled = lambda a, b: float(col(b).sum() / col(a).sum()) if col(a).sum() else math.nan  # noqa: E731
    alto = inside(col("alto_repeated"), *bands["alto_repeated"])
    tenor = inside(col("tenor_repeated"), *bands["tenor_repeated"])
    return {
        **{k: float(np.median(col(k))) for k in (*BANDED, "bass_offbeat")},
        "inner_inside": float(np.mean(alto & tenor)),
        "bass_eighths_inside": float(np.mean(inside(col("bass_eighths"), *bands["bass_eighths"]))),
        "cadence_share": pooled("fermatas", "cadences"),
        "clash_share": pooled("strong_chords", "clashes"),
        "fermatas": float(col("fermatas").sum()),
        "strong_chords": float(col("strong_chords").sum()),
    }


def style_table(bach: list[Score4], systems: dict[str, list[Voices]], two_sample: bool = True,
                seed: int = 0) -> dict:
    """Each system's harmonizations (`systems[name][i]` four voices of the piece `bach[i]`) beside Bach's:
    a JSON-able dict with `pieces`, `bands` (Bach's 10-90% band per banded measure), `columns` (per
    system, then "Bach": row -> value, rows as in `ROWS`) and `per_piece` (column -> the per-piece
    figures). The two-sample accuracy of a system is its pieces against Bach's same pieces; Bach's own is
    Bach's pieces split at random in two halves (`two_sample.calibrate`), the figure chance gives; nan
    where too few pieces are long enough to cross-validate."""
    from . import two_sample as ts
    from .harmonization import agreement

    if not bach:
        raise ValueError("no Bach pieces to measure against")
    for name, outs in systems.items():
        if len(outs) != len(bach):
            raise ValueError(f"{name}: {len(outs)} harmonizations for {len(bach)} pieces")
    bach_voices = [s.voices for s in bach]
    per_piece = {"Bach": [piece_measures(s.voices, s) for s in bach]}
    for name, outs in systems.items():
        per_piece[name] = [piece_measures(v, s) for v, s in zip(outs, bach)]
    bands = {k: tuple(band([m[k] for m in per_piece["Bach"]], [])[:2]) for k in BANDED}

    def accuracy(fn, *args) -> float:
        if not two_sample:
            return math.nan
        try:
            return fn(*args, seed=seed).accuracy
        except ValueError:  # too few pieces with an excerpt to cross-validate
            return math.nan

    columns = {}
    for name in [*systems, "Bach"]:
        col = _column(per_piece[name], bands)
        if name == "Bach":
            col.update(two_sample=accuracy(ts.calibrate, bach_voices), bass_agreement=1.0, chord_agreement=1.0)
        else:
            counts = np.array([agreement(v, b) for v, b in zip(systems[name], bach_voices)]).sum(axis=0)
            col.update(two_sample=accuracy(ts.two_sample_test, list(systems[name]), bach_voices),
                       bass_agreement=counts[1] / counts[0] if counts[0] else math.nan,
                       chord_agreement=counts[2] / counts[0] if counts[0] else math.nan)
        columns[name] = {k: float(v) for k, v in col.items()}
    return {"pieces": len(bach), "bands": {k: list(b) for k, b in bands.items()}, "columns": columns,
            "per_piece": per_piece}


def format_style_table(table: dict) -> str:
    """The table as Markdown: one row per measure, one column per system and Bach's last."""
    names = list(table["columns"])
    lines = [f"| {table['pieces']} held-out chorales | " + " | ".join(names) + " |", "|---" * (len(names) + 1) + "|"]
    for key, (label, fmt) in ROWS.items():
        if key in table["bands"]:
            low, high = table["bands"][key]
            label = label.format(band=f"[{fmt.format(low)}, {fmt.format(high)}]")
        cells = [table["columns"][n][key] for n in names]
        lines.append(f"| {label} | " + " | ".join("-" if v != v else fmt.format(v) for v in cells) + " |")
    bach = table["columns"]["Bach"]
    lines.append(f"\n{bach['fermatas']:.0f} fermatas and {bach['strong_chords']:.0f} strong-beat chords in Bach's "
                 "pieces; Bach's two-sample figure is his pieces split in two halves (chance).")
    return "\n".join(lines)

"""Voice leading of four-part pieces (soprano, alto, tenor, bass), and generated pieces compared with Bach on it.

Pure Python and NumPy. A piece is its four voices, each a monophonic list of `(offset, duration, pitch)`
notes in quarter notes, highest voice first (`events.Piece.voices`).

The voices are cut into onset slices: one at every time a note of any voice starts or a voice falls silent.
In a slice each voice sounds one pitch (the note it struck there or holds over) or none (a rest). Between
two slices a voice *moves* when it sounds in both and its pitch changes; a held or re-struck note of the
same pitch does not move.

Definitions (intervals between two voices are taken as absolute semitones; their class is that mod 12, so
compound intervals reduce: 19 is a fifth, 24 an octave; 0 is a unison or an octave):

- **transition**: two consecutive slices in both of which all four voices sound, with at least one voice
  moving.
- **parallel** (fifths, octaves, unisons) in a transition, for each of the six pairs of voices: both voices
  move, in the same direction, and the pair's interval class is a perfect fifth (7) in both slices, or a
  unison/octave (0) in both. Contrary or oblique motion between two perfects is not counted, nor a fifth
  followed by an octave. Reported per 100 transitions (`parallels`, and split into `parallel_fifths` and
  `parallel_octaves`, the latter holding unisons).
- **hidden** (direct) fifth/octave, soprano and bass only: both move in the same direction into a perfect
  fifth or unison/octave class that is not the class they left (that would be a parallel), and the soprano
  moves by a leap (more than 2 semitones). Per 100 transitions.
- **crossing**: share of four-voice slices where a voice sounds strictly below one that belongs under it
  (alto below tenor, soprano below bass, ...).
- **wide spacing**: share of four-voice slices where soprano-alto (`wide_sa`) or alto-tenor (`wide_at`) is
  more than 12 semitones.
- **range**: per voice, share of its notes outside a given `(low, high)` range, inclusive; `voice_ranges`
  gives the 1st-99th percentile of each voice's pitches pooled over reference pieces.
- **sonority**: share of four-voice slices whose pitch-class set is a triad or seventh chord, complete or
  incomplete: there is a root r and a chord type T (major, minor, diminished, augmented triad; dominant,
  minor, half-diminished, diminished, major seventh) such that the set lies within r + T and holds both r and
  r's third in T. So a root-third dyad is an incomplete triad, a root-third-seventh set an incomplete seventh
  chord, while an open fifth, a bare octave or a set with a non-chord tone is not.

Use from `evaluate --generated`, with the voices of the generated and held-out pieces:

    from music_lstm.eval import voice_leading
    c = voice_leading.compare(generated_voices_by_name, reference_voices_list, crop_slices=None)
    print(voice_leading.format_table(c))
    json_dict = c.to_json()

`metrics.voice_report` adds the classifier two-sample test (`two_sample`) to the table, and
`metrics.voice_report_pieces` takes `events.Piece`s (leaving out, and naming, those without four voices).

Pieces are not cropped unless `crop_slices` is given: the measures are rates per transition or per slice.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import numpy as np

from ..core.events import GRID, VOICE_NAMES, Note, quantize
from ..core.pitches import LEAP
from ..core.ranges import Voices, voice_ranges
from .tables import band_table, outside_lines

PERFECT = (0, 7)  # interval classes: unison/octave, fifth
WIDE = 12
PAIRS = list(itertools.combinations(range(4), 2))  # (upper, lower) voice indices

# name -> (intervals above the root, the third)
CHORD_TYPES = {
    "major": ((0, 4, 7), 4),
    "minor": ((0, 3, 7), 3),
    "diminished": ((0, 3, 6), 3),
    "augmented": ((0, 4, 8), 4),
    "dominant7": ((0, 4, 7, 10), 4),
    "minor7": ((0, 3, 7, 10), 3),
    "half-diminished7": ((0, 3, 6, 10), 3),
    "diminished7": ((0, 3, 6, 9), 3),
    "major7": ((0, 4, 7, 11), 4),
}

# name -> (label, format); the rows of the table
MEASURES = {
    "parallels": ("parallel 5ths/8ves per 100 trans.", "{:.1f}"),
    "hidden": ("hidden 5ths/8ves S-B per 100 trans.", "{:.1f}"),
    "crossings": ("voice crossings (share of slices)", "{:.3f}"),
    "wide_sa": ("S-A wider than an octave", "{:.3f}"),
    "wide_at": ("A-T wider than an octave", "{:.3f}"),
    "sonority": ("triads/sevenths (share of slices)", "{:.3f}"),
}
RANGE_MEASURES = {f"outside_{v[0]}": (f"{v} notes outside Bach range", "{:.3f}") for v in VOICE_NAMES}


@dataclass(frozen=True)
class VSlice:
    offset: float
    duration: float
    pitches: tuple[int | None, ...]  # per voice, S A T B; None where the voice is silent
    struck: tuple[bool, ...]  # per voice: a note starts here

    @property
    def full(self) -> bool:
        return all(p is not None for p in self.pitches)


def voice_slices(voices: Voices) -> list[VSlice]:
    """The onset slices of four voices: one per time at which any voice strikes a note or falls silent."""
    if len(voices) != 4:
        raise ValueError(f"need four voices, got {len(voices)}")
    spans = []
    for v in voices:
        notes = sorted((quantize(o), quantize(o + d), p) for o, d, p in v if d > 0)
        spans.append((np.array([n[0] for n in notes]), np.array([n[1] for n in notes]), [n[2] for n in notes]))
    starts_all = {s for starts, _, _ in spans for s in starts.tolist()}
    # a rest starts where a note ends and its voice strikes nothing else then
    rests = {e for starts, ends, _ in spans for e in set(ends.tolist()) - set(starts.tolist())}
    end = max((float(ends.max()) for _, ends, _ in spans if len(ends)), default=0.0)
    onsets = sorted(starts_all | {e for e in rests if e < end - GRID / 2})
    if not onsets:
        return []
    out = []
    for i, t in enumerate(onsets):
        pitches, struck = [], []
        for starts, ends, ps in spans:
            k = int(np.searchsorted(starts, t + GRID / 2, side="right")) - 1
            if k >= 0 and ends[k] > t + GRID / 2:
                pitches.append(ps[k])
                struck.append(abs(starts[k] - t) < GRID / 2)
            else:
                pitches.append(None)
                struck.append(False)
        nxt = onsets[i + 1] if i + 1 < len(onsets) else end
        out.append(VSlice(t, nxt - t, tuple(pitches), tuple(struck)))
    return out


def crop_voices(voices: Voices, n_slices: int) -> list[list[Note]]:
    """The piece up to its `n_slices`-th onset slice; notes still sounding there are cut short."""
    onsets = sorted({quantize(o) for v in voices for o, d, _ in v if d > 0})
    if len(onsets) <= n_slices:
        return [list(v) for v in voices]
    cut = onsets[n_slices]
    return [[(o, min(d, cut - o), p) for o, d, p in v if quantize(o) < cut] for v in voices]


def chord_type(pcs) -> str | None:
    """The first chord type (in `CHORD_TYPES` order, roots from C up) that holds this pitch-class set by the
    rule of the module docstring, or None."""
    pcs = frozenset(pcs)
    for name, (steps, third) in CHORD_TYPES.items():
        for root in range(12):
            if root in pcs and (root + third) % 12 in pcs and pcs <= {(root + s) % 12 for s in steps}:
                return name
    return None


def moves(a: VSlice, b: VSlice) -> list[int]:
    """Per voice, its step in semitones from slice `a` to slice `b` (0 where it is silent in either)."""
    return [(q - p) if p is not None and q is not None else 0 for p, q in zip(a.pitches, b.pitches)]


def transition_events(a: VSlice, b: VSlice) -> tuple[int, int, int]:
    """(parallel fifths, parallel unisons/octaves, hidden S-B) between two four-voice slices."""
    steps = moves(a, b)
    fifths = octaves = 0
    for u, l in PAIRS:
        mu, ml = steps[u], steps[l]
        if mu == 0 or ml == 0 or (mu > 0) != (ml > 0):
            continue
        before = abs(a.pitches[u] - a.pitches[l]) % 12
        after = abs(b.pitches[u] - b.pitches[l]) % 12
        if before == after == 7:
            fifths += 1
        elif before == after == 0:
            octaves += 1
    ms, mb = steps[0], steps[3]
    hidden = 0
    if ms and mb and (ms > 0) == (mb > 0) and abs(ms) > LEAP:
        before = abs(a.pitches[0] - a.pitches[3]) % 12
        after = abs(b.pitches[0] - b.pitches[3]) % 12
        hidden = int(after in PERFECT and before != after)
    return fifths, octaves, hidden


def measure(voices: Voices, ranges: list[tuple[int, int]] | None = None) -> dict[str, float]:
    """Every voice-leading measure of one piece (`outside_S` ... only if `ranges` is given), plus the
    counts they rest on (`transitions`, `full_slices`)."""
    sl = voice_slices(voices)
    full = [s for s in sl if s.full]
    fifths = octaves = hidden = transitions = 0
    for a, b in zip(sl, sl[1:]):
        if a.full and b.full and any(moves(a, b)):
            transitions += 1
            f, o, h = transition_events(a, b)
            fifths, octaves, hidden = fifths + f, octaves + o, hidden + h
    per100 = (lambda n: 100.0 * n / transitions) if transitions else (lambda n: 0.0)
    share = (lambda n: n / len(full)) if full else (lambda n: 0.0)
    out = {
        "parallels": per100(fifths + octaves),
        "parallel_fifths": per100(fifths),
        "parallel_octaves": per100(octaves),
        "hidden": per100(hidden),
        "crossings": share(sum(any(s.pitches[u] < s.pitches[l] for u, l in PAIRS) for s in full)),
        "wide_sa": share(sum(s.pitches[0] - s.pitches[1] > WIDE for s in full)),
        "wide_at": share(sum(s.pitches[1] - s.pitches[2] > WIDE for s in full)),
        "sonority": share(sum(chord_type({p % 12 for p in s.pitches}) is not None for s in full)),
        "transitions": float(transitions),
        "full_slices": float(len(full)),
    }
    if ranges is not None:
        for i, (lo, hi) in enumerate(ranges):
            ps = [p for _, d, p in voices[i] if d > 0]
            out[f"outside_{VOICE_NAMES[i][0]}"] = sum(not lo <= p <= hi for p in ps) / len(ps) if ps else 0.0
    return out


def _stats(vals) -> dict[str, float]:
    vals = np.asarray(vals, dtype=float)
    return {
        "mean": float(vals.mean()),
        "p5": float(np.percentile(vals, 5)),
        "median": float(np.median(vals)),
        "p75": float(np.percentile(vals, 75)),
        "p90": float(np.percentile(vals, 90)),
        "p95": float(np.percentile(vals, 95)),
    }


@dataclass
class VoiceComparison:
    """Generated pieces against the Bach reference on voice leading; `to_json()` is JSON-able."""

    crop_slices: int | None
    ranges: list[tuple[int, int]]
    reference: dict[str, dict[str, float]]  # measure -> mean, p5, median, p75, p90, p95
    generated: dict[str, dict[str, float]]  # name -> measure -> value
    outside: dict[str, list[str]] = field(default_factory=dict)  # name -> measures outside the 5-95% band
    two_sample: dict | None = None  # `two_sample.TwoSampleResult.to_json()` of generated vs Bach, and of Bach vs Bach

    @property
    def rows(self) -> dict[str, tuple[str, str]]:
        return {**MEASURES, **RANGE_MEASURES}

    def inside_counts(self) -> dict[str, int]:
        return {m: sum(m not in self.outside[f] for f in self.generated) for m in self.rows}

    def parallels_at_or_below_p90(self) -> int:
        p90 = self.reference["parallels"]["p90"]
        return sum(v["parallels"] <= p90 + 1e-9 for v in self.generated.values())

    def to_json(self) -> dict:
        n = len(self.generated)
        med = lambda m: float(np.median([v[m] for v in self.generated.values()])) if n else None  # noqa: E731
        out = {
            "crop_slices": self.crop_slices,
            "ranges": {VOICE_NAMES[i]: list(r) for i, r in enumerate(self.ranges)},
            "reference": self.reference,
            "generated": self.generated,
            "outside": self.outside,
            "summary": {
                m: {"generated_median": med(m), "inside": k, "pieces": n} for m, k in self.inside_counts().items()
            },
            "parallels": {
                "bach_median": self.reference["parallels"]["median"],
                "bach_p75": self.reference["parallels"]["p75"],
                "bach_p90": self.reference["parallels"]["p90"],
                "generated_median": med("parallels"),
                "at_or_below_bach_p90": self.parallels_at_or_below_p90(),
                "median_at_or_below_bach_p75": (
                    (med("parallels") <= self.reference["parallels"]["p75"] + 1e-9) if n else None
                ),
                "pieces": n,
            },
        }
        if self.two_sample is not None:
            out["two_sample"] = self.two_sample
        return out


def compare(
    generated: dict[str, Voices],
    reference: list[Voices],
    crop_slices: int | None = None,
    ranges: list[tuple[int, int]] | None = None,
) -> VoiceComparison:
    """Measure generated and reference pieces (each cropped to `crop_slices` onset slices if given) against
    the reference's percentiles; voice ranges are the reference's 1st-99th percentile unless given."""
    if not reference:
        raise ValueError("no reference pieces to compare with")
    if crop_slices is not None:
        reference = [crop_voices(v, crop_slices) for v in reference]
        generated = {k: crop_voices(v, crop_slices) for k, v in generated.items()}
    ranges = ranges or voice_ranges(reference)
    rows = {**MEASURES, **RANGE_MEASURES}
    ref_values = [measure(v, ranges) for v in reference]
    band = {m: _stats([v[m] for v in ref_values]) for m in list(rows) + ["parallel_fifths", "parallel_octaves"]}
    values = {name: measure(v, ranges) for name, v in generated.items()}
    outside = {
        name: [m for m in rows if not band[m]["p5"] - 1e-9 <= v[m] <= band[m]["p95"] + 1e-9]
        for name, v in values.items()
    }
    return VoiceComparison(crop_slices, ranges, band, values, outside)


def format_table(c: VoiceComparison) -> str:
    """One row per measure: the Bach mean and band, the generated median and how many fall inside; then the
    parallels against Bach's percentiles, and the two-sample test if it was run."""
    n = len(c.generated)
    crop = f"pieces cropped to {c.crop_slices} onset slices; " if c.crop_slices else ""
    lines = band_table("voice leading", c.rows, c.reference, c.generated, c.outside,
                       f"{crop}generated = median piece", width=38, summary=np.median)
    p = c.reference["parallels"]
    gen_med = float(np.median([v["parallels"] for v in c.generated.values()])) if n else float("nan")
    lines.append(
        f"parallels per 100 transitions: Bach median {p['median']:.1f}, 75th percentile {p['p75']:.1f}, "
        f"90th {p['p90']:.1f}; generated median {gen_med:.1f}; "
        f"{c.parallels_at_or_below_p90()}/{n} pieces at or below Bach's 90th percentile"
    )
    ranges = ", ".join(f"{VOICE_NAMES[i]} {lo}-{hi}" for i, (lo, hi) in enumerate(c.ranges))
    lines.append(f"Bach ranges (1st-99th percentile): {ranges}")
    if c.two_sample is not None:
        g, b = c.two_sample.get("generated_vs_bach"), c.two_sample.get("bach_vs_bach")
        parts = []
        if g:
            parts.append(f"generated vs Bach {g['accuracy']:.2f} ({g['excerpts_a']}+{g['excerpts_b']} excerpts)")
        if b:
            parts.append(f"Bach vs Bach {b['accuracy']:.2f}")
        head = "classifier two-sample test, cross-validated accuracy (0.5 = cannot tell apart): "
        lines.append(head + "; ".join(parts))
    lines += outside_lines(c.rows, c.outside)
    return "\n".join(lines)

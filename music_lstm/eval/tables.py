"""The band table that `metrics` and `voice_leading` print: one row per measure, Bach's mean and 5-95%
band beside the generated pieces' value and how many of them fall inside the band.

    python -c "from music_lstm.eval.tables import band_table; print(band_table('metric', {'x': ('a measure', '{:.2f}')}, \
{'x': {'mean': 1.0, 'p5': 0.5, 'p95': 1.5}}, {'one': {'x': 1.2}}, {'one': []}, 'note'))"
"""

from __future__ import annotations

import numpy as np


def band_table(title: str, rows: dict[str, tuple[str, str]], reference: dict[str, dict], generated: dict[str, dict],
               outside: dict[str, list[str]], first_line: str, width: int = 34, summary=np.mean) -> list[str]:
    """The table's lines: `rows` maps a measure to (label, format); `reference[m]` holds Bach's `mean`,
    `p5`, `p95`; `generated[piece][m]` each piece's value (`summary` of them is shown); `outside[piece]`
    the measures a piece falls outside the band on. A row is marked `*` where the one piece falls
    outside, or where fewer than 3/4 of several pieces fall inside."""
    n = len(generated)
    single = next(iter(generated)) if n == 1 else None
    head = f"{title:<{width}}{'Bach mean':>10}  {'Bach 5-95%':<17}{'generated':>10}  {'inside band':<11}"
    note = "outside the Bach band" if single else "fewer than 3/4 of the pieces inside the Bach band"
    lines = [f"{first_line}; * = {note}", head, "-" * len(head)]
    for m, (label, fmt) in rows.items():
        r = reference[m]
        inside = sum(m not in outside[f] for f in generated)
        band = f"[{fmt.format(r['p5'])}, {fmt.format(r['p95'])}]"
        gen = float(summary([v[m] for v in generated.values()])) if n else float("nan")
        mark = "*" if (single and m in outside[single]) or (not single and inside < 0.75 * n) else " "
        lines.append(f"{label:<{width}}{fmt.format(r['mean']):>10}  {band:<17}{fmt.format(gen):>10}{mark} {inside}/{n}")
    return lines


def outside_lines(rows: dict[str, tuple[str, str]], outside: dict[str, list[str]]) -> list[str]:
    """Per piece (when there are several), the measures it falls outside the band on."""
    if len(outside) < 2:
        return []
    return [f"{name}: outside on {', '.join(rows[m][0] for m in ms)}" for name, ms in outside.items() if ms]

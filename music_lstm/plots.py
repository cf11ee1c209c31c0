"""Piano roll of a piece as a PNG: time (quarter notes) across, pitch up, one bar per note.

matplotlib is imported inside the function (with the file-only Agg backend), so nothing else pays for
it and no display is needed.

    python -c "from music_lstm.plots import piano_roll; piano_roll([(0, 1, 60), (1, 2, 64)], 'roll.png')"
"""

from __future__ import annotations

import os

from .artifacts import atomic_path
from .encoding import pitch_name


def piano_roll(notes: list[tuple[float, float, int]], path: str | os.PathLike, title: str | None = None) -> None:
    """Write `notes` (offset, duration, pitch) as a piano-roll PNG at `path`, atomically."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    notes = [n for n in notes if n[1] > 0]
    end = max((o + d for o, d, _ in notes), default=4.0)
    low = min((p for _, _, p in notes), default=60) - 2
    high = max((p for _, _, p in notes), default=72) + 2
    fig, ax = plt.subplots(figsize=(min(40.0, max(8.0, end / 6)), max(3.5, (high - low) / 6)), dpi=100)
    try:
        for c in range(low, high + 1):  # black keys shaded, as on a keyboard
            if c % 12 in (1, 3, 6, 8, 10):
                ax.axhspan(c - 0.5, c + 0.5, color="0.93", zorder=0)
        ax.barh(
            [p for _, _, p in notes], [d for _, d, _ in notes], left=[o for o, _, _ in notes], height=0.8,
            color="tab:blue", edgecolor="navy", linewidth=0.6, zorder=2,
        )
        for beat in range(0, int(end) + 1, 4):  # a line every four quarter notes
            ax.axvline(beat, color="0.75", linewidth=0.5, zorder=1)
        ax.set_xlim(0, end)
        ax.set_ylim(low - 0.5, high + 0.5)
        cs = [c for c in range(low, high + 1) if c % 12 == 0]
        ax.set_yticks(cs, [pitch_name(c) for c in cs])
        ax.set_xlabel("time (quarter notes)")
        ax.set_ylabel("pitch")
        if title:
            ax.set_title(title)
        fig.tight_layout()
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format="png")
    finally:
        plt.close(fig)

"""The pictures: `history.png` (loss per epoch, written as training goes) and a piano roll per generated
piece (`generate --plot`).

Both are drawn on matplotlib's off-screen Agg canvas: no pyplot, no global backend, no display needed.
matplotlib is imported inside the functions, so nothing else pays for it; every file is written atomically.

    python -c "from music_lstm.io.plotting import piano_roll; piano_roll([(0, 1, 60), (1, 2, 64)], 'roll.png')"
    python -c "from music_lstm.io.plotting import plot_history; plot_history([{'epoch': 1, 'loss': 3.0, 'val_loss': 3.2}, {'epoch': 2, 'loss': 2.5, 'val_loss': 2.9}], 'history.png')"
"""

from __future__ import annotations

import math
import os

from ..core.files import atomic_path
from ..core.pitches import pitch_name


def _figure(width: float, height: float):
    """A figure on its own Agg canvas (no pyplot: nothing global to close)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=100)
    FigureCanvasAgg(fig)
    return fig


def _save(fig, path: str | os.PathLike) -> None:
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png")


def plot_history(history: list[dict], path: str | os.PathLike) -> None:
    """Loss per epoch (left axis, nats per symbol); perplexity is exp(loss), marked on the right axis."""
    fig = _figure(6.4, 4.0)
    ax = fig.add_subplot()
    epochs = [h["epoch"] for h in history]
    for key, label in (("loss", "training"), ("val_loss", "validation")):
        points = [(e, h[key]) for e, h in zip(epochs, history) if key in h]
        if points:
            ax.plot(*zip(*points), marker="o", markersize=3, label=label)
    ax.set_xlabel("epoch")
    ax.set_ylabel("cross-entropy per symbol (nats)")
    ax.grid(alpha=0.3)
    if ax.lines:
        ax.legend()
        right = ax.secondary_yaxis("right", functions=(_exp, _log))
        right.set_ylabel("perplexity")
    ax.set_title("music_lstm training")
    _save(fig, path)


VOICE_COLOURS = ("tab:red", "tab:orange", "tab:green", "tab:blue")  # soprano, alto, tenor, bass


def piano_roll(notes: list[tuple[float, float, int]], path: str | os.PathLike, title: str | None = None,
               voices=None) -> None:
    """Write `notes` (offset, duration, pitch) as a piano-roll PNG at `path`: time (quarter notes) across,
    pitch up, one bar per note. With `voices` (four lines, soprano to bass) each voice has its colour."""
    if voices is not None:
        notes = [n for v in voices for n in v]
    notes = [n for n in notes if n[1] > 0]
    end = max((o + d for o, d, _ in notes), default=4.0)
    low = min((p for _, _, p in notes), default=60) - 2
    high = max((p for _, _, p in notes), default=72) + 2
    fig = _figure(min(40.0, max(8.0, end / 6)), max(3.5, (high - low) / 6))
    ax = fig.add_subplot()
    for c in range(low, high + 1):  # black keys shaded, as on a keyboard
        if c % 12 in (1, 3, 6, 8, 10):
            ax.axhspan(c - 0.5, c + 0.5, color="0.93", zorder=0)
    groups = [(notes, "tab:blue", None)]
    if voices is not None:
        from ..core.events import VOICE_NAMES

        groups = [([n for n in v if n[1] > 0], c, name) for v, c, name in zip(voices, VOICE_COLOURS, VOICE_NAMES)]
    for group, colour, label in groups:
        ax.barh(
            [p for _, _, p in group], [d for _, d, _ in group], left=[o for o, _, _ in group], height=0.8,
            color=colour, edgecolor="0.2", linewidth=0.6, zorder=2, label=label,
        )
    if voices is not None:
        ax.legend(loc="upper right", fontsize="small")
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
    _save(fig, path)


def _exp(x):
    import numpy as np

    return np.exp(np.clip(x, -50, 50))


def _log(x):
    import numpy as np

    return np.log(np.maximum(x, math.ulp(0)))

"""`history.png`: training and validation loss per epoch, drawn with matplotlib's Agg canvas.

No pyplot and no global backend: the figure is drawn off-screen, so training on a machine without a
display works, and the file is written atomically each epoch. matplotlib is imported only here.

    python -c "from music_lstm.curves import plot_history; plot_history([{'epoch': 1, 'loss': 3.0, 'val_loss': 3.2}, {'epoch': 2, 'loss': 2.5, 'val_loss': 2.9}], 'history.png')"
"""

from __future__ import annotations

import math
import os

from .artifacts import atomic_path


def plot_history(history: list[dict], path: str | os.PathLike) -> None:
    """Loss per epoch (left axis, nats per symbol); perplexity is exp(loss), marked on the right axis."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6.4, 4.0), dpi=100)
    FigureCanvasAgg(fig)
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
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png")


def _exp(x):
    import numpy as np

    return np.exp(np.clip(x, -50, 50))


def _log(x):
    import numpy as np

    return np.log(np.maximum(x, math.ulp(0)))

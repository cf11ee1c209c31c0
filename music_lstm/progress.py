"""A one-line progress report on stderr: files done of the total, files skipped, files per second.

On a terminal the line is redrawn in place (at most ten times a second); in a log (stderr not a
terminal) a plain line is written every `log_every` seconds, so long runs still show signs of life.

    python -c "from music_lstm.progress import Progress; p = Progress(3, 'demo', live=True); p.update(3, 1); p.close()"
"""

from __future__ import annotations

import sys
import time


class Progress:
    def __init__(self, total: int, label: str, stream=None, live: bool | None = None, log_every: float = 10.0):
        self.total, self.label = total, label
        self.stream = stream or sys.stderr
        self.live = bool(getattr(self.stream, "isatty", lambda: False)()) if live is None else live
        self.log_every = log_every
        self.start = self.last = time.perf_counter()
        self.done = self.skipped = 0
        self.shown = False  # a live line is on screen and must be cleared before other output

    def line(self) -> str:
        seconds = max(time.perf_counter() - self.start, 1e-9)
        width = len(str(self.total))
        return (f"{self.label}: {self.done:>{width}}/{self.total} files, {self.skipped} skipped, "
                f"{self.done / seconds:.1f} files/s")

    def update(self, done: int, skipped: int) -> None:
        self.done, self.skipped = done, skipped
        now = time.perf_counter()
        if self.live and (now - self.last >= 0.1 or done == self.total):
            self.stream.write("\r\033[K" + self.line())
            self.stream.flush()
            self.shown, self.last = True, now
        elif not self.live and now - self.last >= self.log_every:
            print(self.line(), file=self.stream, flush=True)
            self.last = now

    def clear(self) -> None:
        """Take the live line off the screen (before another line is printed); the next update redraws it."""
        if self.shown:
            self.stream.write("\r\033[K")
            self.stream.flush()
            self.shown = False

    def rate(self) -> float:
        return self.done / max(time.perf_counter() - self.start, 1e-9)

    def close(self) -> None:
        self.clear()

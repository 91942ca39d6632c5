"""The progress line of long benchmark runs."""

from __future__ import annotations

import sys
import time


class Progress:
    """One self-rewriting stderr line (a line per step when stderr is not a terminal)."""

    def __init__(self, total: int, label: str) -> None:
        self.total, self.label, self.start = total, label, time.monotonic()
        self.tty = sys.stderr.isatty()

    def update(self, done: int, note: str = "") -> None:
        elapsed = time.monotonic() - self.start
        # No estimate before the first step is done: nothing is known of its pace yet.
        left = f"~{_clock(elapsed / done * (self.total - done))}" if done else "--:--"
        bar = "#" * (20 * done // max(self.total, 1))
        line = f"{self.label} [{bar:<20}] {done}/{self.total} {_clock(elapsed)} elapsed, {left} left {note}"
        if self.tty:
            sys.stderr.write("\r" + line[:150].ljust(150))
        else:
            sys.stderr.write(line + "\n")
        sys.stderr.flush()

    def close(self) -> None:
        if self.tty:
            sys.stderr.write("\n")
            sys.stderr.flush()

def _clock(seconds: float) -> str:
    m, s = divmod(int(seconds), 60)
    return f"{m:02d}:{s:02d}"

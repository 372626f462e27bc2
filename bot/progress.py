"""A dependency-free terminal progress bar for long commands (imports, broadcasts)."""

from __future__ import annotations

import sys
import time
from typing import TextIO


class ProgressBar:
    """Draws `label [#####.....] 42/100` on one line, at most ten times a second.

    On a stream that is not a terminal (CI logs, pipes) it prints nothing until `finish`,
    so logs are not flooded with carriage returns.
    """

    def __init__(self, label: str, total: int, stream: TextIO | None = None, width: int = 30):
        self.label = label
        self.total = max(total, 0)
        self.stream = stream if stream is not None else sys.stderr
        self.width = width
        self.done = 0
        self._last_draw = 0.0
        self._interactive = bool(getattr(self.stream, "isatty", lambda: False)())

    def advance(self, steps: int = 1, note: str = "") -> None:
        self.done += steps
        now = time.monotonic()
        if self._interactive and (now - self._last_draw >= 0.1 or self.done >= self.total):
            self._last_draw = now
            self._draw(note)

    def update(self, done: int, total: int | None = None, note: str = "") -> None:
        if total is not None:
            self.total = total
        self.advance(done - self.done, note)

    def _draw(self, note: str) -> None:
        filled = self.width if not self.total else int(self.width * self.done / self.total)
        bar = "#" * filled + "." * (self.width - filled)
        tail = f" {note}" if note else ""
        self.stream.write(f"\r{self.label} [{bar}] {self.done}/{self.total}{tail}\x1b[K")
        self.stream.flush()

    def finish(self, note: str = "") -> None:
        if self._interactive:
            self._draw(note)
            self.stream.write("\n")
        else:
            tail = f" {note}" if note else ""
            self.stream.write(f"{self.label}: {self.done}/{self.total}{tail}\n")
        self.stream.flush()

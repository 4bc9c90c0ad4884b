"""A one-line progress bar on stderr: the scenario running, how far it is, and the time spent."""

from __future__ import annotations

import sys
import time


class Progress:
    def __init__(self, scenarios: int) -> None:
        self.scenarios = scenarios
        self.done_scenarios = 0
        self.began = time.monotonic()
        self.name = ""
        self.total = 0
        self.done = 0
        self.interactive = sys.stderr.isatty()

    def start(self, name: str, total: int) -> None:
        self.name, self.total, self.done = name, max(total, 1), 0
        self._draw(force=True)

    def advance(self, amount: int = 1) -> None:
        tenth = 10 * self.done // self.total
        self.done += amount
        self._draw(force=10 * self.done // self.total > tenth)  # without a terminal: every 10%

    def finish(self) -> None:
        self.done_scenarios += 1
        self.done = self.total
        self._draw(force=True)
        if not self.interactive:
            return
        sys.stderr.write("\n")

    def _draw(self, force: bool = False) -> None:
        if not self.interactive and not force:
            return
        width = 30
        filled = int(width * self.done / self.total)
        bar = "#" * filled + "." * (width - filled)
        elapsed = time.monotonic() - self.began
        line = (
            f"[{self.done_scenarios + (self.done < self.total)}/{self.scenarios}] [{bar}] "
            f"{self.name}: {self.done}/{self.total}  ({elapsed:.0f} s)"
        )
        if self.interactive:
            sys.stderr.write("\r" + line[:150].ljust(150))
        else:
            sys.stderr.write(line + "\n")
        sys.stderr.flush()

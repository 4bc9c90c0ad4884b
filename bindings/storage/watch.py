"""In-process notices that something was just written: by account endpoint and container or queue name.

An output of this process announces what it wrote, so the trigger watching that place looks at once
instead of at its next poll or scan (the Functions host's enqueue and "blob written" watchers).
Writes from other processes are still found by polling.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

Written = Callable[[str], None]
"""Called with what was written (a blob name, or a queue name)."""


class _Service(Protocol):
    @property
    def primary_endpoint(self) -> str: ...


def account_key(service: _Service) -> str:
    """What identifies one storage account's service: its endpoint, without credentials."""
    return str(service.primary_endpoint).split("?", 1)[0].rstrip("/").lower()


class Watch:
    """Callbacks by (account endpoint, place)."""

    def __init__(self) -> None:
        self._watchers: dict[tuple[str, str], list[Written]] = {}

    def add(self, service: _Service, place: str, written: Written) -> Callable[[], None]:
        """Call ``written(item)`` on each notice for ``place``; returns what undoes this."""
        key = (account_key(service), place.lower())
        self._watchers.setdefault(key, []).append(written)

        def unwatch() -> None:
            callbacks = self._watchers.get(key, [])
            if written in callbacks:
                callbacks.remove(written)
            if not callbacks:
                self._watchers.pop(key, None)

        return unwatch

    def announce(self, service: _Service, place: str, item: str) -> None:
        for written in list(self._watchers.get((account_key(service), place.lower()), ())):
            written(item)

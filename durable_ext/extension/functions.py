"""The durable functions the app defines, by their durable names (case-insensitive)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from ..errors import ConfigurationError

OrchestratorHandler = Callable[[str], Any]
"""The SDK's orchestrator ``handle``. The 1.x SDK's takes the context JSON and returns the state JSON
(or raises); the 2.x SDK's takes a base64 ``OrchestratorRequest`` and gives (awaitable) a base64
``OrchestratorResponse``."""
ActivityHandler = Callable[[Any], Awaitable[Any]]
"""Calls the user's activity with its decoded input and returns what it returned."""
EntityHandler = Callable[[str], Any]
"""The SDK's entity ``handle``: batch JSON to result JSON (1.x), or base64 ``EntityBatchRequest`` to
(awaitable) base64 ``EntityBatchResult`` (2.x)."""


@dataclass
class FunctionRegistry:
    orchestrators: dict[str, tuple[str, OrchestratorHandler]] = field(default_factory=dict)
    activities: dict[str, tuple[str, ActivityHandler]] = field(default_factory=dict)
    entities: dict[str, tuple[str, EntityHandler]] = field(default_factory=dict)
    not_loaded: dict[str, str] = field(default_factory=dict)
    """Functions of the app the host did not load, by lower-cased name, with the reason."""

    def mark_not_loaded(self, name: str, reason: str) -> None:
        self.not_loaded[name.lower()] = reason

    def why_not_loaded(self, name: str) -> str:
        """`` It was not loaded at start-up: <reason>`` for a function the host skipped, else ``""``."""
        reason = self.not_loaded.get(name.lower())
        return f" The app defines it, but it was not loaded at start-up: {reason}" if reason else ""

    @staticmethod
    def _add(table: dict[str, tuple[str, Any]], kind: str, name: str, handler: Any) -> None:
        key = name.lower()
        if key in table and table[key][0] != name:
            raise ConfigurationError(
                f"The {kind} names '{table[key][0]}' and '{name}' differ only in case; durable function "
                "names are case-insensitive, so rename one of them."
            )
        table[key] = (name, handler)

    def add_orchestrator(self, name: str, handler: OrchestratorHandler) -> None:
        if name.startswith("@"):
            raise ConfigurationError(f"The orchestrator name '{name}' must not start with '@'.")
        self._add(self.orchestrators, "orchestrator", name, handler)

    def add_activity(self, name: str, handler: ActivityHandler) -> None:
        self._add(self.activities, "activity", name, handler)

    def add_entity(self, name: str, handler: EntityHandler) -> None:
        if "@" in name or "/" in name:
            raise ConfigurationError(f"The entity name '{name}' must not contain '@' or '/'.")
        self._add(self.entities, "entity", name.lower(), handler)

    def orchestrator(self, name: str) -> OrchestratorHandler | None:
        entry = self.orchestrators.get(name.lower())
        return None if entry is None else entry[1]

    def activity(self, name: str) -> ActivityHandler | None:
        entry = self.activities.get(name.lower())
        return None if entry is None else entry[1]

    def entity(self, name: str) -> EntityHandler | None:
        entry = self.entities.get(name.lower())
        return None if entry is None else entry[1]

    def has_entity(self, name: str) -> bool:
        return name.lower() in self.entities

    def has_orchestrator(self, name: str) -> bool:
        return name.lower() in self.orchestrators

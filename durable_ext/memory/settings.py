"""Settings of the in-memory provider."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class MemorySettings:
    hub_name: str
    poison_message_dequeue_count: int = 10
    """A message delivered more often than this whose work failed every time is moved aside."""
    settle_s: float = 0.001
    """How long the engine must stay without runnable work before time skipping moves the clock."""

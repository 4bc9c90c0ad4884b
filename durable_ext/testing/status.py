"""What the test client returns: an instance's status with its JSON values decoded."""

from __future__ import annotations

import json
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ..core.history import OrchestrationStatus
from ..core.state import OrchestrationState
from ..extension.protocol import embedded_input

RUNTIME_STATUSES = tuple(status.name for status in OrchestrationStatus)


@dataclass(frozen=True)
class InstanceStatus:
    """An orchestration's status with its JSON values decoded (as ``DurableOrchestrationStatus``)."""

    instance_id: str
    name: str
    runtime_status: str
    input: Any
    output: Any
    custom_status: Any
    created_time: datetime | None
    last_updated_time: datetime | None

    @classmethod
    def of(cls, state: OrchestrationState) -> InstanceStatus:
        return cls(
            state.instance_id,
            state.name,
            state.status.name,
            decoded(state.input),
            decoded(state.output),
            decoded(state.custom_status),
            state.created_time,
            state.last_updated_time,
        )

    @property
    def is_terminal(self) -> bool:
        """Completed, failed, canceled or terminated: the instance will not run again by itself."""
        return OrchestrationStatus[self.runtime_status].is_terminal


def decoded(text: str | None) -> Any:
    """The stored JSON as a value; the SDK client stores inputs JSON-encoded twice, so unwrap that too."""
    return unwrapped(embedded_input(text))


def unwrapped(value: Any) -> Any:
    """A value the SDK sent as the JSON text of its JSON (``df_dumps``), as the value itself."""
    if isinstance(value, str):
        inner = embedded_input(value)
        return inner if not isinstance(inner, str) or inner != value else value
    return value


def sdk_json(value: Any) -> str:
    """A value as the SDK's client stores it (the JSON text of its JSON)."""
    return json.dumps(json.dumps(value))


def runtime_status_names(wanted: str | Collection[str]) -> set[str]:
    """The runtime status names asked for, checked and spelled as the engine does (``completed`` works)."""
    names = {wanted} if isinstance(wanted, str) else set(wanted)
    known = {name.lower(): name for name in RUNTIME_STATUSES}
    unknown = sorted(name for name in names if name.lower() not in known)
    if unknown:
        asked = ", ".join(map(repr, unknown))
        raise ValueError(f"Unknown runtime status {asked}: use one of {', '.join(RUNTIME_STATUSES)}.")
    return {known[name.lower()] for name in names}

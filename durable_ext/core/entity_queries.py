"""Reading entities: one entity's state, and listings of entities (never of orchestrations)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from .entities import EntityId, SchedulerState
from .queries import DEFAULT_PAGE_SIZE
from .state import OrchestrationState


@dataclass(frozen=True)
class EntityQuery:
    """Which entities to list. ``entity_name`` narrows to one entity function (case-insensitive)."""

    entity_name: str | None = None
    last_operation_from: datetime | None = None
    last_operation_to: datetime | None = None
    fetch_state: bool = False
    include_deleted: bool = False
    page_size: int = DEFAULT_PAGE_SIZE
    continuation_token: str | None = None

    def __post_init__(self) -> None:
        if self.page_size < 1:
            raise ValueError(f"page_size must be a positive integer, not {self.page_size}")


@dataclass
class EntityStatus:
    entity_id: EntityId
    exists: bool
    state: str | None
    """The entity's state as JSON text (``None`` when it does not exist or was not fetched)."""
    last_operation_time: datetime | None
    queue_size: int = 0


@dataclass
class EntityPage:
    entities: list[EntityStatus] = field(default_factory=list)
    continuation_token: str | None = None


def entity_status(instance: OrchestrationState, *, with_state: bool = True) -> EntityStatus:
    """What the entity's instance row says about it: its scheduler state is the execution's input."""
    scheduler = SchedulerState.from_json(instance.input) if instance.input else SchedulerState()
    return EntityStatus(
        EntityId.parse(instance.instance_id),
        scheduler.exists,
        scheduler.state if scheduler.exists and with_state else None,
        instance.last_updated_time,
        len(scheduler.queue),
    )

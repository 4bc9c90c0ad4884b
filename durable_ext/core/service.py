"""What the engine needs from a storage provider (DurableTask.Core's ``IOrchestrationService``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from .clock import Clock
from .entity_queries import EntityPage, EntityQuery
from .health import StorageHealth
from .history import HistoryEvent, OrchestrationStatus
from .messages import TaskMessage
from .poison import PoisonMessage
from .queries import InstancePage, InstanceQuery
from .state import OrchestrationRuntimeState, OrchestrationState

if TYPE_CHECKING:
    from .jobs import JobStore


@dataclass
class OrchestrationWorkItem:
    """One episode's input: an instance's committed history plus the messages that arrived for it."""

    instance_id: str
    runtime_state: OrchestrationRuntimeState
    new_messages: list[TaskMessage]
    session: Any = None
    """Provider-specific handle (queue messages to delete, ETag, ...)."""
    poison_reason: str | None = None
    """Set when the messages kept failing: the instance is failed with this reason, its code not run."""


@dataclass
class EpisodeResult:
    """What an episode produced, to be committed by the provider."""

    runtime_state: OrchestrationRuntimeState
    activity_messages: list[TaskMessage] = field(default_factory=list)
    orchestrator_messages: list[TaskMessage] = field(default_factory=list)
    custom_status: str | None = None
    keep_custom_status: bool = False
    """True when user code did not run this episode, so the stored custom status must stay as it is."""
    continued_as_new: OrchestrationRuntimeState | None = None
    """The new execution's state when the orchestration continued as new in this episode."""


@dataclass
class ActivityWorkItem:
    id: str
    message: TaskMessage
    """The ``TaskScheduled`` event addressed to the orchestration that scheduled it."""
    session: Any = None
    poison_reason: str | None = None
    """Set when the message was delivered too often: the activity fails with this reason, unrun."""


class OrchestrationService(Protocol):
    """The worker side: hands out work items and commits their results."""

    async def start(self) -> None: ...

    async def stop_receiving(self) -> None:
        """Take no new work; running work items may still complete."""
        ...

    async def stop(self) -> None:
        """Called once running work items are done (or given up)."""
        ...

    async def lock_next_orchestration_work_item(self) -> OrchestrationWorkItem | None:
        """Wait for the next episode; ``None`` once the service is stopping."""
        ...

    async def complete_orchestration_work_item(
        self, item: OrchestrationWorkItem, result: EpisodeResult
    ) -> None: ...

    async def abandon_orchestration_work_item(
        self, item: OrchestrationWorkItem, error: BaseException | None = None
    ) -> None: ...

    async def release_orchestration_work_item(self, item: OrchestrationWorkItem) -> None: ...

    async def lock_next_activity_work_item(self) -> ActivityWorkItem | None: ...

    async def complete_activity_work_item(self, item: ActivityWorkItem, response: TaskMessage) -> None: ...

    async def abandon_activity_work_item(self, item: ActivityWorkItem) -> None: ...


class OrchestrationServiceClient(Protocol):
    """The client side: starts instances, sends them messages, reads their state."""

    async def create_instance(self, started: TaskMessage) -> None:
        """Start a new instance (or a new generation of a finished one); refuse a running one."""
        ...

    async def send_message(self, message: TaskMessage) -> None: ...

    async def get_state(self, instance_id: str) -> OrchestrationState | None: ...

    async def get_history(self, instance_id: str) -> list[HistoryEvent]: ...

    async def terminate_pending(self, instance_id: str, execution_id: str | None, reason: str | None) -> bool:
        """Mark an instance whose start has not run yet ``Terminated``; False if it started meanwhile."""
        ...

    async def rewind(self, instance_id: str, reason: str | None) -> None:
        """Clear the failures of a failed instance (and of its failed sub-orchestrations) and revive it."""
        ...

    async def purge_instance(self, instance_id: str) -> int:
        """Delete everything stored for one instance; the number of instances deleted (0 or 1)."""
        ...

    async def purge_instances(self, query: InstanceQuery) -> int:
        """Delete every finished instance the query matches; how many were deleted."""
        ...

    async def query_instances(self, query: InstanceQuery) -> InstancePage: ...

    async def created_times(self, query: InstanceQuery) -> list[datetime]:
        """The created time of every orchestration instance the query matches (for a histogram)."""
        ...

    async def count_instances(self, query: InstanceQuery) -> dict[OrchestrationStatus, int]:
        """How many orchestration instances the query matches, per runtime status (statuses with none
        are left out; the query's paging, order and ``show_input`` do not matter)."""
        ...

    async def query_entities(self, query: EntityQuery) -> EntityPage: ...

    async def poison_messages(self, instance_id: str | None = None) -> list[PoisonMessage]:
        """Messages moved aside because they could not be processed (all, or one instance's)."""
        ...


class TaskHubService(OrchestrationService, OrchestrationServiceClient, Protocol):
    """One provider's task hub, both sides, with what the extension and the host show about it."""

    @property
    def hub_name(self) -> str: ...

    @property
    def durable(self) -> bool:
        """False for a provider that keeps nothing once the process ends (the memory provider)."""
        ...

    @property
    def health(self) -> StorageHealth:
        """Whether the store answers, read without calling it."""
        ...

    @property
    def clock(self) -> Clock:
        """Durable time for this hub (the wall clock, or the memory provider's virtual clock)."""
        ...

    @property
    def jobs(self) -> JobStore:
        """Where the hub keeps its bulk jobs (``core.jobs``)."""
        ...

    def metrics(self) -> dict[str, Any]:
        """What this process has spent on the store since it started (``/metrics``)."""
        ...

    def owned_partitions(self) -> list[str]:
        """The partitions (control queues) this worker holds now."""
        ...

    async def delete_task_hub(self) -> list[str]:
        """Delete everything the hub stores; the names of what was deleted."""
        ...

    async def close(self) -> None:
        """Release connections (after :meth:`stop`, or for a client-only service)."""
        ...

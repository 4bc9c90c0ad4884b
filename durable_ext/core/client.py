"""The task hub client: start instances, send them events, manage them, read and query their state."""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime

from ..errors import InstanceNotFoundError, InstanceStateError, InvalidRequestError
from .entities import REQUEST_EVENT, EntityId, RequestMessage, is_entity_instance, scheduled_request_event
from .entity_queries import EntityPage, EntityQuery, EntityStatus, entity_status
from .history import EventType, HistoryEvent, OrchestrationStatus, event, execution_started
from .messages import TaskMessage
from .poison import PoisonMessage
from .queries import InstancePage, InstanceQuery
from .service import OrchestrationServiceClient
from .state import OrchestrationState

_ACTIVE = "running, pending or suspended"
_PAST = {"terminate": "terminated", "suspend": "suspended", "resume": "resumed"}


class TaskHubClient:
    def __init__(self, service: OrchestrationServiceClient) -> None:
        self.service = service

    async def start(
        self,
        name: str,
        input_json: str | None = None,
        instance_id: str | None = None,
        *,
        version: str = "",
        scheduled_start_time: datetime | None = None,
        tags: dict[str, str] | None = None,
    ) -> str:
        """Start an orchestration; return its instance id (a new uuid4 hex unless given)."""
        instance_id = instance_id or uuid.uuid4().hex
        execution_id = uuid.uuid4().hex
        started = execution_started(
            instance_id=instance_id,
            execution_id=execution_id,
            name=name,
            input_json=input_json,
            version=version,
            scheduled_start_time=scheduled_start_time,
            tags=tags,
        )
        message = TaskMessage(started, instance_id, execution_id, visible_at=scheduled_start_time)
        await self.service.create_instance(message)
        return instance_id

    async def raise_event(self, instance_id: str, name: str, input_json: str | None) -> None:
        _refuse_entity(instance_id)
        raised = event(EventType.EventRaised, -1, Name=name, Input=input_json)
        await self.service.send_message(TaskMessage(raised, instance_id, None))

    async def terminate(self, instance_id: str, reason: str | None) -> None:
        """Terminate a running, pending or suspended instance.

        An instance whose start has not run yet is marked ``Terminated`` at once (its start is then
        dropped); the termination message is sent either way, for the case that it started meanwhile.
        """
        state = await self._active_state(instance_id, "terminate")
        execution_id: str | None = None
        if state.status == OrchestrationStatus.Pending:
            await self.service.terminate_pending(instance_id, state.execution_id, reason)
            execution_id = state.execution_id  # must not reach a later generation of this id
        terminated = event(EventType.ExecutionTerminated, -1, Input=reason)
        await self.service.send_message(TaskMessage(terminated, instance_id, execution_id))

    async def suspend(self, instance_id: str, reason: str | None) -> None:
        await self._active_state(instance_id, "suspend")
        suspended = event(EventType.ExecutionSuspended, -1, Reason=reason)
        await self.service.send_message(TaskMessage(suspended, instance_id, None))

    async def resume(self, instance_id: str, reason: str | None) -> None:
        await self._active_state(instance_id, "resume")
        resumed = event(EventType.ExecutionResumed, -1, Reason=reason)
        await self.service.send_message(TaskMessage(resumed, instance_id, None))

    async def rewind(self, instance_id: str, reason: str | None) -> None:
        """Replay a failed instance from its failures: failed activities and sub-orchestrations run again."""
        state = await self._existing_state(instance_id)
        if state.status != OrchestrationStatus.Failed:
            raise InstanceStateError(instance_id, state.status.name, "only failed instances can be rewound.")
        await self.service.rewind(instance_id, reason)

    async def restart(
        self, instance_id: str, *, new_instance_id: bool = True, target_id: str | None = None
    ) -> str:
        """Start the instance's orchestrator again with its original input; return the id it runs under
        (``target_id``, else a new one, or the same with ``new_instance_id=False``)."""
        state = await self._existing_state(instance_id)
        target = target_id or (uuid.uuid4().hex if new_instance_id else instance_id)
        return await self.start(state.name, state.input, target, version=state.version)

    async def purge(self, instance_id: str) -> int:
        """Delete the instance's history, status and large payloads; 1 if it existed, else 0."""
        return await self.service.purge_instance(instance_id)

    async def purge_by(self, query: InstanceQuery) -> int:
        """Delete every finished instance that matches; how many were deleted."""
        return await self.service.purge_instances(query)

    async def query(self, query: InstanceQuery) -> InstancePage:
        """One page of the orchestration instances that match (never entities)."""
        return await self.service.query_instances(query)

    async def count(self, query: InstanceQuery | None = None) -> dict[OrchestrationStatus, int]:
        """How many orchestration instances match, per runtime status (every status, zeros included)."""
        counts = await self.service.count_instances(query or InstanceQuery())
        return {status: counts.get(status, 0) for status in OrchestrationStatus}

    async def created_times(self, query: InstanceQuery) -> list[datetime]:
        """When each matching orchestration instance was created (for a histogram)."""
        return await self.service.created_times(query)

    async def poison_messages(self, instance_id: str | None = None) -> list[PoisonMessage]:
        return await self.service.poison_messages(instance_id)

    # ---- entities -----------------------------------------------------------------------------
    async def signal_entity(
        self,
        entity: EntityId,
        operation: str,
        input_json: str | None = None,
        *,
        scheduled_time: datetime | None = None,
    ) -> str:
        """Send a one-way operation to an entity (delivered at ``scheduled_time`` if given); its id."""
        request = RequestMessage(
            operation, str(uuid.uuid4()), is_signal=True, input=input_json, scheduled_time=scheduled_time
        )
        name = REQUEST_EVENT if scheduled_time is None else scheduled_request_event(scheduled_time)
        raised = event(EventType.EventRaised, -1, Name=name, Input=request.to_json())
        await self.service.send_message(
            TaskMessage(raised, entity.instance_id, None, visible_at=scheduled_time)
        )
        return request.id

    async def read_entity(self, entity: EntityId) -> EntityStatus | None:
        """The entity's state, or ``None`` if it was never used; a deleted one reads ``exists=False``."""
        state = await self.get_state(entity.instance_id)
        return None if state is None else entity_status(state)

    async def query_entities(self, query: EntityQuery) -> EntityPage:
        return await self.service.query_entities(query)

    async def purge_deleted_entities(self) -> int:
        """Remove the stored rows of entities that were deleted and have nothing queued; how many."""
        removed, token = 0, None
        while True:
            page = await self.query_entities(EntityQuery(include_deleted=True, continuation_token=token))
            for status in page.entities:
                if not status.exists and status.queue_size == 0:
                    removed += await self.purge(status.entity_id.instance_id)
            token = page.continuation_token
            if token is None:
                return removed

    async def _existing_state(self, instance_id: str) -> OrchestrationState:
        _refuse_entity(instance_id)
        state = await self.get_state(instance_id)
        if state is None:
            raise InstanceNotFoundError(instance_id)
        return state

    async def _active_state(self, instance_id: str, operation: str) -> OrchestrationState:
        state = await self._existing_state(instance_id)
        if state.status.is_terminal:
            rule = f"only {_ACTIVE} instances can be {_PAST[operation]}."
            raise InstanceStateError(instance_id, state.status.name, rule)
        return state

    async def get_state(self, instance_id: str) -> OrchestrationState | None:
        return await self.service.get_state(instance_id)

    async def get_history(self, instance_id: str) -> list[HistoryEvent]:
        return await self.service.get_history(instance_id)

    async def wait_for_completion(
        self, instance_id: str, timeout_s: float, poll_interval_s: float = 0.1
    ) -> OrchestrationState:
        """Poll until the instance is in a terminal state; raise ``TimeoutError`` after ``timeout_s``."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while True:
            state = await self.get_state(instance_id)
            if state is not None and state.status.is_terminal:
                return state
            if loop.time() >= deadline:
                if state is None:
                    raise InstanceNotFoundError(instance_id)
                raise TimeoutError(
                    f"Instance '{instance_id}' is still {state.status.name} after {timeout_s:g} seconds."
                )
            await asyncio.sleep(poll_interval_s)


def _refuse_entity(instance_id: str) -> None:
    """Orchestration operations on an entity would break it: say what to use instead."""
    if is_entity_instance(instance_id):
        raise InvalidRequestError(
            f"'{instance_id}' is an entity, not an orchestration: it cannot be sent events, terminated, "
            "suspended, resumed, rewound or restarted. Signal it with an operation instead (entities/"
            "{name}/{key}?op=...), or purge it to remove it."
        )

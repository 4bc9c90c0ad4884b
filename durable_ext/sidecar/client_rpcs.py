"""The client half of ``TaskHubSidecarService``: start, read, wait for, manage and purge instances.

Each call runs on the :class:`~durable_ext.core.client.TaskHubClient` of the task hub the caller names
in its ``taskhub`` metadata (the app's own hub when it names none).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import grpc
from google.protobuf.wrappers_pb2 import BoolValue

from ..core.client import TaskHubClient
from ..core.entities import EntityId
from ..core.history import EventType, OrchestrationStatus
from ..core.queries import InstanceQuery
from ..core.state import OrchestrationState
from ..errors import InstanceAlreadyExistsError, InstanceNotFoundError, InvalidRequestError
from .history_codec import HistoryTranslator
from .proto import empty_pb2, optional_text, optional_time, pb, status_from_proto, text
from .states import entity_selection, entity_to_proto, instance_query, name_prefix_of, state_to_proto
from .status_codes import streaming, unary

HUB_HEADERS = ("taskhub", "durable-taskhub")
"""The metadata that names the task hub (the SDKs send ``taskhub``)."""
HISTORY_CHUNK_EVENTS = 200
WAIT_POLL_S = (0.02, 1.0)
"""The first and the longest pause between reads while a client waits for an instance."""

ClientFor = Callable[[str | None], TaskHubClient]


def hub_of(context: grpc.aio.ServicerContext) -> str | None:
    for key, value in context.invocation_metadata() or ():
        if key.lower() in HUB_HEADERS and value:
            return str(value)
    return None


class ClientRpcs:
    """Mixed into the servicer; ``client_for`` gives the client of a hub (``None``: the app's own)."""

    client_for: ClientFor

    def _client(self, context: grpc.aio.ServicerContext) -> TaskHubClient:
        return self.client_for(hub_of(context))

    @unary
    async def Hello(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        return empty_pb2.Empty()

    @unary
    async def StartInstance(
        self, request: pb.CreateInstanceRequest, context: Any
    ) -> pb.CreateInstanceResponse:
        client = self._client(context)
        if not request.name:
            raise InvalidRequestError("StartInstance needs the orchestrator's name (name is empty).")
        if request.instanceId and request.HasField("orchestrationIdReusePolicy"):
            await self._make_room(client, request.instanceId, request.orchestrationIdReusePolicy, context)
        instance_id = await client.start(
            request.name,
            optional_text(request, "input"),
            request.instanceId or None,
            version=optional_text(request, "version") or "",
            scheduled_start_time=optional_time(request, "scheduledStartTimestamp"),
            tags=dict(request.tags) or None,
        )
        return pb.CreateInstanceResponse(instanceId=instance_id)

    async def _make_room(
        self, client: TaskHubClient, instance_id: str, policy: pb.OrchestrationIdReusePolicy, context: Any
    ) -> None:
        """Apply an id-reuse policy: an instance in a status it does not list blocks the start; a
        running one it lists is terminated first."""
        state = await client.get_state(instance_id)
        if state is None:
            return
        replaceable = {status_from_proto(s) for s in policy.replaceableStatus}
        if state.status not in replaceable:
            raise InstanceAlreadyExistsError(instance_id, state.status.name)
        if not state.status.is_terminal:
            await client.terminate(instance_id, "Replaced by a new instance with the same ID")
            await _wait(client, instance_id, lambda s: s.status.is_terminal, context)

    @unary
    async def GetInstance(self, request: pb.GetInstanceRequest, context: Any) -> pb.GetInstanceResponse:
        client = self._client(context)
        state = await client.get_state(request.instanceId)
        return await _answer(client, state, request.getInputsAndOutputs)

    @unary
    async def WaitForInstanceStart(
        self, request: pb.GetInstanceRequest, context: Any
    ) -> pb.GetInstanceResponse:
        client = self._client(context)
        state = await _wait(
            client, request.instanceId, lambda s: s.status != OrchestrationStatus.Pending, context
        )
        return await _answer(client, state, request.getInputsAndOutputs)

    @unary
    async def WaitForInstanceCompletion(
        self, request: pb.GetInstanceRequest, context: Any
    ) -> pb.GetInstanceResponse:
        client = self._client(context)
        state = await _wait(client, request.instanceId, lambda s: s.status.is_terminal, context)
        return await _answer(client, state, request.getInputsAndOutputs)

    @unary
    async def RaiseEvent(self, request: pb.RaiseEventRequest, context: Any) -> pb.RaiseEventResponse:
        client = self._client(context)
        await _existing(client, request.instanceId)
        await client.raise_event(request.instanceId, request.name, optional_text(request, "input"))
        return pb.RaiseEventResponse()

    @unary
    async def TerminateInstance(self, request: pb.TerminateRequest, context: Any) -> pb.TerminateResponse:
        client = self._client(context)
        reason = optional_text(request, "output")
        await client.terminate(request.instanceId, reason)
        if request.recursive:
            for child in await _children(client, request.instanceId):
                await _terminate_tree(client, child, reason)
        return pb.TerminateResponse()

    @unary
    async def SuspendInstance(self, request: pb.SuspendRequest, context: Any) -> pb.SuspendResponse:
        await self._client(context).suspend(request.instanceId, optional_text(request, "reason"))
        return pb.SuspendResponse()

    @unary
    async def ResumeInstance(self, request: pb.ResumeRequest, context: Any) -> pb.ResumeResponse:
        await self._client(context).resume(request.instanceId, optional_text(request, "reason"))
        return pb.ResumeResponse()

    @unary
    async def RewindInstance(
        self, request: pb.RewindInstanceRequest, context: Any
    ) -> pb.RewindInstanceResponse:
        await self._client(context).rewind(request.instanceId, optional_text(request, "reason"))
        return pb.RewindInstanceResponse()

    @unary
    async def RestartInstance(
        self, request: pb.RestartInstanceRequest, context: Any
    ) -> pb.RestartInstanceResponse:
        client = self._client(context)
        state = await _existing(client, request.instanceId)
        if not request.restartWithNewInstanceId and not state.status.is_terminal:
            raise InstanceAlreadyExistsError(request.instanceId, state.status.name)
        instance_id = await client.restart(
            request.instanceId, new_instance_id=request.restartWithNewInstanceId
        )
        return pb.RestartInstanceResponse(instanceId=instance_id)

    @unary
    async def QueryInstances(
        self, request: pb.QueryInstancesRequest, context: Any
    ) -> pb.QueryInstancesResponse:
        query = instance_query(request.query)
        page = await self._client(context).query(query)
        return pb.QueryInstancesResponse(
            orchestrationState=[state_to_proto(s, with_payloads=query.show_input) for s in page.states],
            continuationToken=text(page.continuation_token),
        )

    @unary
    async def ListInstanceIds(
        self, request: pb.ListInstanceIdsRequest, context: Any
    ) -> pb.ListInstanceIdsResponse:
        """Ids of instances that completed in the window (by completed time), a page at a time."""
        client = self._client(context)
        done_from = optional_time(request, "completedTimeFrom")
        done_to = optional_time(request, "completedTimeTo")
        query = InstanceQuery(
            statuses=frozenset(status_from_proto(s) for s in request.runtimeStatus),
            show_input=False,
            page_size=request.pageSize or 100,
            continuation_token=optional_text(request, "lastInstanceKey") or None,
        )
        page = await client.query(query)
        ids = [
            s.instance_id
            for s in page.states
            if (done_from is None or (s.completed_time is not None and s.completed_time >= done_from))
            and (done_to is None or (s.completed_time is not None and s.completed_time < done_to))
        ]
        return pb.ListInstanceIdsResponse(instanceIds=ids, lastInstanceKey=text(page.continuation_token))

    @unary
    async def PurgeInstances(
        self, request: pb.PurgeInstancesRequest, context: Any
    ) -> pb.PurgeInstancesResponse:
        client = self._client(context)
        which = request.WhichOneof("request")
        if which == "purgeInstanceFilter":
            f = request.purgeInstanceFilter
            query = InstanceQuery(
                created_from=optional_time(f, "createdTimeFrom"),
                created_to=optional_time(f, "createdTimeTo"),
                statuses=frozenset(status_from_proto(s) for s in f.runtimeStatus),
            )
            deleted = await client.purge_by(query)
        else:
            ids = (
                list(request.instanceBatch.instanceIds) if which == "instanceBatch" else [request.instanceId]
            )
            deleted = 0
            for instance_id in ids:
                deleted += await _purge_tree(client, instance_id, request.recursive)
        return pb.PurgeInstancesResponse(deletedInstanceCount=deleted, isComplete=BoolValue(value=True))

    @streaming
    async def StreamInstanceHistory(
        self, request: pb.StreamInstanceHistoryRequest, context: Any
    ) -> AsyncIterator[pb.HistoryChunk]:
        client = self._client(context)
        await _existing(client, request.instanceId)
        events = HistoryTranslator().translate(await client.get_history(request.instanceId))
        for start in range(0, max(len(events), 1), HISTORY_CHUNK_EVENTS):
            yield pb.HistoryChunk(events=events[start : start + HISTORY_CHUNK_EVENTS])

    # ---- entities ---------------------------------------------------------------------------------
    @unary
    async def SignalEntity(self, request: pb.SignalEntityRequest, context: Any) -> pb.SignalEntityResponse:
        entity = EntityId.parse(request.instanceId)
        await self._client(context).signal_entity(
            entity,
            request.name,
            optional_text(request, "input"),
            scheduled_time=optional_time(request, "scheduledTime"),
        )
        return pb.SignalEntityResponse()

    @unary
    async def GetEntity(self, request: pb.GetEntityRequest, context: Any) -> pb.GetEntityResponse:
        status = await self._client(context).read_entity(EntityId.parse(request.instanceId))
        if status is None or not status.exists:
            return pb.GetEntityResponse(exists=False)
        return pb.GetEntityResponse(
            exists=True, entity=entity_to_proto(status, with_state=request.includeState)
        )

    @unary
    async def QueryEntities(self, request: pb.QueryEntitiesRequest, context: Any) -> pb.QueryEntitiesResponse:
        selection = entity_selection(request.query)
        name_prefix = name_prefix_of(request.query)
        page = await self._client(context).query_entities(selection.query)
        kept = [
            s
            for s in page.entities
            if selection.keeps(s) and s.entity_id.name.lower().startswith(name_prefix)
        ]
        return pb.QueryEntitiesResponse(
            entities=[entity_to_proto(s, with_state=request.query.includeState) for s in kept],
            continuationToken=text(page.continuation_token),
        )

    @unary
    async def CleanEntityStorage(
        self, request: pb.CleanEntityStorageRequest, context: Any
    ) -> pb.CleanEntityStorageResponse:
        removed = await self._client(context).purge_deleted_entities() if request.removeEmptyEntities else 0
        return pb.CleanEntityStorageResponse(emptyEntitiesRemoved=removed, orphanedLocksReleased=0)


async def _answer(
    client: TaskHubClient, state: OrchestrationState | None, payloads: bool
) -> pb.GetInstanceResponse:
    if state is None:
        return pb.GetInstanceResponse(exists=False)
    history = None
    if state.status == OrchestrationStatus.Failed:
        history = await client.get_history(state.instance_id)
    return pb.GetInstanceResponse(
        exists=True, orchestrationState=state_to_proto(state, with_payloads=payloads, history=history)
    )


async def _existing(client: TaskHubClient, instance_id: str) -> OrchestrationState:
    state = await client.get_state(instance_id)
    if state is None:
        raise InstanceNotFoundError(instance_id)
    return state


async def _wait(
    client: TaskHubClient, instance_id: str, done: Callable[[OrchestrationState], bool], context: Any
) -> OrchestrationState | None:
    """Read the instance until ``done``; the caller's deadline ends the wait (DEADLINE_EXCEEDED)."""
    pause, longest = WAIT_POLL_S
    while True:
        state = await client.get_state(instance_id)
        if state is not None and done(state):
            return state
        remaining = context.time_remaining()
        if remaining is not None and remaining <= 0:
            await context.abort(
                grpc.StatusCode.DEADLINE_EXCEEDED, f"Instance '{instance_id}' is not there yet."
            )
        await asyncio.sleep(pause if remaining is None else min(pause, remaining))
        pause = min(pause * 1.5, longest)


async def _children(client: TaskHubClient, instance_id: str) -> list[str]:
    """The sub-orchestrations the instance's current execution started."""
    history = await client.get_history(instance_id)
    return [
        str(e.get("InstanceId"))
        for e in history
        if e.event_type == EventType.SubOrchestrationInstanceCreated and e.get("InstanceId")
    ]


async def _terminate_tree(client: TaskHubClient, instance_id: str, reason: str | None) -> None:
    state = await client.get_state(instance_id)
    if state is not None and not state.status.is_terminal:
        await client.terminate(instance_id, reason)
    for child in await _children(client, instance_id):
        await _terminate_tree(client, child, reason)


async def _purge_tree(client: TaskHubClient, instance_id: str, recursive: bool) -> int:
    children = await _children(client, instance_id) if recursive else []
    deleted = await client.purge(instance_id)
    for child in children:
        deleted += await _purge_tree(client, child, recursive)
    return deleted

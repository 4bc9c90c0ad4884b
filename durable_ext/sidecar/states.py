"""Instance and entity states, and the queries for them, as the gRPC protocol carries them."""

from __future__ import annotations

import json
from dataclasses import dataclass

from ..core.entities import EntityId
from ..core.entity_queries import EntityQuery, EntityStatus
from ..core.history import EventType, HistoryEvent, OrchestrationStatus
from ..core.queries import DEFAULT_PAGE_SIZE, InstanceQuery
from ..core.state import OrchestrationState
from .failure_details import details_to_proto, recorded_failure
from .proto import optional_text, optional_time, pb, stamp, status_from_proto, status_to_proto, text


def state_to_proto(
    state: OrchestrationState, *, with_payloads: bool, history: list[HistoryEvent] | None = None
) -> pb.OrchestrationState:
    """``history``: the instance's, for the failure details of a failed one (else built from its output)."""
    failed = state.status == OrchestrationStatus.Failed
    return pb.OrchestrationState(
        instanceId=state.instance_id,
        name=state.name,
        version=text(state.version or None),
        orchestrationStatus=status_to_proto(state.status),
        scheduledStartTimestamp=stamp(state.scheduled_start_time),
        createdTimestamp=stamp(state.created_time),
        lastUpdatedTimestamp=stamp(state.last_updated_time),
        completedTimestamp=stamp(state.completed_time),
        input=text(state.input) if with_payloads else None,
        output=text(state.output) if with_payloads and not failed else None,
        customStatus=text(state.custom_status) if with_payloads else None,
        failureDetails=_failure(state, history) if failed else None,
        executionId=text(state.execution_id),
        parentInstanceId=text(state.parent_instance_id),
        tags=state.tags or {},
    )


def _failure(state: OrchestrationState, history: list[HistoryEvent] | None) -> pb.TaskFailureDetails:
    for e in reversed(history or []):
        if e.event_type == EventType.ExecutionCompleted:
            found = details_to_proto(e.get("FailureDetails"))
            if found is not None:
                return found
            break
    return recorded_failure({"Result": _plain(state.output)})


def _plain(output: str | None) -> str | None:
    """A failed instance's output: its error message, which the 1.x protocol stores as JSON text."""
    if output is None:
        return None
    try:
        decoded = json.loads(output)
    except ValueError:
        return output
    return decoded if isinstance(decoded, str) else output


def instance_query(query: pb.InstanceQuery) -> InstanceQuery:
    return InstanceQuery(
        created_from=optional_time(query, "createdTimeFrom"),
        created_to=optional_time(query, "createdTimeTo"),
        statuses=frozenset(status_from_proto(s) for s in query.runtimeStatus),
        instance_id_prefix=optional_text(query, "instanceIdPrefix") or None,
        show_input=query.fetchInputsAndOutputs,
        page_size=query.maxInstanceCount or DEFAULT_PAGE_SIZE,
        continuation_token=optional_text(query, "continuationToken") or None,
    )


@dataclass(frozen=True)
class EntitySelection:
    """An ``instanceIdStartsWith`` as the engine's entity query (by entity name) and a key prefix."""

    query: EntityQuery
    key_prefix: str = ""

    def keeps(self, status: EntityStatus) -> bool:
        return status.entity_id.key.startswith(self.key_prefix)


def entity_selection(query: pb.EntityQuery) -> EntitySelection:
    starts = (optional_text(query, "instanceIdStartsWith") or "").lstrip("@")
    name, _, key_prefix = starts.partition("@")
    has_name = "@" in starts  # "@counter" may be the start of a longer name: list every entity
    engine_query = EntityQuery(
        entity_name=(name or None) if has_name else None,
        last_operation_from=optional_time(query, "lastModifiedFrom"),
        last_operation_to=optional_time(query, "lastModifiedTo"),
        fetch_state=query.includeState,
        include_deleted=query.includeTransient,
        page_size=query.pageSize.value if query.HasField("pageSize") and query.pageSize.value > 0 else 100,
        continuation_token=optional_text(query, "continuationToken") or None,
    )
    return EntitySelection(engine_query, key_prefix if has_name else "")


def name_prefix_of(query: pb.EntityQuery) -> str:
    """The start of the entity name when ``instanceIdStartsWith`` names no whole name (``@coun``)."""
    starts = (optional_text(query, "instanceIdStartsWith") or "").lstrip("@")
    return "" if "@" in starts else starts.lower()


def entity_to_proto(status: EntityStatus, *, with_state: bool) -> pb.EntityMetadata:
    return pb.EntityMetadata(
        instanceId=EntityId(status.entity_id.name, status.entity_id.key).instance_id,
        lastModifiedTime=stamp(status.last_operation_time),
        backlogQueueSize=status.queue_size,
        serializedState=text(status.state) if with_state else None,
    )

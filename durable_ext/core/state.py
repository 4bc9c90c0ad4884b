"""The state of one orchestration instance, derived from its history or read from the status store."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from .history import EventType, HistoryEvent, OrchestrationStatus


@dataclass
class OrchestrationState:
    """What a status query returns for one instance (one row of the Instances table)."""

    instance_id: str
    name: str
    status: OrchestrationStatus
    execution_id: str | None = None
    version: str = ""
    input: str | None = None
    output: str | None = None
    custom_status: str | None = None
    created_time: datetime | None = None
    last_updated_time: datetime | None = None
    completed_time: datetime | None = None
    scheduled_start_time: datetime | None = None
    generation: int = 0
    tags: dict[str, str] | None = None
    parent_instance_id: str | None = None


@dataclass
class OrchestrationRuntimeState:
    """The events of the current execution: those already committed and those added this episode."""

    past_events: list[HistoryEvent] = field(default_factory=list)
    new_events: list[HistoryEvent] = field(default_factory=list)

    @property
    def events(self) -> list[HistoryEvent]:
        return self.past_events + self.new_events

    def add(self, event: HistoryEvent) -> None:
        self.new_events.append(event)

    def _first(self, event_type: EventType) -> HistoryEvent | None:
        for e in self.past_events:
            if e.event_type == event_type:
                return e
        for e in self.new_events:
            if e.event_type == event_type:
                return e
        return None

    def _last(self, *event_types: EventType) -> HistoryEvent | None:
        for e in reversed(self.new_events):
            if e.event_type in event_types:
                return e
        for e in reversed(self.past_events):
            if e.event_type in event_types:
                return e
        return None

    @property
    def execution_started(self) -> HistoryEvent | None:
        return self._first(EventType.ExecutionStarted)

    @property
    def instance_id(self) -> str | None:
        started = self.execution_started
        return None if started is None else started.props["OrchestrationInstance"]["InstanceId"]

    @property
    def execution_id(self) -> str | None:
        started = self.execution_started
        return None if started is None else started.props["OrchestrationInstance"]["ExecutionId"]

    @property
    def name(self) -> str | None:
        started = self.execution_started
        return None if started is None else started.name

    @property
    def input(self) -> str | None:
        started = self.execution_started
        return None if started is None else started.input

    @property
    def parent_instance(self) -> dict[str, Any] | None:
        started = self.execution_started
        return None if started is None else started.props.get("ParentInstance")

    @property
    def completion(self) -> HistoryEvent | None:
        return self._last(EventType.ExecutionCompleted, EventType.ExecutionTerminated)

    @property
    def status(self) -> OrchestrationStatus:
        if self.execution_started is None:
            return OrchestrationStatus.Pending
        done = self.completion
        if done is None:
            marker = self._last(EventType.ExecutionSuspended, EventType.ExecutionResumed)
            if marker is not None and marker.event_type == EventType.ExecutionSuspended:
                return OrchestrationStatus.Suspended
            return OrchestrationStatus.Running
        if done.event_type == EventType.ExecutionTerminated:
            return OrchestrationStatus.Terminated
        return OrchestrationStatus(int(done.props.get("OrchestrationStatus", OrchestrationStatus.Completed)))

    @property
    def output(self) -> str | None:
        done = self.completion
        if done is None:
            return None
        if done.event_type == EventType.ExecutionTerminated:
            return done.input
        return done.props.get("Result")

    @property
    def episode(self) -> int:
        return sum(1 for e in self.events if e.event_type == EventType.OrchestratorStarted)

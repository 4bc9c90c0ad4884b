"""Handing the engine's work items to the workers connected over ``GetWorkItems``.

The engine's dispatchers lock work as they always do, one episode per instance at a time; a runner
then :meth:`~WorkItemBroker.submit`\\ s each item here and awaits the worker's report. The broker sends
it to a connected stream that wants that kind (and name, when the worker filters) and has room under
the concurrency caps the worker asked for, or keeps it until one does. Each send carries a new
completion token: a report is taken only under the token of the stream the item is with now. When a
stream ends, its unreported items go to the next stream; an abandoned item fails its runner, so the
engine abandons it as it abandons any failed episode (its messages are retried, and counted for poison).
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import uuid
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from ..errors import DurableExtError
from .proto import pb

log = logging.getLogger("durable_ext.sidecar")

HEALTH_PING_S = 30.0
"""How long a stream may stay quiet before it carries a health ping (the SDKs give up after 120 s)."""


class WorkKind(Enum):
    ORCHESTRATION = "orchestration"
    ACTIVITY = "activity"
    ENTITY = "entity"


class WorkItemAbandoned(DurableExtError):
    """The worker gave the item back: the engine retries it."""


class UnknownCompletionToken(DurableExtError):
    """A report for an item that is not with the reporting stream (anymore)."""


Build = Callable[[str], pb.WorkItem]
"""Builds the work item to send under a completion token."""


@dataclass(eq=False)
class _Pending:
    kind: WorkKind
    name: str
    build: Build
    done: asyncio.Future[Any]
    token: str | None = None
    stream: WorkerStream | None = None


def _caps(request: pb.GetWorkItemsRequest) -> dict[WorkKind, int]:
    """The most items of each kind the worker wants at once; 0 (unset) means no cap."""
    orchestrations = request.maxConcurrentOrchestrationWorkItems
    return {
        WorkKind.ORCHESTRATION: orchestrations,
        WorkKind.ACTIVITY: request.maxConcurrentActivityWorkItems,
        WorkKind.ENTITY: request.maxConcurrentEntityWorkItems or orchestrations,
    }


def _filters(request: pb.GetWorkItemsRequest) -> dict[WorkKind, frozenset[str]] | None:
    if not request.HasField("workItemFilters"):
        return None
    f = request.workItemFilters
    return {
        WorkKind.ORCHESTRATION: frozenset(o.name for o in f.orchestrations),
        WorkKind.ACTIVITY: frozenset(a.name for a in f.activities),
        WorkKind.ENTITY: frozenset(e.name.lower() for e in f.entities),
    }


class WorkerStream:
    """One worker's ``GetWorkItems`` stream: what it may take and what it holds."""

    _numbers = itertools.count(1)

    def __init__(self, request: pb.GetWorkItemsRequest) -> None:
        self.number = next(self._numbers)
        self.caps = _caps(request)
        self.filters = _filters(request)
        self.worker_id = request.worker_instance_id
        self.held: dict[str, _Pending] = {}
        self._outbox: asyncio.Queue[pb.WorkItem | None] = asyncio.Queue()
        self.closed = False

    def wants(self, pending: _Pending) -> bool:
        if self.closed:
            return False
        if self.filters is not None and pending.name not in self.filters[pending.kind]:
            return False
        cap = self.caps[pending.kind]
        return not cap or sum(1 for p in self.held.values() if p.kind == pending.kind) < cap

    def send(self, pending: _Pending) -> None:
        token = uuid.uuid4().hex
        pending.token, pending.stream = token, self
        self.held[token] = pending
        self._outbox.put_nowait(pending.build(token))

    def end(self) -> None:
        self.closed = True
        self._outbox.put_nowait(None)

    async def items(self, ping_s: float = HEALTH_PING_S) -> AsyncIterator[pb.WorkItem]:
        """What to write to the stream, with a health ping whenever it has been quiet for ``ping_s``."""
        while True:
            try:
                item = await asyncio.wait_for(self._outbox.get(), ping_s)
            except TimeoutError:
                yield pb.WorkItem(healthPing=pb.HealthPing())
                continue
            if item is None:
                return
            yield item


@dataclass
class WorkItemBroker:
    streams: list[WorkerStream] = field(default_factory=list)
    _waiting: deque[_Pending] = field(default_factory=deque)
    _next: int = 0

    @property
    def connected(self) -> int:
        return len(self.streams)

    async def submit(self, kind: WorkKind, name: str, build: Build) -> Any:
        """Send a work item to a worker and return what the worker reports for it."""
        pending = _Pending(kind, name, build, asyncio.get_running_loop().create_future())
        self._place(pending)
        try:
            return await pending.done
        finally:
            self._forget(pending)

    def connect(self, request: pb.GetWorkItemsRequest) -> WorkerStream:
        stream = WorkerStream(request)
        self.streams.append(stream)
        log.info("Worker stream %d connected (%s)", stream.number, stream.worker_id or "no worker id")
        self._drain()
        return stream

    def disconnect(self, stream: WorkerStream) -> None:
        """The stream ended: what it held goes to the next worker."""
        if stream in self.streams:
            self.streams.remove(stream)
        stream.closed = True
        held = list(stream.held.values())
        stream.held.clear()
        log.info(
            "Worker stream %d ended; %d work item(s) it held go to another worker", stream.number, len(held)
        )
        for pending in held:
            pending.token = pending.stream = None
            if not pending.done.done():
                self._waiting.appendleft(pending)
        self._drain()

    def complete(self, token: str, response: Any) -> None:
        pending = self._take(token)
        if not pending.done.done():
            pending.done.set_result(response)

    def abandon(self, token: str) -> None:
        pending = self._take(token)
        if not pending.done.done():
            pending.done.set_exception(
                WorkItemAbandoned(f"The worker abandoned {pending.kind.value} '{pending.name}'")
            )

    def close(self) -> None:
        for stream in list(self.streams):
            stream.end()

    def _take(self, token: str) -> _Pending:
        for stream in self.streams:
            pending = stream.held.pop(token, None)
            if pending is not None:
                self._drain()
                return pending
        raise UnknownCompletionToken(
            f"No work item is out under completion token '{token}': it was reported already, or its "
            "stream ended and it went to another worker."
        )

    def _place(self, pending: _Pending) -> None:
        stream = self._stream_for(pending)
        if stream is None:
            self._waiting.append(pending)
        else:
            stream.send(pending)

    def _stream_for(self, pending: _Pending) -> WorkerStream | None:
        """The next stream, round robin, that wants the item."""
        count = len(self.streams)
        for offset in range(count):
            stream = self.streams[(self._next + offset) % count]
            if stream.wants(pending):
                self._next = (self._next + offset + 1) % count
                return stream
        return None

    def _drain(self) -> None:
        """Send waiting items that a stream now has room for, oldest first."""
        kept: deque[_Pending] = deque()
        while self._waiting:
            pending = self._waiting.popleft()
            if pending.done.done():
                continue
            stream = self._stream_for(pending)
            if stream is None:
                kept.append(pending)
            else:
                stream.send(pending)
        self._waiting = kept

    def _forget(self, pending: _Pending) -> None:
        """The runner stopped waiting (reported, or cancelled on shutdown)."""
        if pending.stream is not None and pending.token is not None:
            pending.stream.held.pop(pending.token, None)
        if pending in self._waiting:
            self._waiting.remove(pending)

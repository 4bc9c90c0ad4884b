"""In-order, duplicate-free delivery of requests from one sender to one entity.

Queue messages can overtake each other, so every request an orchestration sends to an entity carries a
timestamp and the timestamp of the request it sent to that entity before (its predecessor). The entity
delivers a request only after its predecessor; one that arrives early waits in a per-sender buffer, a
repeated one is dropped. Requests older than the reorder window, and requests from clients (no sender),
pass straight through. The bookkeeping is kept in the entity's scheduler state under ``sorter``, in the
reference's JSON shape.

Resends. An orchestration sends its messages before its history commits; if the commit never lands
(its worker died, storage failed, another worker committed first), the episode runs again and sends
the same requests again, stamped later. The reference takes such a resend for a new request. Here a
sender also says, in each request, up to which timestamp its requests to this entity are committed
(``Checkpoint``); the entity remembers, per sender execution, a digest (id and operation) of every
request it delivered after that point (``Recent``) and drops a request whose digest it has seen,
treating it as delivered.
Entries at or before a sender's checkpoint can no longer be resent and are forgotten, so ``Recent``
holds about one episode's requests per sender execution (an episode that continues as new sends from
several executions), and is forgotten with the sender when the reorder window passes.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

from .entities import RequestMessage
from .timefmt import format_dotnet, parse_datetime

log = logging.getLogger("durable_ext.entities")

_MIN = "0001-01-01T00:00:00"
_COLLECT_EVERY = timedelta(seconds=10)


def _time(value: Any) -> datetime | None:
    return None if not value or str(value).startswith("0001-01-01") else parse_datetime(str(value))


def _text(value: datetime | None) -> str:
    return _MIN if value is None else format_dotnet(value)


def _before(a: datetime | None, b: datetime | None) -> bool:
    """``a < b`` with ``None`` as the earliest time."""
    if b is None:
        return False
    return a is None or a < b


def request_digest(message: RequestMessage) -> str:
    """What makes a request the same request when it is sent again: its id (derived from the sender's
    execution and sequence number) and operation. Not its input, which may be built from the time or
    a new UUID, and so differ in a rerun."""
    text = f"{message.id}\n{message.operation}"
    return hashlib.sha1(text.encode("utf-8")).hexdigest()[:16]


class MessageSorter:
    def __init__(self, data: dict[str, Any], window: timedelta) -> None:
        self.data = data
        self.window = window

    @property
    def _horizon(self) -> datetime | None:
        return _time(self.data.get("ReceiveHorizon"))

    def receive(self, message: RequestMessage) -> Iterator[RequestMessage]:
        """The requests that may be delivered now that ``message`` arrived, in order."""
        if not self.window or message.parent_instance_id is None or message.timestamp is None:
            yield message
            return
        horizon = self._horizon
        if horizon is None or horizon + self.window + _COLLECT_EVERY < message.timestamp:
            yield from self._advance_horizon(message.timestamp - self.window)
            horizon = self._horizon
        if _before(message.timestamp, horizon):
            yield message
            return
        buffers: dict[str, Any] = self.data.setdefault("ReceivedFromInstance", {})
        key = next((k for k in buffers if k.lower() == message.parent_instance_id.lower()), None)
        if key is None:
            key = message.parent_instance_id
            buffers[key] = {"Last": _MIN, "ExecutionId": message.parent_execution_id}
        buffer = buffers[key]
        current = buffer.get("ExecutionId") == message.parent_execution_id
        if self._was_delivered(message):
            if current:  # it stands for the request it repeats: what waited for that one may follow
                self._mark_delivered(buffer, message.timestamp)
                yield from self._drain(buffer)
            return
        if not current:  # a new execution starts over
            yield from self._flush(buffer)
            buffer.update({"Last": _MIN, "ExecutionId": message.parent_execution_id, "Buffered": {}})
        last = _time(buffer.get("Last"))
        if not _before(last, message.timestamp):
            return  # already delivered: a duplicate
        if _before(last, message.predecessor) and not _before(message.predecessor, horizon):
            buffer.setdefault("Buffered", {})[_text(message.timestamp)] = message.to_dict()
            return
        yield from self._deliver(buffer, message)
        yield from self._drain(buffer)

    def _recent(self, execution_id: str | None) -> dict[str, str]:
        records: dict[str, dict[str, str]] = self.data.setdefault("Recent", {})
        return records.setdefault(str(execution_id), {})

    def _was_delivered(self, message: RequestMessage) -> bool:
        records: dict[str, dict[str, str]] = self.data.get("Recent") or {}
        seen = request_digest(message) in records.get(str(message.parent_execution_id), {})
        if seen:
            log.info(
                "Dropping request %s from '%s': it was sent again and is delivered already",
                message.id,
                message.parent_instance_id,
            )
        return seen

    def _deliver(self, buffer: dict[str, Any], message: RequestMessage) -> Iterator[RequestMessage]:
        """Deliver ``message`` (in order) and remember it until its sender has committed past it."""
        self._mark_delivered(buffer, message.timestamp)
        self._remember(message, in_order=True)
        yield message

    def _flush(self, buffer: dict[str, Any]) -> Iterator[RequestMessage]:
        """The sender went on to a new execution: what waited for the old one is delivered now, unless
        it was delivered already."""
        for _, data in sorted((buffer.get("Buffered") or {}).items()):
            waiting = RequestMessage.from_dict(data)
            if not self._was_delivered(waiting):
                self._remember(waiting, in_order=False)
                yield waiting

    def _remember(self, message: RequestMessage, *, in_order: bool) -> None:
        """Keep the digest of a delivered request; in order, its checkpoint also says which of the
        sender's earlier requests can no longer be sent again."""
        if not message.tracked:
            return
        recent = self._recent(message.parent_execution_id)
        if in_order and message.checkpoint is not None:
            for digest in [d for d, at in recent.items() if not _before(message.checkpoint, _time(at))]:
                del recent[digest]
        recent[request_digest(message)] = _text(message.timestamp)

    def _mark_delivered(self, buffer: dict[str, Any], timestamp: datetime | None) -> None:
        """``Last`` only moves forward: a request that waited and is older than what was delivered
        (an earlier run's copy) must not hold up the ones that follow the newer."""
        last = _time(buffer.get("Last"))
        if _before(timestamp, last):
            timestamp = last
        buffer["Last"] = _text(None if _before(timestamp, self._horizon) else timestamp)

    def _drain(self, buffer: dict[str, Any]) -> Iterator[RequestMessage]:
        buffered: dict[str, Any] = buffer.get("Buffered") or {}
        while buffered:
            first_key = min(buffered, key=lambda k: parse_datetime(k))
            candidate = RequestMessage.from_dict(buffered[first_key])
            last = _time(buffer.get("Last"))
            if _before(last, candidate.predecessor) and not _before(candidate.predecessor, self._horizon):
                break
            del buffered[first_key]
            if self._was_delivered(candidate):
                self._mark_delivered(buffer, candidate.timestamp)
                continue
            yield from self._deliver(buffer, candidate)
        if not buffered:
            buffer.pop("Buffered", None)

    def _advance_horizon(self, horizon: datetime) -> Iterator[RequestMessage]:
        """Move the window: what waited longer than it is delivered, and idle senders are forgotten."""
        self.data["ReceiveHorizon"] = _text(horizon)
        buffers: dict[str, Any] = self.data.get("ReceivedFromInstance") or {}
        for key in list(buffers):
            buffer = buffers[key]
            if _before(_time(buffer.get("Last")), horizon):
                buffer["Last"] = _MIN
            yield from self._drain(buffer)
            if buffer.get("Last") == _MIN and not buffer.get("Buffered"):
                del buffers[key]
        if not buffers:
            self.data.pop("ReceivedFromInstance", None)
        self._forget_recent(horizon)

    def _forget_recent(self, horizon: datetime) -> None:
        """Requests stamped before the window are never compared again: older ones pass through."""
        records: dict[str, dict[str, str]] = self.data.get("Recent") or {}
        for execution_id in list(records):
            recent = records[execution_id]
            for digest in [d for d, at in recent.items() if _before(_time(at), horizon)]:
                del recent[digest]
            if not recent:
                del records[execution_id]
        if not records:
            self.data.pop("Recent", None)


def label_outgoing(
    request: RequestMessage, now: datetime, last_sent: datetime | None, committed: datetime | None
) -> datetime:
    """Stamp a request an orchestration sends: strictly after the last one to the same entity, with the
    timestamp of the last one its committed history records as its checkpoint."""
    timestamp = now
    if last_sent is not None:
        request.predecessor = last_sent
        if timestamp <= last_sent:
            timestamp = last_sent + timedelta(microseconds=1)
    request.timestamp = timestamp
    request.checkpoint, request.tracked = committed, True
    return timestamp

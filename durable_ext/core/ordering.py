"""The orders of instance listings as keys: what a page's cursor is in each order, and how to sort by it.

In id order the key is the instance id. In the time orders it is the created time and the id, so that
instances created at the same moment still have one exact place: ``<created, ISO 8601 UTC with
microseconds>|<instance id>``, which sorts as the pair does (the time text has a fixed width).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

from ..errors import InvalidRequestError
from .queries import CONTINUATION_HEADER, EARLIEST, InstanceOrder
from .state import OrchestrationState

_TIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"


def time_key(created: datetime | None, instance_id: str) -> str:
    return f"{(created or EARLIEST).astimezone(UTC).strftime(_TIME_FORMAT)}|{instance_id}"


def parse_time_key(key: str) -> tuple[datetime, str]:
    """The created time and instance id of a time-order cursor."""
    text, sep, instance_id = key.partition("|")
    try:
        created = datetime.strptime(text, _TIME_FORMAT).replace(tzinfo=UTC)
    except ValueError:
        created = None
    if not sep or created is None:
        raise InvalidRequestError(
            f"The continuation token in the '{CONTINUATION_HEADER}' header is damaged: send back the "
            "value of the previous page unchanged, or omit the header to read the first page."
        )
    return created, instance_id


def order_key(state: OrchestrationState, order: InstanceOrder) -> str:
    """The state's key in ``order`` (what a page's cursor holds)."""
    if order is InstanceOrder.ID:
        return state.instance_id
    return time_key(state.created_time, state.instance_id)


def in_order(states: Iterable[OrchestrationState], order: InstanceOrder) -> list[OrchestrationState]:
    return sorted(states, key=lambda s: order_key(s, order), reverse=order is InstanceOrder.NEWEST)


def comes_after(key: str, cursor: str, order: InstanceOrder) -> bool:
    """Whether the state with ``key`` is listed after the one with ``cursor``."""
    return key < cursor if order is InstanceOrder.NEWEST else key > cursor

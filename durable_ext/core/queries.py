"""Instance queries: the filter a client asks for and the page of states it gets back."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import Enum

from .history import TERMINAL_STATUSES, OrchestrationStatus
from .state import OrchestrationState

DEFAULT_PAGE_SIZE = 100
CONTINUATION_HEADER = "x-ms-continuation-token"
"""The HTTP header that carries a page's continuation token, as the Durable Functions API names it."""


class InstanceOrder(Enum):
    """The order of a listing. ``ID`` is the Instances table's (the reference's); the time orders are
    durable-ext's, by created time, ties broken by instance id."""

    ID = "id"
    NEWEST = "newest"
    OLDEST = "oldest"

    @classmethod
    def parse(cls, text: str, what: str = "order") -> InstanceOrder:
        """The order named ``text`` (``newest``, ``oldest`` or ``id``); a ValueError names the choices."""
        try:
            return cls(text.strip().lower())
        except ValueError:
            choices = ", ".join(o.value for o in cls)
            raise ValueError(f"The {what} '{text}' is not one of: {choices}.") from None


EARLIEST = datetime(1601, 1, 1, tzinfo=UTC)
"""Where a state without a created time sorts (the .NET ``DateTime`` of an empty table column)."""


@dataclass(frozen=True)
class InstanceQuery:
    """Which orchestration instances to list or purge. Empty fields do not filter.

    ``continuation_token`` is the opaque token of a previous page (``None`` for the first page).
    Entity instances (ids starting with ``@``) are left out unless ``include_entities``.
    """

    created_from: datetime | None = None
    created_to: datetime | None = None
    statuses: frozenset[OrchestrationStatus] = frozenset()
    instance_id_prefix: str | None = None
    name: str | None = None
    """Only instances of this orchestrator (exact name, as the Instances table's ``Name``)."""
    show_input: bool = True
    page_size: int = DEFAULT_PAGE_SIZE
    continuation_token: str | None = None
    include_entities: bool = False
    order: InstanceOrder = InstanceOrder.ID
    custom_status_contains: str | None = None
    """Only instances whose custom status (its JSON text) contains this, ignoring case. Every provider
    but PostgreSQL reads each row the other filters leave to test it."""
    input_contains: str | None = None
    """Only instances whose input (its JSON text) contains this, ignoring case; costs as above."""

    def __post_init__(self) -> None:
        if self.page_size < 1:
            raise ValueError(f"page_size must be a positive integer, not {self.page_size}")

    @property
    def text_filters(self) -> bool:
        return bool(self.custom_status_contains or self.input_contains)


@dataclass
class InstancePage:
    states: list[OrchestrationState] = field(default_factory=list)
    continuation_token: str | None = None
    """Pass it back in the next query to read the next page; ``None`` when this was the last page."""


def purgeable_statuses(requested: frozenset[OrchestrationStatus]) -> frozenset[OrchestrationStatus]:
    """Only finished instances are purged by a range purge: the terminal statuses among those requested
    (all terminal statuses when none were)."""
    if not requested:
        return TERMINAL_STATUSES
    return requested & TERMINAL_STATUSES

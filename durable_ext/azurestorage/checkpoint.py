"""What the sentinel row of an instance's history says about its last commit, besides its ETag.

DurableTask.AzureStorage writes ``ExecutionId``, ``IsCheckpointComplete`` and
``CheckpointCompletedTimestamp`` there. This host adds, in the same conditional write (no extra
storage operation):

* ``HistoryLength``: how many rows the execution has as of the last complete commit. A commit of more
  than one transaction that died half-way leaves rows past it; they are not history, and the episode's
  retry overwrites them. ``HistoryLengthAt`` repeats ``CheckpointCompletedTimestamp``, so a commit by a
  host that does not write the length (the length is then stale) is recognised and the length ignored.
* ``ConsumedMessages``: the queue message ids the last commits consumed whose deletion is not known to
  have happened. A worker that died between committing an episode and deleting its messages leaves
  them in the queue; when they reappear, this says they were applied already.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from ..core.timefmt import parse_datetime
from .table_codec import SENTINEL_ROW_KEY

HISTORY_LENGTH = "HistoryLength"
HISTORY_LENGTH_AT = "HistoryLengthAt"
CONSUMED = "ConsumedMessages"
CONSUMED_PARTS = "ConsumedMessagesParts"
PART_CHARS = 30_000
COMPLETED_AT = "CheckpointCompletedTimestamp"


def current_execution(rows: list[dict[str, Any]]) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
    """The sentinel row and the history rows of the execution it names, in order, of one partition."""
    sentinel = next((r for r in rows if r["RowKey"] == SENTINEL_ROW_KEY), None)
    history = [r for r in rows if r["RowKey"] != SENTINEL_ROW_KEY]
    execution_id = (sentinel or {}).get("ExecutionId") or (history[0]["ExecutionId"] if history else None)
    current: list[dict[str, Any]] = []
    for row in history:
        if row.get("ExecutionId") != execution_id:
            break  # rows of an older, longer execution left behind after a restart
        current.append(row)
    length = committed_length(sentinel)
    return sentinel, current if length is None else current[:length]


def committed_length(sentinel: dict[str, Any] | None) -> int | None:
    """Rows of the current execution as of the last complete commit, when this host wrote it."""
    if not sentinel or sentinel.get(HISTORY_LENGTH) is None:
        return None
    if sentinel.get(HISTORY_LENGTH_AT) != sentinel.get(COMPLETED_AT):
        return None  # the last complete commit was written by another host
    return int(sentinel[HISTORY_LENGTH])


def consumed_messages(sentinel: dict[str, Any] | None) -> dict[str, datetime]:
    """The recorded queue message ids, each with when it was recorded (see :func:`consumed_columns`)."""
    sentinel = sentinel or {}
    parts = int(sentinel.get(CONSUMED_PARTS) or 1)
    text = "".join(str(sentinel.get(_part_column(i)) or "") for i in range(parts))
    if not text:
        return {}
    try:
        groups = json.loads(text)
        return {str(i): parse_datetime(str(at)) for at, ids in groups.items() for i in ids}
    except (ValueError, AttributeError, TypeError):
        return {}


def consumed_columns(consumed: dict[str, datetime]) -> dict[str, Any]:
    """``ConsumedMessages`` as JSON of the ids grouped by the minute they were recorded in, cut into as
    many string columns as it needs (a table string holds 32K characters), with their count."""
    groups: dict[str, list[str]] = {}
    for message_id, at in consumed.items():
        groups.setdefault(at.replace(second=0, microsecond=0).isoformat(), []).append(message_id)
    text = json.dumps(groups, separators=(",", ":"))
    parts = [text[i : i + PART_CHARS] for i in range(0, len(text), PART_CHARS)] or [""]
    columns: dict[str, Any] = {_part_column(i): part for i, part in enumerate(parts)}
    columns[CONSUMED_PARTS] = len(parts)
    return columns


def _part_column(index: int) -> str:
    return CONSUMED if index == 0 else f"{CONSUMED}{index}"


def completion_columns(length: int, consumed: dict[str, datetime]) -> dict[str, Any]:
    """The columns the last transaction of a commit writes to the sentinel row."""
    now = datetime.now(UTC)
    return {COMPLETED_AT: now, HISTORY_LENGTH: length, HISTORY_LENGTH_AT: now} | consumed_columns(consumed)


def in_progress_columns(previous_length: int) -> dict[str, Any]:
    """The columns the other transactions of a commit write first: the history is still as it was."""
    now = datetime.now(UTC)
    return {COMPLETED_AT: now, HISTORY_LENGTH: previous_length, HISTORY_LENGTH_AT: now}

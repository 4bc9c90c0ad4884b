"""What the sentinel row of an instance's history says about its last commit, besides its ETag.

DurableTask.AzureStorage writes ``ExecutionId``, ``IsCheckpointComplete`` and
``CheckpointCompletedTimestamp`` there. This host adds, in the same conditional write (no extra
storage operation):

* ``HistoryLength``: how many rows the execution has as of the last complete commit. A commit of more
  than one transaction that died half-way leaves rows past it; they are not history, and the episode's
  retry overwrites them. ``HistoryLengthAt`` repeats ``CheckpointCompletedTimestamp``, so a commit by a
  host that does not write the length (the length is then stale) is recognised and the length ignored.
* ``ConsumedMessages``: the queue message ids the last commits consumed whose deletion is not known to
  have happened, each with the time after which it can no longer come back. A worker that died between
  committing an episode and deleting its messages leaves them in the queue; when they reappear, this
  says they were applied already.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from ..core.timefmt import parse_datetime
from .table_codec import SENTINEL_ROW_KEY

HISTORY_LENGTH = "HistoryLength"
HISTORY_LENGTH_AT = "HistoryLengthAt"
CONSUMED = "ConsumedMessages"
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
    text = (sentinel or {}).get(CONSUMED)
    if not text:
        return {}
    try:
        return {str(k): parse_datetime(str(v)) for k, v in json.loads(text).items()}
    except (ValueError, AttributeError):
        return {}


def completion_columns(length: int, consumed: dict[str, datetime]) -> dict[str, Any]:
    """The columns the last transaction of a commit writes to the sentinel row."""
    now = datetime.now(UTC)
    record = {k: v.isoformat() for k, v in consumed.items()}
    return {
        COMPLETED_AT: now,
        HISTORY_LENGTH: length,
        HISTORY_LENGTH_AT: now,
        CONSUMED: json.dumps(record, separators=(",", ":")),
    }


def may_return_until(next_visible_on: datetime | None, visibility_timeout_s: float) -> datetime:
    """Until when a consumed message that was not deleted may still reappear and be seen: it becomes
    visible at ``next_visible_on``, and one more visibility timeout covers a worker that took it then
    and died before deleting it."""
    visible = next_visible_on or datetime.now(UTC) + timedelta(seconds=visibility_timeout_s)
    return visible + timedelta(seconds=visibility_timeout_s + 60)

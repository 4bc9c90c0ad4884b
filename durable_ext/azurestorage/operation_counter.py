"""Counts of the storage requests a process sends, by service and kind.

The count is taken by the request hook of the clients' pipelines (``raw_request_hook``, run by their
``StorageRequestHook`` / ``CustomHookPolicy`` after the retry policy), and by the lean request path
(``lean_http``) before each attempt, so retries count too.

Every HTTP request the Azure clients send (retries included) is counted once, as one storage
operation: ``queue.put``, ``queue.get``, ``queue.delete``, ``queue.update``, ``table.query``,
``table.write``, ``table.batch``, ``blob.read``, ``blob.write``. Benchmarks divide these by the work done;
the management API shows them, so a user can see what a workload costs in storage transactions.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any

from azure.core.pipeline import PipelineRequest


def _queue_kind(method: str, path: str) -> str:
    if "/messages" not in path:
        return "admin"
    return {"POST": "put", "GET": "get", "DELETE": "delete", "PUT": "update"}.get(method, "admin")


def _table_kind(method: str, path: str) -> str:
    if path.endswith("$batch"):
        return "batch"
    return "query" if method == "GET" else "write"


def _blob_kind(method: str, path: str) -> str:
    return "read" if method in ("GET", "HEAD") else "write"


_KINDS = {"queue": _queue_kind, "table": _table_kind, "blob": _blob_kind}


class OperationCounter:
    """The counts of one process; :meth:`hook` gives the request hook of one service's clients."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()
        self.watchers: list[Callable[[str], None]] = []
        """Called with each operation's kind before it is sent; an exception fails the operation (the
        tests kill a worker between any two storage writes this way)."""

    def hook(self, service: str) -> Callable[[PipelineRequest[Any]], None]:
        kind = _KINDS[service]

        def count(request: PipelineRequest[Any]) -> None:
            http = request.http_request
            self.count(f"{service}.{kind(http.method, http.url.split('?', 1)[0])}")

        return count

    def count(self, name: str) -> None:
        """Count one request of kind ``name`` (``queue.put``, ...), about to be sent."""
        self.counts[name] += 1
        for watcher in self.watchers:
            watcher(name)

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def snapshot(self) -> dict[str, int]:
        return dict(sorted(self.counts.items()))

    @staticmethod
    def difference(after: dict[str, int], before: dict[str, int]) -> dict[str, int]:
        """What was counted between two snapshots (kinds with no new operation left out)."""
        changes = {kind: count - before.get(kind, 0) for kind, count in after.items()}
        return {kind: count for kind, count in changes.items() if count}

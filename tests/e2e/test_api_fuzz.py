"""A property-based fuzz of the management API from its own OpenAPI document, against a real host on
Azurite: no answer is a 5xx, every answer is documented and fits its schema, every 4xx names the parameter
at fault, and a rejected request writes nothing to the task hub.

The requests go to a task hub of their own that no worker runs (``taskHub=`` a second hub), so what is
in storage changes only by what the requests do. Short by default (bounded examples and wall time);
the longer form runs by hand:

    DURABLE_EXT_FUZZ_EXAMPLES=300 DURABLE_EXT_FUZZ_SECONDS=600 .venv/bin/pytest -s tests/e2e/test_api_fuzz.py
"""

from __future__ import annotations

import collections
import os
import time
import uuid
import warnings
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import requests
import schemathesis
from azure.data.tables import TableServiceClient
from azure.storage.blob import BlobServiceClient
from azure.storage.queue import QueueServiceClient
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode

from durable_ext.extension.openapi import openapi_document
from durable_ext.extension.request_limits import MAX_HTTP_LINE_BYTES

from .conftest import APPS, serve
from .hosting import RunningHost
from .openapi_checks import check_answer

EXAMPLES = int(os.environ.get("DURABLE_EXT_FUZZ_EXAMPLES", "6"))
"""Examples per operation and generation mode."""
SECONDS = float(os.environ.get("DURABLE_EXT_FUZZ_SECONDS", "30"))
"""Wall time for all of them: each operation and mode gets its share, then stops asking."""
MAX_WAIT_S = 0.2
"""A ``timeout`` the fuzz asks a start or restart to wait at most (nothing runs in its hub)."""

DOCUMENT = openapi_document()
SCHEMA = schemathesis.openapi.from_dict(DOCUMENT)
OPERATIONS = [result.ok() for result in SCHEMA.get_all_operations()]
CASES = [
    (op, mode)
    for op in OPERATIONS
    for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
    # an operation without parameters or body has no negative case
    if mode is GenerationMode.POSITIVE
    or op.definition.raw.get("parameters")
    or "requestBody" in op.definition.raw
]
SLICE_S = SECONDS / len(CASES)
KNOWN_ID = "fz-known"
"""An instance the quiet hub holds from the start, so that positive cases also reach a real instance."""


@dataclass
class Tally:
    requests: int = 0
    rejected: int = 0
    beyond_http_limits: int = 0
    by_status: collections.Counter[int] = field(default_factory=collections.Counter)
    failures: list[str] = field(default_factory=list)


TALLY = Tally()


@pytest.fixture(scope="module")
async def host(
    connection_string: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[RunningHost]:
    env = {"API_HUB": "fzown" + uuid.uuid4().hex[:8]}
    async for running in serve(APPS / "api", connection_string, tmp_path_factory, env):
        yield running
    print(
        f"\nfuzz: {TALLY.requests} requests, {TALLY.rejected} rejected "
        f"({TALLY.beyond_http_limits} beyond the HTTP server's line limit), by status "
        f"{dict(sorted(TALLY.by_status.items()))}, {len(TALLY.failures)} failures"
    )


@dataclass
class QuietHub:
    """A task hub no worker runs: its storage changes only through the requests sent to it."""

    name: str
    connection_string: str
    tables: TableServiceClient = field(init=False)
    queues: QueueServiceClient = field(init=False)
    blobs: BlobServiceClient = field(init=False)

    def __post_init__(self) -> None:
        self.tables = TableServiceClient.from_connection_string(self.connection_string)
        self.queues = QueueServiceClient.from_connection_string(self.connection_string)
        self.blobs = BlobServiceClient.from_connection_string(self.connection_string)

    def snapshot(self) -> dict[str, Any]:
        """Every row (with its ETag), every queue's message count and every blob of the hub."""
        state: dict[str, Any] = {}
        for table in self.tables.list_tables():
            if table.name.lower().startswith(self.name.lower()):
                client = self.tables.get_table_client(table.name)
                state[table.name] = sorted(
                    (e["PartitionKey"], e["RowKey"], e.metadata["etag"])
                    for e in client.list_entities(select=["PartitionKey", "RowKey"])
                )
        for queue in self.queues.list_queues(name_starts_with=self.name.lower()):
            client = self.queues.get_queue_client(queue.name)
            state[queue.name] = client.get_queue_properties().approximate_message_count
        for container in self.blobs.list_containers(name_starts_with=self.name.lower()):
            blobs = self.blobs.get_container_client(container.name).list_blobs()
            state[container.name] = sorted((b.name, b.etag) for b in blobs)
        return state


@pytest.fixture(scope="module")
def quiet(host: RunningHost, connection_string: str) -> QuietHub:
    hub = QuietHub("fzquiet" + uuid.uuid4().hex[:8], connection_string)
    # one accepted start creates the hub's tables and queues, so no later request creates them
    url = f"{host.base_url}/runtime/webhooks/durabletask/orchestrators/quick?taskHub={hub.name}"
    assert requests.post(url, timeout=30).status_code == 202
    before = hub.snapshot()
    assert before, "the quiet hub was not created"
    assert requests.post(url.replace("/quick?", f"/quick/{KNOWN_ID}?"), timeout=30).status_code == 202
    assert hub.snapshot() != before, "the snapshot does not see what an accepted start writes"
    return hub


@pytest.fixture(scope="module")
def session() -> Iterator[requests.Session]:
    with requests.Session() as http:
        yield http


def _bounded_wait(case: Any) -> None:
    """A fuzzed ``timeout`` that would make the request wait: cut to :data:`MAX_WAIT_S` (it stays valid)."""
    value = (case.query or {}).get("timeout")
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        return
    if seconds > MAX_WAIT_S:
        case.query["timeout"] = str(MAX_WAIT_S)


def _label(operation: Any, mode: GenerationMode) -> str:
    return f"{mode.value}:{operation.definition.raw['operationId']}"


def _strategy(operation: Any, mode: GenerationMode, hub: str) -> Any:
    """The operation's cases, sent to ``hub``; positive ones through the app setting that exists, and for an
    instance route, half of them about the instance the hub holds."""
    params = [p.get("$ref", "").rsplit("/", 1)[-1] for p in operation.definition.raw.get("parameters", [])]
    if "taskHub" not in params:
        return operation.as_strategy(generation_mode=mode)
    if mode is GenerationMode.NEGATIVE:
        return operation.as_strategy(generation_mode=mode, query={"taskHub": hub})
    query = {"taskHub": hub, "connection": "Storage"}
    free = operation.as_strategy(generation_mode=mode, query=query)
    if "instanceId" not in params:
        return free
    known = operation.as_strategy(generation_mode=mode, query=query, path_parameters={"instanceId": KNOWN_ID})
    return st.one_of(free, known)


@pytest.mark.parametrize(("operation", "mode"), CASES, ids=[_label(op, mode) for op, mode in CASES])
def test_fuzzed_requests_get_documented_answers_and_rejections_write_nothing(
    host: RunningHost, quiet: QuietHub, session: requests.Session, operation: Any, mode: GenerationMode
) -> None:
    definition = operation.definition.raw
    strategy = _strategy(operation, mode, quiet.name)
    stop_at = time.monotonic() + SLICE_S
    last = [quiet.snapshot()]

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=strategy)
    def fuzz(case: Any) -> None:
        if time.monotonic() > stop_at:
            return
        _bounded_wait(case)
        response = case.call(base_url=host.base_url, session=session, timeout=30)
        status = response.status_code
        TALLY.requests += 1
        TALLY.by_status[status] += 1
        content_type = _content_type(response.headers)
        problems = [] if status < 500 else [f"a server error {status}"]
        if _beyond_http_limits(response.request):
            TALLY.beyond_http_limits += 1  # the HTTP server's own plain-text 400, before any handler
            problems += [] if status == 400 else [f"{status} for a request line or header over the limit"]
        else:
            text = response.content.decode(errors="replace")
            problems += check_answer(DOCUMENT, definition, status, content_type, text)
        after = quiet.snapshot()
        if status >= 400:
            TALLY.rejected += 1
            if after != last[0]:
                problems.append("a rejected request changed the task hub: " + _difference(last[0], after))
        last[0] = after
        if problems:
            request = response.request
            failure = f"{request.method} {request.url} -> {status} {response.content[:300]!r}: {problems}"
            TALLY.failures.append(failure)
            raise AssertionError(failure)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fuzz()


def _beyond_http_limits(request: requests.PreparedRequest) -> bool:
    line = f"{request.method} {request.path_url} HTTP/1.1"
    headers = [f"{name}: {value}" for name, value in request.headers.items()]
    return any(len(text.encode()) > MAX_HTTP_LINE_BYTES for text in [line, *headers])


def _content_type(headers: dict[str, list[str]]) -> str:
    values = [v for name, v in headers.items() if name.lower() == "content-type"]
    return values[0][0].split(";")[0].strip() if values else ""


def _difference(before: dict[str, Any], after: dict[str, Any]) -> str:
    changed = sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))
    return ", ".join(changed)

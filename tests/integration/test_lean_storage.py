"""The lean request path against Azurite: each operation answers as the SDK does, errors included.

Every check runs the same call through the SDK client and through the lean path and compares what a
caller sees: values, exception types, ``status_code`` and ``error_code``, operation counts, health.
Azurite checks the Shared Key signatures, so every success here is also a signing check.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
from azure.core import MatchConditions
from azure.core.exceptions import (
    ClientAuthenticationError,
    HttpResponseError,
    ResourceExistsError,
    ResourceModifiedError,
    ResourceNotFoundError,
)
from azure.data.tables import EdmType, EntityProperty, UpdateMode
from azure.data.tables.aio import TableClient
from azure.storage.queue.aio import QueueClient

from durable_ext.azurestorage import table_batch
from durable_ext.azurestorage.clients import StorageClients, lean_key
from durable_ext.azurestorage.connection import EMULATOR_ACCOUNT_KEY, connection_string_parts
from durable_ext.azurestorage.lean_queue import LeanQueue, lean_queue
from durable_ext.azurestorage.lean_table import LeanTable, lean_table
from durable_ext.azurestorage.queues import TaskHubQueue
from durable_ext.azurestorage.table_batch import BatchOperation, BatchOperationError
from tests.e2e.hosting import free_port

QUEUE_FIELDS = ("id", "inserted_on", "expires_on", "dequeue_count", "content", "next_visible_on")


@pytest.fixture
async def clients(connection_string: str) -> AsyncIterator[StorageClients]:
    clients = StorageClients.from_connection_string(connection_string)
    assert clients.lean is not None
    yield clients
    await clients.close()


@pytest.fixture
async def queue(clients: StorageClients, hub_name: str) -> AsyncIterator[tuple[QueueClient, LeanQueue]]:
    client = clients.queues.get_queue_client(f"{hub_name}-lean")
    await client.create_queue()
    lean = lean_queue(client)
    assert lean is not None
    yield client, lean
    await client.delete_queue()


@pytest.fixture
async def table(clients: StorageClients, hub_name: str) -> tuple[TableClient, LeanTable]:
    client = await clients.tables.create_table(f"{hub_name}Lean")
    lean = lean_table(client)
    assert lean is not None
    return client, lean


def _fields(message: Any) -> dict[str, Any]:
    return {name: getattr(message, name) for name in QUEUE_FIELDS}


def _error(exc: BaseException) -> tuple[type, int | None, str | None, str]:
    assert isinstance(exc, HttpResponseError)
    return type(exc), exc.status_code, str(getattr(exc, "error_code", None)), str(exc).splitlines()[0]


async def _raised(call: Any) -> BaseException:
    with pytest.raises(HttpResponseError) as caught:
        await call
    return caught.value


async def test_put_get_update_delete_give_what_the_sdk_gives(
    clients: StorageClients, queue: tuple[QueueClient, LeanQueue]
) -> None:
    client, lean = queue
    text = "<a b='1'>&amp; \"é\" ✓</a>"
    put = await lean.put(text, 0)
    assert put.content == text and put.pop_receipt and put.dequeue_count is None
    before = clients.operations.snapshot()
    [got] = await lean.get(32, 30)
    assert _fields(got) == _fields(put) | {"dequeue_count": 1, "next_visible_on": got.next_visible_on}
    assert got.next_visible_on is not None and got.next_visible_on > put.next_visible_on  # type: ignore[operator]
    updated = await lean.update(got.id, got.pop_receipt or "", 0)
    assert updated.pop_receipt and updated.pop_receipt != got.pop_receipt
    [again] = [m async for m in client.receive_messages(visibility_timeout=30)]  # the SDK reads it back
    assert _fields(again) == _fields(got) | {"dequeue_count": 2, "next_visible_on": again.next_visible_on}
    await lean.delete(again.id, again.pop_receipt or "")
    assert await lean.get(32, 30) == []
    assert clients.operations.difference(clients.operations.snapshot(), before) == {
        "queue.get": 4,  # the SDK's pager asks once more after a short page
        "queue.update": 1,
        "queue.delete": 1,
    }


async def test_queue_errors_are_the_sdks(
    queue: tuple[QueueClient, LeanQueue], clients: StorageClients
) -> None:
    client, lean = queue
    sent = await client.send_message("x", visibility_timeout=30)
    await lean.delete(sent.id, sent.pop_receipt or "")
    gone_sdk = await _raised(client.delete_message(sent.id, sent.pop_receipt))
    gone_lean = await _raised(lean.delete(sent.id, sent.pop_receipt or ""))
    assert _error(gone_lean) == _error(gone_sdk)
    assert isinstance(gone_lean, ResourceNotFoundError) and gone_lean.error_code == "MessageNotFound"
    assert (
        _error(await _raised(lean.update(sent.id, sent.pop_receipt or "", 0)))[:3]
        == _error(await _raised(client.update_message(sent.id, sent.pop_receipt, visibility_timeout=0)))[:3]
    )

    missing = clients.queues.get_queue_client("missing-" + uuid.uuid4().hex[:8])
    missing_lean = lean_queue(missing)
    assert missing_lean is not None
    for call_lean, call_sdk in (
        (missing_lean.put("x"), missing.send_message("x", time_to_live=-1)),
        (missing_lean.get(1, 30), missing.receive_messages().__anext__()),
    ):
        lean_error, sdk_error = await _raised(call_lean), await _raised(call_sdk)
        assert _error(lean_error)[:3] == _error(sdk_error)[:3]
        assert isinstance(lean_error, ResourceNotFoundError) and lean_error.error_code == "QueueNotFound"


async def test_task_hub_queue_uses_the_lean_path_and_keeps_its_answers(
    connection_string: str, queue: tuple[QueueClient, LeanQueue]
) -> None:
    client, _ = queue
    hub_queue = TaskHubQueue(client, 30, 1)
    assert hub_queue.lean is not None
    foreign = QueueClient.from_connection_string(connection_string, client.queue_name)
    assert TaskHubQueue(foreign, 30, 1).lean is None  # a client StorageClients did not make: the SDK path
    await hub_queue.send_body("body", once=True)
    [message] = await hub_queue.receive_batch(32)
    assert message.content == "body"
    await hub_queue.abandon(message, 0)
    assert await hub_queue.delete(message) is True
    assert await hub_queue.delete(message) is False  # gone: False, as with the SDK


async def test_insert_merge_replace_query_match_the_sdk(
    clients: StorageClients, table: tuple[TableClient, LeanTable]
) -> None:
    client, lean = table
    at = datetime(2024, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)
    keys = ("it's a:b@c %20 é+&=", "")  # no / \\ # ?: keys may not hold them
    row = {
        "PartitionKey": keys[0],
        "RowKey": keys[1],
        "S": "x",
        "D": at,
        "I": 7,
        "L": EntityProperty(2**40, EdmType.INT64),
        "B": True,
    }
    etag = await lean.insert(row)
    assert etag.startswith('W/"datetime')
    sdk_error = await _raised(client.create_entity(row))
    lean_error = await _raised(lean.insert(row))
    assert _error(lean_error) == _error(sdk_error) and isinstance(lean_error, ResourceExistsError)

    merged = await lean.write({"PartitionKey": keys[0], "RowKey": keys[1], "M": "m"}, merge=True, etag=etag)
    stale = {"PartitionKey": keys[0], "RowKey": keys[1], "M": "n"}
    lean_error = await _raised(lean.write(stale, merge=True, etag=etag))
    sdk_error = await _raised(
        client.update_entity(
            stale, mode=UpdateMode.MERGE, etag=etag, match_condition=MatchConditions.IfNotModified
        )
    )
    assert _error(lean_error) == _error(sdk_error) and isinstance(lean_error, ResourceModifiedError)
    absent = {"PartitionKey": "absent", "RowKey": "", "M": "n"}
    lean_error = await _raised(lean.write(absent, merge=False, etag=merged))
    sdk_error = await _raised(
        client.update_entity(
            absent, mode=UpdateMode.REPLACE, etag=merged, match_condition=MatchConditions.IfNotModified
        )
    )
    assert _error(lean_error) == _error(sdk_error) and isinstance(lean_error, ResourceNotFoundError)

    await lean.write({"PartitionKey": "upserted", "RowKey": "r", "N": 1}, merge=True)  # inserts
    [via_sdk] = [e async for e in client.query_entities("PartitionKey eq @pk", parameters={"pk": keys[0]})]
    [via_lean] = [e async for e in lean.query("PartitionKey eq @pk", {"pk": keys[0]})]
    assert dict(via_lean) == dict(via_sdk) and via_lean.metadata == via_sdk.metadata
    assert via_lean["D"] == at and via_lean["M"] == "m" and via_lean["L"] == via_sdk["L"]
    selected = [e async for e in lean.query("PartitionKey eq @pk", {"pk": "upserted"}, ["RowKey"])]
    assert [dict(e) for e in selected] == [{"RowKey": "r"}]


async def test_query_follows_continuations(table: tuple[TableClient, LeanTable]) -> None:
    client, lean = table
    for start in range(0, 1100, 100):  # Azurite pages at 1000 rows
        rows = [{"PartitionKey": "p", "RowKey": f"{i:05}"} for i in range(start, start + 100)]
        await table_batch.submit(client, [BatchOperation("upsert", r) for r in rows], lean)
    via_lean = [e["RowKey"] async for e in lean.query("PartitionKey eq @pk", {"pk": "p"})]
    via_sdk = [
        e["RowKey"] async for e in client.query_entities("PartitionKey eq @pk", parameters={"pk": "p"})
    ]
    assert via_lean == via_sdk == [f"{i:05}" for i in range(1100)]


async def test_a_failed_transaction_says_which_operation_failed_as_on_the_sdk_path(
    clients: StorageClients, table: tuple[TableClient, LeanTable]
) -> None:
    client, lean = table
    etag = await lean.insert({"PartitionKey": "b", "RowKey": "exists"})
    ops = [
        BatchOperation("upsert", {"PartitionKey": "b", "RowKey": "new"}),
        BatchOperation("create", {"PartitionKey": "b", "RowKey": "exists"}),
    ]
    before = clients.operations.snapshot()
    errors = []
    for path in (lean, None):
        with pytest.raises(BatchOperationError) as caught:
            await table_batch.submit(client, ops, path)
        errors.append((caught.value.status_code, str(caught.value)))
    assert errors[0] == errors[1] and errors[0][0] == 409
    assert clients.operations.difference(clients.operations.snapshot(), before) == {"table.batch": 2}
    assert [e async for e in lean.query("RowKey eq @rk", {"rk": "new"})] == []  # rolled back
    stale = [
        BatchOperation("merge", {"PartitionKey": "b", "RowKey": "exists", "X": 1}, etag.replace("Z", "1Z"))
    ]
    with pytest.raises(BatchOperationError) as caught:
        await table_batch.submit(client, stale, lean)
    assert caught.value.status_code == 412
    [tag] = await table_batch.submit(
        client, [BatchOperation("merge", {"PartitionKey": "b", "RowKey": "exists"}, etag)], lean
    )
    assert tag and tag != etag


async def test_a_wrong_key_is_an_authentication_failure(
    connection_string: str, hub_name: str, clients: StorageClients
) -> None:
    await clients.queues.create_queue(f"{hub_name}-auth")
    wrong_key = "A" * 86 + "=="
    wrong = StorageClients.from_connection_string(connection_string.replace(EMULATOR_ACCOUNT_KEY, wrong_key))
    try:
        lean = lean_queue(wrong.queues.get_queue_client(f"{hub_name}-auth"))
        assert lean is not None
        error = await _raised(lean.put("x"))
        sdk_error = await _raised(wrong.queues.get_queue_client(f"{hub_name}-auth").send_message("x"))
        assert isinstance(error, ClientAuthenticationError) and _error(error)[:3] == _error(sdk_error)[:3]
        assert wrong.health.auth_failed
    finally:
        await wrong.close()


def test_the_lean_path_is_only_for_an_account_key_without_a_proxy(
    connection_string: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert lean_key(connection_string) is not None
    parts = connection_string_parts(connection_string)
    sas = f"QueueEndpoint={parts['queueendpoint']};SharedAccessSignature=sv=2020-01-01&sig=abc"
    assert lean_key(sas) is None
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.invalid:3128")
    assert lean_key(connection_string) is None


@contextlib.asynccontextmanager
async def _failing_server(status: int) -> AsyncIterator[tuple[str, list[bytes]]]:
    """A server answering every request with ``status`` (and an Azure error body)."""
    requests: list[bytes] = []
    body = (
        b'<?xml version="1.0" encoding="utf-8"?><Error><Code>ServerBusy</Code><Message>busy</Message></Error>'
    )

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(asyncio.IncompleteReadError, ConnectionError):
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = next(
                    (
                        int(line.split(b":")[1])
                        for line in head.split(b"\r\n")
                        if line.lower().startswith(b"content-length")
                    ),
                    0,
                )
                await reader.readexactly(length)
                requests.append(head.split(b"\r\n")[0])
                writer.write(
                    f"HTTP/1.1 {status} Busy\r\nx-ms-error-code: ServerBusy\r\n"
                    f"Content-Type: application/xml\r\nContent-Length: {len(body)}\r\n\r\n".encode()
                    + body
                )
                await writer.drain()
        writer.close()

    port = free_port()
    server = await asyncio.start_server(handle, "127.0.0.1", port)
    async with server:
        endpoint = f"http://127.0.0.1:{port}/devstoreaccount1"
        yield (
            (
                f"DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey={EMULATOR_ACCOUNT_KEY};"
                f"QueueEndpoint={endpoint};TableEndpoint={endpoint};BlobEndpoint={endpoint}"
            ),
            requests,
        )


@pytest.mark.parametrize("status", [503, 501])
async def test_retries_counts_and_health_of_a_failing_server_match_the_sdk(status: int) -> None:
    outcomes = []
    async with _failing_server(status) as (connection, requests):
        for lean in (True, False):
            clients = StorageClients.from_connection_string(connection)
            client = clients.queues.get_queue_client("q")
            path = lean_queue(client)
            assert path is not None
            try:
                error = await _raised(path.put("x") if lean else client.send_message("x", time_to_live=-1))
                outcomes.append((_error(error)[:3], dict(clients.operations.counts), len(requests)))
                assert clients.health.describe() != ""
                requests.clear()
            finally:
                await clients.close()
    assert outcomes[0] == outcomes[1]
    assert outcomes[0][2] == (3 if status == 503 else 1)

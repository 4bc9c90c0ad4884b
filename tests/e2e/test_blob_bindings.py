"""Blob input, blob output and blob triggers end to end: the host as a subprocess over Azurite."""

from __future__ import annotations

import asyncio
import base64
import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import TypeVar

import aiohttp
import pytest
from azure.core.exceptions import ResourceNotFoundError
from azure.storage.blob.aio import BlobServiceClient
from azure.storage.queue.aio import QueueServiceClient

from .conftest import APPS, serve
from .hosting import RunningHost, start_host, stop_host, wait_until_serving

APP = APPS / "blobs"
T = TypeVar("T")


@pytest.fixture(scope="module")
async def blobs_host(
    connection_string: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[RunningHost]:
    async for host in serve(APP, connection_string, tmp_path_factory):
        yield host


@pytest.fixture(scope="module")
async def blobs(connection_string: str) -> AsyncIterator[BlobServiceClient]:
    async with BlobServiceClient.from_connection_string(connection_string) as client:
        yield client


def _unique() -> str:
    return uuid.uuid4().hex[:10]


async def _eventually(probe: Callable[[], Awaitable[T | None]], what: str, timeout_s: float = 15.0) -> T:
    """Poll ``probe`` until it returns something other than None."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while loop.time() < deadline:
        found = await probe()
        if found is not None:
            return found
        await asyncio.sleep(0.1)
    raise AssertionError(f"{what} did not happen in {timeout_s} s")


async def _read(blobs: BlobServiceClient, container: str, name: str) -> bytes | None:
    try:
        return await (await blobs.get_blob_client(container, name).download_blob()).readall()
    except ResourceNotFoundError:
        return None


async def _upload(blobs: BlobServiceClient, container: str, name: str, data: bytes) -> str:
    client = blobs.get_container_client(container)
    try:
        result = await client.upload_blob(name, data, overwrite=True)
    except ResourceNotFoundError:
        await client.create_container()
        result = await client.upload_blob(name, data, overwrite=True)
    return str((await result.get_blob_properties()).etag)


async def _names(blobs: BlobServiceClient, container: str, prefix: str) -> list[str]:
    try:
        return [b.name async for b in blobs.get_container_client(container).list_blobs(prefix)]
    except ResourceNotFoundError:
        return []


async def _outbox(blobs: BlobServiceClient, name: str, content: bytes | None = None) -> bytes:
    """The outbox blob of ``name`` once it exists (and, given ``content``, holds that)."""

    async def probe() -> bytes | None:
        found = await _read(blobs, "outbox", name)
        return found if found is not None and (content is None or found == content) else None

    return await _eventually(probe, f"outbox/{name}")


# --------------------------------------------------------------------------- input and output over HTTP


async def test_blob_outputs_write_str_and_bytes_and_skip_an_unset_out(
    blobs_host: RunningHost, http: aiohttp.ClientSession, blobs: BlobServiceClient
) -> None:
    name = f"{_unique()}.txt"
    async with http.post(f"{blobs_host.base_url}/api/blobs/{name}", data="héllo".encode()) as response:
        assert response.status == 201, await response.text()
    assert await _read(blobs, "store", name) == "héllo".encode()
    assert await _read(blobs, "store", f"{name}.bin") == bytes(reversed("héllo".encode())) + b"\x00\xff"
    assert await _read(blobs, "store", f"{name}.unset") is None


async def test_blob_input_by_route_parameter_present_and_missing(
    blobs_host: RunningHost, http: aiohttp.ClientSession, blobs: BlobServiceClient
) -> None:
    name = f"{_unique()}.txt"
    await _upload(blobs, "store", name, b"stored text")
    async with http.get(f"{blobs_host.base_url}/api/blobs/{name}") as response:
        assert (response.status, await response.text()) == (200, "stored text")
    async with http.get(f"{blobs_host.base_url}/api/blobs/missing-{name}") as response:
        assert (response.status, await response.text()) == (404, "no such blob")


async def test_blob_input_as_an_input_stream_of_binary_content(
    blobs_host: RunningHost, http: aiohttp.ClientSession, blobs: BlobServiceClient
) -> None:
    name = f"{_unique()}.bin"
    await _upload(blobs, "store", name, b"\x00\x01\xfe\xff")
    async with http.get(f"{blobs_host.base_url}/api/streams/{name}") as response:
        assert response.status == 200, await response.text()
        body = await response.json()
    assert body["name"] == f"store/{name}"
    assert body["length"] == 4
    assert body["content"] == "0001feff"
    assert body["uri"].endswith(f"/store/{name}")


# --------------------------------------------------------------------------- the blob trigger


async def test_a_new_blob_runs_its_function_with_an_input_stream(
    blobs_host: RunningHost, blobs: BlobServiceClient
) -> None:
    name = _unique()
    await _upload(blobs, "inbox", f"{name}.txt", b"hello blob")
    assert await _outbox(blobs, f"{name}.txt") == f"inbox/{name}.txt|10|HELLO BLOB".encode()
    runs = await _names(blobs, "runs", f"{name}/")
    assert len(runs) == 1
    assert (await _read(blobs, "runs", runs[0]) or b"").endswith(f"/inbox/{name}.txt".encode())


async def test_a_blob_written_by_an_output_of_the_host_runs_at_once(
    blobs_host: RunningHost, http: aiohttp.ClientSession, blobs: BlobServiceClient
) -> None:
    # with this app's 1 s scanInterval a scan finds the blob about as soon as the announcement does, so
    # how soon it runs would not tell the two apart and is not asserted
    name = _unique()
    async with http.post(f"{blobs_host.base_url}/api/inbox/{name}", data=b"dropped") as response:
        assert response.status == 201
    assert await _outbox(blobs, f"{name}.txt") == f"inbox/{name}.txt|7|DROPPED".encode()


async def test_a_blob_not_matching_the_pattern_is_ignored(
    blobs_host: RunningHost, blobs: BlobServiceClient
) -> None:
    name = _unique()
    await _upload(blobs, "inbox", f"{name}.csv", b"a,b")
    await _upload(blobs, "inbox", f"{name}.txt", b"after")
    await _outbox(blobs, f"{name}.txt")
    receipts = [n for n in await _names(blobs, "azure-webjobs-hosts", "blobreceipts/") if name in n]
    assert len(receipts) == 1, receipts
    assert "/Host.Functions.to_outbox/" in receipts[0] and receipts[0].endswith(f"/inbox/{name}.txt")
    assert await _names(blobs, "runs", f"{name}/") != []
    assert await _read(blobs, "outbox", f"{name}.csv") is None


async def test_a_changed_blob_runs_again(blobs_host: RunningHost, blobs: BlobServiceClient) -> None:
    name = _unique()
    await _upload(blobs, "inbox", f"{name}.txt", b"one")
    await _outbox(blobs, f"{name}.txt", f"inbox/{name}.txt|3|ONE".encode())
    await _upload(blobs, "inbox", f"{name}.txt", b"two!")
    await _outbox(blobs, f"{name}.txt", f"inbox/{name}.txt|4|TWO!".encode())
    assert len(await _names(blobs, "runs", f"{name}/")) == 2


async def test_a_container_wide_trigger_gets_text_and_json_properties_as_binding_data(
    blobs_host: RunningHost, blobs: BlobServiceClient
) -> None:
    name = f"{_unique()}.json"
    await _upload(blobs, "orders", name, b'{"kind": "order", "items": [1]}')
    copied = await _outbox(blobs, f"order/orders/{name}")
    assert json.loads(copied) == {"kind": "order", "items": [1]}


async def test_a_failing_blob_goes_to_the_poison_queue_after_the_threshold(
    blobs_host: RunningHost, blobs: BlobServiceClient, connection_string: str
) -> None:
    name = _unique()
    etag = await _upload(blobs, "failing", name, b"bad")
    async with QueueServiceClient.from_connection_string(connection_string) as queues:
        poison = queues.get_queue_client("webjobs-blobtrigger-poison")

        async def poisoned() -> dict[str, str] | None:
            try:
                peeked = await poison.peek_messages(max_messages=32)
            except ResourceNotFoundError:
                return None
            for message in peeked:
                body = json.loads(base64.b64decode(message.content))
                if body.get("BlobName") == name:
                    return dict(body)
            return None

        body = await _eventually(poisoned, "the poison message")
    assert body == {
        "Type": "BlobTrigger",
        "FunctionId": "Host.Functions.always_fails",
        "BlobType": "BlockBlob",
        "ContainerName": "failing",
        "BlobName": name,
        "ETag": etag,
    }
    log = blobs_host.log()
    assert f"Function 'always_fails' failed for blob 'failing/{name}' (attempt 1 of 2)" in log
    assert f"Function 'always_fails' failed for blob 'failing/{name}' (attempt 2 of 2)" in log
    assert f"'failing/{name}' (attempt 3" not in log


async def test_receipts_keep_blobs_from_running_twice_across_a_restart(
    connection_string: str, tmp_path: Path, blobs: BlobServiceClient
) -> None:
    """A host id, inbox and runs container of its own, so the module's host does not share the work."""
    suffix = _unique()
    host_id, inbox, runs = f"restart{suffix}", f"in{suffix}", f"runs{suffix}"
    env = {"AzureFunctionsWebHost__hostid": host_id, "INBOX": inbox, "RUNS": runs}

    async def ran(name: str) -> list[str] | None:
        return await _names(blobs, runs, f"{name}/") or None

    async def settled() -> bool | None:
        """The scan has passed every blob of the inbox and the host queue is empty."""
        newest = max([b.last_modified async for b in blobs.get_container_client(inbox).list_blobs()])
        info = await _read(
            blobs, "azure-webjobs-hosts", f"blobscaninfo/{host_id}/{blobs.account_name}/{inbox}/scanInfo"
        )
        if info is None or datetime.fromisoformat(json.loads(info)["LatestScan"]) < newest:
            return None
        queue = f"azure-webjobs-blobtrigger-{host_id}"
        async with QueueServiceClient.from_connection_string(connection_string) as queues:
            properties = await queues.get_queue_client(queue).get_queue_properties()
        return True if properties.approximate_message_count == 0 else None

    async def run_host(log_name: str, wait_for: list[str]) -> None:
        host = start_host(APP, connection_string, tmp_path / log_name, env)
        try:
            await wait_until_serving(host)
            for name in wait_for:
                await _eventually(lambda name=name: ran(name), f"a run of {name}")
            await _eventually(settled, "the end of the scan")
        finally:
            stop_host(host)

    for name in ("a", "b"):
        await _upload(blobs, inbox, f"{name}.txt", name.encode())
    await run_host("first.log", ["a", "b"])
    await _upload(blobs, inbox, "c.txt", b"c")
    await run_host("second.log", ["c"])
    for name in ("a", "b", "c"):
        assert len(await _names(blobs, runs, f"{name}/")) == 1, name

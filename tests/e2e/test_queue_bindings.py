"""Queue triggers and queue outputs end to end (app: tests/e2e/apps/queues, maxDequeueCount 2).

Everything is checked through the storage SDK on Azurite: message texts are Base64 (the default
messageEncoding).
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import aiohttp
import pytest
from azure.core.exceptions import ResourceNotFoundError
from azure.storage.queue.aio import QueueServiceClient

from .conftest import APPS, serve
from .hosting import RunningHost


@pytest.fixture(scope="module")
async def queues_host(
    connection_string: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[tuple[RunningHost, float]]:
    """The queues app, and when it began serving (monotonic)."""
    async for host in serve(APPS / "queues", connection_string, tmp_path_factory):
        yield host, time.monotonic()


@pytest.fixture
async def service(connection_string: str) -> AsyncIterator[QueueServiceClient]:
    async with QueueServiceClient.from_connection_string(connection_string) as client:
        yield client


def decoded(text: str) -> str:
    return base64.b64decode(text).decode()


async def texts(service: QueueServiceClient, queue: str, count: int, timeout_s: float = 15) -> list[str]:
    """The bodies of the first ``count`` messages of ``queue`` (peeked, so left in place)."""
    client = service.get_queue_client(queue)
    deadline = time.monotonic() + timeout_s
    found: list[str] = []
    while time.monotonic() < deadline:
        try:
            found = [decoded(str(m.content)) for m in await client.peek_messages(max_messages=32)]
        except ResourceNotFoundError:
            found = []
        if len(found) >= count:
            return found
        await asyncio.sleep(0.1)
    raise AssertionError(f"queue '{queue}' has {len(found)} of {count} messages: {found}")


async def post(http: aiohttp.ClientSession, host: RunningHost, route: str, body: str) -> None:
    async with http.post(f"{host.base_url}/api/{route}", data=body.encode()) as response:
        assert response.status == 202, await response.text()


async def reports(service: QueueServiceClient, body: str) -> dict:
    """The report the 'process' function wrote for the message whose body is ``body``."""
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        for text in await texts(service, "e2e-reports", 1):
            report = json.loads(text)
            if report["body"].strip() == body or report["json"] == _json_or_none(body):
                return dict(report)
        await asyncio.sleep(0.1)
    raise AssertionError(f"no report for {body!r}")


def _json_or_none(text: str) -> object:
    try:
        return json.loads(text)
    except ValueError:
        return None


async def test_an_http_output_feeds_a_trigger_that_writes_other_queues(
    queues_host: tuple[RunningHost, float], http: aiohttp.ClientSession, service: QueueServiceClient
) -> None:
    host, _ = queues_host
    word = f"w{uuid.uuid4().hex[:10]}"
    before = datetime.now(UTC) - timedelta(seconds=5)
    await post(http, host, "send", word)

    report = await reports(service, word)
    assert report["dequeue_count"] == 1
    assert report["json"] is None
    assert report["id"] and report["pop_receipt"]
    inserted = datetime.fromisoformat(report["inserted"])
    assert before <= inserted <= datetime.now(UTC) + timedelta(seconds=5)
    # {queueTrigger} in the output's queue name: the body names the queue
    assert await texts(service, f"e2e-echo-{word}", 1) == [word.upper()]
    # the message the HTTP output wrote went to the %IN_QUEUE% queue, lower-cased, and was deleted
    work = service.get_queue_client("e2e-work")
    assert await work.peek_messages() == []


async def test_a_json_body_and_a_list_output_give_one_message_per_item(
    queues_host: tuple[RunningHost, float], http: aiohttp.ClientSession, service: QueueServiceClient
) -> None:
    host, _ = queues_host
    tag = uuid.uuid4().hex[:8]
    items = [f"a-{tag}", f"b-{tag}", f"c-{tag}"]
    await post(http, host, "send", json.dumps({"items": items, "tag": tag}))

    report = await reports(service, json.dumps({"items": items, "tag": tag}))
    assert report["json"] == {"items": items, "tag": tag}
    # each item became a message of e2e-items, which 'relay' ($return output) turned into e2e-items-done
    done = await texts(service, "e2e-items-done", 3)
    assert {t for t in done if tag in t.lower()} == {i.upper() for i in items}


async def test_a_binary_trigger_gets_the_raw_bytes(
    queues_host: tuple[RunningHost, float], service: QueueServiceClient
) -> None:
    payload = b"\xff\x00\x7fbinary"
    await service.get_queue_client("e2e-binary").create_queue()
    await service.get_queue_client("e2e-binary").send_message(base64.b64encode(payload).decode())
    [seen] = await texts(service, "e2e-binary-seen", 1)
    assert json.loads(seen) == {"type": "bytes", "hex": payload.hex()}


async def test_a_failing_message_moves_to_the_poison_queue_after_max_dequeue_count(
    queues_host: tuple[RunningHost, float], service: QueueServiceClient
) -> None:
    host, _ = queues_host
    body = f"doomed-{uuid.uuid4().hex[:8]}"
    doomed = service.get_queue_client("e2e-doomed")
    await doomed.create_queue()
    await doomed.send_message(base64.b64encode(body.encode()).decode())

    assert await texts(service, "e2e-doomed-poison", 1) == [body]
    assert await doomed.peek_messages() == []
    log = host.log()
    assert "doomed attempt 1" in log and "doomed attempt 2" in log and "doomed attempt 3" not in log
    assert "Message has reached MaxDequeueCount of 2. Moving message to queue 'e2e-doomed-poison'." in log


async def test_an_output_of_the_same_host_wakes_an_idle_listener_at_once(
    queues_host: tuple[RunningHost, float], http: aiohttp.ClientSession, service: QueueServiceClient
) -> None:
    host, _ = queues_host
    # A first message sets the e2e-wake listener's back-off going afresh: it polls again at once, then
    # waits 0.1 s, then 0.1 s plus 0.1 s doubling each time (each randomised by 20 %) up to
    # maxPollingInterval (20 s). Its tenth empty poll comes 21 to 32 s after that message, the next
    # 20 s later: none between 33 s and 41 s.
    await post(http, host, "ping", "first")
    [first] = await texts(service, "e2e-pongs", 1, timeout_s=30)
    await asyncio.sleep(max(0.0, json.loads(first)["processed_at"] + 33 - time.time()))
    sent_at = time.time()
    await post(http, host, "ping", "wake up")
    pongs = [json.loads(text) for text in await texts(service, "e2e-pongs", 2)]
    [pong] = [p for p in pongs if p["body"] == "wake up"]
    # the next poll is 8 s away or more: handled within 6 s, the output woke the listener
    assert pong["processed_at"] - sent_at < 6.0

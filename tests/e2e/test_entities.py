"""Durable entities written with the official SDK, driven over HTTP through the host."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
from azure.data.tables.aio import TableClient

from .hosting import RunningHost

API = "/runtime/webhooks/durabletask"


def new_key() -> str:
    return uuid.uuid4().hex[:12]


async def signal(
    http: aiohttp.ClientSession, host: RunningHost, name: str, key: str, op: str, value: Any = None
) -> None:
    data = None if value is None else json.dumps(value)
    async with http.post(f"{host.base_url}/api/signal/{name}/{key}/{op}", data=data) as response:
        assert response.status == 202, await response.text()


async def read(http: aiohttp.ClientSession, host: RunningHost, name: str, key: str) -> dict[str, Any]:
    async with http.get(f"{host.base_url}/api/read/{name}/{key}") as response:
        assert response.status == 200, await response.text()
        return dict(await response.json())


async def read_until(
    http: aiohttp.ClientSession,
    host: RunningHost,
    name: str,
    key: str,
    expected: Any,
    timeout_s: float = 20.0,
) -> dict[str, Any]:
    """Read the entity until its state is ``expected``; fail with the last state seen."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    body: dict[str, Any] = {}
    while loop.time() < deadline:
        body = await read(http, host, name, key)
        if body["exists"] and body["state"] == expected:
            return body
        await asyncio.sleep(0.1)
    raise AssertionError(f"entity {name}/{key} never reached {expected!r}; last read {body}")


async def entity_status(http: aiohttp.ClientSession, url: str) -> int:
    async with http.get(url) as response:
        return response.status


async def wait_until(probe: Callable[[], Awaitable[Any]], expected: Any, timeout_s: float = 20.0) -> None:
    """Call ``probe`` until it returns ``expected``."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    last = None
    while (last := await probe()) != expected:
        assert loop.time() < deadline, f"still {last!r}, not {expected!r}, after {timeout_s} s"
        await asyncio.sleep(0.1)


async def run(http: aiohttp.ClientSession, host: RunningHost, name: str, job: Any) -> tuple[int, Any]:
    async with http.post(f"{host.base_url}/api/run/{name}", json=job) as response:
        text = await response.text()
        return response.status, json.loads(text) if text else None


# ---- entity functions ------------------------------------------------------------------------------
async def test_state_initializer_input_and_result(
    entities_host_on: RunningHost, http: aiohttp.ClientSession
) -> None:
    key = new_key()
    assert await read(http, entities_host_on, "counter", key) == {"exists": False, "state": None}
    await signal(http, entities_host_on, "counter", key, "add", 5)
    await signal(http, entities_host_on, "Counter", key, "add", 3)  # names are case-insensitive
    await read_until(http, entities_host_on, "counter", key, 8)
    status, output = await run(
        http, entities_host_on, "call_and_catch", {"name": "counter", "key": key, "op": "get"}
    )
    assert (status, output) == (200, {"ok": 8})
    status, output = await run(
        http, entities_host_on, "call_and_catch", {"name": "counter", "key": key, "op": "whoami"}
    )
    assert output == {"ok": {"name": "counter", "key": key}}


async def test_falsy_inputs_reach_the_entity(
    entities_host_on: RunningHost, http: aiohttp.ClientSession
) -> None:
    key = new_key()
    for value in (0, "", False, [], {}, None, 7):
        await signal(http, entities_host_on, "journal", key, "record", value)
    await read_until(http, entities_host_on, "journal", key, [0, "", False, [], {}, None, 7])


async def test_delete_makes_the_entity_not_exist(
    entities_host_on: RunningHost, http: aiohttp.ClientSession
) -> None:
    key = new_key()
    await signal(http, entities_host_on, "counter", key, "add", 2)
    await read_until(http, entities_host_on, "counter", key, 2)
    await signal(http, entities_host_on, "counter", key, "delete")
    await wait_until(
        lambda: entity_status(http, f"{entities_host_on.base_url}{API}/entities/counter/{key}"), 404
    )
    assert await read(http, entities_host_on, "counter", key) == {"exists": False, "state": None}
    # a deleted entity starts again from its initializer
    await signal(http, entities_host_on, "counter", key, "add", 1)
    await read_until(http, entities_host_on, "counter", key, 1)


async def test_an_error_does_not_roll_back_earlier_changes(
    entities_host_on: RunningHost, http: aiohttp.ClientSession
) -> None:
    key = new_key()
    job = {"name": "counter", "key": key, "op": "add_then_fail", "input": 4}
    status, output = await run(http, entities_host_on, "call_and_catch", job)
    assert status == 200
    assert "added, then failed" in output["error"]
    await read_until(http, entities_host_on, "counter", key, 4)


async def test_unserializable_state_fails_only_its_operation(
    entities_host_on: RunningHost, http: aiohttp.ClientSession
) -> None:
    key = new_key()
    await signal(http, entities_host_on, "counter", key, "add", 1)
    await read_until(http, entities_host_on, "counter", key, 1)
    job = {"name": "counter", "key": key, "op": "break_state"}
    calls = [run(http, entities_host_on, "call_and_catch", job)] + [
        run(
            http, entities_host_on, "call_and_catch", {"name": "counter", "key": key, "op": "add", "input": 1}
        )
        for _ in range(3)
    ]
    results = await asyncio.gather(*calls)
    assert "TypeError" in results[0][1]["error"] and "set" in results[0][1]["error"]
    assert all("ok" in output for _, output in results[1:]), results
    await read_until(http, entities_host_on, "counter", key, 4)


async def test_entity_that_always_raises(entities_host_on: RunningHost, http: aiohttp.ClientSession) -> None:
    status, output = await run(http, entities_host_on, "call_and_fail", None)
    assert status == 500
    assert output["runtimeStatus"] == "Failed"
    assert "grumpy refuses 'anything'" in output["output"]
    key = new_key()
    await signal(http, entities_host_on, "grumpy", key, "poke")
    status, output = await run(
        http, entities_host_on, "call_and_catch", {"name": "grumpy", "key": key, "op": "poke"}
    )
    assert "grumpy refuses 'poke'" in output["error"]
    assert (await read(http, entities_host_on, "grumpy", key))["exists"] is False


# ---- batching and ordering ---------------------------------------------------------------------------
async def entity_row(connection_string: str, instance_id: str) -> dict[str, Any]:
    async with TableClient.from_connection_string(connection_string, "EntitiesHubInstances") as table:
        return dict(await table.get_entity(instance_id, ""))


async def test_two_hundred_signals_from_four_senders(
    entities_host: RunningHost, http: aiohttp.ClientSession, connection_string: str
) -> None:
    """Azure Storage only: it reads the entity's row in the Instances table (its Generation counts the
    batches); the ordering itself is checked on both providers by the tests below."""
    key = new_key()
    url = f"{entities_host.base_url}{API}/entities/journal/{key}?op=record"

    async def sender(name: str) -> None:
        for i in range(50):
            async with http.post(url, json=f"{name}{i}") as response:
                assert response.status == 202

    await asyncio.gather(*(sender(name) for name in "abcd"))
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 60
    entries: list[str] = []
    while len(entries) < 200 and loop.time() < deadline:
        async with http.get(f"{entities_host.base_url}{API}/entities/journal/{key}") as response:
            entries = await response.json() if response.status == 200 else []
        await asyncio.sleep(0.2)
    assert len(entries) == 200
    for name in "abcd":
        assert [e for e in entries if e.startswith(name)] == [f"{name}{i}" for i in range(50)]
    row = await entity_row(connection_string, f"@journal@{key}")
    assert row["Generation"] >= 50  # every batch continues as new; host.json allows 4 operations a batch
    assert row["RuntimeStatus"] == "Running"
    assert json.loads(row["CustomStatus"]) == {"entityExists": True, "queueSize": 0}


async def test_orchestration_signals_arrive_in_order_before_its_call(
    entities_host_on: RunningHost, http: aiohttp.ClientSession
) -> None:
    key = new_key()
    status, output = await run(http, entities_host_on, "record_in_order", {"key": key, "n": 12})
    assert (status, output) == (200, 13)
    await read_until(http, entities_host_on, "journal", key, [*range(12), "end"])
    status, output = await run(http, entities_host_on, "signal_then_call", {"key": key + "c", "n": 10})
    assert (status, output) == (200, 55)


async def test_entity_calls_in_a_fan_out(entities_host_on: RunningHost, http: aiohttp.ClientSession) -> None:
    keys = [new_key() for _ in range(5)]
    status, output = await run(http, entities_host_on, "fan_out_to_counters", keys)
    assert (status, output) == (200, [10, 10, 10, 10, 10])


# ---- HTTP routes and listings ----------------------------------------------------------------------
async def test_http_signal_read_and_list(entities_host_on: RunningHost, http: aiohttp.ClientSession) -> None:
    key = new_key()
    base = f"{entities_host_on.base_url}{API}/entities"
    async with http.post(f"{base}/counter/{key}?op=add", json=6) as response:
        assert response.status == 202
    await read_until(http, entities_host_on, "counter", key, 6)
    async with http.get(f"{base}/counter/{key}") as response:
        assert response.status == 200
        assert await response.json() == 6
    async with http.get(f"{base}/counter?fetchState=true&top=1000") as response:
        listed = {e["entityId"]["key"]: e for e in await response.json()}
    assert listed[key]["state"] == 6
    assert listed[key]["entityId"]["name"] == "counter"
    assert listed[key]["lastOperationTime"].endswith("Z")
    async with http.get(f"{base}/journal?top=1000") as response:
        assert all(e["entityId"]["name"] == "journal" for e in await response.json())
    async with http.get(f"{entities_host_on.base_url}{API}/instances?top=1000") as response:
        assert not any(i["instanceId"].startswith("@") for i in await response.json())
    async with http.get(
        f"{entities_host_on.base_url}{API}/instances?top=1000&includeEntities=true"
    ) as response:
        assert f"@counter@{key}" in {i["instanceId"] for i in await response.json()}
    async with http.delete(f"{base}/counter/{key}") as response:  # DELETE signals the 'delete' operation
        assert response.status == 202
    await wait_until(lambda: entity_status(http, f"{base}/counter/{key}"), 404)
    async with http.get(f"{base}/counter?top=1000") as response:
        assert key not in {e["entityId"]["key"] for e in await response.json()}
    async with http.get(f"{base}/counter?top=1000&includeDeleted=true") as response:
        assert key in {e["entityId"]["key"] for e in await response.json()}


async def test_listing_pages_with_a_continuation_token(
    entities_host_on: RunningHost, http: aiohttp.ClientSession
) -> None:
    prefix = new_key()
    for i in range(5):
        await signal(http, entities_host_on, "counter", f"{prefix}-{i}", "add", i + 1)
    for i in range(5):
        await read_until(http, entities_host_on, "counter", f"{prefix}-{i}", i + 1)
    seen: list[str] = []
    token = None
    pages = 0
    while True:
        headers = {"x-ms-continuation-token": token} if token else {}
        async with http.get(
            f"{entities_host_on.base_url}{API}/entities/counter?top=2", headers=headers
        ) as response:
            page = await response.json()
            token = response.headers.get("x-ms-continuation-token")
        assert len(page) <= 2
        seen += [e["entityId"]["key"] for e in page]
        pages += 1
        if not token:
            break
    assert pages >= 3
    assert {f"{prefix}-{i}" for i in range(5)} <= set(seen)
    assert len(seen) == len(set(seen))


async def test_purging_an_entity(entities_host_on: RunningHost, http: aiohttp.ClientSession) -> None:
    key = new_key()
    await signal(http, entities_host_on, "counter", key, "add", 3)
    await read_until(http, entities_host_on, "counter", key, 3)
    async with http.delete(f"{entities_host_on.base_url}{API}/instances/@counter@{key}") as response:
        assert response.status == 200
        assert await response.json() == {"instancesDeleted": 1}
    assert await read(http, entities_host_on, "counter", key) == {"exists": False, "state": None}


# ---- bad input -------------------------------------------------------------------------------------
async def test_bad_entity_requests(entities_host_on: RunningHost, http: aiohttp.ClientSession) -> None:
    base = f"{entities_host_on.base_url}{API}/entities"
    async with http.post(f"{base}/nosuchentity/k?op=add", json=1) as response:
        assert response.status == 404
        assert "nosuchentity" in (await response.json())["Message"]
    async with http.post(f"{base}/counter/k", json=1) as response:
        assert response.status == 400
        assert "'op'" in (await response.json())["Message"]
    async with http.post(f"{base}/bad@name/k?op=add", json=1) as response:
        assert response.status == 400
        assert "bad@name" in (await response.json())["Message"]
    async with http.post(
        f"{base}/counter/k?op=add", data="{not json", headers={"Content-Type": "application/json"}
    ) as response:
        assert response.status == 400
        assert "not valid JSON" in (await response.json())["Message"]


async def test_calling_an_entity_no_function_defines(
    entities_host_on: RunningHost, http: aiohttp.ClientSession
) -> None:
    job = {"name": "nosuchentity", "key": new_key(), "op": "get"}
    status, output = await run(http, entities_host_on, "call_and_catch", job)
    assert status == 200
    assert "The entity function 'nosuchentity' doesn't exist" in output["error"]


async def test_scheduled_signal_over_http(entities_host_on: RunningHost, http: aiohttp.ClientSession) -> None:
    key = new_key()
    due = datetime.now(UTC) + timedelta(seconds=3)
    url = f"{entities_host_on.base_url}{API}/entities/journal/{key}"
    params = {"op": "record", "scheduledTime": due.strftime("%Y-%m-%dT%H:%M:%S.%fZ")}
    async with http.post(url, params=params, json="later") as response:
        assert response.status == 202
    async with http.post(url, params={"op": "record"}, json="now") as response:
        assert response.status == 202
    await read_until(http, entities_host_on, "journal", key, ["now"])
    await read_until(http, entities_host_on, "journal", key, ["now", "later"])
    assert datetime.now(UTC) >= due


async def test_orchestration_operations_on_an_entity_are_refused(
    entities_host_on: RunningHost, http: aiohttp.ClientSession
) -> None:
    key = new_key()
    await signal(http, entities_host_on, "counter", key, "add", 1)
    await read_until(http, entities_host_on, "counter", key, 1)
    instance = f"{entities_host_on.base_url}{API}/instances/@counter@{key}"
    for action in ("terminate", "suspend", "raiseEvent/go"):
        async with http.post(f"{instance}/{action}", json=1) as response:
            assert response.status == 400
            assert "is an entity" in (await response.json())["Message"]
    await signal(http, entities_host_on, "counter", key, "add", 1)
    await read_until(http, entities_host_on, "counter", key, 2)

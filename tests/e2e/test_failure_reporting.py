"""Failures that say what happened: orchestrator exceptions, unreadable inputs, failed entity operations."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from .conftest import APPS, serve
from .hosting import RunningHost
from .polling import poll_status

WEBHOOKS = "/runtime/webhooks/durabletask"
APP = APPS / "failures"


def frame_line(code: str, function: str) -> str:
    """The traceback line of the app's frame that runs ``code`` (its first line in function_app.py)."""
    lines = (APP / "function_app.py").read_text().splitlines()
    number = next(i for i, line in enumerate(lines, 1) if code in line)
    return f'function_app.py", line {number}, in {function}'


@pytest.fixture(scope="module")
async def host(
    connection_string: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[RunningHost]:
    async for running in serve(APP, connection_string, tmp_path_factory):
        yield running


async def start_raw(
    http: aiohttp.ClientSession, host: RunningHost, name: str, body: str | None = None
) -> dict[str, Any]:
    """``POST .../orchestrators/{name}`` with ``body`` as it is, the way curl sends it."""
    instance_id = f"{name}-{uuid.uuid4().hex[:8]}"
    headers = {"Content-Type": "application/json"} if body is not None else {}
    url = f"{host.base_url}{WEBHOOKS}/orchestrators/{name}/{instance_id}"
    async with http.post(url, data=body, headers=headers) as response:
        assert response.status == 202, await response.text()
        links = dict(await response.json())
    return await poll_status(http, links["statusQueryGetUri"])


async def wait_for_log(host: RunningHost, fragment: str, timeout_s: float = 20.0) -> str:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while fragment not in (log := host.log()):
        assert loop.time() < deadline, f"{fragment!r} never appeared in the host log:\n{log[-3000:]}"
        await asyncio.sleep(0.1)
    return log


async def test_an_orchestrator_exception_names_its_type_and_logs_its_traceback_once(
    host: RunningHost, http: aiohttp.ClientSession
) -> None:
    final = await start_raw(http, host, "count_words")
    assert final["runtimeStatus"] == "Failed"
    assert final["output"] == "Orchestrator function 'count_words' failed: KeyError: 'key'"
    line = f"Orchestrator function 'count_words' ({final['instanceId']}) raised KeyError: 'key'"
    log = await wait_for_log(host, line)
    assert log.count(line) == 1  # the instance replayed twice, the failure is logged once
    after = log[log.index(line) :].splitlines()
    assert after[1] == "Traceback (most recent call last):"
    assert after[2].startswith('  File "') and after[2].endswith(frame_line('counts["key"]', "count_words"))
    assert after[3].strip() == "return counts[\"key\"]  # no such word: KeyError('key')"


async def test_a_raw_http_input_get_input_cannot_read_fails_saying_how_to_send_it(
    host: RunningHost, http: aiohttp.ClientSession
) -> None:
    final = await start_raw(http, host, "reads_input", "10")
    assert final["runtimeStatus"] == "Failed"
    assert final["input"] == 10  # stored as sent, as Azure stores it
    assert final["output"] == (
        "Orchestrator function 'reads_input' failed: TypeError: the JSON object must be str, bytes or "
        f"bytearray, not int. The input of instance '{final['instanceId']}' is the JSON value 10, but the "
        "Python SDK's get_input() expects the JSON text its client sends. Start the instance with "
        "client.start_new(...), with `durable-ext durable start-new --function-name reads_input "
        '--input 10`, or POST that text as a JSON string: the body "10".'
    )
    as_told = await start_raw(http, host, "reads_input", '"10"')  # the body the message suggests
    assert as_told["runtimeStatus"] == "Completed" and as_told["output"] == {"input": 10}


async def entity_status(http: aiohttp.ClientSession, host: RunningHost, key: str) -> dict[str, Any]:
    async with http.get(f"{host.base_url}{WEBHOOKS}/instances/@counter@{key}") as response:
        assert response.status == 202, await response.text()  # an entity is always Running
        return dict(await response.json())


async def read_counter(http: aiohttp.ClientSession, host: RunningHost, key: str) -> Any:
    async with http.get(f"{host.base_url}/api/counters/{key}") as response:
        assert response.status == 200, await response.text()
        return await response.json()


async def until(probe: Any, check: Any, what: str, timeout_s: float = 20.0) -> Any:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while not check(value := await probe()):
        assert loop.time() < deadline, f"{what}: still {value!r} after {timeout_s} s"
        await asyncio.sleep(0.1)
    return value


async def test_a_failed_entity_operation_is_logged_and_shown_in_the_entity_status(
    host: RunningHost, http: aiohttp.ClientSession
) -> None:
    key = uuid.uuid4().hex[:10]
    entity_id = f"@counter@{key}"
    url = f"{host.base_url}{WEBHOOKS}/entities/counter/{key}"
    async with http.post(f"{url}?op=multiply", json=3) as response:
        assert response.status == 202, await response.text()
    line = (
        f"Entity {entity_id}: operation 'multiply' failed: "
        "ValueError: counter has no operation 'multiply'; use add or get"
    )
    log = await wait_for_log(host, line)
    after = log[log.index(line) :].splitlines()
    assert after[1] == "Traceback (most recent call last):"
    assert after[2].endswith(frame_line("raise ValueError", "counter"))
    status = await until(
        lambda: entity_status(http, host, key), lambda s: "lastFailure" in (s["customStatus"] or {}), "status"
    )
    failure = status["customStatus"]["lastFailure"]
    assert failure["operation"] == "multiply"
    assert failure["error"] == "ValueError: counter has no operation 'multiply'; use add or get"

    # add with the string "5" through the SDK client: get_input() gives "5", and 0 + "5" raises
    async with http.post(f"{host.base_url}/api/counters/{key}/add", data=json.dumps("5")) as response:
        assert response.status == 202, await response.text()
    status = await until(
        lambda: entity_status(http, host, key),
        lambda s: s["customStatus"]["lastFailure"]["operation"] == "add",
        "status after add '5'",
    )
    assert status["customStatus"]["lastFailure"]["error"].startswith("TypeError: unsupported operand type(s)")
    await wait_for_log(host, f"Entity {entity_id}: operation 'add' failed: TypeError: unsupported operand")

    # a good operation still works, and the SDK client still reads the state
    async with http.post(f"{host.base_url}/api/counters/{key}/add", data=json.dumps(2)) as response:
        assert response.status == 202, await response.text()
    body = await until(lambda: read_counter(http, host, key), lambda b: b["state"] == 2, "counter state")
    assert body == {"exists": True, "state": 2}
    async with http.get(url) as response:
        assert response.status == 200 and await response.json() == 2
    status = await entity_status(http, host, key)
    assert status["customStatus"]["entityExists"] is True and status["customStatus"]["queueSize"] == 0
    assert status["customStatus"]["lastFailure"]["operation"] == "add"  # the last failure stays shown

    log = await wait_for_log(host, f"Entity {entity_id} ran 1 operation\n")
    assert f"Entity {entity_id} ran 1 operation (1 failed)" in log
    assert f"({entity_id}) continued as new" not in log
    assert f"Orchestration 'counter' ({entity_id})" not in log

"""Timers, external events, sub-orchestrations, retries, continue-as-new and call_http over HTTP."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp

from .hosting import RunningHost
from .polling import poll_status
from .test_orchestration_features import run, start

WEBHOOKS = "/runtime/webhooks/durabletask"


async def status(http: aiohttp.ClientSession, host: RunningHost, instance_id: str) -> dict[str, Any]:
    async with http.get(f"{host.base_url}{WEBHOOKS}/instances/{instance_id}?showHistory=true") as response:
        return dict(await response.json())


async def wait_for_status(
    http: aiohttp.ClientSession, host: RunningHost, instance_id: str, wanted: str, timeout_s: float = 15
) -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    body = await status(http, host, instance_id)
    while body.get("runtimeStatus") != wanted and loop.time() < deadline:
        await asyncio.sleep(0.1)
        body = await status(http, host, instance_id)
    assert body.get("runtimeStatus") == wanted, body
    return body


async def raise_public(
    http: aiohttp.ClientSession, host: RunningHost, instance_id: str, name: str, data: Any
) -> None:
    url = f"{host.base_url}{WEBHOOKS}/instances/{instance_id}/raiseEvent/{name}"
    async with http.post(url, json=data) as response:
        assert response.status == 202, await response.text()


async def test_durable_timer_fires(features_host_on: RunningHost, http: aiohttp.ClientSession) -> None:
    final = await run(http, features_host_on, "timer_then_echo", 1)
    assert final["output"] == {"elapsed_at_least": True}
    kinds = [
        e["EventType"] for e in (await status(http, features_host_on, final["instanceId"]))["historyEvents"]
    ]
    assert "TimerFired" in kinds


async def test_event_beats_the_timer_and_the_timer_is_cancelled(
    features_host_on: RunningHost, http: aiohttp.ClientSession
) -> None:
    links = await start(http, features_host_on, "approval", 30)
    await wait_for_status(http, features_host_on, links["id"], "Running")
    await raise_public(http, features_host_on, links["id"], "Approval", {"by": "ann"})
    final = await poll_status(http, links["statusQueryGetUri"], timeout_s=30)
    assert final["output"] == {"approved": {"by": "ann"}}


async def test_timer_beats_the_event(features_host_on: RunningHost, http: aiohttp.ClientSession) -> None:
    final = await run(http, features_host_on, "approval", 1)
    assert final["output"] == {"approved": None, "timed_out": True}


async def test_events_before_the_wait_are_kept_and_matched(
    features_host_on: RunningHost, http: aiohttp.ClientSession
) -> None:
    links = await start(http, features_host_on, "two_events")
    await wait_for_status(http, features_host_on, links["id"], "Running")
    await raise_public(http, features_host_on, links["id"], "Other", "o")  # arrives before its wait
    await raise_public(http, features_host_on, links["id"], "Step", 1)
    await raise_public(http, features_host_on, links["id"], "Step", 2)
    final = await poll_status(http, links["statusQueryGetUri"], timeout_s=30)
    assert final["output"] == [1, 2, "o"]


async def test_sdk_raise_event_delivers_the_json_text_as_on_azure(
    features_host_on: RunningHost, http: aiohttp.ClientSession
) -> None:
    links = await start(http, features_host_on, "approval", 30)
    await wait_for_status(http, features_host_on, links["id"], "Running")
    async with http.post(
        f"{features_host_on.base_url}/api/raise/{links['id']}/Approval", json={"ok": True}
    ) as r:
        assert r.status == 202
    final = await poll_status(http, links["statusQueryGetUri"], timeout_s=30)
    assert final["output"] == {"approved": '{"ok": true}'}  # the SDK client's double encoding


async def test_sub_orchestrations_with_and_without_ids_and_failure(
    features_host_on: RunningHost, http: aiohttp.ClientSession
) -> None:
    final = await run(http, features_host_on, "parent")
    out = final["output"]
    assert isinstance(out, dict), final
    parent_id = final["instanceId"]
    assert out["explicit"] == {"doubled": 10, "parent": parent_id}
    assert out["generated"] == {"doubled": 14, "parent": parent_id}
    assert out["failure"].startswith("Orchestrator function 'failing_child' failed:")
    kid = await status(http, features_host_on, f"{parent_id}-kid")
    assert kid["runtimeStatus"] == "Completed" and kid["output"] == {"doubled": 10, "parent": parent_id}


async def test_retries_with_the_sdk_id_allocation(
    features_host_on: RunningHost, http: aiohttp.ClientSession
) -> None:
    final = await run(http, features_host_on, "retries")
    out = final["output"]
    assert out["ok"] == "succeeded on attempt 3"
    assert out["both"] == ["succeeded on attempt 3", "succeeded on attempt 3"]
    assert out["gave_up"].startswith("Activity function 'explode' failed:")
    events = (await status(http, features_host_on, final["instanceId"]))["historyEvents"]
    assert sum(1 for e in events if e["EventType"] == "TimerFired") >= 2 + 2 * 2 + 2


async def test_continue_as_new_runs_new_executions(
    features_host_on: RunningHost, http: aiohttp.ClientSession
) -> None:
    links = await start(http, features_host_on, "counter_loop")
    for tick in range(3):
        await wait_for_status(http, features_host_on, links["id"], "Running")
        await raise_public(http, features_host_on, links["id"], "Tick", tick)
        await asyncio.sleep(0.3)
    final = await poll_status(http, links["statusQueryGetUri"], timeout_s=30)
    assert final["output"] == {"n": 3, "events": [0, 1, 2]}
    history = (await status(http, features_host_on, links["id"]))["historyEvents"]
    assert [e["EventType"] for e in history].count("ExecutionStarted") == 1  # a fresh history per execution


async def test_call_http_follows_the_async_pattern(
    features_host_on: RunningHost, http: aiohttp.ClientSession
) -> None:
    final = await run(http, features_host_on, "http_caller", features_host_on.base_url)
    assert final["output"] == {"status": 200, "content": "done after polling"}


async def test_continue_as_new_carries_over_events_nothing_waited_for(
    features_host_on: RunningHost, http: aiohttp.ClientSession
) -> None:
    links = await start(http, features_host_on, "counter_loop")
    for tick in range(3):  # all at once: later ticks arrive while an earlier generation runs
        await raise_public(http, features_host_on, links["id"], "Tick", tick)
    final = await poll_status(http, links["statusQueryGetUri"], timeout_s=30)
    assert final["output"] == {"n": 3, "events": [0, 1, 2]}


async def test_sub_orchestration_retries_until_the_child_succeeds(
    features_host_on: RunningHost, http: aiohttp.ClientSession
) -> None:
    final = await run(http, features_host_on, "parent_retrying_child")
    assert final["runtimeStatus"] == "Completed"
    assert final["output"] == "succeeded on attempt 3"


async def test_old_generation_messages_are_not_applied_to_the_new_one(
    features_host_on: RunningHost, http: aiohttp.ClientSession
) -> None:
    links = await start(http, features_host_on, "generations")
    await wait_for_status(http, features_host_on, links["id"], "Running")
    running_at = asyncio.get_running_loop().time()
    await raise_public(http, features_host_on, links["id"], "Tick", 0)  # generation 0 continues as new
    # its 8 s timer, set before it was seen running, has fired by now, addressed to the old execution
    await asyncio.sleep(max(0.0, running_at + 10 - asyncio.get_running_loop().time()))
    body = await status(http, features_host_on, links["id"])
    assert body["runtimeStatus"] == "Running", body
    await raise_public(http, features_host_on, links["id"], "Tick", 1)
    final = await poll_status(http, links["statusQueryGetUri"], timeout_s=30)
    assert final["output"] == {"generation": 1, "timed_out": False}

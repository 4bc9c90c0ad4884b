"""The repository's sample app, started with `durable-ext start`, driven over HTTP like a user would."""

from __future__ import annotations

import asyncio

import aiohttp

from .hosting import RunningHost
from .polling import poll_status

LINK_KEYS = {
    "id",
    "statusQueryGetUri",
    "sendEventPostUri",
    "terminatePostUri",
    "rewindPostUri",
    "purgeHistoryDeleteUri",
    "restartPostUri",
    "suspendPostUri",
    "resumePostUri",
}


async def test_chaining_sample_through_the_classic_starter(
    sample_host: RunningHost, http: aiohttp.ClientSession
) -> None:
    async with http.post(f"{sample_host.base_url}/api/orchestrators/hello_cities") as response:
        assert response.status == 202
        links = await response.json()
        assert set(links) == LINK_KEYS
        assert response.headers["Location"] == links["statusQueryGetUri"]
        assert response.headers["Retry-After"] == "10"
    assert links["statusQueryGetUri"].startswith(
        f"{sample_host.base_url}/runtime/webhooks/durabletask/instances/"
    )
    final = await poll_status(http, links["statusQueryGetUri"])
    assert final["runtimeStatus"] == "Completed"
    assert final["output"] == ["Hello Tokyo!", "Hello Seattle!", "Hello London!"]
    assert final["name"] == "hello_cities"
    async with http.get(links["statusQueryGetUri"]) as response:
        assert response.status == 200


async def test_fan_out_sample_with_input_and_custom_status(
    sample_host: RunningHost, http: aiohttp.ClientSession
) -> None:
    url = f"{sample_host.base_url}/api/orchestrators/fan_out_fan_in"
    async with http.post(url, json=10) as response:
        assert response.status == 202
        links = await response.json()
    final = await poll_status(http, links["statusQueryGetUri"])
    assert final["output"] == {"count": 10, "sum_of_squares": 385}
    assert final["customStatus"] == {"items": 10}


async def test_webhook_start_with_explicit_id_and_history(
    sample_host: RunningHost, http: aiohttp.ClientSession
) -> None:
    base = f"{sample_host.base_url}/runtime/webhooks/durabletask"
    async with http.post(f"{base}/orchestrators/hello_cities/webhook-chain-1") as response:
        assert response.status == 202
        links = await response.json()
    assert links["id"] == "webhook-chain-1"
    await poll_status(http, links["statusQueryGetUri"])
    async with http.get(
        f"{base}/instances/webhook-chain-1?showHistory=true&showHistoryOutput=true"
    ) as response:
        assert response.status == 200
        body = await response.json()
    events = body["historyEvents"]
    kinds = [e["EventType"] for e in events]
    assert kinds[0] == "ExecutionStarted" and kinds[-1] == "ExecutionCompleted"
    completed = [e for e in events if e["EventType"] == "TaskCompleted"]
    assert [e["FunctionName"] for e in completed] == ["say_hello"] * 3
    assert [e["Result"] for e in completed] == ["Hello Tokyo!", "Hello Seattle!", "Hello London!"]
    assert "OrchestratorStarted" not in kinds and "TaskScheduled" not in kinds


async def test_bad_starts_get_400_and_unknown_instances_404(
    sample_host: RunningHost, http: aiohttp.ClientSession
) -> None:
    base = f"{sample_host.base_url}/runtime/webhooks/durabletask"
    async with http.post(f"{base}/orchestrators/no_such_orchestrator") as response:
        assert response.status == 400
        assert "no_such_orchestrator" in (await response.json())["Message"]
    async with http.post(f"{base}/orchestrators/hello_cities/@entity-like") as response:
        assert response.status == 400
        assert "@" in (await response.json())["Message"]
    async with http.post(
        f"{base}/orchestrators/hello_cities/bad-json-1",
        data="{not json",
        headers={"Content-Type": "application/json"},
    ) as response:
        assert response.status == 400
        assert "not valid JSON" in (await response.json())["Message"]
    async with http.get(f"{base}/instances/bad-json-1") as response:
        assert response.status == 404  # nothing was enqueued or written for the rejected start
    async with http.get(f"{base}/instances/never-started") as response:
        assert response.status == 404


async def start_sample(http: aiohttp.ClientSession, host: RunningHost, name: str, payload: object) -> dict:
    async with http.post(f"{host.base_url}/api/orchestrators/{name}", json=payload) as response:
        assert response.status == 202, await response.text()
        return dict(await response.json())


async def test_async_http_api_sample(sample_host: RunningHost, http: aiohttp.ClientSession) -> None:
    links = await start_sample(http, sample_host, "process_order", {"order": 42, "items": 3})
    final = await poll_status(http, links["statusQueryGetUri"])
    assert final["output"] == {"order": 42, "receipt": "order-42-charged-for-3-items"}
    assert final["customStatus"] == {"stage": "charging"}


async def test_monitor_sample(sample_host: RunningHost, http: aiohttp.ClientSession) -> None:
    links = await start_sample(http, sample_host, "job_monitor", {"checks_until_done": 3, "interval_s": 0.3})
    final = await poll_status(http, links["statusQueryGetUri"])
    assert final["output"] == {"done": True, "checks": 3}


async def test_human_interaction_sample(sample_host: RunningHost, http: aiohttp.ClientSession) -> None:
    links = await start_sample(http, sample_host, "approval_workflow", 30)
    url = links["sendEventPostUri"].replace("{eventName}", "Approval")
    for _ in range(50):  # the event is kept even if it arrives before the wait
        async with http.post(url, json={"approved": True, "by": "ann"}) as response:
            if response.status == 202:
                break
        await asyncio.sleep(0.1)
    final = await poll_status(http, links["statusQueryGetUri"])
    assert final["output"] == "approved by ann"


async def test_human_interaction_sample_times_out(
    sample_host: RunningHost, http: aiohttp.ClientSession
) -> None:
    links = await start_sample(http, sample_host, "approval_workflow", 1)
    final = await poll_status(http, links["statusQueryGetUri"])
    assert final["output"] == "escalated: no decision in time"


async def test_sub_orchestrations_and_retries_sample(
    sample_host: RunningHost, http: aiohttp.ClientSession
) -> None:
    links = await start_sample(http, sample_host, "deploy_everywhere", ["eu", "us"])
    final = await poll_status(http, links["statusQueryGetUri"])
    assert final["output"] == {"eu": "deployed to eu", "us": "deployed to us"}


async def test_suspended_instance_keeps_its_custom_status_and_runs_on_resume(
    sample_host: RunningHost, http: aiohttp.ClientSession
) -> None:
    links = await start_sample(http, sample_host, "approval_workflow", 60)
    status_url = links["statusQueryGetUri"]

    async def current() -> dict:
        async with http.get(status_url) as response:
            return dict(await response.json())

    for _ in range(100):
        if (await current())["customStatus"] == "waiting for approval":
            break
        await asyncio.sleep(0.05)
    async with http.post(links["suspendPostUri"].replace("{text}", "pause")) as response:
        assert response.status == 202
    for _ in range(100):
        if (await current())["runtimeStatus"] == "Suspended":
            break
        await asyncio.sleep(0.05)
    async with http.post(
        links["sendEventPostUri"].replace("{eventName}", "Approval"), json={"approved": True}
    ) as r:
        assert r.status == 202
    await asyncio.sleep(0.5)  # the event is recorded while suspended; user code does not run
    body = await current()
    assert body["runtimeStatus"] == "Suspended" and body["customStatus"] == "waiting for approval"
    async with http.post(links["resumePostUri"].replace("{text}", "go")) as response:
        assert response.status == 202
    final = await poll_status(http, status_url)
    assert final["output"] == "approved by someone"


async def test_an_order_posted_over_http_goes_through_a_queue_into_an_orchestration(
    sample_host: RunningHost, http: aiohttp.ClientSession
) -> None:
    order = int(asyncio.get_running_loop().time() * 1000)
    async with http.post(f"{sample_host.base_url}/api/orders", json={"order": order, "items": 2}) as response:
        assert response.status == 202
        links = await response.json()
    assert links["id"] == f"order-{order}"
    deadline = asyncio.get_running_loop().time() + 20
    while asyncio.get_running_loop().time() < deadline:
        async with http.get(links["statusQueryGetUri"]) as response:
            if response.status != 404:
                break
        await asyncio.sleep(0.1)
    final = await poll_status(http, links["statusQueryGetUri"])
    assert final["runtimeStatus"] == "Completed"
    assert final["output"]["order"] == order


def test_every_sample_function_is_loaded(sample_host: RunningHost) -> None:
    log = sample_host.log()
    assert "Skipping function" not in log, log

"""Orchestration features of the foundation, through the official SDK's client and decorators."""

from __future__ import annotations

import json
from typing import Any

import aiohttp

from .hosting import RunningHost
from .polling import poll_status


async def start(
    http: aiohttp.ClientSession, host: RunningHost, name: str, payload: Any = None
) -> dict[str, Any]:
    kwargs = {} if payload is None else {"json": payload}
    async with http.post(f"{host.base_url}/api/start/{name}", **kwargs) as response:
        assert response.status == 202, await response.text()
        return dict(await response.json())


async def run(
    http: aiohttp.ClientSession, host: RunningHost, name: str, payload: Any = None
) -> dict[str, Any]:
    links = await start(http, host, name, payload)
    return await poll_status(http, links["statusQueryGetUri"])


async def test_inputs_round_trip_through_the_sdk_client(
    features_host_on: RunningHost, http: aiohttp.ClientSession
) -> None:
    for value in ({"a": 1, "nested": [1, 2]}, "text", 42, [1, "two"], True):
        final = await run(http, features_host_on, "echo_input", value)
        assert final["runtimeStatus"] == "Completed"
        assert final["output"] == {"input": value, "echoed": value}


async def test_task_any_and_task_all(features_host_on: RunningHost, http: aiohttp.ClientSession) -> None:
    final = await run(http, features_host_on, "race")
    assert final["output"] == {"winner": "fast", "both": ["slow", "fast"]}


async def test_caught_activity_failure_reaches_the_orchestrator(
    features_host_on: RunningHost, http: aiohttp.ClientSession
) -> None:
    final = await run(http, features_host_on, "catches_failure")
    assert final["runtimeStatus"] == "Completed"
    assert final["output"] == "recovered"
    assert final["customStatus"]["caught"].startswith(
        "Activity function 'explode' failed:  ValueError: boom (caught)"
    )


async def test_uncaught_activity_failure_fails_the_instance(
    features_host_on: RunningHost, http: aiohttp.ClientSession
) -> None:
    final = await run(http, features_host_on, "fails")
    assert final["runtimeStatus"] == "Failed"
    assert final["output"].startswith(
        "Orchestrator function 'fails' failed: Activity function 'explode' failed:"
    )
    assert "boom (uncaught)" in final["output"]


async def test_orchestrator_exception_fails_the_instance(
    features_host_on: RunningHost, http: aiohttp.ClientSession
) -> None:
    final = await run(http, features_host_on, "raises_directly")
    assert final["runtimeStatus"] == "Failed"
    assert final["output"] == (
        "Orchestrator function 'raises_directly' failed: RuntimeError: orchestrator gave up"
    )


async def test_failed_status_codes(features_host_on: RunningHost, http: aiohttp.ClientSession) -> None:
    links = await start(http, features_host_on, "raises_directly")
    await poll_status(http, links["statusQueryGetUri"])
    async with http.get(links["statusQueryGetUri"]) as response:
        assert response.status == 200
    async with http.get(links["statusQueryGetUri"] + "&returnInternalServerErrorOnFailure=true") as response:
        assert response.status == 500


async def test_the_legacy_orchestration_client_binding_starts_an_instance(
    features_host_on: RunningHost, http: aiohttp.ClientSession
) -> None:
    async with http.post(f"{features_host_on.base_url}/api/legacy/start/plain", json={"k": 1}) as response:
        assert response.status == 202, await response.text()
        links = await response.json()
    final = await poll_status(http, links["statusQueryGetUri"])
    assert final["runtimeStatus"] == "Completed"
    assert final["output"] == {"plain": True, "input": {"k": 1}}


async def test_non_generator_orchestrator(features_host_on: RunningHost, http: aiohttp.ClientSession) -> None:
    final = await run(http, features_host_on, "plain", {"k": "v"})
    assert final["output"] == {"plain": True, "input": {"k": "v"}}


async def test_time_uuid_and_replay_flag_are_deterministic(
    features_host_on: RunningHost, http: aiohttp.ClientSession
) -> None:
    final = await run(http, features_host_on, "deterministic")
    first, echoed = final["output"]["first"], final["output"]["echoed"]
    assert first == echoed  # values seen in the last replay equal those recorded in the first run
    assert len({step["uuid"] for step in first}) == 3
    assert [step["replaying"] for step in first] == [True, True, True]  # the final episode replays all three
    assert first[0]["time"] <= first[1]["time"] <= first[2]["time"]


async def test_missing_activity_fails_with_a_clear_message(
    features_host_on: RunningHost, http: aiohttp.ClientSession
) -> None:
    final = await run(http, features_host_on, "calls_missing_activity")
    assert final["runtimeStatus"] == "Failed"
    assert "no_such_activity" in final["output"] and "doesn't exist" in final["output"]


async def test_trigger_name_overrides(features_host_on: RunningHost, http: aiohttp.ClientSession) -> None:
    final = await run(http, features_host_on, "RenamedOrchestrator")
    assert final["output"] == "renamed:x"
    final = await run(http, features_host_on, "renamedorchestrator")  # names are case-insensitive
    assert final["output"] == "renamed:x"


async def test_output_that_is_not_json_fails_the_instance(
    features_host_on: RunningHost, http: aiohttp.ClientSession
) -> None:
    final = await run(http, features_host_on, "not_serializable")
    assert final["runtimeStatus"] == "Failed"
    assert "not_serializable" in final["output"] and "serializable" in final["output"].lower()


async def test_wait_for_completion_returns_the_output(
    features_host_on: RunningHost, http: aiohttp.ClientSession
) -> None:
    async with http.post(f"{features_host_on.base_url}/api/run/echo_input", json={"x": 1}) as response:
        assert response.status == 200
        assert await response.json() == {"input": {"x": 1}, "echoed": {"x": 1}}


async def test_sdk_get_status_with_history(
    features_host_on: RunningHost, http: aiohttp.ClientSession
) -> None:
    links = await start(http, features_host_on, "echo_input", "hi")
    await poll_status(http, links["statusQueryGetUri"])
    async with http.get(f"{features_host_on.base_url}/api/status/{links['id']}?history=1") as response:
        assert response.status == 200
        body = await response.json()
    assert body["runtimeStatus"] == "Completed"
    assert body["input"] == json.dumps("hi")  # the SDK client's own encoding, as on Azure
    assert [e["EventType"] for e in body["historyEvents"]] == [
        "ExecutionStarted",
        "TaskCompleted",
        "ExecutionCompleted",
    ]
    async with http.get(f"{features_host_on.base_url}/api/status/nope") as response:
        assert response.status == 404


async def test_start_with_a_running_id_is_refused(
    features_host_on: RunningHost, http: aiohttp.ClientSession
) -> None:
    base = f"{features_host_on.base_url}/runtime/webhooks/durabletask"
    async with http.post(f"{base}/orchestrators/race/dup-1") as response:
        assert response.status == 202
    async with http.post(f"{base}/orchestrators/race/dup-1") as response:
        assert response.status == 409
        assert "dup-1" in (await response.json())["Message"]
    final = await poll_status(http, f"{base}/instances/dup-1")
    assert final["runtimeStatus"] == "Completed"
    async with http.post(f"{base}/orchestrators/echo_input/dup-1", json={"again": 1}) as response:
        assert response.status == 202  # a finished id may be started again
    final = await poll_status(http, f"{base}/instances/dup-1")
    assert final["name"] == "echo_input" and final["output"]["input"] == {"again": 1}


async def test_client_binding_task_hub_override(
    features_host_on: RunningHost, http: aiohttp.ClientSession
) -> None:
    async with http.post(f"{features_host_on.base_url}/api/other/start/echo_input") as response:
        assert response.status == 200, await response.text()
        body = await response.json()
    assert body["hub"] == "OtherFeaturesHub"
    base = f"{features_host_on.base_url}/runtime/webhooks/durabletask/instances/{body['id']}"
    async with http.get(f"{base}?taskHub=OtherFeaturesHub&connection=Storage") as response:
        assert response.status == 202  # pending in the other hub: no worker serves it
        assert (await response.json())["runtimeStatus"] == "Pending"
    async with http.get(base) as response:
        assert response.status == 404  # not in this app's own hub


async def test_metrics_show_storage_operations_and_work_kept_local(
    features_host: RunningHost, http: aiohttp.ClientSession
) -> None:
    """Azure Storage only: the figures are storage operations and messages kept out of the queues."""
    url = f"{features_host.base_url}/runtime/webhooks/durabletask/metrics"
    async with http.get(url) as response:
        assert response.status == 200
        before = await response.json()
    final = await run(http, features_host, "race")  # several episodes and two activities
    assert final["runtimeStatus"] == "Completed"
    async with http.get(url) as response:
        after = await response.json()
    assert after["storageOperationsTotal"] > before["storageOperationsTotal"]
    assert after["storageOperations"]["table.batch"] > before["storageOperations"].get("table.batch", 0)
    assert after["historyCache"]["hits"] > before["historyCache"]["hits"]  # later episodes read no history
    assert after["messagesHandedOverLocally"] >= before["messagesHandedOverLocally"] + 3
    owned = after["ownedControlQueues"]
    assert owned and all(name.startswith("featureshub-control-0") for name in owned)  # the only worker

"""Instance management end to end: the SDK client inside HTTP functions and the public HTTP API."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest

from .conftest import PROVIDERS, storage_args
from .hosting import REPO_ROOT, RunningHost, start_host, stop_host, wait_until_serving

APP = REPO_ROOT / "tests" / "e2e" / "apps" / "management"
WEBHOOKS = "/runtime/webhooks/durabletask"
TIMEOUT_S = 30.0


@pytest.fixture(scope="module", params=PROVIDERS)
async def host(
    request: pytest.FixtureRequest,
    connection_string: str,
    postgres_dsn: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[RunningHost]:
    """The management app on each provider in turn: every test here runs on each."""
    log_path = tmp_path_factory.mktemp("management") / "host.log"
    hub = "mgmt" + uuid.uuid4().hex[:10]
    extra = storage_args(request.param)
    env = {"MANAGEMENT_HUB": hub, "PostgresConnection": postgres_dsn}
    running = start_host(APP, connection_string, log_path, env, extra)
    try:
        await wait_until_serving(running)
        yield running
    finally:
        stop_host(running)


def _id(label: str) -> str:
    return f"{label}-{uuid.uuid4().hex[:8]}"


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


async def _call(
    http: aiohttp.ClientSession, method: str, url: str, **kwargs: Any
) -> tuple[int, Any, aiohttp.typedefs.LooseHeaders]:
    async with http.request(method, url, **kwargs) as response:
        text = await response.text()
        body = None
        if text:
            try:
                body = await response.json(content_type=None)
            except ValueError:
                body = text
        return response.status, body, response.headers


async def sdk(http: aiohttp.ClientSession, host: RunningHost, method: str, path: str, **kwargs: Any) -> Any:
    """Call one of the app's SDK-client functions; return its result or fail with its error."""
    status, body, _ = await _call(http, method, f"{host.base_url}/api/{path}", **kwargs)
    assert status == 200, f"{path}: {status} {body}"
    return body["result"]


async def sdk_error(
    http: aiohttp.ClientSession, host: RunningHost, method: str, path: str, **kwargs: Any
) -> str:
    status, body, _ = await _call(http, method, f"{host.base_url}/api/{path}", **kwargs)
    assert status == 500, f"{path} was expected to fail: {status} {body}"
    return str(body["error"])


async def api(
    http: aiohttp.ClientSession, host: RunningHost, method: str, path: str, **kwargs: Any
) -> tuple[int, Any, Any]:
    """Call the public HTTP management API."""
    return await _call(http, method, f"{host.base_url}{WEBHOOKS}/{path}", **kwargs)


async def start(
    http: aiohttp.ClientSession, host: RunningHost, name: str, instance_id: str, payload: Any = None
) -> None:
    kwargs = {} if payload is None else {"json": payload}
    status, body, _ = await _call(http, "POST", f"{host.base_url}/api/start/{name}/{instance_id}", **kwargs)
    assert status == 202, body


async def status_of(http: aiohttp.ClientSession, host: RunningHost, instance_id: str) -> dict[str, Any]:
    code, body, _ = await api(http, host, "GET", f"instances/{instance_id}")
    assert code in (200, 202), (code, body)
    return dict(body)


async def wait_for(
    http: aiohttp.ClientSession, host: RunningHost, instance_id: str, status: str, **expected: Any
) -> dict[str, Any]:
    """Poll until the instance has ``status`` (and the ``expected`` fields); return its status body."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + TIMEOUT_S
    body: dict[str, Any] = {}
    while loop.time() < deadline:
        _, found, _ = await api(http, host, "GET", f"instances/{instance_id}")
        body = found if isinstance(found, dict) else {}
        if body.get("runtimeStatus") == status and all(body.get(k) == v for k, v in expected.items()):
            return body
        await asyncio.sleep(0.1)
    raise AssertionError(
        f"{instance_id} never became {status} {expected}; last: {body}\n{host.log()[-3000:]}"
    )


# ---- raise event, terminate, start -----------------------------------------------------------------
async def test_raise_event_status_codes(host: RunningHost, http: aiohttp.ClientSession) -> None:
    instance_id = _id("raise")
    await start(http, host, "waiter", instance_id, "in")
    path = f"instances/{instance_id}/raiseEvent/Go"
    code, body, _ = await api(http, host, "POST", path, data="hi", headers={"Content-Type": "text/plain"})
    assert code == 400 and "application/json" in body["Message"]
    code, body, _ = await api(
        http, host, "POST", path, data="{nope", headers={"Content-Type": "application/json"}
    )
    assert code == 400 and "not valid JSON" in body["Message"]
    code, body, _ = await api(http, host, "POST", f"instances/{_id('ghost')}/raiseEvent/Go", json=1)
    assert code == 404 and "No instance" in body["Message"]
    code, _, _ = await api(http, host, "POST", path, json={"ok": True})
    assert code == 202
    final = await wait_for(http, host, instance_id, "Completed")
    assert final["output"] == {"got": {"ok": True}, "input": "in"}
    code, body, _ = await api(http, host, "POST", path, json=1)
    assert code == 410 and "Completed" in body["Message"]
    assert "gone" in (await sdk_error(http, host, "POST", f"raise/{instance_id}/Go", json=1)).lower()


async def test_raise_event_through_the_sdk(host: RunningHost, http: aiohttp.ClientSession) -> None:
    instance_id = _id("sdkraise")
    await start(http, host, "waiter", instance_id)
    await sdk(http, host, "POST", f"raise/{instance_id}/Go", json={"v": 2})
    final = await wait_for(http, host, instance_id, "Completed")
    assert final["output"]["got"] == '{"v": 2}'  # the SDK client double-encodes, as on Azure


async def test_terminate_a_running_instance(host: RunningHost, http: aiohttp.ClientSession) -> None:
    instance_id = _id("term")
    await start(http, host, "waiter", instance_id)
    await wait_for(http, host, instance_id, "Running")
    assert await sdk(http, host, "POST", f"manage/terminate/{instance_id}?reason=too%20slow") is None
    final = await wait_for(http, host, instance_id, "Terminated")
    assert final["output"] == "too slow"
    assert (
        await sdk(http, host, "POST", f"manage/terminate/{instance_id}?reason=again") is None
    )  # 410 is fine
    code, body, _ = await api(http, host, "POST", f"instances/{instance_id}/terminate")
    assert code == 410 and "Terminated" in body["Message"]
    code, _, _ = await api(http, host, "POST", f"instances/{_id('ghost')}/terminate")
    assert code == 404
    assert "No instance" in await sdk_error(http, host, "POST", f"manage/terminate/{_id('ghost')}")


async def test_terminate_right_after_start_stays_terminated(
    host: RunningHost, http: aiohttp.ClientSession
) -> None:
    instance_id = _id("early")
    code, _, _ = await api(http, host, "POST", f"orchestrators/waiter/{instance_id}")
    assert code == 202
    code, _, _ = await api(http, host, "POST", f"instances/{instance_id}/terminate?reason=never%20mind")
    assert code == 202
    final = await wait_for(http, host, instance_id, "Terminated", output="never mind")
    await asyncio.sleep(3)  # longer than the polling interval: a start that slipped through would show
    later = await status_of(http, host, instance_id)
    assert (later["runtimeStatus"], later["output"]) == ("Terminated", "never mind")
    assert later["createdTime"] == final["createdTime"]


async def test_starting_a_running_id_is_refused_and_a_finished_one_restarts(
    host: RunningHost, http: aiohttp.ClientSession
) -> None:
    instance_id = _id("dup")
    await start(http, host, "waiter", instance_id)
    code, body, _ = await api(http, host, "POST", f"orchestrators/waiter/{instance_id}")
    assert code == 409 and "already exists" in body["Message"]
    status, body, _ = await _call(http, "POST", f"{host.base_url}/api/start/waiter/{instance_id}")
    assert status == 500 and "already exists" in body["error"]
    await wait_for(http, host, instance_id, "Running")  # (terminating a pending one races its start)
    await api(http, host, "POST", f"instances/{instance_id}/terminate")
    await wait_for(http, host, instance_id, "Terminated")
    await start(http, host, "quick", instance_id, 7)
    final = await wait_for(http, host, instance_id, "Completed")
    assert final["output"] == {"quick": 7}


# ---- suspend / resume ----------------------------------------------------------------------------------
async def test_suspend_and_resume_status_codes(host: RunningHost, http: aiohttp.ClientSession) -> None:
    for operation in ("suspend", "resume"):
        code, _, _ = await api(http, host, "POST", f"instances/{_id('ghost')}/{operation}")
        assert code == 404
        assert "No instance" in await sdk_error(http, host, "POST", f"manage/{operation}/{_id('ghost')}")
    done = _id("done")
    await start(http, host, "quick", done)
    await wait_for(http, host, done, "Completed")
    for operation in ("suspend", "resume"):
        code, body, _ = await api(http, host, "POST", f"instances/{done}/{operation}?reason=x")
        assert code == 410 and "Completed" in body["Message"]
        assert await sdk(http, host, "POST", f"manage/{operation}/{done}?reason=x") is None


async def test_suspend_holds_events_until_resume(host: RunningHost, http: aiohttp.ClientSession) -> None:
    instance_id = _id("susp")
    await start(http, host, "counter", instance_id)
    tick = f"instances/{instance_id}/raiseEvent/Tick"
    await api(http, host, "POST", tick, json="tick")
    await wait_for(http, host, instance_id, "Running", customStatus={"ticks": 1})
    assert await sdk(http, host, "POST", f"manage/suspend/{instance_id}?reason=hold%20on") is None
    suspended = await wait_for(http, host, instance_id, "Suspended")
    assert suspended["output"] == "hold on"
    code, _, _ = await api(http, host, "POST", tick, json="tick")
    assert code == 202
    await asyncio.sleep(3)
    held = await status_of(http, host, instance_id)
    assert held["runtimeStatus"] == "Suspended"
    assert held["customStatus"] != {"ticks": 2}  # the tick waits while the instance is suspended
    assert await sdk(http, host, "POST", f"manage/resume/{instance_id}?reason=go") is None
    await wait_for(http, host, instance_id, "Running", customStatus={"ticks": 2})
    await api(http, host, "POST", tick, json="stop")
    final = await wait_for(http, host, instance_id, "Completed")
    assert final["output"] == 3


# ---- rewind ---------------------------------------------------------------------------------------------
async def test_rewind_reruns_only_the_failed_activity(host: RunningHost, http: aiohttp.ClientSession) -> None:
    instance_id, key = _id("rewind"), _id("key")
    await start(http, host, "fails_once", instance_id, key)
    failed = await wait_for(http, host, instance_id, "Failed")
    assert f"first attempt of {key} fails" in failed["output"]
    assert await sdk(http, host, "POST", f"manage/rewind/{instance_id}?reason=fixed it") is None
    final = await wait_for(http, host, instance_id, "Completed")
    assert final["output"] == [f"steady {key}", f"attempt 2 of {key}"]
    assert (
        await sdk(http, host, "GET", f"attempts/steady:{key}") == 1
    )  # the successful activity did not rerun
    code, body, _ = await api(http, host, "POST", f"instances/{instance_id}/rewind?reason=x")
    assert code == 410 and "only failed instances" in body["Message"]
    assert "only supported on failed" in await sdk_error(http, host, "POST", f"manage/rewind/{instance_id}")
    code, _, _ = await api(http, host, "POST", f"instances/{_id('ghost')}/rewind")
    assert code == 404


async def test_rewind_reaches_into_a_failed_sub_orchestration(
    host: RunningHost, http: aiohttp.ClientSession
) -> None:
    instance_id, key = _id("parent"), _id("subkey")
    await start(http, host, "parent_of_failure", instance_id, key)
    await wait_for(http, host, instance_id, "Failed")
    await wait_for(http, host, instance_id + "-child", "Failed")
    code, _, _ = await api(http, host, "POST", f"instances/{instance_id}/rewind?reason=retry")
    assert code == 202
    final = await wait_for(http, host, instance_id, "Completed")
    assert final["output"] == {"child": [f"steady {key}", f"attempt 2 of {key}"]}
    child = await status_of(http, host, instance_id + "-child")
    assert child["runtimeStatus"] == "Completed"
    assert await sdk(http, host, "GET", f"attempts/steady:{key}") == 1


# ---- restart --------------------------------------------------------------------------------------------
async def test_restart_with_a_new_id_and_with_the_same_id(
    host: RunningHost, http: aiohttp.ClientSession
) -> None:
    original = _id("orig")
    await start(http, host, "quick", original, {"n": 1})
    await wait_for(http, host, original, "Completed")

    payload = await sdk(http, host, "POST", f"manage/restart/{original}")
    assert isinstance(payload, dict) and payload["id"] != original  # the SDK returns the 202 body
    assert payload["statusQueryGetUri"].startswith(host.base_url)
    copy = await wait_for(http, host, payload["id"], "Completed")
    assert copy["output"] == {"quick": {"n": 1}}
    assert copy["input"] == (await status_of(http, host, original))["input"] == '{"n": 1}'  # SDK encoding

    same = await sdk(http, host, "POST", f"manage/restart/{original}?new=false")
    assert same["id"] == original
    code, body, headers = await api(
        http, host, "POST", f"instances/{original}/restart?restartWithNewInstanceId=false"
    )
    assert code in (202, 409), body  # 409 when the previous restart is still running
    await wait_for(http, host, original, "Completed")

    code, body, headers = await api(http, host, "POST", f"instances/{original}/restart")
    assert code == 202 and body["id"] != original
    assert headers["Location"] == body["statusQueryGetUri"]
    code, body, _ = await api(
        http, host, "POST", f"instances/{original}/restart?restartWithNewInstanceId=maybe"
    )
    assert code == 400 and "restartWithNewInstanceId" in body["Message"]
    code, _, _ = await api(http, host, "POST", f"instances/{_id('ghost')}/restart")
    assert code == 404
    assert "No instance" in await sdk_error(http, host, "POST", f"manage/restart/{_id('ghost')}")


async def test_restart_of_a_running_instance_under_its_own_id_is_refused(
    host: RunningHost, http: aiohttp.ClientSession
) -> None:
    instance_id = _id("busy")
    await start(http, host, "waiter", instance_id)
    code, body, _ = await api(
        http, host, "POST", f"instances/{instance_id}/restart?restartWithNewInstanceId=false"
    )
    assert code == 409 and "already exists" in body["Message"]
    code, body, _ = await api(http, host, "POST", f"instances/{instance_id}/restart")
    assert code == 202 and body["id"] != instance_id  # a new id is always possible


# ---- queries ---------------------------------------------------------------------------------------------
async def _start_quick_batch(
    http: aiohttp.ClientSession, host: RunningHost, prefix: str, count: int
) -> list[str]:
    ids = [f"{prefix}{i:02d}" for i in range(count)]
    await asyncio.gather(*(start(http, host, "quick", instance_id, i) for i, instance_id in enumerate(ids)))
    for instance_id in ids:
        await wait_for(http, host, instance_id, "Completed")
    return ids


async def _pages(http: aiohttp.ClientSession, host: RunningHost, path: str) -> list[list[str]]:
    """The instance ids of every page of a listing, following its continuation tokens."""
    pages: list[list[str]] = []
    headers: dict[str, str] = {}
    while True:
        code, body, response_headers = await api(http, host, "GET", path, headers=headers)
        assert code == 200
        pages.append([item["instanceId"] for item in body])
        token = response_headers.get("x-ms-continuation-token")
        if token is None:
            return pages
        headers = {"x-ms-continuation-token": token}


async def test_list_instances_filters_and_pages(host: RunningHost, http: aiohttp.ClientSession) -> None:
    prefix = _id("list") + "-"
    before = datetime.now(UTC) - timedelta(seconds=1)
    ids = await _start_quick_batch(http, host, prefix, 5)
    running = prefix + "zz"
    await start(http, host, "waiter", running)
    await wait_for(http, host, running, "Running")  # a loaded machine may not have run its start yet

    pages = await _pages(http, host, f"instances?instanceIdPrefix={prefix}&top=2")
    assert pages == [ids[0:2], ids[2:4], [ids[4], running]]

    code, body, _ = await api(
        http, host, "GET", f"instances?instanceIdPrefix={prefix}&runtimeStatus=Completed"
    )
    assert sorted(item["instanceId"] for item in body) == ids
    assert body[0]["input"] == "0" and body[0]["output"] == {"quick": 0}  # the SDK client's encoding
    code, body, _ = await api(http, host, "GET", f"instances/?instanceIdPrefix={prefix}&showInput=false")
    assert len(body) == 6 and all(item["input"] is None for item in body)
    later = _iso(datetime.now(UTC) + timedelta(hours=1))
    code, body, _ = await api(
        http, host, "GET", f"instances?instanceIdPrefix={prefix}&createdTimeFrom={later}"
    )
    assert (code, body) == (200, [])

    by = await sdk(http, host, "GET", f"by?prefix={prefix}&status=Running&from={_iso(before)}")
    assert [item["instanceId"] for item in by] == [running]
    by = await sdk(
        http, host, "GET", f"by?prefix={prefix}&status=Running,Completed&to={_iso(datetime.now(UTC))}"
    )
    assert sorted(item["instanceId"] for item in by) == [*ids, running]
    everything = await sdk(http, host, "GET", "all")
    assert {*ids, running} <= {item["instanceId"] for item in everything}


async def test_newest_first_counts_and_text_filters_on_the_api(
    host: RunningHost, http: aiohttp.ClientSession
) -> None:
    prefix = _id("order") + "-"
    ids = [f"{prefix}{label}" for label in ("c", "a", "b")]  # started in this order, not in id order
    for i, instance_id in enumerate(ids):
        await start(http, host, "quick", instance_id, i)
        await wait_for(http, host, instance_id, "Completed")
    waiting = prefix + "w"
    await start(http, host, "waiter", waiting)
    await wait_for(http, host, waiting, "Running")

    pages = await _pages(http, host, f"instances?instanceIdPrefix={prefix}&order=newest&top=3")
    assert pages == [[waiting, ids[2], ids[1]], [ids[0]]]
    code, body, _ = await api(http, host, "GET", f"instances?instanceIdPrefix={prefix}&order=oldest&top=1")
    assert [item["instanceId"] for item in body] == [ids[0]]

    code, counts, _ = await api(http, host, "GET", f"counts?instanceIdPrefix={prefix}")
    assert code == 200
    assert (counts["Completed"], counts["Running"], counts["Failed"], counts["total"]) == (3, 1, 0, 4)
    code, counts, _ = await api(http, host, "GET", f"counts?instanceIdPrefix={prefix}&name=waiter")
    assert counts["total"] == 1 and counts["Running"] == 1
    code, body, _ = await api(http, host, "GET", f"instances?instanceIdPrefix={prefix}&inputContains=2")
    assert [item["instanceId"] for item in body] == [ids[2]]  # the input is the JSON text "2"


async def test_a_job_terminates_what_a_query_matches_and_reports_its_progress(
    host: RunningHost, http: aiohttp.ClientSession
) -> None:
    prefix = _id("bulk") + "-"
    ids = [f"{prefix}{i}" for i in range(3)]
    for instance_id in ids:
        await start(http, host, "waiter", instance_id)
    for instance_id in ids:
        await wait_for(http, host, instance_id, "Running")
    query = f"operation=terminate&instanceIdPrefix={prefix}"
    code, dry, _ = await api(http, host, "POST", f"jobs?{query}&dryRun=true")
    assert code == 200 and dry["matched"] == 3 and sorted(dry["instances"]) == ids
    for instance_id in ids:  # a dry run changes nothing
        assert (await status_of(http, host, instance_id))["runtimeStatus"] == "Running"
    code, job, headers = await api(http, host, "POST", f"jobs?{query}&reason=bulk")
    assert code == 202 and job["matched"] == 3 and str(headers["Location"]).endswith(f"/jobs/{job['id']}")
    loop = asyncio.get_running_loop()
    deadline = loop.time() + TIMEOUT_S
    while job["status"] != "Completed":
        assert loop.time() < deadline, f"the job never completed: {job}"
        await asyncio.sleep(0.2)
        code, job, _ = await api(http, host, "GET", f"jobs/{job['id']}")
    assert (job["done"], job["failed"], job["failures"]) == (3, 0, [])
    for instance_id in ids:
        await wait_for(http, host, instance_id, "Terminated", output="bulk")
    code, listed, _ = await api(http, host, "GET", "jobs")
    assert code == 200 and job["id"] in [j["id"] for j in listed]
    code, again, _ = await api(http, host, "POST", f"jobs/{job['id']}/cancel")
    assert code == 202 and again["status"] == "Completed"  # a finished job stays as it ended
    code, missing, _ = await api(http, host, "GET", "jobs/00000000000000000000000000000000")
    assert code == 404 and missing["parameter"] == "jobId"
    code, bad, _ = await api(http, host, "POST", "jobs?operation=explode")
    assert code == 400 and bad["parameter"] == "operation"


@pytest.mark.parametrize(
    ("query", "headers", "named"),
    [
        ("order=sideways", {}, "order"),
        ("top=0", {}, "top"),
        ("top=ten", {}, "top"),
        ("createdTimeFrom=yesterday", {}, "createdTimeFrom"),
        ("createdTimeTo=2024-13-01T00:00:00Z", {}, "createdTimeTo"),
        ("runtimeStatus=Running,Sleeping", {}, "runtimeStatus"),
        ("showInput=maybe", {}, "showInput"),
        ("", {"x-ms-continuation-token": "bm90IG91cnM="}, "x-ms-continuation-token"),
        ("", {"x-ms-continuation-token": "%%%"}, "x-ms-continuation-token"),
    ],
)
async def test_list_instances_rejects_bad_input_naming_it(
    host: RunningHost, http: aiohttp.ClientSession, query: str, headers: dict[str, str], named: str
) -> None:
    code, body, _ = await api(http, host, "GET", f"instances?{query}", headers=headers)
    assert code == 400
    assert named in body["Message"]


# ---- purge -----------------------------------------------------------------------------------------------
async def test_purge_one_instance(host: RunningHost, http: aiohttp.ClientSession) -> None:
    instance_id = _id("purge")
    await start(http, host, "quick", instance_id)
    await wait_for(http, host, instance_id, "Completed")
    assert await sdk(http, host, "DELETE", f"purge/{instance_id}") == 1
    code, _, _ = await api(http, host, "GET", f"instances/{instance_id}")
    assert code == 404
    assert await sdk(http, host, "DELETE", f"purge/{instance_id}") == 0
    code, _, _ = await api(http, host, "DELETE", f"instances/{instance_id}")
    assert code == 404

    raw = _id("rawpurge")
    await start(http, host, "quick", raw)
    await wait_for(http, host, raw, "Completed")
    code, body, _ = await api(http, host, "DELETE", f"instances/{raw}")
    assert (code, body) == (200, {"instancesDeleted": 1})


async def test_purge_by_time_range_and_status(host: RunningHost, http: aiohttp.ClientSession) -> None:
    prefix = _id("bulk") + "-"
    await asyncio.sleep(0.05)
    before = datetime.now(UTC)  # instances of earlier tests were all created before this
    ids = await _start_quick_batch(http, host, prefix, 4)
    busy = prefix + "busy"
    await start(http, host, "waiter", busy)
    await wait_for(http, host, busy, "Running")
    after = datetime.now(UTC) + timedelta(seconds=1)

    code, body, _ = await api(http, host, "DELETE", "instances?runtimeStatus=Completed")
    assert code == 400 and "createdTimeFrom" in body["Message"]
    code, body, _ = await api(
        http, host, "DELETE", f"instances?createdTimeFrom={_iso(before)}&runtimeStatus=Running"
    )
    assert code == 400 and "runtimeStatus" in body["Message"]
    code, body, _ = await api(http, host, "DELETE", "instances?createdTimeFrom=soon")
    assert code == 400 and "createdTimeFrom" in body["Message"]
    for instance_id in ids:  # nothing was deleted by the refused requests
        assert (await status_of(http, host, instance_id))["runtimeStatus"] == "Completed"

    window = f"from={_iso(before)}&to={_iso(after)}"
    assert await sdk(http, host, "DELETE", f"purge?{window}&status=Completed,Running") == 4
    code, body, _ = await api(http, host, "GET", f"instances?instanceIdPrefix={prefix}")
    assert [item["instanceId"] for item in body] == [busy]
    assert await sdk(http, host, "DELETE", f"purge?{window}&status=Completed") == 0  # 404 means none
    code, body, _ = await api(
        http, host, "DELETE", f"instances?createdTimeFrom={_iso(before)}&createdTimeTo={_iso(after)}"
    )
    assert code == 404

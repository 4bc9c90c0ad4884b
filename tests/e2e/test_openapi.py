"""The OpenAPI document is the API's guard: it lists exactly the routes the host serves, and every real
answer of a real host on Azurite has a documented status and a body that fits the documented schema."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlsplit

import aiohttp
import pytest
from aiohttp import web
from openapi_spec_validator import validate as validate_openapi

from durable_ext.extension.extension import DurableTaskExtension
from durable_ext.extension.http_api import ManagementApi
from durable_ext.extension.http_common import WEBHOOK_BASE
from durable_ext.extension.monitor import MonitorPage
from durable_ext.extension.openapi import openapi_document
from durable_ext.extension.options import DurableTaskOptions
from durable_ext.extension.request_limits import MAX_BODY_BYTES, MAX_JSON_DEPTH, MAX_PAGE_SIZE

from .conftest import APPS, serve
from .hosting import RunningHost
from .openapi_checks import check_answer, resolve

APP = APPS / "api"
ADMIN_BASE = "/admin"
NOT_PROVOKED = {
    "401": "needs a caller from another machine: tests/e2e/test_keys_network.py",
    "503": "needs storage down: the storage outage tests",
}
"""Documented statuses this test cannot cause on a loopback host with storage up, and who tests them."""
SKIPPED_PAIRS = {
    ("startOrchestration", "409"): "a new instance gets a fresh id, so it cannot conflict",
}
TIMEOUT_S = 30.0


@pytest.fixture(scope="module")
def hub() -> str:
    return "oas" + uuid.uuid4().hex[:10]


@pytest.fixture(scope="module")
async def host(
    connection_string: str, tmp_path_factory: pytest.TempPathFactory, hub: str
) -> AsyncIterator[RunningHost]:
    async for running in serve(APP, connection_string, tmp_path_factory, {"API_HUB": hub}):
        yield running


@pytest.fixture(scope="module")
async def document(host: RunningHost) -> dict[str, Any]:
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"{host.base_url}{WEBHOOK_BASE}/openapi.json") as response,
    ):
        assert response.status == 200
        served: dict[str, Any] = await response.json()
    return served


@dataclass
class Conformance:
    """Calls the host, checks each answer against the document and records what was seen."""

    base_url: str
    document: dict[str, Any]
    http: aiohttp.ClientSession
    seen: set[tuple[str, str]] = field(default_factory=set)

    def operation(self, method: str, template: str) -> dict[str, Any]:
        paths = self.document["paths"]
        item = paths.get(template) or paths[template.removesuffix("/")]
        if template not in paths:
            assert item.get("x-trailing-slash"), f"{template} is not documented"
        op: dict[str, Any] = item[method.lower()]
        return op

    async def call(
        self,
        method: str,
        template: str,
        expect: int,
        path: dict[str, str] | None = None,
        **kwargs: Any,
    ) -> tuple[Any, Any]:
        """``method`` on the documented ``template`` filled with ``path``; the answer must be ``expect``,
        documented for the operation, with the documented headers and a body that fits its schema."""
        url = template
        for name, value in (path or {}).items():
            url = url.replace("{" + name + "}", quote(value, safe=""))
        async with self.http.request(method, self.base_url + url, **kwargs) as response:
            text = await response.text()
            status, headers, content_type = response.status, response.headers, response.content_type
        op = self.operation(method, template)
        where = f"{method} {url} -> {status} {text[:300]}"
        assert status == expect, where
        problems = check_answer(self.document, op, status, content_type, text)
        assert not problems, f"{where}: {problems}"
        self.seen.add((op["operationId"], str(status)))
        documented = resolve(self.document, op["responses"][str(status)])
        for header, spec in documented.get("headers", {}).items():
            assert header in headers or not spec.get("required"), f"{where}: the header {header} is missing"
        body = json.loads(text) if content_type == "application/json" and text else text or None
        return body, headers

    async def too_large(self, method: str, template: str, path: dict[str, str] | None = None) -> None:
        """Announce a body above the limit; the host answers 413 without reading it."""
        url = template
        for name, value in (path or {}).items():
            url = url.replace("{" + name + "}", quote(value, safe=""))
        split = urlsplit(self.base_url)
        reader, writer = await asyncio.open_connection(split.hostname, split.port)
        writer.write(
            (
                f"{method} {url}?op=add HTTP/1.1\r\nHost: {split.netloc}\r\n"
                "Content-Type: application/json\r\n"
                f"Content-Length: {MAX_BODY_BYTES + 1}\r\nConnection: close\r\n\r\n"
            ).encode()
        )
        await writer.drain()
        head = (await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), TIMEOUT_S)).decode()
        length = next(
            int(line.split(":")[1])
            for line in head.split("\r\n")
            if line.lower().startswith("content-length")
        )
        text = (await reader.readexactly(length)).decode()
        writer.close()  # the host answers before reading the body (and would drain it for a while)
        status = int(head.split()[1])
        op = self.operation(method, template)
        assert status == 413 and "413" in op["responses"], head
        body = json.loads(text)
        assert body["parameter"] == "body" and body["limit"] == MAX_BODY_BYTES, body
        self.seen.add((op["operationId"], "413"))


@pytest.fixture(scope="module")
async def api(host: RunningHost, document: dict[str, Any]) -> AsyncIterator[Conformance]:
    async with aiohttp.ClientSession() as http:
        yield Conformance(host.base_url, document, http)


P = WEBHOOK_BASE
START = f"{P}/orchestrators/{{functionName}}"
START_ID = f"{P}/orchestrators/{{functionName}}/{{instanceId}}"
INSTANCES = f"{P}/instances"
INSTANCE = f"{P}/instances/{{instanceId}}"
RAISE = f"{INSTANCE}/raiseEvent/{{eventName}}"
ENTITY = f"{P}/entities/{{entityName}}/{{entityKey}}"


def new_id(label: str) -> str:
    return f"{label}-{uuid.uuid4().hex[:8]}"


async def wait_for_status(api: Conformance, instance_id: str, wanted: str) -> None:
    deadline = asyncio.get_running_loop().time() + TIMEOUT_S
    url = f"{api.base_url}{P}/instances/{quote(instance_id, safe='')}"
    while asyncio.get_running_loop().time() < deadline:
        async with api.http.get(url) as response:
            if response.status in (200, 202, 500) and (await response.json())["runtimeStatus"] == wanted:
                return
        await asyncio.sleep(0.2)
    raise AssertionError(f"{instance_id} did not become {wanted} in {TIMEOUT_S} s")


async def served_routes(connection_string: str) -> set[tuple[str, str]]:
    """What the host's aiohttp router holds under the public base and /admin, built as the host builds it."""
    extension = DurableTaskExtension(
        DurableTaskOptions(hub_name="RouteWalk", hub_name_source="test"),
        {"AzureWebJobsStorage": connection_string}.get,
    )
    try:
        defs = [*ManagementApi(extension).routes(), *MonitorPage(extension).routes()]
        try:
            from durable_ext.host.admin import HostAdmin
        except ImportError:  # the admin routes have not landed
            pass
        else:
            defs += HostAdmin(extension, "route-walk").routes()
    finally:
        await extension.stop()
    app = web.Application()
    app.add_routes(defs)
    routes = set()
    for route in app.router.routes():
        path = route.resource.canonical if route.resource else ""
        if route.method != "HEAD" and (path.startswith(P + "/") or path.startswith(ADMIN_BASE + "/")):
            routes.add((route.method, path))
    return routes


def documented_routes(document: dict[str, Any]) -> set[tuple[str, str]]:
    routes = set()
    for path, item in document["paths"].items():
        variants = [path, path + "/"] if item.get("x-trailing-slash") else [path]
        for method in ("get", "post", "delete", "put", "patch"):
            if method in item:
                routes |= {(method.upper(), variant) for variant in variants}
    return routes


# ---- the document itself ----------------------------------------------------------------------
async def test_the_served_document_is_valid_openapi_3_1(host: RunningHost, document: dict[str, Any]) -> None:
    validate_openapi(document)
    assert document["openapi"] == "3.1.0"
    assert document["servers"] == [{"url": host.base_url}]
    assert {k: v for k, v in document.items() if k != "servers"} == openapi_document()
    operation_ids = [op["operationId"] for item in document["paths"].values() for op in _operations(item)]
    assert len(operation_ids) == len(set(operation_ids)), "operationIds must be unique"


def _operations(item: dict[str, Any]) -> list[dict[str, Any]]:
    return [item[m] for m in ("get", "post", "delete", "put", "patch") if m in item]


async def test_the_document_describes_exactly_the_routes_served(
    connection_string: str, document: dict[str, Any], api: Conformance
) -> None:
    documented = documented_routes(document)
    served = await served_routes(connection_string)
    admin_served = {route for route in served if route[1].startswith(ADMIN_BASE)}
    public = {route for route in documented if not route[1].startswith(ADMIN_BASE)}
    assert {r for r in served if not r[1].startswith(ADMIN_BASE)} == public
    assert admin_served == documented - public


# ---- every operation, its happy path and its failures -----------------------------------------
async def test_starting_answers_as_documented(api: Conformance) -> None:
    body, headers = await api.call("POST", START, 202, {"functionName": "quick"}, json=json.dumps({"n": 1}))
    assert headers["Location"] == body["statusQueryGetUri"]
    wait = {"timeout": "20", "pollingInterval": "0.2"}
    output, _ = await api.call("POST", START, 200, {"functionName": "quick"}, params=wait)
    assert output == {"quick": None}
    await api.call("POST", START, 500, {"functionName": "fails"}, params=wait)
    quick = new_id("quick")
    output, _ = await api.call(
        "POST",
        START_ID,
        200,
        {"functionName": "quick", "instanceId": quick},
        params=wait,
        json=json.dumps([1]),  # the SDK reads a raw API input as the JSON text of the value
    )
    assert output == {"quick": [1]}
    failed = new_id("fails")
    payload, _ = await api.call(
        "POST",
        START_ID,
        500,
        {"functionName": "fails", "instanceId": failed},
        params=wait,
    )
    assert payload["runtimeStatus"] == "Failed"
    waiting = new_id("wait")
    await api.call("POST", START_ID, 202, {"functionName": "waiter", "instanceId": waiting})
    error, _ = await api.call("POST", START_ID, 409, {"functionName": "waiter", "instanceId": waiting})
    assert error["parameter"] == "instanceId" and waiting in error["Message"]
    for name, params, data, parameter in [
        ("nope", {}, None, "functionName"),
        ("quick", {"timeout": "-1"}, None, "timeout"),
        ("quick", {"timeout": "inf"}, None, "timeout"),
        ("quick", {"timeout": "nan"}, None, "timeout"),
        ("quick", {"taskHub": "1bad"}, None, "taskHub"),
        ("quick", {"taskHub": "ab"}, None, "taskHub"),
        ("quick", {"connection": "NoSuchSetting"}, None, "connection"),
        ("quick", {}, "{not json", "body"),
        ("quick", {}, "[" * (MAX_JSON_DEPTH + 1) + "]" * (MAX_JSON_DEPTH + 1), "body"),
        ("quick", {}, "[" * 5000 + "]" * 5000, "body"),
        ("quick", {}, b"\xff\xfe", "body"),
        ("quick", {}, '"\\ud800"', "body"),
    ]:
        error, _ = await api.call("POST", START, 400, {"functionName": name}, params=params, data=data)
        assert error["parameter"] == parameter, error
    for bad_id, why in [("@x", "'@'"), ("a" * 101, "101 characters"), ("a#b", "'#'"), ("a\x01", "\\x01")]:
        error, _ = await api.call("POST", START_ID, 400, {"functionName": "quick", "instanceId": bad_id})
        assert error["parameter"] == "instanceId" and why in error["Message"], error
    await api.too_large("POST", START, {"functionName": "quick"})
    await api.too_large("POST", START_ID, {"functionName": "quick", "instanceId": new_id("big")})
    large = new_id("large")  # inputs of several MB still start
    await api.call(
        "POST",
        START_ID,
        202,
        {"functionName": "quick", "instanceId": large},
        json=json.dumps("x" * 4_000_000),
    )
    await wait_for_status(api, large, "Completed")


async def _waiting_done_and_failed(api: Conformance) -> tuple[str, str, str]:
    """Three instances: one running (waiting for an event), one completed, one failed."""
    waiting, done, failed = new_id("wait"), new_id("quick"), new_id("fails")
    await api.call("POST", START_ID, 202, {"functionName": "waiter", "instanceId": waiting})
    await api.call(
        "POST",
        START_ID,
        200,
        {"functionName": "quick", "instanceId": done},
        params={"timeout": "20", "pollingInterval": "0.2"},
    )
    await api.call(
        "POST",
        START_ID,
        500,
        {"functionName": "fails", "instanceId": failed},
        params={"timeout": "20", "pollingInterval": "0.2"},
    )
    await wait_for_status(api, waiting, "Running")
    return waiting, done, failed


async def test_reading_status_answers_as_documented(api: Conformance) -> None:
    waiting, done, failed = await _waiting_done_and_failed(api)
    await api.call("GET", INSTANCE, 202, {"instanceId": waiting})
    status, _ = await api.call(
        "GET",
        INSTANCE,
        200,
        {"instanceId": done},
        params={"showHistory": "true", "showHistoryOutput": "true"},
    )
    assert status["output"] == {"quick": None} and status["historyEvents"]
    await api.call("GET", INSTANCE, 200, {"instanceId": failed})
    await api.call(
        "GET", INSTANCE, 500, {"instanceId": failed}, params={"returnInternalServerErrorOnFailure": "true"}
    )
    unknown = new_id("unknown")
    error, _ = await api.call("GET", INSTANCE, 404, {"instanceId": unknown})
    assert error["parameter"] == "instanceId" and unknown in error["Message"]
    error, _ = await api.call("GET", INSTANCE, 400, {"instanceId": done}, params={"showHistory": "yes"})
    assert error["parameter"] == "showHistory"
    error, _ = await api.call("GET", INSTANCE, 400, {"instanceId": "a" * 257})
    assert error["parameter"] == "instanceId" and error["limit"] == 256


async def test_the_sdk_reads_the_404_body_as_no_instance(api: Conformance) -> None:
    """client.get_status() of an unknown id: a falsy status, as before the 404 had a body."""
    async with api.http.get(f"{api.base_url}/api/sdk_status/{new_id('unknown')}") as response:
        assert response.status == 200, await response.text()
        assert await response.json() == {
            "truthy": False,
            "instanceId": None,
            "runtimeStatus": None,
            "createdTime": None,
        }


async def test_listing_answers_as_documented(api: Conformance) -> None:
    for _ in range(2):
        await api.call("POST", START, 202, {"functionName": "quick"})
    page, headers = await api.call("GET", INSTANCES, 200, params={"top": "1"})
    assert len(page) == 1
    token = headers["x-ms-continuation-token"]
    await api.call("GET", INSTANCES, 200, params={"top": "1"}, headers={"x-ms-continuation-token": token})
    await api.call(
        "GET", INSTANCES + "/", 200, params={"runtimeStatus": "Completed,Running", "showInput": "false"}
    )
    for params, headers, parameter in [
        ({"top": "0"}, {}, "top"),
        ({"top": str(MAX_PAGE_SIZE + 1)}, {}, "top"),
        ({"runtimeStatus": "Sleeping"}, {}, "runtimeStatus"),
        ({"createdTimeFrom": "yesterday"}, {}, "createdTimeFrom"),
        ({"createdTimeFrom": "0001-01-01T00:00:00+14:00"}, {}, "createdTimeFrom"),
        (
            {"createdTimeFrom": "2024-02-01T00:00:00Z", "createdTimeTo": "2024-01-01T00:00:00Z"},
            {},
            "createdTimeTo",
        ),
        ({}, {"x-ms-continuation-token": "not-a-token"}, "x-ms-continuation-token"),
    ]:
        error, _ = await api.call("GET", INSTANCES, 400, params=params, headers=headers)
        assert error["parameter"] == parameter, error
        if parameter == "top":
            assert error["limit"] == MAX_PAGE_SIZE
    _, headers = await api.call("GET", INSTANCES, 200, params={"top": "1", "order": "newest"})
    await api.call(
        "GET",
        INSTANCES,
        400,
        params={"order": "oldest"},
        headers={"x-ms-continuation-token": headers["x-ms-continuation-token"]},
    )
    counts, _ = await api.call("GET", f"{P}/counts", 200, params={"customStatusContains": "x"})
    assert counts["total"] == sum(n for status, n in counts.items() if status != "total")
    error, _ = await api.call("GET", f"{P}/counts", 400, params={"runtimeStatus": "Sleeping"})
    assert error["parameter"] == "runtimeStatus"
    functions, _ = await api.call("GET", f"{P}/functions", 200)
    assert "quick" in functions["orchestrators"]
    chart, _ = await api.call("GET", f"{P}/histogram", 200, params={"buckets": "6"})
    assert len(chart["counts"]) == 6 and sum(chart["counts"]) == chart["total"] >= 2
    error, _ = await api.call("GET", f"{P}/histogram", 400, params={"buckets": "500"})
    assert error["parameter"] == "buckets"


async def test_jobs_answer_as_documented(api: Conformance) -> None:
    jobs, job_path = f"{P}/jobs", f"{P}/jobs/{{jobId}}"
    none = {"operation": "suspend", "instanceIdPrefix": new_id("nothing")}
    dry, _ = await api.call("POST", jobs, 200, params={**none, "dryRun": "true"})
    assert dry == {"operation": "suspend", "matched": 0, "instances": []}
    job, headers = await api.call("POST", jobs, 202, params={**none, "reason": "conformance"})
    assert headers["Location"].endswith(f"/jobs/{job['id']}")
    error, _ = await api.call("POST", jobs, 400, params={"operation": "explode"})
    assert error["parameter"] == "operation"
    listed, _ = await api.call("GET", jobs, 200)
    assert job["id"] in [j["id"] for j in listed]
    error, _ = await api.call("GET", jobs, 400, params={"taskHub": "OtherHub"})
    assert error["parameter"] == "taskHub"
    await api.call("GET", job_path, 200, {"jobId": job["id"]})
    await api.call("GET", job_path, 404, {"jobId": "no-such-job"})
    await api.call("GET", job_path, 400, {"jobId": job["id"]}, params={"taskHub": "OtherHub"})
    cancel = f"{job_path}/cancel"
    await api.call("POST", cancel, 202, {"jobId": job["id"]})
    await api.call("POST", cancel, 404, {"jobId": "no-such-job"})
    await api.call("POST", cancel, 400, {"jobId": job["id"]}, params={"taskHub": "OtherHub"})


async def test_instance_operations_answer_as_documented(api: Conformance) -> None:
    waiting, done, failed = await _waiting_done_and_failed(api)
    unknown, entity = new_id("unknown"), "@counter@k"
    for action in ("suspend", "resume"):
        template = f"{INSTANCE}/{action}"
        await api.call("POST", template, 202, {"instanceId": waiting}, params={"reason": "test"})
        await api.call("POST", template, 404, {"instanceId": unknown})
        await api.call("POST", template, 410, {"instanceId": done})
        await api.call("POST", template, 400, {"instanceId": entity})
    await api.call("POST", RAISE, 202, {"instanceId": waiting, "eventName": "Go"}, json={"go": True})
    await api.call("POST", RAISE, 404, {"instanceId": unknown, "eventName": "Go"}, json=1)
    await api.call("POST", RAISE, 410, {"instanceId": done, "eventName": "Go"}, json=1)
    error, _ = await api.call("POST", RAISE, 400, {"instanceId": waiting, "eventName": "Go"}, data="1")
    assert error["parameter"] == "Content-Type"
    error, _ = await api.call("POST", RAISE, 400, {"instanceId": waiting, "eventName": "E" * 257}, json=1)
    assert error["parameter"] == "eventName"
    await api.too_large("POST", RAISE, {"instanceId": waiting, "eventName": "Go"})
    await wait_for_status(api, waiting, "Completed")

    doomed = new_id("wait")
    await api.call("POST", START_ID, 202, {"functionName": "waiter", "instanceId": doomed})
    await api.call("POST", f"{INSTANCE}/terminate", 202, {"instanceId": doomed}, params={"reason": "test"})
    await api.call("POST", f"{INSTANCE}/terminate", 404, {"instanceId": unknown})
    await api.call("POST", f"{INSTANCE}/terminate", 410, {"instanceId": done})
    await api.call("POST", f"{INSTANCE}/terminate", 400, {"instanceId": entity})
    error, _ = await api.call(
        "POST", f"{INSTANCE}/terminate", 400, {"instanceId": done}, params={"reason": "r" * 5000}
    )
    assert error["parameter"] == "reason" and error["limit"] == 4096

    await api.call("POST", f"{INSTANCE}/rewind", 202, {"instanceId": failed})
    await api.call("POST", f"{INSTANCE}/rewind", 404, {"instanceId": unknown})
    await api.call("POST", f"{INSTANCE}/rewind", 410, {"instanceId": done})
    await api.call("POST", f"{INSTANCE}/rewind", 400, {"instanceId": entity})

    restart = f"{INSTANCE}/restart"
    links, _ = await api.call("POST", restart, 202, {"instanceId": done})
    assert links["id"] != done
    await api.call(
        "POST", restart, 200, {"instanceId": done}, params={"timeout": "20", "pollingInterval": "0.2"}
    )
    await api.call(
        "POST", restart, 500, {"instanceId": failed}, params={"timeout": "20", "pollingInterval": "0.2"}
    )
    running = new_id("wait")
    await api.call("POST", START_ID, 202, {"functionName": "waiter", "instanceId": running})
    await api.call(
        "POST", restart, 409, {"instanceId": running}, params={"restartWithNewInstanceId": "false"}
    )
    await api.call("POST", restart, 404, {"instanceId": unknown})
    error, _ = await api.call(
        "POST", restart, 400, {"instanceId": done}, params={"restartWithNewInstanceId": "1"}
    )
    assert error["parameter"] == "restartWithNewInstanceId"


async def test_purging_answers_as_documented(api: Conformance) -> None:
    done = new_id("quick")
    await api.call(
        "POST",
        START_ID,
        200,
        {"functionName": "quick", "instanceId": done},
        params={"timeout": "20", "pollingInterval": "0.2"},
    )
    deleted, _ = await api.call("DELETE", INSTANCE, 200, {"instanceId": done})
    assert deleted == {"instancesDeleted": 1}
    await api.call("DELETE", INSTANCE, 404, {"instanceId": done})
    await api.call("DELETE", INSTANCE, 400, {"instanceId": "a" * 300})
    window = {"createdTimeFrom": "2000-01-01T00:00:00Z"}
    await api.call(
        "POST",
        START_ID,
        200,
        {"functionName": "quick", "instanceId": new_id("quick")},
        params={"timeout": "20", "pollingInterval": "0.2"},
    )
    purged, _ = await api.call("DELETE", INSTANCES, 200, params={**window, "runtimeStatus": "Completed"})
    assert purged["instancesDeleted"] >= 1
    error, _ = await api.call(
        "DELETE", INSTANCES + "/", 404, params={"createdTimeFrom": "2999-01-01T00:00:00Z"}
    )
    assert error["parameter"] == "createdTimeFrom"
    for params, parameter in [
        ({}, "createdTimeFrom"),
        ({**window, "runtimeStatus": "Running"}, "runtimeStatus"),
    ]:
        error, _ = await api.call("DELETE", INSTANCES, 400, params=params)
        assert error["parameter"] == parameter


async def test_entities_answer_as_documented(api: Conformance) -> None:
    key = new_id("k")
    await api.call(
        "POST", ENTITY, 202, {"entityName": "counter", "entityKey": key}, params={"op": "add"}, json=5
    )
    error, _ = await api.call("POST", ENTITY, 400, {"entityName": "counter", "entityKey": key})
    assert error["parameter"] == "op"
    error, _ = await api.call(
        "POST", ENTITY, 400, {"entityName": "counter", "entityKey": "a#b"}, params={"op": "add"}
    )
    assert error["parameter"] == "entityKey"
    error, _ = await api.call(
        "POST", ENTITY, 404, {"entityName": "nope", "entityKey": key}, params={"op": "add"}
    )
    assert error["parameter"] == "entityName"
    error, _ = await api.call(
        "POST",
        ENTITY,
        400,
        {"entityName": "counter", "entityKey": key},
        params={"op": "add"},
        data="[[",
        headers={"Content-Type": "application/json"},
    )
    assert error["parameter"] == "body"
    await api.too_large("POST", ENTITY, {"entityName": "counter", "entityKey": key})
    await api.call("DELETE", ENTITY, 202, {"entityName": "counter", "entityKey": new_id("k")})
    await api.call("DELETE", ENTITY, 404, {"entityName": "nope", "entityKey": key})
    await api.call("DELETE", ENTITY, 400, {"entityName": "counter", "entityKey": "k" * 300})
    await api.too_large("DELETE", ENTITY, {"entityName": "counter", "entityKey": key})
    deadline = asyncio.get_running_loop().time() + TIMEOUT_S
    url = f"{api.base_url}{P}/entities/counter/{key}"
    while asyncio.get_running_loop().time() < deadline:
        async with api.http.get(url) as response:
            if response.status == 200:
                break
        await asyncio.sleep(0.2)
    state, _ = await api.call("GET", ENTITY, 200, {"entityName": "counter", "entityKey": key})
    assert state == 5
    error, _ = await api.call("GET", ENTITY, 404, {"entityName": "counter", "entityKey": new_id("none")})
    assert error["parameter"] == "entityKey"
    await api.call("GET", ENTITY, 400, {"entityName": "a@b", "entityKey": key})
    listed, _ = await api.call("GET", f"{P}/entities", 200, params={"fetchState": "true"})
    assert {"entityId": {"key": key, "name": "counter"}} in [{"entityId": e["entityId"]} for e in listed]
    await api.call("GET", f"{P}/entities" + "/", 200)
    await api.call("GET", f"{P}/entities/{{entityName}}", 200, {"entityName": "counter"}, params={"top": "5"})
    await api.call("GET", f"{P}/entities/{{entityName}}" + "/", 200, {"entityName": "counter"})
    error, _ = await api.call("GET", f"{P}/entities", 400, params={"top": "0"})
    assert error["parameter"] == "top"
    error, _ = await api.call(
        "GET",
        f"{P}/entities/{{entityName}}",
        400,
        {"entityName": "counter"},
        params={"lastOperationTimeFrom": "x"},
    )
    assert error["parameter"] == "lastOperationTimeFrom"


async def test_the_host_routes_answer_as_documented(api: Conformance) -> None:
    await api.call("GET", f"{P}/poison", 200)
    error, _ = await api.call("GET", f"{P}/poison", 400, params={"instanceId": "p" * 300})
    assert error["parameter"] == "instanceId"
    await api.call("GET", f"{P}/metrics", 200)
    await api.call("GET", f"{P}/openapi.json", 200)
    await api.call("GET", f"{P}/monitor", 200)
    await api.call("GET", f"{P}/monitor/", 200)
    await api.call("GET", "/admin/host/ping", 200)
    await api.call("POST", "/admin/host/ping", 200)
    status, _ = await api.call("GET", "/admin/host/status", 200)
    assert status["state"] == "Running"


async def test_every_documented_answer_was_seen(api: Conformance, document: dict[str, Any]) -> None:
    """Each status each operation documents was returned by one of the tests above, but those that need
    another machine or storage down (and the admin routes until they are served)."""
    missing = []
    for path, item in document["paths"].items():
        for op in _operations(item):
            for status in op["responses"]:
                pair = (op["operationId"], status)
                if status in NOT_PROVOKED or pair in SKIPPED_PAIRS or pair in api.seen:
                    continue
                if path.startswith(ADMIN_BASE) and not any(seen[0] == op["operationId"] for seen in api.seen):
                    continue  # skipped above until the admin routes are served
                missing.append(pair)
    assert not missing, f"documented but never seen: {missing}"

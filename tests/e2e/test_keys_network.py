"""Keys across a real network: the host in its own network namespace, called over a veth pair.

The host listens on the namespace's end of the pair and its storage (an Azurite of this module's own)
listens on this side's end, so every request in these tests comes from another address than the host's
and carries no forwarding header: the host sees a caller from another machine, as in production. The
keys are set as app settings in the environment, which wins over the app's ``local.settings.json``.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import ExitStack
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

import aiohttp
import pytest

from durable_ext.host.azurite import AzuriteProcess

from .conftest import serve
from .hosting import REPO_ROOT, RunningHost
from .netns import NetnsRefused, VethNamespace, unavailable, veth_namespace
from .polling import poll_status

APP = REPO_ROOT / "tests" / "e2e" / "apps" / "secured"
WEBHOOKS = "/runtime/webhooks/durabletask"

MASTER = "netns-master-key-0123456789"
HOST_KEY = "netns-host-key-0123456789"
OTHER_KEY = "netns-other-key-0123456789"
START_KEY = "netns-start-key-0123456789"
DURABLETASK_KEY = "netns-durabletask-key-0123456789"
KEYS: dict[str, str | None] = {
    "no key": None,
    "wrong key": "netns-wrong-key-0123456789",
    "master key": MASTER,
    "host key": HOST_KEY,
    "function key of other": OTHER_KEY,
    "function key of start": START_KEY,
    "durable task key": DURABLETASK_KEY,
}
MANAGEMENT_KEYS = {"master key", "durable task key"}
SETTINGS = {
    "DURABLE_EXT_MASTER_KEY": MASTER,
    "DURABLE_EXT_HOST_KEYS": HOST_KEY,
    "DURABLE_EXT_FUNCTION_KEYS": json.dumps({"other": OTHER_KEY, "start": START_KEY}),
    "DURABLE_EXT_DURABLETASK_KEY": DURABLETASK_KEY,
}
LINKS = (
    "statusQueryGetUri",
    "sendEventPostUri",
    "terminatePostUri",
    "rewindPostUri",
    "purgeHistoryDeleteUri",
    "restartPostUri",
    "suspendPostUri",
    "resumePostUri",
)


@pytest.fixture(scope="module")
def network() -> Iterator[VethNamespace]:
    stack = ExitStack()
    try:
        namespace = stack.enter_context(veth_namespace())
    except NetnsRefused as exc:
        unavailable(f"cannot make a network namespace for the keys-over-a-network test: {exc}")
    with stack:
        yield namespace


@pytest.fixture(scope="module")
async def storage(network: VethNamespace) -> AsyncIterator[str]:
    """Azurite on this side's end of the pair, the only address of this side the namespace can reach."""
    async with AzuriteProcess(host=network.outer_address) as azurite:
        yield azurite.connection_string


@pytest.fixture(scope="module")
async def host(
    network: VethNamespace, storage: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[RunningHost]:
    env = {"SECURED_HUB": "netkeys" + uuid.uuid4().hex[:10], **SETTINGS}
    async for running in serve(
        APP,
        storage,
        tmp_path_factory,
        env,
        ["--host", network.inner_address],
        launcher=network.launcher,
        address=network.inner_address,
    ):
        yield running


async def _call(
    http: aiohttp.ClientSession, method: str, url: str, key: str | None = None, *, header: bool = False
) -> tuple[int, str]:
    headers = {"x-functions-key": key} if key is not None and header else {}
    if key is not None and not header:
        url = f"{url}{'&' if '?' in url else '?'}code={key}"
    async with http.request(method, url, headers=headers) as response:
        return response.status, await response.text()


def _without_code(url: str) -> str:
    parts = urlsplit(url)
    query = {name: values for name, values in parse_qs(parts.query).items() if name != "code"}
    return urlunsplit(parts._replace(query=urlencode(query, doseq=True)))


async def test_the_host_sees_a_caller_from_another_machine(
    network: VethNamespace, host: RunningHost, http: aiohttp.ClientSession
) -> None:
    status, body = await _call(http, "GET", f"{host.base_url}/api/other")
    assert status == 401, body
    assert "x-functions-key" in body and "DURABLE_EXT_HOST_KEYS" in body
    assert f"from {network.outer_address}" in host.log(), "the refusal names the caller's real address"


@pytest.mark.parametrize(
    ("method", "path", "opened_by"),
    [
        pytest.param("GET", "/api/open", set(KEYS), id="anonymous-function"),
        pytest.param(
            "GET", "/api/other", {"master key", "host key", "function key of other"}, id="function-level"
        ),
        pytest.param("GET", "/api/admin", {"master key"}, id="admin-level"),
        pytest.param("GET", f"{WEBHOOKS}/instances", MANAGEMENT_KEYS, id="management-api"),
        pytest.param("GET", "/durabletask/instances", MANAGEMENT_KEYS, id="sdk-client-api"),
        pytest.param("GET", f"{WEBHOOKS}/monitor", {"master key"}, id="monitor"),
        pytest.param("GET", "/admin/host/status", {"master key"}, id="host-status"),
        pytest.param("GET", "/admin/host/ping", set(KEYS), id="host-ping"),
    ],
)
async def test_each_route_opens_to_its_keys_only(
    host: RunningHost, http: aiohttp.ClientSession, method: str, path: str, opened_by: set[str]
) -> None:
    answers: dict[str, int] = {}
    expected: dict[str, int] = {}
    for name, key in KEYS.items():
        for header in (False, True):
            way = f"{name} in {'x-functions-key' if header else '?code='}"
            answers[way] = (await _call(http, method, f"{host.base_url}{path}", key, header=header))[0]
            expected[way] = 200 if name in opened_by else 401
    assert answers == expected


async def test_management_api_starts_reports_and_raises_events_with_the_durable_task_key(
    host: RunningHost, http: aiohttp.ClientSession
) -> None:
    start_url = f"{host.base_url}{WEBHOOKS}/orchestrators/approval"
    assert (await _call(http, "POST", start_url))[0] == 401
    assert (await _call(http, "POST", start_url, HOST_KEY, header=True))[0] == 401
    status, body = await _call(http, "POST", start_url, DURABLETASK_KEY, header=True)
    assert status == 202, body
    instance_id = json.loads(body)["id"]

    instance_url = f"{host.base_url}{WEBHOOKS}/instances/{instance_id}"
    assert (await _call(http, "GET", instance_url))[0] == 401
    status, body = await _call(http, "GET", instance_url, DURABLETASK_KEY)
    assert status in (200, 202), body
    assert json.loads(body)["name"] == "approval"

    event_url = f"{instance_url}/raiseEvent/decision"
    async with http.post(event_url, json="yes") as response:
        assert response.status == 401
    async with http.post(f"{event_url}?code={OTHER_KEY}", json="yes") as response:
        assert response.status == 401, "a function key does not open the management API"
    async with http.post(f"{event_url}?code={MASTER}", json="yes") as response:
        assert response.status == 202, await response.text()
    final = await poll_status(http, f"{instance_url}?code={DURABLETASK_KEY}")
    assert (final["runtimeStatus"], final["output"]) == ("Completed", "decided yes")


async def _start_through_the_starter(host: RunningHost, http: aiohttp.ClientSession) -> dict[str, Any]:
    async with http.post(f"{host.base_url}/api/start/approval?code={START_KEY}") as response:
        assert response.status == 202, await response.text()
        links: dict[str, Any] = await response.json()
        assert response.headers["Location"] == links["statusQueryGetUri"]
    return links


async def test_an_http_starters_links_point_back_at_the_caller_and_carry_the_durable_task_key(
    host: RunningHost, http: aiohttp.ClientSession
) -> None:
    links = await _start_through_the_starter(host, http)
    for name in LINKS:
        url = urlsplit(links[name])
        assert (url.scheme, url.netloc) == ("http", urlsplit(host.base_url).netloc), name
        assert parse_qs(url.query)["code"] == [DURABLETASK_KEY], name
        assert MASTER not in links[name], name
    assert (await _call(http, "GET", _without_code(links["statusQueryGetUri"])))[0] == 401
    assert (await _call(http, "GET", links["statusQueryGetUri"]))[0] in (200, 202)


async def test_an_http_starters_links_work_as_given(host: RunningHost, http: aiohttp.ClientSession) -> None:
    links = await _start_through_the_starter(host, http)
    suspend = links["suspendPostUri"].replace("{text}", "hold")
    assert (await _call(http, "POST", _without_code(suspend)))[0] == 401
    assert (await _call(http, "POST", suspend))[0] == 202
    assert (await _call(http, "POST", links["resumePostUri"].replace("{text}", "go")))[0] == 202
    send = links["sendEventPostUri"].replace("{eventName}", "decision")
    async with http.post(send, json="yes") as response:
        assert response.status == 202, await response.text()
    final = await poll_status(http, links["statusQueryGetUri"])
    assert (final["runtimeStatus"], final["output"]) == ("Completed", "decided yes")

    assert (await _call(http, "DELETE", _without_code(links["purgeHistoryDeleteUri"])))[0] == 401
    status, body = await _call(http, "DELETE", links["purgeHistoryDeleteUri"])
    assert (status, json.loads(body)) == (200, {"instancesDeleted": 1})
    assert (await _call(http, "GET", links["statusQueryGetUri"]))[0] == 404

    other = await _start_through_the_starter(host, http)
    terminate = other["terminatePostUri"].replace("{text}", "stop")
    assert (await _call(http, "POST", _without_code(terminate)))[0] == 401
    assert (await _call(http, "POST", terminate))[0] == 202
    final = await poll_status(http, other["statusQueryGetUri"])
    assert final["runtimeStatus"] == "Terminated"

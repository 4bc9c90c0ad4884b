"""Keys end to end: a host bound to every address, callers from this machine and from 'outside'.

A request that a proxy forwarded (``X-Forwarded-For``) is not from this machine, so the tests reach the
remote-caller rules through the loopback port the same way a reverse proxy in front of the host would.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import aiohttp
import pytest

from .conftest import serve
from .hosting import REPO_ROOT, RunningHost
from .polling import poll_status

APP = REPO_ROOT / "tests" / "e2e" / "apps" / "secured"
MASTER = "master-key-0123456789abcdef"
HOST_KEY = "host-key-0123456789abcdef"
START_KEY = "start-key-0123456789abcdef"
REMOTE = {"X-Forwarded-For": "203.0.113.7"}
WEBHOOKS = "/runtime/webhooks/durabletask"


@pytest.fixture(scope="module")
async def host(
    connection_string: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[RunningHost]:
    env = {"SECURED_HUB": "keys" + uuid.uuid4().hex[:10]}
    async for running in serve(APP, connection_string, tmp_path_factory, env, ["--host", "0.0.0.0"]):
        yield running


async def _status(
    http: aiohttp.ClientSession, method: str, url: str, headers: dict[str, str] | None = None
) -> tuple[int, str]:
    async with http.request(method, url, headers=headers) as response:
        return response.status, await response.text()


async def test_callers_on_this_machine_need_no_key(host: RunningHost, http: aiohttp.ClientSession) -> None:
    assert (await _status(http, "GET", f"{host.base_url}/api/other"))[0] == 200
    assert (await _status(http, "GET", f"{host.base_url}/api/admin"))[0] == 200
    assert (await _status(http, "GET", f"{host.base_url}{WEBHOOKS}/instances"))[0] == 200


async def test_anonymous_functions_are_open_to_everyone(
    host: RunningHost, http: aiohttp.ClientSession
) -> None:
    status, body = await _status(http, "GET", f"{host.base_url}/api/open", REMOTE)
    assert (status, body) == (200, "anyone")


async def test_function_level_needs_its_key_a_host_key_or_the_master_key(
    host: RunningHost, http: aiohttp.ClientSession
) -> None:
    url = f"{host.base_url}/api/other"
    status, body = await _status(http, "GET", url, REMOTE)
    assert status == 401
    assert "DURABLE_EXT_HOST_KEYS" in body and "x-functions-key" in body
    assert (await _status(http, "GET", f"{url}?code={HOST_KEY}", REMOTE))[0] == 200
    assert (await _status(http, "GET", url, {**REMOTE, "x-functions-key": MASTER}))[0] == 200
    status, body = await _status(http, "GET", f"{url}?code={START_KEY}", REMOTE)
    assert status == 401, "a function key opens its own function only"
    assert "does not open" in body


async def test_admin_level_needs_the_master_key(host: RunningHost, http: aiohttp.ClientSession) -> None:
    url = f"{host.base_url}/api/admin"
    assert (await _status(http, "GET", f"{url}?code={HOST_KEY}", REMOTE))[0] == 401
    assert (await _status(http, "GET", f"{url}?code={MASTER}", REMOTE)) == (200, "admins")


async def test_management_api_needs_a_key_and_the_links_carry_one(
    host: RunningHost, http: aiohttp.ClientSession
) -> None:
    status, body = await _status(http, "GET", f"{host.base_url}{WEBHOOKS}/instances", REMOTE)
    assert status == 401 and "DURABLE_EXT_MASTER_KEY" in body
    rpc = await _status(http, "GET", f"{host.base_url}/durabletask/instances", REMOTE)
    assert rpc[0] == 401, "the SDK client's base is the same API and is guarded the same way"
    assert (await _status(http, "GET", f"{host.base_url}{WEBHOOKS}/instances?code={HOST_KEY}", REMOTE))[
        0
    ] == 401

    async with http.post(f"{host.base_url}/api/start/greet?code={START_KEY}", headers=REMOTE) as response:
        assert response.status == 202
        links = await response.json()
    status_url = links["statusQueryGetUri"]
    assert "code=" in status_url and MASTER not in status_url, "links carry the durable task key only"
    async with http.get(status_url, headers=REMOTE) as response:
        assert response.status in (200, 202)
    final = await poll_status(http, status_url)
    assert final["output"] == "Hello keys!"

    system_key = status_url.split("code=", 1)[1].split("&", 1)[0]
    monitor = f"{host.base_url}{WEBHOOKS}/monitor?code={system_key}"
    assert (await _status(http, "GET", monitor, REMOTE))[0] == 401, "the monitor needs the master key"
    status, page = await _status(http, "GET", f"{host.base_url}{WEBHOOKS}/monitor?code={MASTER}", REMOTE)
    assert status == 200 and "durable-ext" in page and "<script>" in page


async def test_the_monitor_is_open_on_this_machine(host: RunningHost, http: aiohttp.ClientSession) -> None:
    async with http.get(f"{host.base_url}{WEBHOOKS}/monitor") as response:
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("text/html")
        assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
        assert "/*SCRIPT*/" not in await response.text(), "the script is inlined"

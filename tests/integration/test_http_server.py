"""A real SDK app's HTTP functions served by HttpServer and driven over real HTTP."""

from __future__ import annotations

import json
import logging
import threading
import uuid
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import azure.durable_functions as df
import azure.functions as func
import pytest
import pytest_asyncio
from aiohttp import web

from bindings.base import FunctionInfo, InvocationContext
from bindings.http import HttpOutputBindingProvider, HttpTriggerBindingProvider
from bindings.registry import BindingRegistry
from durable_ext.errors import ConfigurationError
from durable_ext.host.http_server import HttpRouter, HttpServer


def _build_app() -> df.DFApp:
    app = df.DFApp(http_auth_level=func.AuthLevel.ANONYMOUS)

    @app.route(route="hello/{name}/{id?}", methods=["GET"])
    def hello(req: func.HttpRequest) -> func.HttpResponse:
        payload = {
            "route": dict(req.route_params),
            "query": dict(req.params),
            "url": req.url,
            "method": req.method,
            "header": req.headers.get("x-custom"),
            "on_main_thread": threading.current_thread() is threading.main_thread(),
        }
        return func.HttpResponse(json.dumps(payload), mimetype="application/json")

    @app.route(route="echo", methods=["post"])
    async def echo(req: func.HttpRequest) -> func.HttpResponse:
        return func.HttpResponse(
            req.get_body(),
            status_code=201,
            headers={"X-Echo": "yes", "X-Length": str(len(req.get_body()))},
            mimetype="application/octet-stream",
        )

    @app.route(route="boom")
    def boom(req: func.HttpRequest) -> str:
        raise ValueError("kaput")

    @app.route(route="text")
    async def text(req: func.HttpRequest) -> str:
        return "plain words"

    @app.route(route="data")
    def data(req: func.HttpRequest) -> dict[str, Any]:
        return {"items": [1, 2, 3]}

    @app.route(route="nothing")
    def nothing(req: func.HttpRequest) -> None:
        return None

    @app.route(route="weird")
    def weird(req: func.HttpRequest) -> object:
        return object()

    @app.route(route="ctx")
    def with_context(req: func.HttpRequest, context: func.Context) -> dict[str, Any]:
        return {
            "invocation_id": context.invocation_id,
            "function_name": context.function_name,
            "thread_invocation_id": context.thread_local_storage.invocation_id,
            "trace_parent": context.trace_context.trace_parent,
        }

    @app.orchestration_trigger(context_name="context")
    def orchestrator(context: df.DurableOrchestrationContext) -> Any:
        return None

    return app


def _functions() -> list[FunctionInfo]:
    return [FunctionInfo.from_function(fn) for fn in _build_app().get_functions()]


class Served:
    def __init__(self, server: HttpServer, session: aiohttp.ClientSession) -> None:
        self.server = server
        self.session = session

    def url(self, path: str) -> str:
        return f"{self.server.base_url}{path}"


@pytest_asyncio.fixture(scope="module")
async def served() -> AsyncIterator[Served]:
    router = HttpRouter("api")
    built = BindingRegistry(
        [HttpTriggerBindingProvider(router)], [], output_providers=[HttpOutputBindingProvider()]
    ).build(_functions())
    listeners = [binding.create_listener(invoker) for binding, invoker in built]
    for listener in listeners:
        await listener.start()
    server = HttpServer(router, port=0)
    await server.start()
    async with aiohttp.ClientSession() as session:
        yield Served(server, session)
    await server.stop()
    for listener in listeners:
        await listener.stop()


async def test_server_discovers_its_port(served: Served) -> None:
    assert served.server.port != 0
    assert served.server.base_url == f"http://127.0.0.1:{served.server.port}"


async def test_route_query_and_headers_reach_a_sync_function(served: Served) -> None:
    url = served.url("/api/hello/ada/7?x=1&tag=a&tag=b")
    async with served.session.get(url, headers={"X-Custom": "yes"}) as response:
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("application/json")
        body = await response.json()
    assert body["route"] == {"name": "ada", "id": "7"}
    assert body["query"] == {"x": "1", "tag": "a,b"}
    assert body["url"] == url
    assert body["method"] == "GET"
    assert body["header"] == "yes"
    assert body["on_main_thread"] is False


async def test_optional_route_parameter_may_be_absent(served: Served) -> None:
    async with served.session.get(served.url("/api/HELLO/bob")) as response:
        assert response.status == 200
        body = await response.json()
    assert body["route"] == {"name": "bob"}


async def test_async_function_gets_the_body_and_sets_status_and_headers(served: Served) -> None:
    payload = b"\x00binary\xff" * 10
    async with served.session.post(served.url("/api/echo"), data=payload) as response:
        assert response.status == 201
        assert response.headers["X-Echo"] == "yes"
        assert response.headers["Content-Type"].startswith("application/octet-stream")
        assert await response.read() == payload


async def test_two_megabyte_body_is_accepted(served: Served) -> None:
    payload = b"x" * (2 * 1024 * 1024)
    async with served.session.post(served.url("/api/echo"), data=payload) as response:
        assert response.status == 201
        assert response.headers["X-Length"] == str(len(payload))


async def test_str_dict_and_none_results(served: Served) -> None:
    async with served.session.get(served.url("/api/text")) as response:
        assert (response.status, await response.text()) == (200, "plain words")
        assert response.headers["Content-Type"].startswith("text/plain")
    async with served.session.get(served.url("/api/data")) as response:
        assert (response.status, await response.json()) == (200, {"items": [1, 2, 3]})
    async with served.session.get(served.url("/api/nothing")) as response:
        assert (response.status, await response.read()) == (204, b"")


async def test_unsupported_result_type_is_a_500_naming_function_and_type(served: Served) -> None:
    async with served.session.get(served.url("/api/weird")) as response:
        assert response.status == 500
        message = (await response.json())["error"]
    assert "'weird'" in message
    assert "object" in message


async def test_context_parameter_is_filled(served: Served) -> None:
    async with served.session.get(served.url("/api/ctx")) as response:
        assert response.status == 200
        body = await response.json()
    assert str(uuid.UUID(body["invocation_id"])) == body["invocation_id"]
    assert body["function_name"] == "with_context"
    assert body["thread_invocation_id"] == body["invocation_id"]
    assert body["trace_parent"].startswith("00-")


async def test_exception_is_a_500_and_the_server_keeps_serving(
    served: Served, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="durable_ext.http"):
        async with served.session.get(served.url("/api/boom")) as response:
            assert response.status == 500
            message = (await response.json())["error"]
    assert message == "Function 'boom' failed: ValueError: kaput"
    assert "Traceback" not in message
    logged = [r for r in caplog.records if r.name == "durable_ext.http" and "boom" in r.getMessage()]
    assert logged and logged[0].exc_info is not None
    async with served.session.get(served.url("/api/text")) as response:
        assert response.status == 200


async def test_unknown_route_is_404(served: Served) -> None:
    async with served.session.get(served.url("/api/missing")) as response:
        assert response.status == 404
        assert "/api/missing" in (await response.json())["error"]
    async with served.session.get(served.url("/text")) as response:
        assert response.status == 404


async def test_wrong_method_is_405_with_allow_header(served: Served) -> None:
    async with served.session.get(served.url("/api/echo")) as response:
        assert response.status == 405
        assert response.headers["Allow"] == "POST"


async def test_orchestration_trigger_is_skipped_with_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    registry = BindingRegistry(
        [HttpTriggerBindingProvider(HttpRouter())], [], output_providers=[HttpOutputBindingProvider()]
    )
    with caplog.at_level(logging.WARNING, logger="durable_ext.bindings"):
        built = registry.build(_functions())
    names = {binding.function.name for binding, _ in built}
    assert "orchestrator" not in names
    assert {"hello", "echo", "boom"} <= names
    warnings = [r.getMessage() for r in caplog.records if r.name == "durable_ext.bindings"]
    assert len(warnings) == 1
    assert "'orchestrator'" in warnings[0]
    assert "orchestrationTrigger" in warnings[0]
    assert "httpTrigger" in warnings[0]


async def test_port_in_use_names_the_port_and_the_fix(served: Served) -> None:
    taken = served.server.port
    second = HttpServer(HttpRouter(), port=taken)
    with pytest.raises(ConfigurationError, match=rf"Port {taken}.*--port"):
        await second.start()


async def test_management_routes_are_matched_before_function_routes() -> None:
    async def status(request: web.Request) -> web.Response:
        return web.json_response({"id": request.match_info["id"]})

    router = HttpRouter("")
    management = web.Application()
    management.add_routes([web.get("/instances/{id}", status)])
    server = HttpServer(router, port=0)
    server.add_subapp("/runtime/webhooks/durabletask", management)
    server.add_routes([web.get("/durabletask/instances/{id}", status)])
    await server.start()
    try:
        async with aiohttp.ClientSession() as session:
            for path in ("/runtime/webhooks/durabletask/instances/abc", "/durabletask/instances/abc"):
                async with session.get(f"{server.base_url}{path}") as response:
                    assert (response.status, await response.json()) == (200, {"id": "abc"})
            async with session.get(f"{server.base_url}/runtime/webhooks/durabletask/other") as response:
                assert response.status == 404
        with pytest.raises(RuntimeError, match="already started"):
            server.add_routes([web.get("/late", status)])
    finally:
        await server.stop()


class _FakeClientInput:
    """A stand-in ``durableClient`` input binding: the client JSON the SDK wrapper expects."""

    def __init__(self, parameter_name: str) -> None:
        self.parameter_name = parameter_name

    def value(self, invocation: InvocationContext) -> Any:
        urls = {"createNewInstancePostUri": "x", "createAndWaitOnNewInstancePostUri": "x"}
        return json.dumps({"taskHubName": "FakeHub", "creationUrls": urls, "managementUrls": {}})


class _FakeClientProvider:
    binding_type = "durableClient"

    def create_input(self, function: FunctionInfo, binding: dict[str, Any]) -> _FakeClientInput:
        return _FakeClientInput(binding["name"])


def _client_functions() -> list[FunctionInfo]:
    app = df.DFApp(http_auth_level=func.AuthLevel.ANONYMOUS)

    @app.route(route="start")
    @app.durable_client_input(client_name="client")
    async def start(
        req: func.HttpRequest, client: df.DurableOrchestrationClient, context: func.Context
    ) -> str:
        return f"{type(client).__name__} {context.function_name}"

    @app.route(route="blob")
    @app.blob_input(arg_name="doc", path="docs/a.txt", connection="Storage")
    def with_blob(req: func.HttpRequest, doc: str) -> str:
        return doc

    return [FunctionInfo.from_function(fn) for fn in app.get_functions()]


async def test_durable_client_wrapper_gets_its_input_and_context(caplog: pytest.LogCaptureFixture) -> None:
    router = HttpRouter()
    registry = BindingRegistry(
        [HttpTriggerBindingProvider(router)],
        [_FakeClientProvider()],
        output_providers=[HttpOutputBindingProvider()],
    )
    with caplog.at_level(logging.WARNING, logger="durable_ext.bindings"):
        built = registry.build(_client_functions())
    assert [binding.function.name for binding, _ in built] == ["start"]
    skipped = [r.getMessage() for r in caplog.records if r.name == "durable_ext.bindings"]
    assert len(skipped) == 1 and "'with_blob'" in skipped[0] and "'blob'" in skipped[0]
    _, invoker = built[0]
    request = func.HttpRequest("GET", "http://localhost/api/start", body=b"")
    invocation = InvocationContext(str(uuid.uuid4()), "start", extras={"request": request})
    assert await invoker.invoke(request, invocation) == "DurableOrchestrationClient start"

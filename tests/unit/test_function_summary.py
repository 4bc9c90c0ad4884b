"""The start-up banner's function list: every kind of function, grouped, with what fires it."""

from __future__ import annotations

from typing import Any

from bindings.base import FunctionInfo
from bindings.http import FunctionRoute
from durable_ext.errors import ConfigurationError
from durable_ext.host.function_summary import function_lines

BASE = "http://127.0.0.1:7071"


def info(name: str, trigger_type: str, **trigger: Any) -> FunctionInfo:
    binding = {"type": trigger_type, "name": "t", **trigger}
    return FunctionInfo(name, trigger_type, binding, (binding,), None)


async def handler(_: Any) -> Any:
    return None


def resolve(text: str) -> str:
    if text == "%MISSING%":
        raise ConfigurationError("not set")
    return text.replace("%NIGHTLY%", "0 0 3 * * *")


def test_every_kind_grouped_and_sorted() -> None:
    functions = [
        info("starter", "httpTrigger"),
        info("zeta", "activityTrigger"),
        info("counter", "entityTrigger"),
        info("nightly", "timerTrigger", schedule="%NIGHTLY%"),
        info("every_minute", "timerTrigger", schedule="0 * * * * *"),
        info("orders", "queueTrigger", queueName="orders"),
        info("uploads", "blobTrigger", path="uploads/{name}"),
        info("main", "orchestrationTrigger"),
        info("alpha", "activityTrigger"),
        info("broken", "timerTrigger", schedule="%MISSING%"),
    ]
    routes = [
        (
            FunctionRoute("starter", "orchestrators/{name}", frozenset({"POST", "GET"}), handler),
            "api/o/{name}",
        ),
        (FunctionRoute("any", "any", frozenset(), handler), "api/any"),
    ]
    assert function_lines(functions, routes, BASE, resolve) == [
        "Functions:",
        f"  starter: [GET,POST] {BASE}/api/o/{{name}}",
        f"  any: [ALL] {BASE}/api/any",
        "  main: orchestrationTrigger",
        "  alpha: activityTrigger",
        "  zeta: activityTrigger",
        "  counter: entityTrigger",
        "  uploads: blobTrigger (path uploads/{name})",
        "  orders: queueTrigger (queue orders)",
        "  broken: timerTrigger (schedule %MISSING%)",
        "  every_minute: timerTrigger (schedule 0 * * * * *)",
        "  nightly: timerTrigger (schedule %NIGHTLY% = 0 0 3 * * *)",
    ]


def test_an_app_with_nothing_loaded_says_so() -> None:
    assert function_lines([], [], BASE, resolve) == ["Functions: none loaded"]

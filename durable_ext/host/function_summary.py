"""The start-up list of loaded functions, grouped by kind, in the style of Core Tools' ``Functions:``.

Functions:
  http_start: [POST] http://127.0.0.1:7071/api/orchestrators/{functionName}
  hello_cities: orchestrationTrigger
  say_hello: activityTrigger
  counter: entityTrigger
  nightly_cleanup: timerTrigger (schedule 0 0 3 * * *)
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

from bindings.base import FunctionInfo
from bindings.http import FunctionRoute

from ..errors import ConfigurationError

Resolve = Callable[[str], str]

HTTP_TRIGGER = "httpTrigger"
DURABLE_KINDS = ("orchestrationTrigger", "activityTrigger", "entityTrigger")
DETAILS = {  # trigger type -> (binding key, label)
    "timerTrigger": ("schedule", "schedule"),
    "queueTrigger": ("queueName", "queue"),
    "blobTrigger": ("path", "path"),
}


def function_lines(
    functions: Sequence[FunctionInfo],
    routes: Iterable[tuple[FunctionRoute, str]],
    base_url: str,
    resolve: Resolve,
) -> list[str]:
    """``Functions:`` and one indented line per function: HTTP routes with their methods and URL, then
    orchestrators, activities, entities, then every other trigger with its schedule, queue or path."""
    lines = [
        f"  {route.function_name}: [{','.join(sorted(route.methods)) or 'ALL'}] {base_url}/{template}"
        for route, template in routes
    ]
    others = sorted((f for f in functions if f.trigger_type != HTTP_TRIGGER), key=_kind_then_name)
    lines += [f"  {f.name}: {f.trigger_type}{_detail(f, resolve)}" for f in others]
    return ["Functions:", *lines] if lines else ["Functions: none loaded"]


def _kind_then_name(function: FunctionInfo) -> tuple[int, str, str]:
    kind = function.trigger_type
    rank = DURABLE_KINDS.index(kind) if kind in DURABLE_KINDS else len(DURABLE_KINDS)
    return rank, kind, function.name


def _detail(function: FunctionInfo, resolve: Resolve) -> str:
    """`` (schedule 0 */5 * * * *)``: what fires the trigger, ``%Setting%`` references resolved."""
    if function.trigger_type not in DETAILS:
        return ""
    key, label = DETAILS[function.trigger_type]
    raw = function.trigger.get(key)
    if not isinstance(raw, str) or not raw:
        return ""
    try:
        value = resolve(raw)
    except ConfigurationError:
        value = raw
    shown = value if value == raw else f"{raw} = {value}"
    return f" ({label} {shown})"

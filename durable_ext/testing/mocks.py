"""Activity and sub-orchestrator mocks: the app's handler swapped for a stand-in in the function registry.

The engine looks each durable function up by name in the extension's
:class:`~durable_ext.extension.functions.FunctionRegistry` whenever it runs one, so a mock is that
registry's entry replaced, and removing it puts the app's own handler back. Everything around it (the
SDK's replay, the engine, the provider) stays real, on every storage provider.

A mock's behaviour is ``fn_or_value``: a callable is called with the function's decoded input (sync or
``async``; a sync one runs in a thread, as activities do) and what it returns is the result; an
exception instance or class is raised, so the activity or sub-orchestration fails; anything else is
the result as it is.
"""

from __future__ import annotations

import asyncio
import inspect
import json
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

from ..extension.functions import ActivityHandler, FunctionRegistry, OrchestratorHandler
from .status import unwrapped

ACTIVITY = "activity"
SUB_ORCHESTRATOR = "sub-orchestrator"

Behaviour = Callable[[Any], Coroutine[Any, Any, Any]]


class UnknownFunctionError(LookupError):
    """A mock names a function the app does not define."""


@dataclass
class Mock:
    """The record of one mock: the inputs it was called with, in order."""

    name: str
    kind: str
    calls: list[Any] = field(default_factory=list)

    @property
    def call_count(self) -> int:
        return len(self.calls)

    def __repr__(self) -> str:
        return f"Mock({self.kind} {self.name!r}, {self.call_count} call(s))"


def behaviour(name: str, kind: str, fn_or_value: Any) -> Behaviour:
    """What the mock does with an input: call, raise or return (see the module's docstring)."""
    if isinstance(fn_or_value, BaseException):
        failure = fn_or_value

        async def fail(_: Any) -> Any:
            raise failure.with_traceback(None)  # raised again on each call: no traceback piles up

        return fail
    if isinstance(fn_or_value, type) and issubclass(fn_or_value, BaseException):
        exception_type = fn_or_value

        async def fail_with_type(_: Any) -> Any:
            raise _instance(exception_type, f"the mock of {kind} '{name}' raised {exception_type.__name__}")

        return fail_with_type
    if callable(fn_or_value):
        function = fn_or_value

        async def call(argument: Any) -> Any:
            if inspect.iscoroutinefunction(function):
                result = await function(argument)
            else:
                result = await asyncio.to_thread(function, argument)
            return await result if inspect.isawaitable(result) else result

        return call
    value = fn_or_value

    async def give(_: Any) -> Any:
        return value

    return give


def _instance(exception_type: type[BaseException], message: str) -> BaseException:
    try:
        return exception_type(message)
    except TypeError:  # an exception type whose constructor wants other arguments
        return exception_type()


def activity_handler(mock: Mock, act: Behaviour) -> ActivityHandler:
    """An activity handler (decoded input in, result out) that records each call."""

    async def run(argument: Any) -> Any:
        mock.calls.append(argument)
        return await act(argument)

    return run


def orchestrator_handler(mock: Mock, act: Behaviour) -> OrchestratorHandler:
    """An orchestrator handler in the SDK's shape (context JSON in, state JSON out) that completes the
    instance in its first episode with what the mock gives, or fails it with what the mock raises."""

    def handle(context_json: str) -> str:
        context = json.loads(context_json)
        argument = unwrapped(context.get("input"))
        mock.calls.append(argument)
        output = asyncio.run(act(argument))  # runs in the orchestrator thread pool, off the host's loop
        try:
            return json.dumps({"isDone": True, "actions": [], "output": output, "schemaVersion": 0})
        except (TypeError, ValueError) as exc:
            raise TypeError(
                f"The mock of {SUB_ORCHESTRATOR} '{mock.name}' returned {type(output).__name__}, which is "
                f"not a JSON value ({exc}). Return a JSON value (dict, list, str, number, bool or None)."
            ) from exc

    return handle


class Mocks:
    """The mocks in place on one app's function registry, and the app's handlers they replaced."""

    def __init__(self, registry: Callable[[], FunctionRegistry]) -> None:
        self._registry = registry
        self._replaced: dict[tuple[str, str], tuple[str, Any]] = {}

    def activity(self, name: str, fn_or_value: Any) -> Mock:
        table = self._registry().activities
        mock = Mock(self._known(table, ACTIVITY, name), ACTIVITY)
        self._swap(table, ACTIVITY, mock, activity_handler(mock, behaviour(mock.name, ACTIVITY, fn_or_value)))
        return mock

    def sub_orchestrator(self, name: str, fn_or_value: Any) -> Mock:
        table = self._registry().orchestrators
        mock = Mock(self._known(table, SUB_ORCHESTRATOR, name), SUB_ORCHESTRATOR)
        act = behaviour(mock.name, SUB_ORCHESTRATOR, fn_or_value)
        self._swap(table, SUB_ORCHESTRATOR, mock, orchestrator_handler(mock, act))
        return mock

    def reset(self) -> None:
        """Put the app's own handlers back."""
        registry = self._registry()
        for (kind, key), entry in self._replaced.items():
            table = registry.activities if kind == ACTIVITY else registry.orchestrators
            table[key] = entry
        self._replaced.clear()

    def _known(self, table: dict[str, tuple[str, Any]], kind: str, name: str) -> str:
        entry = table.get(name.lower())
        if entry is not None:
            return entry[0]
        functions = "activities" if kind == ACTIVITY else "orchestrators"
        defined = ", ".join(sorted(registered for registered, _ in table.values())) or "none"
        raise UnknownFunctionError(
            f"Cannot mock {kind} '{name}': the app defines no {kind.replace('sub-', '')} function by that "
            f"name. Its {functions}: {defined}.{self._registry().why_not_loaded(name)}"
        )

    def _swap(self, table: dict[str, tuple[str, Any]], kind: str, mock: Mock, handler: Any) -> None:
        key = mock.name.lower()
        self._replaced.setdefault((kind, key), table[key])  # the app's own, even when mocked twice
        table[key] = (mock.name, handler)

"""The seam between a discovered function and the engine.

A *binding provider* is keyed by a binding type string (``orchestrationTrigger``, ``httpTrigger``,
``durableClient`` ...). For a function whose trigger has that type it creates a :class:`TriggerBinding`,
whose listener connects the function to whatever fires it (the durable engine, the HTTP router). For a
non-trigger input binding of that type it creates an :class:`InputBinding`, which produces the keyword
argument value passed to the user function on each invocation.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Protocol

from azure.functions.decorators.function_app import Function


@dataclass(frozen=True)
class FunctionInfo:
    """What the host knows about one function of the app, independent of the SDK's builder objects."""

    name: str
    """The function name (``@app.function_name`` or the Python function's name)."""
    trigger_type: str
    trigger: dict[str, Any]
    """The trigger's binding entry, as in function.json (plain JSON values)."""
    bindings: tuple[dict[str, Any], ...]
    """Every binding entry of the function, the trigger included."""
    user_function: Any
    """The callable the SDK returns for this function (a wrapper for durable triggers and clients)."""

    @classmethod
    def from_function(cls, fn: Function) -> FunctionInfo:
        bindings = tuple(json.loads(raw) for raw in fn.get_raw_bindings())
        declared = fn.get_trigger()
        name = str(fn.get_function_name() or getattr(fn.get_user_function(), "__name__", "?"))
        if declared is None:
            raise ValueError(f"Function '{name}' has no trigger; decorate it with exactly one trigger.")
        trigger_name, trigger_type = declared.name, str(declared.type)
        trigger = next(
            (b for b in bindings if b.get("name") == trigger_name and b.get("type") == trigger_type),
            {"type": trigger_type, "name": trigger_name},
        )
        return cls(
            name=name,
            trigger_type=trigger_type,
            trigger=trigger,
            bindings=bindings,
            user_function=fn.get_user_function(),
        )

    def input_bindings(self) -> list[dict[str, Any]]:
        """The non-trigger bindings whose direction is IN."""
        return [
            b for b in self.bindings if b is not self.trigger and str(b.get("direction", "")).upper() == "IN"
        ]


class Listener(Protocol):
    """Connects a trigger to its source; started once when the host starts, stopped on shutdown."""

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


class TriggerBinding(Protocol):
    function: FunctionInfo

    def create_listener(self, invoker: FunctionInvoker) -> Listener: ...


class InputBinding(Protocol):
    """Produces the value of one input binding for one invocation."""

    parameter_name: str

    def value(self, invocation: InvocationContext) -> Any: ...


class TriggerBindingProvider(Protocol):
    binding_type: str

    def create_trigger(self, function: FunctionInfo) -> TriggerBinding: ...


class InputBindingProvider(Protocol):
    binding_type: str
    """The ``type`` it handles; a provider may also list older names of it in ``binding_aliases``."""

    def create_input(self, function: FunctionInfo, binding: dict[str, Any]) -> InputBinding: ...


@dataclass
class InvocationContext:
    """Per-invocation facts input bindings may use (the request origin for client URLs, ids)."""

    invocation_id: str
    function_name: str
    extras: dict[str, Any] = field(default_factory=dict)


class FunctionInvoker(Protocol):
    """Calls a user function with its trigger value plus every input binding's value."""

    function: FunctionInfo

    async def invoke(self, trigger_value: Any, invocation: InvocationContext) -> Any: ...

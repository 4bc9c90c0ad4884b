"""The seam between a discovered function and the engine.

A *binding provider* is keyed by a binding type string (``orchestrationTrigger``, ``httpTrigger``,
``durableClient`` ...). For a function whose trigger has that type it creates a :class:`TriggerBinding`,
whose listener connects the function to whatever fires it (the durable engine, the HTTP router, a timer,
a queue). For a non-trigger input binding of that type it creates an :class:`InputBinding`, which
produces the keyword argument value passed to the user function on each invocation. For an output
binding it creates an :class:`OutputBinding`, which writes the value the function set (a ``func.Out``
parameter or the ``$return`` value) after the function succeeded.
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
    directory: str | None = None
    """The function's folder (v1 model); None for a v2 app, whose functions share the script's folder."""
    disabled: Any = None
    """``disabled`` from the v1 ``function.json``: true, or the name of a setting that says so."""

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
        """The non-trigger bindings whose direction is IN (the default when none is given)."""
        return [b for b in self.bindings if b is not self.trigger and direction_of(b) == "in"]

    def output_bindings(self) -> list[dict[str, Any]]:
        """The bindings whose direction is OUT, ``$return`` included."""
        return [b for b in self.bindings if b is not self.trigger and direction_of(b) == "out"]

    def binding(self, name: str) -> dict[str, Any] | None:
        """The binding entry whose ``name`` is ``name`` (case-insensitive), if any."""
        lowered = name.lower()
        return next((b for b in self.bindings if str(b.get("name", "")).lower() == lowered), None)


RETURN_NAME = "$return"
"""The name of the binding that receives the function's return value."""


def direction_of(binding: dict[str, Any]) -> str:
    """``in``, ``out`` or ``inout``: a binding's direction, lower-cased (``in`` when not given)."""
    return str(binding.get("direction") or "in").lower()


def data_type_of(binding: dict[str, Any]) -> str | None:
    """``string``, ``binary`` or ``stream``, lower-cased; None when the binding gives none."""
    value = binding.get("dataType")
    text = str(value).lower() if value is not None else ""
    return None if text in ("", "undefined") else text


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

    def value(self, invocation: InvocationContext) -> Any:
        """The argument; an awaitable is awaited (inputs that read storage)."""
        ...


class OutputBinding(Protocol):
    """Writes the value one output binding was given, once the function has succeeded."""

    parameter_name: str
    """The binding's ``name``: a ``func.Out`` parameter, or ``$return``."""

    async def write(self, value: Any, invocation: InvocationContext) -> None: ...


class TriggerBindingProvider(Protocol):
    binding_type: str

    def create_trigger(self, function: FunctionInfo) -> TriggerBinding: ...


class InputBindingProvider(Protocol):
    binding_type: str
    """The ``type`` it handles; a provider may also list older names of it in ``binding_aliases``."""

    def create_input(self, function: FunctionInfo, binding: dict[str, Any]) -> InputBinding: ...


class OutputBindingProvider(Protocol):
    binding_type: str

    def create_output(self, function: FunctionInfo, binding: dict[str, Any]) -> OutputBinding: ...


@dataclass
class InvocationContext:
    """Per-invocation facts bindings may use (the request origin for client URLs, ids).

    ``binding_data`` holds what binding expressions such as ``{name}`` or ``{queueTrigger}`` in an
    input or output binding resolve against: the trigger's metadata and route parameters.
    ``extras`` carries what a trigger hands to its own output (the HTTP response).
    """

    invocation_id: str
    function_name: str
    extras: dict[str, Any] = field(default_factory=dict)
    binding_data: dict[str, Any] = field(default_factory=dict)


class FunctionInvoker(Protocol):
    """Calls a user function with its trigger value plus every input binding's value."""

    function: FunctionInfo

    async def invoke(self, trigger_value: Any, invocation: InvocationContext) -> Any: ...

"""Matches each discovered function with the providers of its trigger, input and output bindings.

A function whose trigger, input or output binding type has no provider is not loaded, with one warning
naming the function, the binding and the supported types; the host keeps running the other functions,
as the Functions host does. A function whose parameters do not match its bindings is refused the same
way, so it is never called with an argument missing.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from concurrent.futures import Executor
from typing import TypeVar

from bindings.base import (
    FunctionInfo,
    FunctionInvoker,
    InputBinding,
    InputBindingProvider,
    OutputBinding,
    OutputBindingProvider,
    TriggerBinding,
    TriggerBindingProvider,
)
from bindings.invoker import DefaultFunctionInvoker
from bindings.parameters import check_parameters

logger = logging.getLogger("durable_ext.bindings")

_Provider = TypeVar("_Provider", TriggerBindingProvider, InputBindingProvider, OutputBindingProvider)
_AnyProvider = TriggerBindingProvider | InputBindingProvider | OutputBindingProvider


def _names(provider: _AnyProvider) -> list[str]:
    """The binding type a provider handles, and the older names it also answers to."""
    aliases: tuple[str, ...] = getattr(provider, "binding_aliases", ())
    return [provider.binding_type, *aliases]


def _by_type(providers: Sequence[_Provider], kind: str) -> dict[str, _Provider]:
    keyed: dict[str, _Provider] = {}
    for provider in providers:
        for binding_type in _names(provider):
            if binding_type.lower() in keyed:
                raise ValueError(f"Two {kind} binding providers handle the binding type '{binding_type}'.")
            keyed[binding_type.lower()] = provider
    return keyed


class UnsupportedBinding(Exception):
    """A function uses a trigger or binding type no provider handles."""


class BindingRegistry:
    def __init__(
        self,
        trigger_providers: list[TriggerBindingProvider],
        input_providers: list[InputBindingProvider],
        executor: Executor | None = None,
        output_providers: Sequence[OutputBindingProvider] = (),
    ) -> None:
        self._triggers = _by_type(trigger_providers, "trigger")
        self._inputs = _by_type(input_providers, "input")
        self._outputs = _by_type(list(output_providers), "output")
        self._executor = executor
        self.skipped: dict[str, str] = {}
        """Functions that were not loaded, by name, with the reason (for later error messages)."""

    def supported_trigger_types(self) -> list[str]:
        return sorted({p.binding_type for p in self._triggers.values()})

    def supported_input_types(self) -> list[str]:
        return sorted({p.binding_type for p in self._inputs.values()})

    def supported_output_types(self) -> list[str]:
        return sorted({p.binding_type for p in self._outputs.values()})

    def build(self, functions: list[FunctionInfo]) -> list[tuple[TriggerBinding, FunctionInvoker]]:
        """A trigger binding and an invoker for every function the providers support."""
        built = (self._build_one(function) for function in functions)
        return [pair for pair in built if pair is not None]

    def _build_one(self, function: FunctionInfo) -> tuple[TriggerBinding, FunctionInvoker] | None:
        try:
            return self._bind(function)
        except Exception as exc:
            self.skipped[function.name] = str(exc)
            level = logging.WARNING if isinstance(exc, UnsupportedBinding) else logging.ERROR
            logger.log(level, "Skipping function '%s': %s", function.name, exc)
            return None

    def _bind(self, function: FunctionInfo) -> tuple[TriggerBinding, FunctionInvoker]:
        provider = self._triggers.get(function.trigger_type.lower())
        if provider is None:
            raise UnsupportedBinding(
                f"its trigger type '{function.trigger_type}' is not supported by this host "
                f"(supported trigger types: {', '.join(self.supported_trigger_types())})."
            )
        check_parameters(function)
        inputs = self._create_inputs(function)
        outputs = self._create_outputs(function)
        trigger = provider.create_trigger(function)
        return trigger, DefaultFunctionInvoker(function, inputs, self._executor, outputs=outputs)

    def _create_inputs(self, function: FunctionInfo) -> list[InputBinding]:
        return [
            self._provider(binding, self._inputs, "input").create_input(function, binding)
            for binding in function.input_bindings()
        ]

    def _create_outputs(self, function: FunctionInfo) -> list[OutputBinding]:
        return [
            self._provider(binding, self._outputs, "output").create_output(function, binding)
            for binding in function.output_bindings()
        ]

    def _provider(self, binding: dict[str, object], table: dict[str, _Provider], kind: str) -> _Provider:
        binding_type = str(binding.get("type", ""))
        provider = table.get(binding_type.lower())
        if provider is None:
            supported = sorted({p.binding_type for p in table.values()})
            raise UnsupportedBinding(
                f"its {kind} binding '{binding.get('name')}' has type '{binding_type}', which this host does "
                f"not support (supported {kind} binding types: {', '.join(supported) or 'none'})."
            )
        return provider

"""Matches each discovered function with the providers of its trigger and input bindings.

A function whose trigger or input binding type has no provider is skipped with a warning; the host
keeps running the other functions, as the Functions host does.
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
    TriggerBinding,
    TriggerBindingProvider,
)
from bindings.invoker import DefaultFunctionInvoker

logger = logging.getLogger("durable_ext.bindings")

_Provider = TypeVar("_Provider", TriggerBindingProvider, InputBindingProvider)


def _names(provider: TriggerBindingProvider | InputBindingProvider) -> list[str]:
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


class BindingRegistry:
    def __init__(
        self,
        trigger_providers: list[TriggerBindingProvider],
        input_providers: list[InputBindingProvider],
        executor: Executor | None = None,
    ) -> None:
        self._triggers = _by_type(trigger_providers, "trigger")
        self._inputs = _by_type(input_providers, "input")
        self._executor = executor

    def supported_trigger_types(self) -> list[str]:
        return sorted({p.binding_type for p in self._triggers.values()})

    def supported_input_types(self) -> list[str]:
        return sorted({p.binding_type for p in self._inputs.values()})

    def build(self, functions: list[FunctionInfo]) -> list[tuple[TriggerBinding, FunctionInvoker]]:
        """A trigger binding and an invoker for every function the providers support."""
        built = (self._build_one(function) for function in functions)
        return [pair for pair in built if pair is not None]

    def _build_one(self, function: FunctionInfo) -> tuple[TriggerBinding, FunctionInvoker] | None:
        provider = self._triggers.get(function.trigger_type.lower())
        if provider is None:
            logger.warning(
                "Skipping function '%s': its trigger type '%s' is not supported by this host "
                "(supported trigger types: %s).",
                function.name,
                function.trigger_type,
                ", ".join(self.supported_trigger_types()),
            )
            return None
        try:
            inputs = self._create_inputs(function)
            if inputs is None:
                return None
            trigger = provider.create_trigger(function)
        except Exception as exc:
            logger.error("Skipping function '%s': %s", function.name, exc, exc_info=exc)
            return None
        return trigger, DefaultFunctionInvoker(function, inputs, self._executor)

    def _create_inputs(self, function: FunctionInfo) -> list[InputBinding] | None:
        inputs: list[InputBinding] = []
        for binding in function.input_bindings():
            binding_type = str(binding.get("type", ""))
            provider = self._inputs.get(binding_type.lower())
            if provider is None:
                logger.warning(
                    "Skipping function '%s': its input binding '%s' has type '%s', which this host does "
                    "not support (supported input binding types: %s).",
                    function.name,
                    binding.get("name"),
                    binding_type,
                    ", ".join(self.supported_input_types()) or "none",
                )
                return None
            inputs.append(provider.create_input(function, binding))
        return inputs

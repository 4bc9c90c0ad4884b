"""Calls a user function with its trigger value, its input bindings, its outputs and, if asked, a ``context``.

``async def`` functions (the SDK's durable-client wrapper always is one) are awaited on the event loop;
plain functions run in an executor so they never block the loop.
"""

from __future__ import annotations

import asyncio
import contextvars
import inspect
import os
import secrets
import threading
from collections.abc import Sequence
from concurrent.futures import Executor
from typing import Any, cast

import azure.functions as func
from azure.functions._abc import RetryContext, RpcException, TraceContext

from bindings.base import RETURN_NAME, FunctionInfo, InputBinding, InvocationContext, OutputBinding
from bindings.conversion import converter_for, has_implicit_output

CONTEXT_PARAMETER = "context"


class _NoException(RpcException):
    """The ``retry_context.exception`` of a first attempt: nothing has failed yet."""

    @property
    def source(self) -> str:
        return ""

    @property
    def stack_trace(self) -> str:
        return ""

    @property
    def message(self) -> str:
        return ""


class _FirstAttempt(RetryContext):
    @property
    def retry_count(self) -> int:
        return 0

    @property
    def max_retry_count(self) -> int:
        return 0

    @property
    def exception(self) -> RpcException:
        return _NoException()


class _TraceContext(TraceContext):
    def __init__(self, trace_parent: str, trace_state: str) -> None:
        self._trace_parent = trace_parent
        self._trace_state = trace_state

    @property
    def trace_parent(self) -> str:
        return self._trace_parent

    @property
    def trace_state(self) -> str:
        return self._trace_state

    @property
    def attributes(self) -> dict[str, str]:
        return {}

    @classmethod
    def for_invocation(cls, invocation: InvocationContext) -> _TraceContext:
        """The caller's W3C trace context if the request carried one, else a new trace."""
        headers = getattr(invocation.extras.get("request"), "headers", None) or {}
        parent = headers.get("traceparent") or f"00-{secrets.token_hex(16)}-{secrets.token_hex(8)}-00"
        return cls(parent, headers.get("tracestate") or "")


class FunctionContext(func.Context):
    """The ``context`` argument of a user function."""

    def __init__(self, invocation: InvocationContext, function_directory: str) -> None:
        self._invocation = invocation
        self._function_directory = function_directory
        self._trace_context = _TraceContext.for_invocation(invocation)
        self._thread_local_storage = threading.local()

    @property
    def invocation_id(self) -> str:
        return self._invocation.invocation_id

    @property
    def function_name(self) -> str:
        return self._invocation.function_name

    @property
    def function_directory(self) -> str:
        return self._function_directory

    @property
    def trace_context(self) -> TraceContext:
        return self._trace_context

    @property
    def retry_context(self) -> RetryContext:
        return _FirstAttempt()

    @property
    def thread_local_storage(self) -> type[threading.local]:
        # Like the Functions worker: an instance whose ``invocation_id`` is set in the running thread.
        return cast(type[threading.local], self._thread_local_storage)

    def mark_current_thread(self) -> None:
        self._thread_local_storage.invocation_id = self.invocation_id


class OutValue(func.Out[Any]):
    """The ``func.Out`` a function's output parameter receives: ``set`` once, read after the call."""

    def __init__(self) -> None:
        self._value: Any = None

    def set(self, val: Any) -> None:
        self._value = val

    def get(self) -> Any:
        return self._value


class FunctionResultError(Exception):
    """A function returned a value nothing takes (no ``$return`` binding), as the worker refuses it."""


class DefaultFunctionInvoker:
    """Implements :class:`bindings.base.FunctionInvoker` for any trigger type.

    Input bindings are read before the call (those that read storage concurrently); each output
    parameter gets a :class:`OutValue`; once the function returned, every output that was given a value
    (and ``$return``) is written, concurrently. A function that raises writes nothing.
    """

    def __init__(
        self,
        function: FunctionInfo,
        inputs: list[InputBinding],
        executor: Executor | None = None,
        *,
        outputs: Sequence[OutputBinding] = (),
        function_directory: str | None = None,
    ) -> None:
        self.function = function
        self._inputs = list(inputs)
        self._outputs = [o for o in outputs if o.parameter_name != RETURN_NAME]
        self._return = next((o for o in outputs if o.parameter_name == RETURN_NAME), None)
        self._executor = executor
        self._trigger_name = str(function.trigger.get("name", ""))
        self._is_async = inspect.iscoroutinefunction(function.user_function)
        self._wants_context = _wants_context(function)
        self._function_directory = (
            function_directory or function.directory or _directory_of(function.user_function)
        )
        self._implicit_return = has_implicit_output(converter_for(function.trigger_type))

    async def invoke(self, trigger_value: Any, invocation: InvocationContext) -> Any:
        kwargs: dict[str, Any] = {self._trigger_name: trigger_value}
        kwargs.update(await self._input_values(invocation))
        outs = {o.parameter_name: OutValue() for o in self._outputs}
        kwargs.update(outs)
        context = FunctionContext(invocation, self._function_directory) if self._wants_context else None
        if context is not None:
            kwargs[CONTEXT_PARAMETER] = context
        result = await self._call(kwargs, context)
        await self._write_outputs(result, outs, invocation)
        return result

    async def _input_values(self, invocation: InvocationContext) -> dict[str, Any]:
        values = {b.parameter_name: b.value(invocation) for b in self._inputs}
        pending = [name for name, value in values.items() if inspect.isawaitable(value)]
        if pending:
            done = await asyncio.gather(*(values[name] for name in pending))
            values.update(zip(pending, done, strict=True))
        return values

    async def _call(self, kwargs: dict[str, Any], context: FunctionContext | None) -> Any:
        if self._is_async:
            if context is not None:
                context.mark_current_thread()
            return await self.function.user_function(**kwargs)
        loop = asyncio.get_running_loop()
        call_context = contextvars.copy_context()
        result = await loop.run_in_executor(
            self._executor, call_context.run, self._call_sync, kwargs, context
        )
        return await result if inspect.isawaitable(result) else result

    def _call_sync(self, kwargs: dict[str, Any], context: FunctionContext | None) -> Any:
        if context is not None:
            context.mark_current_thread()
        return self.function.user_function(**kwargs)

    async def _write_outputs(
        self, result: Any, outs: dict[str, OutValue], invocation: InvocationContext
    ) -> None:
        if self._return is None and result is not None and not self._implicit_return:
            raise FunctionResultError(
                f"Function '{self.function.name}' returned a value ({type(result).__name__}) but has no "
                "$return output binding to take it. Return None, or declare a $return binding."
            )
        writes = [
            output.write(outs[output.parameter_name].get(), invocation)
            for output in self._outputs
            if outs[output.parameter_name].get() is not None
        ]
        if self._return is not None:
            writes.append(self._return.write(result, invocation))
        if writes:
            await asyncio.gather(*writes)


def _wants_context(function: FunctionInfo) -> bool:
    """True if the user function has a parameter named ``context`` that no binding fills."""
    binding_names = {str(b.get("name")) for b in function.bindings}
    if CONTEXT_PARAMETER in binding_names:
        return False
    try:
        parameters = inspect.signature(function.user_function).parameters
    except (TypeError, ValueError):
        return False
    return CONTEXT_PARAMETER in parameters


def _directory_of(target: Any) -> str:
    try:
        return os.path.dirname(os.path.abspath(inspect.getfile(inspect.unwrap(target))))
    except (TypeError, OSError):
        return os.getcwd()

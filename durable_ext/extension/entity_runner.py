"""Running a batch of entity operations through the SDK's entity ``handle``.

The batch goes to the entity function in one call, as the reference does for out-of-process entities.
If that call fails as a whole (an operation left state or a result that is not JSON-serializable, or
the SDK rejected the batch), the operations run again one at a time from the last good state, so only
the operations that fail get an error and everything else, and the stored state, stays as it should.

Each failed operation is logged once, at ERROR, with the traceback of the app's code, and the last one
is kept in the entity's status (``lastFailure`` in its custom status) until another replaces it.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from ..core.entities import EntityId, RequestMessage
from ..core.entity_scheduler import EntityBatch, OperationResult, finish_batch, plan_batch
from ..core.history import utc_now
from ..core.observability import orchestration_fields
from ..core.replay import ReplayOutcome
from ..core.state import OrchestrationRuntimeState
from ..core.timefmt import format_dotnet
from .failures import describe, user_exc_info
from .functions import EntityHandler, FunctionRegistry

log = logging.getLogger("durable_ext.entities")
lifecycle = logging.getLogger("durable_ext.lifecycle")

MAX_FAILURE_CHARS = 1000
"""How much of a failed operation's error the entity's status keeps."""

_NO_INPUT = json.dumps("null")
"""What an operation without input carries, so that ``get_input()`` gives ``None`` instead of raising."""


@dataclass
class _BatchResult:
    exists: bool
    state: str | None
    results: list[OperationResult]
    raised: list[BaseException | None] = field(default_factory=list)
    """Per operation, the exception the entity function raised, or ``None``."""


class SdkEntityRunner:
    def __init__(
        self,
        functions: FunctionRegistry,
        executor: Executor,
        *,
        max_batch_size: int,
        reorder_window: timedelta = timedelta(minutes=30),
    ) -> None:
        self.functions = functions
        self.executor = executor
        self.max_batch_size = max_batch_size
        self.reorder_window = reorder_window

    async def run(self, state: OrchestrationRuntimeState) -> ReplayOutcome:
        batch = plan_batch(state, max_batch_size=self.max_batch_size, reorder_window=self.reorder_window)
        if batch.received == 0:
            return ReplayOutcome([], None, user_code_ran=False)
        scheduler = batch.state
        done = _BatchResult(scheduler.exists, scheduler.state, [])
        if batch.requests:
            handler = self.functions.entity(batch.entity.name)
            if handler is None:
                done.results = [
                    _unknown_entity(batch.entity, self.functions.why_not_loaded(batch.entity.name))
                ] * len(batch.requests)
            else:
                done = await self._run_batch(handler, batch.entity, done, batch.requests)
            _report(batch, done, orchestration_fields(state))
        return finish_batch(batch, done.results, done.exists, done.state)

    async def _run_batch(
        self, handler: EntityHandler, entity: EntityId, before: _BatchResult, requests: list[RequestMessage]
    ) -> _BatchResult:
        try:
            return await self._call(handler, entity, before, requests)
        except Exception as exc:
            if len(requests) == 1:
                return _BatchResult(before.exists, before.state, [_error(exc)], [exc])
            log.warning(
                "A batch of entity '%s' failed (%s); running its operations one by one",
                entity.instance_id,
                exc,
            )
        current = before
        results: list[OperationResult] = []
        raised: list[BaseException | None] = []
        for request in requests:
            single = await self._run_batch(handler, entity, current, [request])
            current = _BatchResult(single.exists, single.state, [])
            results += single.results
            raised += single.raised
        return _BatchResult(current.exists, current.state, results, raised)

    async def _call(
        self, handler: EntityHandler, entity: EntityId, before: _BatchResult, requests: list[RequestMessage]
    ) -> _BatchResult:
        context = {
            "self": entity.to_json(),
            "exists": before.exists,
            "state": before.state,
            "batch": [
                {
                    "name": r.operation,
                    "input": _NO_INPUT if r.input is None else r.input,
                    "isSignal": r.is_signal,
                }
                for r in requests
            ],
        }
        raised: list[BaseException] = []
        loop = asyncio.get_running_loop()
        returned = await loop.run_in_executor(self.executor, _recording(handler, raised), json.dumps(context))
        output: dict[str, Any] = json.loads(str(returned))
        results = [
            OperationResult(bool(r.get("isError")), r.get("result")) for r in output.get("results") or []
        ]
        if len(results) != len(requests):
            raise ValueError(
                f"the entity function returned {len(results)} results for {len(requests)} operations"
            )
        exists = bool(output.get("entityExists"))
        by_operation = iter(raised)  # the SDK catches each operation's exception in order
        per_result = [next(by_operation, None) if r.is_error else None for r in results]
        return _BatchResult(exists, output.get("entityState") if exists else None, results, per_result)


def _recording(handler: EntityHandler, raised: list[BaseException]) -> EntityHandler:
    """The SDK's entity ``handle`` over the app's entity function, noting each exception it raises.

    The SDK keeps only ``str(exc)`` of an operation's exception; the app's function is wrapped so
    that the exception itself, with its traceback, is noted before the SDK sees it, unchanged.
    """
    entity_function: Callable[[Any], None] | None = getattr(handler, "entity_function", None)
    if entity_function is None:  # not the SDK's wrapper: call it as it is
        return handler
    user_function = entity_function

    def noting(context: Any) -> None:
        try:
            user_function(context)
        except Exception as exc:
            raised.append(exc)
            raise

    # imported here: importing the SDK reads ./host.json, before the host has checked it
    from azure.durable_functions.entity import Entity

    sdk_handle: EntityHandler = Entity.create(noting)
    return sdk_handle


def _report(batch: EntityBatch, done: _BatchResult, fields: dict[str, Any]) -> None:
    """Log each failed operation and the batch, and keep the last failure in the entity's status."""
    entity_id = batch.entity.instance_id
    failed = 0
    raised_by = done.raised + [None] * (len(done.results) - len(done.raised))
    for request, result, raised in zip(batch.requests, done.results, raised_by, strict=True):
        if not result.is_error:
            continue
        failed += 1
        error = describe(raised) if raised is not None else _error_text(result)
        log.error(
            "Entity %s: operation '%s' failed: %s",
            entity_id,
            request.operation,
            error,
            exc_info=user_exc_info(raised) if raised is not None else None,
            extra=fields,
        )
        batch.state.last_failure = {
            "operation": request.operation,
            "error": error[:MAX_FAILURE_CHARS],
            "time": format_dotnet(utc_now()),
        }
    count = len(batch.requests)
    lifecycle.info(
        "Entity %s ran %d operation%s%s",
        entity_id,
        count,
        "" if count == 1 else "s",
        f" ({failed} failed)" if failed else "",
        extra=fields,
    )


def _error_text(result: OperationResult) -> str:
    try:
        return str(json.loads(result.result or "null"))
    except ValueError:
        return str(result.result)


def _error(exc: BaseException) -> OperationResult:
    return OperationResult(True, json.dumps(f"{type(exc).__name__}: {exc}"))


def _unknown_entity(entity: EntityId, why: str) -> OperationResult:
    message = (
        f"The entity function '{entity.name}' doesn't exist, is disabled, or is not an entity function. "
        "Check the entity name and that the app registers it." + why
    )
    return OperationResult(True, json.dumps(message))

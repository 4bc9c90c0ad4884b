"""Running a batch of entity operations through the SDK's entity ``handle``.

The batch goes to the entity function in one call, as the reference does for out-of-process entities.
If that call fails as a whole (an operation left state or a result that is not JSON-serializable, or
the SDK rejected the batch), the operations run again one at a time from the last good state, so only
the operations that fail get an error and everything else, and the stored state, stays as it should.
"""

from __future__ import annotations

import asyncio
import json
import logging
from concurrent.futures import Executor
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from ..core.entities import EntityId, RequestMessage
from ..core.entity_scheduler import OperationResult, finish_batch, plan_batch
from ..core.replay import ReplayOutcome
from ..core.state import OrchestrationRuntimeState
from .functions import EntityHandler, FunctionRegistry

log = logging.getLogger("durable_ext.entities")

_NO_INPUT = json.dumps("null")
"""What an operation without input carries, so that ``get_input()`` gives ``None`` instead of raising."""


@dataclass
class _BatchResult:
    exists: bool
    state: str | None
    results: list[OperationResult]


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
        return finish_batch(batch, done.results, done.exists, done.state)

    async def _run_batch(
        self, handler: EntityHandler, entity: EntityId, before: _BatchResult, requests: list[RequestMessage]
    ) -> _BatchResult:
        try:
            return await self._call(handler, entity, before, requests)
        except Exception as exc:
            if len(requests) == 1:
                log.warning(
                    "Operation '%s' on entity '%s' failed: %s", requests[0].operation, entity.instance_id, exc
                )
                return _BatchResult(before.exists, before.state, [_error(exc)])
            log.warning(
                "A batch of entity '%s' failed (%s); running its operations one by one",
                entity.instance_id,
                exc,
            )
        current = before
        results: list[OperationResult] = []
        for request in requests:
            single = await self._run_batch(handler, entity, current, [request])
            current = _BatchResult(single.exists, single.state, [])
            results += single.results
        return _BatchResult(current.exists, current.state, results)

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
        loop = asyncio.get_running_loop()
        returned = await loop.run_in_executor(self.executor, handler, json.dumps(context))
        output: dict[str, Any] = json.loads(str(returned))
        results = [
            OperationResult(bool(r.get("isError")), r.get("result")) for r in output.get("results") or []
        ]
        if len(results) != len(requests):
            raise ValueError(
                f"the entity function returned {len(results)} results for {len(requests)} operations"
            )
        exists = bool(output.get("entityExists"))
        return _BatchResult(exists, output.get("entityState") if exists else None, results)


def _error(exc: BaseException) -> OperationResult:
    return OperationResult(True, json.dumps(f"{type(exc).__name__}: {exc}"))


def _unknown_entity(entity: EntityId, why: str) -> OperationResult:
    message = (
        f"The entity function '{entity.name}' doesn't exist, is disabled, or is not an entity function. "
        "Check the entity name and that the app registers it." + why
    )
    return OperationResult(True, json.dumps(message))

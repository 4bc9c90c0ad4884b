"""Running the app's orchestrators and activities through the SDK's own entry points."""

from __future__ import annotations

import asyncio
import json
import logging
import traceback
from concurrent.futures import Executor
from typing import Any

from azure.functions import meta
from azure.functions.durable_functions import ActivityTriggerConverter

from ..core.history import OrchestrationStatus
from ..core.observability import orchestration_fields
from ..core.replay import Completion, ReplayOutcome, compact_json, replay
from ..core.state import OrchestrationRuntimeState
from ..errors import ActivityFailedError, NonDeterminismError
from . import sdk_timestamps
from .failures import describe, input_hint, user_exc_info
from .functions import FunctionRegistry
from .http_activity import HttpActivity
from .protocol import OrchestratorState, build_context, parse_failure
from .shim import HTTP_ACTIVITY_NAME, output_json, shim_program

log = logging.getLogger("durable_ext.lifecycle")


class SdkOrchestrationRunner:
    """Calls the SDK's orchestrator ``handle`` with the context JSON and replays what it returns."""

    def __init__(self, functions: FunctionRegistry, executor: Executor) -> None:
        self.functions = functions
        self.executor = executor
        sdk_timestamps.install()

    async def run(self, state: OrchestrationRuntimeState, *, strict: bool = False) -> ReplayOutcome:
        """One episode. A divergence from the history fails the instance with its words; a moved timer is
        logged as a warning with them. ``strict`` (the replay tool) raises :class:`NonDeterminismError`
        at the first divergence of any kind instead, and logs nothing."""
        name = state.name or ""
        handler = self.functions.orchestrator(name)
        if handler is None:
            message = (
                f"The orchestrator function '{name}' doesn't exist, is disabled, or is not an orchestrator "
                "function. Check the function name and that the app registers it."
                + self.functions.why_not_loaded(name)
            )
            # nothing to replay the history with: the instance fails now, whatever it recorded
            return ReplayOutcome([], Completion(OrchestrationStatus.Failed, message))
        sdk_state, raised = await self._call(handler, state)
        if raised is not None and sdk_state.error is not None:
            sdk_state.error = failure_message(raised, state, name)
        try:
            outcome = replay(state, shim_program(name, sdk_state), strict=strict)
        except NonDeterminismError as exc:
            if strict:
                raise
            return ReplayOutcome(
                [], Completion(OrchestrationStatus.Failed, f"Orchestrator function '{name}' failed: {exc}")
            )
        for moved in outcome.warnings:
            log.warning(
                "Orchestrator function '%s' (%s): %s",
                name,
                state.instance_id,
                moved.describe(),
                extra=orchestration_fields(state),
            )
        if sdk_state.custom_status is not None:
            outcome.custom_status = output_json(sdk_state.custom_status)
        completion = outcome.completion
        failed = completion is not None and completion.status == OrchestrationStatus.Failed
        if raised is not None and failed and not strict:
            # once: the episode that fails the instance (the SDK raises again in episodes that still
            # wait for tasks it scheduled before the exception)
            log.error(
                "Orchestrator function '%s' (%s) raised %s",
                name,
                state.instance_id,
                describe(raised),
                exc_info=user_exc_info(raised),
                extra=orchestration_fields(state),
            )
        return outcome

    async def _call(
        self, handler: Any, state: OrchestrationRuntimeState
    ) -> tuple[OrchestratorState, BaseException | None]:
        """What the SDK returned, and the exception the orchestrator raised if it failed.

        The SDK raises its own ``Exception`` carrying the state, chained ``from`` the orchestrator's
        exception; an exception without the state is the orchestrator's (or the SDK's) own.
        """
        context_json = build_context(state)
        loop = asyncio.get_running_loop()
        try:
            returned = await loop.run_in_executor(self.executor, handler, context_json)
            return OrchestratorState.from_json(str(returned)), None
        except Exception as exc:
            message, attached = parse_failure(exc)
            if attached is None:
                return OrchestratorState(is_done=False, error=message), exc
            attached.error = attached.error or message
            return attached, exc.__cause__ or exc


def failure_message(raised: BaseException, state: OrchestrationRuntimeState, name: str) -> str:
    """The orchestrator's error with its type, and why the input could not be read if that is why."""
    message = describe(raised)
    hint = input_hint(raised, state.instance_id or "", name, state.input)
    return f"{message.rstrip('.')}.{hint}" if hint else message


def activity_argument(input_json: str | None) -> Any:
    """Decode a ``TaskScheduled.Input`` (a one-element JSON array) as the activity binding does."""
    raw: Any = input_json
    if input_json is not None:
        try:
            parsed = json.loads(input_json)
            raw = parsed[0] if isinstance(parsed, list) and len(parsed) == 1 else input_json
        except ValueError:
            raw = input_json
    if raw is not None and not isinstance(raw, str):
        raw = json.dumps(raw)
    return ActivityTriggerConverter.decode(
        meta.Datum(raw if raw is not None else "null", "string"), trigger_metadata=None
    )


class SdkActivityRunner:
    """Decodes an activity's input like the activity trigger binding, calls it, encodes its result."""

    def __init__(self, functions: FunctionRegistry, http: HttpActivity | None = None) -> None:
        self.functions = functions
        self.http = http or HttpActivity()

    async def run(
        self,
        name: str,
        input_json: str | None,
        instance_id: str,
        *,
        execution_id: str | None = None,
        task_id: int = -1,
    ) -> str | None:
        if name == HTTP_ACTIVITY_NAME:
            return await self.http.run(input_json)
        handler = self.functions.activity(name)
        if handler is None:
            raise ActivityFailedError(
                f"The function '{name}' doesn't exist, is disabled, or is not an activity function. "
                "Check the name passed to call_activity." + self.functions.why_not_loaded(name),
                json.dumps({"Message": f"Unknown activity '{name}'"}),
            )
        try:
            result = await handler(activity_argument(input_json))
            encoded = ActivityTriggerConverter.encode(result, expected_type=None)
        except Exception as exc:
            raise ActivityFailedError(
                f"Activity function '{name}' failed:  {type(exc).__name__}: {exc}",
                json.dumps({"Message": f"{type(exc).__name__}: {exc}", "StackTrace": traceback.format_exc()}),
            ) from exc
        return compact_json(str(encoded.value)) if encoded is not None and encoded.value is not None else None

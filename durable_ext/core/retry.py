"""Retrying a task the way DurableTask.Core's ``RetryInterceptor`` does, id for id.

Each attempt takes a task id; after a failure a timer takes the next id (its delay grows by the back-off
coefficient, capped); after the last failed attempt one more timer, due at once, takes an id before the
failure is raised ("dummy timer for back-compat"). The SDK allocates ids in exactly this order.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from .replay import ReplayContext
from .tasks import Program, ProgramFailed, ReplayTask, TaskFailure


@dataclass(frozen=True)
class RetryOptions:
    first_retry_interval: timedelta
    max_number_of_attempts: int
    backoff_coefficient: float = 1.0
    max_retry_interval: timedelta | None = None
    retry_timeout: timedelta | None = None

    @classmethod
    def from_wire(cls, data: dict[str, Any]) -> RetryOptions:
        """Read the SDK's ``retryOptions`` (milliseconds; the .NET converter's five names)."""

        def millis(key: str) -> timedelta | None:
            value = data.get(key)
            return None if value is None else timedelta(milliseconds=float(value))

        first = millis("firstRetryIntervalInMilliseconds")
        if first is None or first <= timedelta(0):
            raise ValueError("retryOptions.firstRetryIntervalInMilliseconds must be greater than zero")
        attempts = int(data.get("maxNumberOfAttempts", 1))
        return cls(
            first_retry_interval=first,
            max_number_of_attempts=max(attempts, 1),
            backoff_coefficient=float(data.get("backoffCoefficient", 1.0)),
            max_retry_interval=millis("maxRetryIntervalInMilliseconds"),
            retry_timeout=millis("retryTimeoutInMilliseconds"),
        )

    def delay(self, retry_count: int, elapsed: timedelta) -> timedelta:
        if self.retry_timeout is not None and elapsed >= self.retry_timeout:
            return timedelta(0)
        delay = self.first_retry_interval * (self.backoff_coefficient**retry_count)
        if self.max_retry_interval is not None:
            delay = min(delay, self.max_retry_interval)
        return delay


def with_retry(ctx: ReplayContext, attempt: Callable[[], ReplayTask], options: RetryOptions) -> ReplayTask:
    """A task that succeeds with the first successful attempt or fails with the last failure."""
    return ctx.spawn(_retry_program(ctx, attempt, options))


def _retry_program(ctx: ReplayContext, attempt: Callable[[], ReplayTask], options: RetryOptions) -> Program:
    first_attempt_at = ctx.current_utc_datetime
    failure = TaskFailure("the task failed")
    for retry_count in range(options.max_number_of_attempts):
        finished = yield attempt()
        if finished.failure is None:
            return finished.result
        failure = finished.failure
        if retry_count + 1 == options.max_number_of_attempts:
            yield ctx.create_timer(ctx.current_utc_datetime)
            break
        delay = options.delay(retry_count, ctx.current_utc_datetime - first_attempt_at)
        if delay <= timedelta(0):
            break
        yield ctx.create_timer(ctx.current_utc_datetime + delay)
    raise ProgramFailed(failure)

"""Replay-time tasks: tiny futures completed by history events, plus fibers that await them.

They mirror how DurableTask.Core drives an orchestration: history events complete tasks in history order,
and whatever awaited them runs on at once, synchronously, possibly scheduling more work. Keeping that
order is what makes task ids come out the same as on Azure.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class TaskFailure:
    reason: str
    details: str | None = None


class ReplayTask:
    """A result that a history event (or other tasks) will provide."""

    def __init__(self) -> None:
        self.done = False
        self.result: Any = None
        self.failure: TaskFailure | None = None
        self._callbacks: list[Callable[[ReplayTask], None]] = []

    def complete(self, result: Any = None) -> None:
        if not self.done:
            self.done, self.result = True, result
            self._fire()

    def fail(self, failure: TaskFailure) -> None:
        if not self.done:
            self.done, self.failure = True, failure
            self._fire()

    def on_done(self, callback: Callable[[ReplayTask], None]) -> None:
        if self.done:
            callback(self)
        else:
            self._callbacks.append(callback)

    def _fire(self) -> None:
        callbacks, self._callbacks = self._callbacks, []
        for callback in callbacks:
            callback(self)


def when_all(tasks: Sequence[ReplayTask]) -> ReplayTask:
    """Completes when every task is done (even if some failed); fails with the first failure."""
    combined = ReplayTask()
    remaining = [len(tasks)]

    def child_done(_: ReplayTask) -> None:
        remaining[0] -= 1
        if remaining[0] == 0:
            failed = next((t.failure for t in tasks if t.failure is not None), None)
            if failed is None:
                combined.complete([t.result for t in tasks])
            else:
                combined.fail(failed)

    if not tasks:
        combined.complete([])
    for task in tasks:
        task.on_done(child_done)
    return combined


def when_any(tasks: Sequence[ReplayTask]) -> ReplayTask:
    """Completes with the first task to finish."""
    combined = ReplayTask()
    for task in tasks:
        task.on_done(lambda t: combined.complete(t))
    return combined


Program = Generator[ReplayTask, ReplayTask, Any]


class ProgramFailed(Exception):
    """Raised inside a program to fail its fiber's task with ``failure``."""

    def __init__(self, failure: TaskFailure) -> None:
        super().__init__(failure.reason)
        self.failure = failure


class Fiber:
    """Runs a generator that yields tasks; resumes it when each yielded task is done.

    The generator receives the finished task back from ``yield`` and decides itself whether a failure
    matters. The fiber's own ``task`` completes with the generator's return value, or fails when the
    generator raises :class:`ProgramFailed`.
    """

    def __init__(self, program: Program) -> None:
        self._program = program
        self.task = ReplayTask()

    def start(self) -> ReplayTask:
        self._advance(None)
        return self.task

    def _advance(self, finished: ReplayTask | None) -> None:
        while True:
            try:
                waiting = next(self._program) if finished is None else self._program.send(finished)
            except StopIteration as stop:
                self.task.complete(stop.value)
                return
            except ProgramFailed as failed:
                self.task.fail(failed.failure)
                return
            if not waiting.done:
                waiting.on_done(self._advance)
                return
            finished = waiting

"""The dispatch middleware pipeline: each middleware wraps the next, the last one does the work."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

Next = Callable[[], Awaitable[None]]


@dataclass
class DispatchContext:
    """What flows through a pipeline for one work item; middleware may add properties."""

    work_item: Any
    properties: dict[str, Any] = field(default_factory=dict)


Middleware = Callable[[DispatchContext, Next], Awaitable[None]]


class MiddlewarePipeline:
    """Middleware added with :meth:`add` run in order around ``terminal``, which does the work."""

    def __init__(self, terminal: Middleware) -> None:
        self._middleware: list[Middleware] = []
        self._terminal = terminal

    def add(self, middleware: Middleware) -> None:
        self._middleware.append(middleware)

    async def run(self, context: DispatchContext) -> None:
        chain = [*self._middleware, self._terminal]

        async def call(index: int) -> None:
            if index < len(chain):
                await chain[index](context, lambda: call(index + 1))

        await call(0)

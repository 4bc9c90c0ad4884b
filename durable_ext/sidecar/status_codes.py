"""The gRPC status each refusal is given, so that a client's error says what is wrong."""

from __future__ import annotations

import functools
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

import grpc

from ..errors import (
    ConfigurationError,
    InstanceAlreadyExistsError,
    InstanceNotFoundError,
    InstanceStateError,
    InvalidRequestError,
    StorageError,
    TransientStorageError,
    UnknownEntityError,
)
from .broker import UnknownCompletionToken

log = logging.getLogger("durable_ext.sidecar")

_CODES: list[tuple[type[BaseException], grpc.StatusCode]] = [
    (InstanceNotFoundError, grpc.StatusCode.NOT_FOUND),
    (UnknownEntityError, grpc.StatusCode.NOT_FOUND),
    (UnknownCompletionToken, grpc.StatusCode.NOT_FOUND),
    (InstanceAlreadyExistsError, grpc.StatusCode.ALREADY_EXISTS),
    (InstanceStateError, grpc.StatusCode.FAILED_PRECONDITION),
    (InvalidRequestError, grpc.StatusCode.INVALID_ARGUMENT),
    (ValueError, grpc.StatusCode.INVALID_ARGUMENT),
    (ConfigurationError, grpc.StatusCode.FAILED_PRECONDITION),
    (TransientStorageError, grpc.StatusCode.UNAVAILABLE),
    (StorageError, grpc.StatusCode.INTERNAL),
]


def status_of(exc: BaseException) -> grpc.StatusCode | None:
    for kind, code in _CODES:
        if isinstance(exc, kind):
            return code
    return None


Handler = TypeVar("Handler", bound=Callable[..., Awaitable[Any]])


def unary(handler: Handler) -> Handler:
    """Answer a refusal with its status and message; anything else is INTERNAL, and logged."""

    @functools.wraps(handler)
    async def answering(self: Any, request: Any, context: grpc.aio.ServicerContext) -> Any:
        try:
            return await handler(self, request, context)
        except Exception as exc:
            await _abort(context, exc, handler.__name__)

    return answering  # type: ignore[return-value]


def streaming(
    handler: Callable[[Any, Any, grpc.aio.ServicerContext], AsyncIterator[Any]],
) -> Callable[[Any, Any, grpc.aio.ServicerContext], AsyncIterator[Any]]:
    @functools.wraps(handler)
    async def answering(self: Any, request: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
        try:
            async for item in handler(self, request, context):
                yield item
        except Exception as exc:
            await _abort(context, exc, handler.__name__)

    return answering


async def _abort(context: grpc.aio.ServicerContext, exc: Exception, rpc: str) -> None:
    if isinstance(exc, grpc.aio.AbortError):
        raise exc
    code = status_of(exc)
    if code is None:
        log.exception("%s failed", rpc)
        code = grpc.StatusCode.INTERNAL
    await context.abort(code, str(exc) or type(exc).__name__)

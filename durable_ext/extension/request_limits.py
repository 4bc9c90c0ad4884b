"""The limits of the HTTP management API, and the checks that enforce them before anything is written.

Every refusal is a :class:`RequestRejected`: its status (400, or 413 for a body too large), the
parameter at fault and, for a limit, the limit itself, so the body of the answer can name both.
docs/operations.md lists these values.
"""

from __future__ import annotations

import json
import math
from typing import Any

from aiohttp import web

from ..core.instance_ids import MAX_INSTANCE_ID_LENGTH
from ..core.queries import CONTINUATION_HEADER
from ..errors import InvalidRequestError

MAX_BODY_BYTES = 32 * 1024 * 1024
"""Request body of the management API. Orchestration inputs of several MB start (they go to large-message
blobs); function routes keep the Functions host's 100 MB."""
MAX_JSON_DEPTH = 64
"""Nesting of arrays and objects in a JSON body, as Json.NET and System.Text.Json default to."""
MAX_NEW_INSTANCE_ID_LENGTH = MAX_INSTANCE_ID_LENGTH
"""An instance id given to a new instance (the Durable Functions rule: 1 to 100 characters)."""
MAX_INSTANCE_ID_LOOKUP_LENGTH = 256
"""An instance id that addresses an existing instance: the .NET extension let ids this long be created."""
MAX_ENTITY_ID_LENGTH = MAX_INSTANCE_ID_LOOKUP_LENGTH
"""An entity's instance id, ``@name@key``."""
MAX_NAME_LENGTH = 256
"""An orchestrator function name, an event name or an entity operation name."""
MAX_PAGE_SIZE = 1000
"""``top``: the most instances or entities one page holds (the Table service's own page limit)."""

MAX_QUERY_VALUE_LENGTH = 4096
"""Any one query parameter (a ``reason``, a filter) and the continuation token header."""
MAX_HTTP_LINE_BYTES = 64 * 1024
"""The HTTP server's own limit on the request line and on each header line (the host's, for every route):
above it the server refuses the request with a plain-text 400 before any handler sees it."""
_FORBIDDEN_KEY_CHARS = frozenset("/\\#?")


class RequestRejected(InvalidRequestError):
    """A request refused before anything is written, naming the parameter at fault."""

    def __init__(self, message: str, *, parameter: str, status: int = 400, limit: int | None = None) -> None:
        super().__init__(message)
        self.parameter = parameter
        self.status = status
        self.limit = limit


def check_length(value: str, limit: int, parameter: str, what: str) -> str:
    """``value`` itself, or a 400 when it is empty or longer than ``limit`` characters."""
    if not value:
        raise RequestRejected(f"The {what} ('{parameter}') must not be empty.", parameter=parameter)
    if len(value) > limit:
        raise RequestRejected(
            f"The {what} ('{parameter}') is {len(value)} characters long; the limit is {limit}.",
            parameter=parameter,
            limit=limit,
        )
    return value


def check_query_lengths(request: web.Request) -> None:
    """No query parameter (nor the continuation token) longer than :data:`MAX_QUERY_VALUE_LENGTH`."""
    values = [*request.query.items(), (CONTINUATION_HEADER, request.headers.get(CONTINUATION_HEADER, ""))]
    for name, value in values:
        if len(value) > MAX_QUERY_VALUE_LENGTH:
            where = "header" if name == CONTINUATION_HEADER else "query parameter"
            raise RequestRejected(
                f"The {where} '{name[:100]}' is {len(value)} characters long; the limit is "
                f"{MAX_QUERY_VALUE_LENGTH}.",
                parameter=name,
                limit=MAX_QUERY_VALUE_LENGTH,
            )


def check_entity_key(name: str, key: str) -> None:
    """Entity keys follow the instance id rules: no ``/ \\ # ?`` or control characters, and ``@name@key``
    at most :data:`MAX_ENTITY_ID_LENGTH` characters."""
    bad = next((c for c in key if c in _FORBIDDEN_KEY_CHARS or _is_control(c)), None)
    if bad is not None:
        raise RequestRejected(
            f"The entity key contains the character {bad!r}; entity keys must not contain '/', '\\', '#', "
            "'?' or control characters.",
            parameter="entityKey",
        )
    room = MAX_ENTITY_ID_LENGTH - len(name) - 2
    if len(key) > room:
        raise RequestRejected(
            f"The entity key is {len(key)} characters long; an entity id '@name@key' has at most "
            f"{MAX_ENTITY_ID_LENGTH} characters, so with the name '{name}' the key may have {max(room, 0)}.",
            parameter="entityKey",
            limit=max(room, 0),
        )


def _is_control(char: str) -> bool:
    code = ord(char)
    return code <= 0x1F or 0x7F <= code <= 0x9F


def check_page_size(value: str | None, default: int, parameter: str = "top") -> int:
    """A page size from 1 to :data:`MAX_PAGE_SIZE`."""
    if value is None:
        return default
    try:
        result = int(value)
    except ValueError:
        result = 0
    if not 1 <= result <= MAX_PAGE_SIZE:
        raise RequestRejected(
            f"The query parameter '{parameter}' must be an integer from 1 to {MAX_PAGE_SIZE}, not '{value}'.",
            parameter=parameter,
            limit=MAX_PAGE_SIZE,
        )
    return result


def check_seconds(value: str | None, parameter: str) -> float | None:
    """A finite, non-negative number of seconds."""
    if value is None:
        return None
    try:
        result = float(value)
    except ValueError:
        result = math.nan
    if not math.isfinite(result) or result < 0:
        raise RequestRejected(
            f"The query parameter '{parameter}' must be a non-negative number of seconds, not '{value}'.",
            parameter=parameter,
        )
    return result


async def read_body(request: web.Request, parameter: str = "body") -> bytes:
    """The request body, or a 413 as soon as it is known to be larger than :data:`MAX_BODY_BYTES`."""
    declared = request.content_length
    if declared is not None and declared > MAX_BODY_BYTES:
        raise _too_large(parameter, declared)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.content.iter_any():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise _too_large(parameter, None)
        chunks.append(chunk)
    return b"".join(chunks)


def _too_large(parameter: str, size: int | None) -> RequestRejected:
    sent = f"{size} bytes" if size is not None else "more"
    return RequestRejected(
        f"The request body is {sent}; the management API takes at most {MAX_BODY_BYTES} bytes "
        f"({MAX_BODY_BYTES // (1024 * 1024)} MB). Pass large data by reference (e.g. a blob name) instead.",
        parameter=parameter,
        status=413,
        limit=MAX_BODY_BYTES,
    )


async def body_text(request: web.Request, parameter: str = "body") -> str:
    """The body decoded with its charset (UTF-8 when none is given); a 400 when it cannot be."""
    raw = await read_body(request, parameter)
    charset = request.charset or "utf-8"
    try:
        return raw.decode(charset)
    except (LookupError, UnicodeDecodeError) as exc:
        raise RequestRejected(
            f"The request body cannot be decoded as {charset}: {exc}. Send UTF-8 text.", parameter=parameter
        ) from exc


def parse_json(text: str, what: str, parameter: str = "body") -> Any:
    """The JSON value of ``text``; a 400 when it is not JSON or nests deeper than :data:`MAX_JSON_DEPTH`."""
    try:
        value = json.loads(text)
    except RecursionError:
        raise _too_deep(what, parameter) from None
    except ValueError as exc:
        raise RequestRejected(
            f"The {what} in the request body is not valid JSON: {exc}.", parameter=parameter
        ) from exc
    if json_depth(value) > MAX_JSON_DEPTH:
        raise _too_deep(what, parameter)
    return value


def _too_deep(what: str, parameter: str) -> RequestRejected:
    return RequestRejected(
        f"The {what} in the request body nests arrays and objects more than {MAX_JSON_DEPTH} levels deep.",
        parameter=parameter,
        limit=MAX_JSON_DEPTH,
    )


def json_depth(value: Any) -> int:
    """How deeply arrays and objects nest in ``value`` (a scalar is 0, ``[]`` is 1)."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        deepest = max(deepest, depth + 1)
        if deepest > MAX_JSON_DEPTH:
            return deepest
        stack.extend((child, depth + 1) for child in children)
    return deepest


def compact_json(value: Any, what: str, parameter: str = "body") -> str:
    """``value`` as compact JSON text that storage can hold (a lone surrogate cannot be sent as UTF-8)."""
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise RequestRejected(
            f"The {what} in the request body contains a lone UTF-16 surrogate "
            f"({exc.object[exc.start : exc.end]!r}), which is not text; send valid Unicode.",
            parameter=parameter,
        ) from None
    return text

"""The built-in HTTP activity behind ``context.call_http``.

The request runs inside one task (one task id, as the SDK expects). With the asynchronous pattern, a
``202 Accepted`` with a ``Location`` header is polled (GET, honouring ``Retry-After``) until another
status comes back; the final response is the task's result.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp
from multidict import CIMultiDictProxy

from ..errors import ActivityFailedError

DEFAULT_POLL_INTERVAL_S = 30.0
MAX_POLLS = 10_000


class HttpActivity:
    def __init__(self, default_poll_interval_s: float = DEFAULT_POLL_INTERVAL_S) -> None:
        self.default_poll_interval_s = default_poll_interval_s
        self._session: aiohttp.ClientSession | None = None

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession()
        return self._session

    async def run(self, input_json: str | None) -> str:
        request = _request_from_input(input_json)
        if request.get("tokenSource"):
            raise ActivityFailedError(
                "call_http with a token_source (managed identity) is not supported by durable-ext: "
                "pass the Authorization header yourself."
            )
        method = str(request.get("method") or "GET").upper()
        uri = str(request.get("uri") or "")
        if not uri:
            raise ActivityFailedError("call_http needs a uri.")
        headers = {str(k): _header_value(v) for k, v in (request.get("headers") or {}).items()}
        content = request.get("content")
        try:
            response = await self._send(method, uri, headers, content)
            for _ in range(MAX_POLLS):
                status, response_headers, _body = response
                location = response_headers.get("Location")
                if status != 202 or not location or request.get("asynchronousPatternEnabled") is False:
                    break
                await asyncio.sleep(_retry_after_s(response_headers, self.default_poll_interval_s))
                response = await self._send("GET", location, headers, None)
        except aiohttp.ClientError as exc:
            raise ActivityFailedError(f"call_http to {uri} failed: {type(exc).__name__}: {exc}") from exc
        status, response_headers, body = response
        return json.dumps({"statusCode": status, "headers": _headers(response_headers), "content": body})

    async def _send(
        self, method: str, uri: str, headers: dict[str, str], content: Any
    ) -> tuple[int, CIMultiDictProxy[str], str]:
        data = content if content is None or isinstance(content, str) else json.dumps(content)
        async with self._client().request(method, uri, headers=headers, data=data) as response:
            return response.status, response.headers, await response.text()


def _request_from_input(input_json: str | None) -> dict[str, Any]:
    try:
        value = json.loads(input_json or "null")
    except ValueError as exc:
        raise ActivityFailedError(f"The call_http request is not valid JSON: {exc}") from exc
    if isinstance(value, list) and len(value) == 1:
        value = value[0]
    if isinstance(value, str):
        value = json.loads(value)
    if not isinstance(value, dict):
        raise ActivityFailedError("The call_http request must be a JSON object.")
    return value


def _header_value(value: Any) -> str:
    return ", ".join(str(v) for v in value) if isinstance(value, list) else str(value)


def _headers(headers: CIMultiDictProxy[str]) -> dict[str, str | list[str]]:
    out: dict[str, str | list[str]] = {}
    for key in headers:
        values = headers.getall(key)
        out[key] = values[0] if len(values) == 1 else list(values)
    return out


def _retry_after_s(headers: CIMultiDictProxy[str], default_s: float) -> float:
    value = headers.get("Retry-After")
    try:
        return max(0.0, float(value)) if value is not None else default_s
    except ValueError:
        return default_s

"""Your function app, served in-process on a private Azurite, with a plain (blocking) client for tests.

    with DurableTestHost("path/to/app") as durable:
        instance_id = durable.start("hello_cities")
        assert durable.wait_for_completion(instance_id).output == ["Hello Tokyo!", ...]

The host runs on an event loop of its own in a background thread, so the client works from plain
``def`` tests and from ``async def`` ones alike. Azurite runs in memory on free ports and is stopped
with the host; nothing is left behind.
"""

from __future__ import annotations

import asyncio
import json
import os
import threading
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

from ..core.entities import EntityId
from ..core.state import OrchestrationState
from ..extension.protocol import embedded_input
from ..host.azurite import AzuriteProcess
from ..host.host import FunctionsHost

T = TypeVar("T")
STORAGE_SETTING = "AzureWebJobsStorage"


@dataclass(frozen=True)
class InstanceStatus:
    """An orchestration's status with its JSON values decoded (as ``DurableOrchestrationStatus``)."""

    instance_id: str
    name: str
    runtime_status: str
    input: Any
    output: Any
    custom_status: Any
    created_time: datetime | None
    last_updated_time: datetime | None

    @classmethod
    def of(cls, state: OrchestrationState) -> InstanceStatus:
        return cls(
            state.instance_id,
            state.name,
            state.status.name,
            _decoded(state.input),
            _decoded(state.output),
            _decoded(state.custom_status),
            state.created_time,
            state.last_updated_time,
        )


def _decoded(text: str | None) -> Any:
    """The stored JSON as a value; the SDK client stores inputs JSON-encoded twice, so unwrap that too."""
    value = embedded_input(text)
    if isinstance(value, str):
        inner = embedded_input(value)
        return inner if not isinstance(inner, str) or inner != value else value
    return value


def _sdk_json(value: Any) -> str:
    """A value as the SDK's client stores it (the JSON text of its JSON)."""
    return json.dumps(json.dumps(value))


class DurableTestHost:
    """Starts Azurite and the app's host on :meth:`serve` (or ``with``); blocking client methods."""

    def __init__(self, script_root: str | Path, *, timeout_s: float = 30.0) -> None:
        self.script_root = Path(script_root).resolve()
        self.timeout_s = timeout_s
        self.base_url = ""
        """Where the app's HTTP functions are served, e.g. ``http://127.0.0.1:41234``."""
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="durable-test-host", daemon=True)
        self._azurite: AzuriteProcess | None = None
        self._host: FunctionsHost | None = None
        self._saved_setting: str | None = None

    # ---- lifecycle ----------------------------------------------------------------------------------
    def serve(self) -> DurableTestHost:
        """Start Azurite and the host (``with`` does this)."""
        if not (self.script_root / "function_app.py").is_file():
            raise FileNotFoundError(
                f"No function_app.py in '{self.script_root}': point the durable fixture at your app "
                "(the durable_ext_app ini option or --durable-app)."
            )
        self._thread.start()
        self._run(self._start(), 120)
        return self

    async def _start(self) -> None:
        self._azurite = AzuriteProcess()
        await self._azurite.start()
        self._saved_setting = os.environ.get(STORAGE_SETTING)
        os.environ[STORAGE_SETTING] = self._azurite.connection_string  # wins over local.settings.json
        self._host = FunctionsHost(self.script_root, port=0)
        await self._host.start()
        assert self._host.server is not None
        self.base_url = self._host.server.base_url

    def close(self) -> None:
        """Stop the host and Azurite (``with`` does this)."""
        if self._thread.is_alive():
            self._run(self._stop(), 120)
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=10)

    async def _stop(self) -> None:
        if self._host is not None:
            await self._host.stop()
        if self._azurite is not None:
            await self._azurite.stop()
        if self._saved_setting is None:
            os.environ.pop(STORAGE_SETTING, None)
        else:
            os.environ[STORAGE_SETTING] = self._saved_setting

    def __enter__(self) -> DurableTestHost:
        return self.serve()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- the client ---------------------------------------------------------------------------------
    def start(self, name: str, input: Any = None, instance_id: str | None = None) -> str:
        """Start orchestrator function ``name`` with ``input`` (any JSON value); its instance id."""
        input_json = None if input is None else _sdk_json(input)
        return self._run(self._client.start(name, input_json, instance_id))

    def wait_for_completion(self, instance_id: str, timeout_s: float | None = None) -> InstanceStatus:
        """Wait until the instance is completed, failed or terminated (``TimeoutError`` after
        ``timeout_s``, 30 s by default) and return its status."""
        timeout = timeout_s if timeout_s is not None else self.timeout_s
        state = self._run(self._client.wait_for_completion(instance_id, timeout, 0.05), timeout + 10)
        return InstanceStatus.of(state)

    def get_status(self, instance_id: str) -> InstanceStatus | None:
        state = self._run(self._client.get_state(instance_id))
        return None if state is None else InstanceStatus.of(state)

    def raise_event(self, instance_id: str, event_name: str, data: Any = None) -> None:
        self._run(self._client.raise_event(instance_id, event_name, json.dumps(data)))

    def terminate(self, instance_id: str, reason: str | None = None) -> None:
        self._run(self._client.terminate(instance_id, reason))

    def signal_entity(self, entity_name: str, key: str, operation: str, input: Any = None) -> None:
        """Send ``operation`` to the entity ``entity_name``/``key`` without waiting for it."""
        entity = EntityId.of(entity_name, key)
        self._run(self._client.signal_entity(entity, operation, None if input is None else _sdk_json(input)))

    def read_entity(self, entity_name: str, key: str) -> Any:
        """The entity's state as a value; ``None`` when it does not exist."""
        status = self._run(self._client.read_entity(EntityId.of(entity_name, key)))
        return None if status is None or not status.exists else embedded_input(status.state)

    def wait_for_entity(
        self, entity_name: str, key: str, reached: Callable[[Any], bool], timeout_s: float | None = None
    ) -> Any:
        """Read the entity until ``reached(state)`` holds (signals are processed asynchronously); its
        state. ``TimeoutError`` after ``timeout_s`` (30 s by default) names the last state seen."""
        deadline = time.monotonic() + (timeout_s if timeout_s is not None else self.timeout_s)
        while True:
            state = self.read_entity(entity_name, key)
            if state is not None and reached(state):
                return state
            if time.monotonic() >= deadline:
                raise TimeoutError(f"Entity {entity_name}/{key} is still {state!r}.")
            time.sleep(0.05)

    @property
    def _client(self) -> Any:
        if self._host is None or self._host.extension is None:
            raise RuntimeError("The durable test host is not started.")
        return self._host.extension.client

    def _run(self, coroutine: Coroutine[Any, Any, T], timeout_s: float | None = None) -> T:
        future = asyncio.run_coroutine_threadsafe(coroutine, self._loop)
        return future.result(timeout_s if timeout_s is not None else self.timeout_s + 10)

"""Your function app, served in-process, with a plain (blocking) client for tests.

    with DurableTestHost("path/to/app") as durable:
        instance_id = durable.start("hello_cities")
        assert durable.wait_for_completion(instance_id).output == ["Hello Tokyo!", ...]

``storage="memory"`` (the default) keeps the task hub in the process, on a virtual clock with time
skipping on: no Node, no Azurite, and a three-day timer passes at once. ``storage="azurite"`` runs the
app on a private Azurite in memory on free ports, stopped with the host, as it would run on Azure
Storage. See :mod:`.time_control` for the rule that keeps time skipping from racing the test's steps.

The host runs on an event loop of its own in a background thread, so the client works from plain
``def`` tests and from ``async def`` ones alike.
"""

from __future__ import annotations

import asyncio
import json
import os
import threading
from collections.abc import Awaitable, Callable, Collection, Coroutine
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Literal, TypeVar

from bindings.durable import close_sdk_client_session

from ..core.entities import EntityId
from ..core.history import HistoryEvent
from ..core.history_json import RecordedHistory, write_history_file
from ..core.state import OrchestrationState
from ..errors import InstanceNotFoundError
from ..extension.protocol import embedded_input
from ..host.azurite import AzuriteProcess
from ..host.host import FunctionsHost
from .mocks import Mock, Mocks
from .status import InstanceStatus, runtime_status_names, sdk_json
from .time_control import TimeControl

T = TypeVar("T")
Storage = Literal["memory", "azurite"]
STORAGES: tuple[Storage, ...] = ("memory", "azurite")
STORAGE_SETTING = "AzureWebJobsStorage"
PROVIDER_TYPES = {"memory": "memory", "azurite": "azurestorage"}
"""The ``storageProvider.type`` each storage choice runs the host with."""
POLL_INTERVAL_S = {"memory": 0.005, "azurite": 0.05}

__all__ = ["STORAGES", "DurableTestHost", "InstanceStatus", "Mock", "Storage"]


def checked_storage(storage: str, where: str = "storage") -> Storage:
    """``storage`` as one of :data:`STORAGES`, or an error naming where it was given."""
    for known in STORAGES:
        if storage.lower() == known:
            return known
    raise ValueError(f"{where} is '{storage}': use 'memory' (the default) or 'azurite'.")


class DurableTestHost:
    """Starts the app's host on :meth:`serve` (or ``with``); blocking client methods."""

    def __init__(
        self,
        script_root: str | Path,
        *,
        storage: str = "memory",
        timeout_s: float = 30.0,
        connection_string: str | None = None,
    ) -> None:
        """``connection_string``: for ``storage="azurite"``, an Azurite (or storage account) to use
        instead of starting a private Azurite."""
        self.script_root = Path(script_root).resolve()
        self.storage: Storage = checked_storage(storage)
        self.connection_string = connection_string
        self.timeout_s = timeout_s
        self.base_url = ""
        """Where the app's HTTP functions are served, e.g. ``http://127.0.0.1:41234``."""
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="durable-test-host", daemon=True)
        self._azurite: AzuriteProcess | None = None
        self._host: FunctionsHost | None = None
        self._saved_setting: str | None = None
        self._time = TimeControl(None)
        self._mocks = Mocks(lambda: self._extension.functions)
        self._poll_s = POLL_INTERVAL_S[self.storage]

    # ---- lifecycle ----------------------------------------------------------------------------------
    def serve(self) -> DurableTestHost:
        """Start the host (and Azurite for ``storage="azurite"``); ``with`` does this."""
        if not (self.script_root / "function_app.py").is_file():
            raise FileNotFoundError(
                f"No function_app.py in '{self.script_root}': point the durable fixture at your app "
                "(the durable_ext_app ini option or --durable-app)."
            )
        self._thread.start()
        self._run(self._start(), 120)
        return self

    async def _start(self) -> None:
        if self.storage == "azurite":
            if self.connection_string is None:
                self._azurite = AzuriteProcess()
                await self._azurite.start()
                self.connection_string = self._azurite.connection_string
            self._saved_setting = os.environ.get(STORAGE_SETTING)
            os.environ[STORAGE_SETTING] = self.connection_string  # wins over local.settings.json
        self._host = FunctionsHost(self.script_root, port=0, storage=PROVIDER_TYPES[self.storage])
        await self._host.start()
        assert self._host.server is not None
        self.base_url = self._host.server.base_url
        self._time = TimeControl(self._extension.service)
        self.reset()

    def close(self) -> None:
        """Stop the host (and Azurite); ``with`` does this."""
        if self._thread.is_alive():
            self._run(self._stop(), 120)
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=10)

    async def _stop(self) -> None:
        if self._host is not None:
            await self._host.stop()
        if self._azurite is not None:
            await self._azurite.stop()
        if self.storage == "azurite":
            if self._saved_setting is None:
                os.environ.pop(STORAGE_SETTING, None)
            else:
                os.environ[STORAGE_SETTING] = self._saved_setting

    def __enter__(self) -> DurableTestHost:
        return self.serve()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def release_sdk_session(self) -> None:
        """Close the SDK client's process-wide HTTP session, on this host's loop, before another host's
        app uses it: the session is bound to the loop of the host whose app opened it."""
        if self._thread.is_alive():
            self._run(close_sdk_client_session())

    def reset(self) -> None:
        """What each test starts from: no mocks, the storage's own time skipping, time not held."""
        self.reset_mocks()
        self._on_loop(self._reset_time)

    def _reset_time(self) -> None:
        self._time.time_skipping = self._time.virtual
        self._time.hold(False)

    # ---- changing the hub (durable time is held from here until the next wait) ----------------------
    def start(self, name: str, input: Any = None, instance_id: str | None = None) -> str:
        """Start orchestrator function ``name`` with ``input`` (any JSON value); its instance id."""
        input_json = None if input is None else sdk_json(input)
        return self._change(self._client.start(name, input_json, instance_id))

    def raise_event(self, instance_id: str, event_name: str, data: Any = None) -> None:
        self._change(self._client.raise_event(instance_id, event_name, json.dumps(data)))

    def terminate(self, instance_id: str, reason: str | None = None) -> None:
        self._change(self._client.terminate(instance_id, reason))

    def suspend(self, instance_id: str, reason: str | None = None) -> None:
        self._change(self._client.suspend(instance_id, reason))

    def resume(self, instance_id: str, reason: str | None = None) -> None:
        self._change(self._client.resume(instance_id, reason))

    def signal_entity(self, entity_name: str, key: str, operation: str, input: Any = None) -> None:
        """Send ``operation`` to the entity ``entity_name``/``key`` without waiting for it."""
        entity = EntityId.of(entity_name, key)
        self._change(
            self._client.signal_entity(entity, operation, None if input is None else sdk_json(input))
        )

    # ---- waiting (durable time may skip meanwhile) --------------------------------------------------
    def wait_for_completion(self, instance_id: str, timeout_s: float | None = None) -> InstanceStatus:
        """Wait until the instance is completed, failed or terminated (``TimeoutError`` after
        ``timeout_s`` wall seconds, 30 by default) and return its status."""
        return self._wait_for_state(instance_id, lambda status: status.is_terminal, "to finish", timeout_s)

    def wait_for_status(
        self,
        instance_id: str,
        runtime_status: str | Collection[str] | None = None,
        *,
        predicate: Callable[[InstanceStatus], bool] | None = None,
        timeout_s: float | None = None,
    ) -> InstanceStatus:
        """Wait until the instance's runtime status is ``runtime_status`` (a name such as ``"Running"``,
        or several), or until ``predicate(status)`` holds; its status."""
        if (runtime_status is None) == (predicate is None):
            raise TypeError("wait_for_status needs runtime_status or predicate (one of them).")
        if predicate is not None:
            return self._wait_for_state(instance_id, predicate, "to reach the predicate", timeout_s)
        names = runtime_status_names(runtime_status or ())

        def has_status(status: InstanceStatus) -> bool:
            return status.runtime_status in names

        return self._wait_for_state(instance_id, has_status, "to be " + " or ".join(sorted(names)), timeout_s)

    def wait_for_entity(
        self, entity_name: str, key: str, reached: Callable[[Any], bool], timeout_s: float | None = None
    ) -> Any:
        """Read the entity until ``reached(state)`` holds (signals are processed asynchronously); its
        state. ``TimeoutError`` after ``timeout_s`` (30 s by default) names the last state seen."""

        def describe(state: Any) -> str:
            return f"Entity {entity_name}/{key} is still {state!r}."

        return self._wait(
            lambda: self._read_entity(entity_name, key),
            lambda state: state is not None and reached(state),
            describe,
            timeout_s,
        )

    def advance(self, delta: timedelta, timeout_s: float | None = None) -> datetime:
        """Move durable time ahead by ``delta`` (timers due meanwhile fire), then wait until the engine
        is idle again; time is held meanwhile, so it does not skip further. Durable now. Memory only."""
        timeout = self.timeout_s if timeout_s is None else timeout_s
        return self._run(self._time.advance(delta, timeout), timeout + 10)

    # ---- reading ------------------------------------------------------------------------------------
    def get_status(self, instance_id: str) -> InstanceStatus | None:
        state = self._run(self._client.get_state(instance_id))
        return None if state is None else InstanceStatus.of(state)

    def get_history(self, instance_id: str) -> list[HistoryEvent]:
        """The instance's history events, oldest first."""
        return self._run(self._client.get_history(instance_id))

    def export_history(self, instance_id: str, folder: str | Path) -> Path:
        """Write the instance's history to ``folder`` (created if missing) in the form
        ``durable-ext durable export-history`` writes, for replay tests; the file's path."""
        history = self._run(self._recorded_history(instance_id))
        Path(folder).mkdir(parents=True, exist_ok=True)
        return write_history_file(history, Path(folder))

    async def _recorded_history(self, instance_id: str) -> RecordedHistory:
        state = await self._client.get_state(instance_id)
        if state is None:
            raise InstanceNotFoundError(instance_id)
        return RecordedHistory.of(state, await self._client.get_history(instance_id))

    def read_entity(self, entity_name: str, key: str) -> Any:
        """The entity's state as a value; ``None`` when it does not exist."""
        return self._run(self._read_entity(entity_name, key))

    async def _read_entity(self, entity_name: str, key: str) -> Any:
        status = await self._client.read_entity(EntityId.of(entity_name, key))
        return None if status is None or not status.exists else embedded_input(status.state)

    # ---- durable time -------------------------------------------------------------------------------
    @property
    def now(self) -> datetime:
        """Durable now: the virtual clock on memory, the wall clock on Azurite."""
        return self._time.now()

    @property
    def time_skipping(self) -> bool:
        """Whether durable time jumps to the next due timer when no work is runnable (memory only; on by
        default there). Each test starts with the storage's default."""
        return self._time.time_skipping

    @time_skipping.setter
    def time_skipping(self, on: bool) -> None:
        self._run(self._set_time_skipping(on))

    async def _set_time_skipping(self, on: bool) -> None:
        self._time.time_skipping = on

    @property
    def time_held(self) -> bool:
        """Whether durable time is held now (see the hold rule in :mod:`durable_ext.testing.time_control`)."""
        return self._time.held

    # ---- mocks --------------------------------------------------------------------------------------
    def mock_activity(self, name: str, fn_or_value: Any) -> Mock:
        """Replace activity ``name`` until :meth:`reset_mocks` (the fixture calls it after each test)."""
        return self._mocks.activity(name, fn_or_value)

    def mock_sub_orchestrator(self, name: str, fn_or_value: Any) -> Mock:
        """Replace orchestrator ``name``: an instance of it (a sub-orchestration started by that name)
        completes with what the mock gives, or fails when it raises."""
        return self._mocks.sub_orchestrator(name, fn_or_value)

    def reset_mocks(self) -> None:
        """Put the app's own activities and orchestrators back."""
        if self._host is not None:
            self._mocks.reset()

    # ---- plumbing -----------------------------------------------------------------------------------
    def _wait_for_state(
        self,
        instance_id: str,
        reached: Callable[[InstanceStatus], bool],
        wanted: str,
        timeout_s: float | None,
    ) -> InstanceStatus:
        def describe(status: InstanceStatus | None) -> str:
            if status is None:
                raise InstanceNotFoundError(instance_id)
            return (
                f"Instance '{instance_id}' ({status.name}) is still {status.runtime_status}; waited for it "
                f"{wanted} (durable time now {self.now.isoformat()})."
            )

        found = self._wait(
            lambda: self._status(instance_id),
            lambda status: status is not None and reached(status),
            describe,
            timeout_s,
        )
        assert found is not None
        return found

    async def _status(self, instance_id: str) -> InstanceStatus | None:
        state: OrchestrationState | None = await self._client.get_state(instance_id)
        return None if state is None else InstanceStatus.of(state)

    def _wait(
        self,
        read: Callable[[], Awaitable[T]],
        reached: Callable[[T], bool],
        describe: Callable[[T], str],
        timeout_s: float | None,
    ) -> T:
        """Read until ``reached`` holds, time released meanwhile; ``TimeoutError(describe(last))``."""
        timeout = self.timeout_s if timeout_s is None else timeout_s
        return self._run(self._time.waiting(self._poll(read, reached, describe, timeout)), timeout + 10)

    async def _poll(
        self,
        read: Callable[[], Awaitable[T]],
        reached: Callable[[T], bool],
        describe: Callable[[T], str],
        timeout_s: float,
    ) -> T:
        deadline = self._loop.time() + timeout_s
        while True:
            value = await read()
            if reached(value):
                return value
            if self._loop.time() >= deadline:
                raise TimeoutError(f"{describe(value)} Gave up after {timeout_s:g} seconds.")
            await asyncio.sleep(self._poll_s)

    def _change(self, change: Coroutine[Any, Any, T]) -> T:
        return self._run(self._time.changing(change))

    @property
    def _extension(self) -> Any:
        if self._host is None or self._host.extension is None:
            raise RuntimeError("The durable test host is not started: call serve(), or use it with `with`.")
        return self._host.extension

    @property
    def _client(self) -> Any:
        return self._extension.client

    def _on_loop(self, function: Callable[[], None]) -> None:
        """Run ``function`` on the host's loop and wait for it (directly when already there)."""

        async def call() -> None:
            function()

        if threading.current_thread() is self._thread:
            function()
        else:
            self._run(call())

    def _run(self, coroutine: Coroutine[Any, Any, T], timeout_s: float | None = None) -> T:
        future = asyncio.run_coroutine_threadsafe(coroutine, self._loop)
        try:
            return future.result(timeout_s if timeout_s is not None else self.timeout_s + 10)
        except TimeoutError:
            future.cancel()
            raise

"""Replay tests: does the app's current orchestrator code still replay the histories already recorded?

    from durable_ext.testing import replay

    def test_new_code_replays_production_histories() -> None:
        replay("path/to/app", "exported-histories/").assert_replays()

Each history (exported with ``durable-ext durable export-history``) runs through the real SDK and the
engine's own replay, without a task hub: no storage, no HTTP server, no activity is called. Per instance
the result is "replays", or the first divergence in the words the engine fails an instance with.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeAlias, Union

from bindings.durable import durable_name

from ..core.divergence import Divergence, missing_orchestrator
from ..core.entities import is_entity_instance
from ..core.history import HistoryEvent
from ..core.history_json import (
    HistoryFormatError,
    RecordedHistory,
    history_files,
    read_history_file,
)
from ..core.state import OrchestrationRuntimeState
from ..errors import NonDeterminismError
from ..extension.functions import FunctionRegistry
from ..extension.runners import SdkOrchestrationRunner
from ..host.app_loader import load_function_app
from ..host.function_filter import enabled_functions
from ..host.settings import AppSettings, apply_to_environment, load_settings

HistorySource: TypeAlias = Union[  # noqa: UP007 - the alias refers to itself
    RecordedHistory,
    Mapping[str, Any],
    str,
    os.PathLike[str],
    Sequence[HistoryEvent],
    Sequence["HistorySource"],
]
"""A recorded history, an exported JSON object, a file or folder of exported files, a history's events,
or a list of any of these."""

ORCHESTRATION_TRIGGER = "orchestrationtrigger"
NOT_RUN_REASON = "it is defined but does not run: it is disabled, or left out of the host.json functions list"


@dataclass(frozen=True)
class InstanceReplay:
    """How one recorded instance fared: it replays, it diverges, or it was skipped (and why)."""

    instance_id: str
    name: str
    divergence: Divergence | None = None
    skipped: str | None = None

    @property
    def replays(self) -> bool:
        return self.divergence is None and self.skipped is None

    @property
    def outcome(self) -> str:
        """``replays``, ``diverges`` or ``skipped``."""
        if self.divergence is not None:
            return "diverges"
        return "skipped" if self.skipped is not None else "replays"

    def describe(self) -> str:
        if self.divergence is not None:
            return self.divergence.describe()
        return f"skipped: {self.skipped}" if self.skipped is not None else "replays"

    def to_json(self) -> dict[str, Any]:
        return {
            "instanceId": self.instance_id,
            "name": self.name,
            "result": self.outcome,
            "message": self.describe(),
            "divergence": None if self.divergence is None else self.divergence.to_json(),
        }


@dataclass(frozen=True)
class ReplayResult:
    instances: list[InstanceReplay]

    @property
    def ok(self) -> bool:
        """True when no instance diverges (skipped ones do not count against it)."""
        return not self.divergent

    @property
    def divergent(self) -> list[InstanceReplay]:
        return [i for i in self.instances if i.divergence is not None]

    def __getitem__(self, instance_id: str) -> InstanceReplay:
        for instance in self.instances:
            if instance.instance_id == instance_id:
                return instance
        raise KeyError(f"No recorded history of instance '{instance_id}' was replayed.")

    def summary(self) -> str:
        replaying = sum(1 for i in self.instances if i.replays)
        skipped = sum(1 for i in self.instances if i.skipped is not None)
        text = f"{replaying} of {len(self.instances)} instance(s) replay, {len(self.divergent)} diverge"
        return text + (f", {skipped} skipped." if skipped else ".")

    def report(self) -> str:
        """One line per instance (``<id> (<name>): replays`` or the divergence), then the summary."""
        lines = [f"{i.instance_id} ({i.name}): {i.describe()}" for i in self.instances]
        return "\n".join([*lines, self.summary()])

    def assert_replays(self) -> None:
        """Raise ``AssertionError`` listing every divergent instance, in the engine's words."""
        if self.ok:
            return
        lines = [f"- {i.instance_id} ({i.name}): {i.describe()}" for i in self.divergent]
        raise AssertionError(
            f"{len(self.divergent)} of {len(self.instances)} recorded instance(s) do not replay on the "
            "current orchestrator code:\n" + "\n".join(lines)
        )

    def to_json(self) -> dict[str, Any]:
        return {"ok": self.ok, "summary": self.summary(), "instances": [i.to_json() for i in self.instances]}


def replay(app_folder: str | os.PathLike[str], history: HistorySource) -> ReplayResult:
    """Replay each recorded history against the current orchestrator code of the app in ``app_folder``.

    Works from plain and from ``async def`` tests alike (it runs on an event loop of its own).
    """
    histories = load_histories(history)
    root = Path(app_folder)
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(replay_histories(root, histories))
    with ThreadPoolExecutor(1, thread_name_prefix="replay") as thread:
        return thread.submit(asyncio.run, replay_histories(root, histories)).result()


async def replay_histories(app_folder: Path, histories: Sequence[RecordedHistory]) -> ReplayResult:
    """:func:`replay` for a caller already on an event loop (the command line)."""
    with (
        _loaded_app(app_folder) as (registry, not_run),
        ThreadPoolExecutor(1, thread_name_prefix="orchestrator") as executor,
    ):
        runner = SdkOrchestrationRunner(registry, executor)
        return ReplayResult([await _replay_one(runner, not_run, h) for h in histories])


@contextlib.contextmanager
def _loaded_app(app_folder: Path) -> Iterator[tuple[FunctionRegistry, dict[str, str]]]:
    """The app's orchestrators, with the app's ``local.settings.json`` values in the environment while
    its code runs, as the host puts them there; removed again afterwards."""
    root = app_folder.resolve()
    settings = load_settings(root)
    applied = apply_to_environment(settings)
    try:
        yield orchestrators(root, settings)
    finally:
        for name in applied:
            os.environ.pop(name, None)


def orchestrators(app_folder: Path, settings: AppSettings) -> tuple[FunctionRegistry, dict[str, str]]:
    """The app's orchestrators, indexed as the host indexes them and registered under their durable
    names; and, by lower-cased name, why those the host would not run are left out."""
    loaded = load_function_app(app_folder, settings)
    running = {id(f) for f in enabled_functions(loaded.functions, settings)}
    registry, not_run = FunctionRegistry(), {}
    for function in loaded.functions:
        if function.trigger_type.lower() != ORCHESTRATION_TRIGGER:
            continue
        name = durable_name(function, "orchestration")
        if id(function) in running:
            registry.add_orchestrator(name, function.user_function)
        else:
            not_run[name.lower()] = NOT_RUN_REASON
    return registry, not_run


async def _replay_one(
    runner: SdkOrchestrationRunner, not_run: dict[str, str], history: RecordedHistory
) -> InstanceReplay:
    state = OrchestrationRuntimeState(past_events=[e.copy() for e in history.events])
    started = state.execution_started
    name = history.name or (started.name if started is not None else None) or ""
    if is_entity_instance(history.instance_id):
        skip = "it is an entity; entity histories are not replayed"
        return InstanceReplay(history.instance_id, name, skipped=skip)
    if started is None:
        skip = "its history has no ExecutionStarted event (it has not started), so there is nothing to replay"
        return InstanceReplay(history.instance_id, name, skipped=skip)
    if not runner.functions.has_orchestrator(started.name or ""):
        index = next(i for i, e in enumerate(state.past_events) if e is started)
        missing = missing_orchestrator(index, started, not_run.get((started.name or "").lower()))
        return InstanceReplay(history.instance_id, name, missing)
    try:
        await runner.run(state, strict=True)
    except NonDeterminismError as exc:
        return InstanceReplay(history.instance_id, name, exc.divergence)
    return InstanceReplay(history.instance_id, name)


# ---- histories ----------------------------------------------------------------------------------------
def load_histories(source: HistorySource) -> list[RecordedHistory]:
    """Every recorded history ``source`` holds (see :data:`HistorySource`)."""
    if isinstance(source, RecordedHistory):
        return [source]
    if isinstance(source, str | os.PathLike):
        path = Path(source)
        files = history_files(path) if path.is_dir() else [path]
        return [history for file in files for history in read_history_file(file)]
    if isinstance(source, Mapping):
        try:
            return [RecordedHistory.from_json(source)]
        except HistoryFormatError as exc:
            raise HistoryFormatError(
                f"The history object cannot be read: {exc}. Pass an object as `durable-ext durable "
                "export-history` writes it."
            ) from exc
    if isinstance(source, Sequence):
        events = [item for item in source if isinstance(item, HistoryEvent)]
        others = [item for item in source if not isinstance(item, HistoryEvent)]
        if events and others:
            raise TypeError("A list of histories mixes history events with histories: pass one or the other.")
        if events:
            return [RecordedHistory.from_events(events)]
        return [history for item in others for history in load_histories(item)]
    raise TypeError(
        f"Cannot replay a {type(source).__name__}: pass a RecordedHistory, an exported history object, "
        "the path of an exported file or folder, a history's events, or a list of these."
    )

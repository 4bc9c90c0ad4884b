"""Replay tests as a user runs them: record histories with `durable-ext start`, export them with
`durable-ext durable export-history`, replay them with `durable-ext durable replay` against the same code
and against copies of the app with one deliberate change each."""

from __future__ import annotations

import asyncio
import json
import shutil
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from durable_ext.core.divergence import ADVICE

from .conftest import APPS, serve
from .hosting import RunningHost
from .test_durable_cli import cli
from .test_orchestration_features import run as run_feature

APP = APPS / "replay"
SOURCE = (APP / "function_app.py").read_text()
CHARGE = '    charged = yield context.call_activity("charge_card", order)\n'
TIMER = 'timedelta(seconds=order["wait_s"])'


@dataclass
class Recorded:
    connection_string: str
    finished: list[str]
    """Two instances that completed: reserve_stock, a one-second timer, charge_card."""
    waiting: str
    """One instance still waiting on its hour-long timer."""
    export: Path


def run(connection_string: str, *arguments: str, app: Path = APP) -> Any:
    return cli(connection_string, *arguments, "--script-root", str(app))


def run_json(connection_string: str, *arguments: str, app: Path = APP) -> Any:
    done = run(connection_string, *arguments, "--json", app=app)
    assert done.returncode in (0, 1), done.stderr
    return json.loads(done.stdout)


async def _until(connection_string: str, instance_id: str, done: str) -> None:
    """Until the instance's history has an event of type ``done``."""
    for _ in range(150):
        history = await asyncio.to_thread(run_json, connection_string, "get-history", "--id", instance_id)
        if any(event["EventType"] == done for event in history):
            return
        await asyncio.sleep(0.2)
    raise AssertionError(f"{instance_id} never recorded {done}")


def _start(connection_string: str, instance_id: str, wait_s: int) -> None:
    order = json.dumps({"item": "book", "amount": 12, "wait_s": wait_s})
    started = run_json(
        connection_string,
        "start-new",
        "--function-name",
        "process_order",
        "--input",
        order,
        "--id",
        instance_id,
    )
    assert started["instanceId"] == instance_id


@pytest.fixture(scope="module")
async def recorded(
    connection_string: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Recorded]:
    run_id = uuid.uuid4().hex[:6]
    finished = [f"order-{run_id}-1", f"order-{run_id}-2"]
    waiting = f"order-{run_id}-waiting"
    async for _host in serve(APP, connection_string, tmp_path_factory):
        for instance_id in finished:
            _start(connection_string, instance_id, 1)
        _start(connection_string, waiting, 3600)
        for instance_id in finished:
            await _until(connection_string, instance_id, "ExecutionCompleted")
        await _until(connection_string, waiting, "TimerCreated")
    export = tmp_path_factory.mktemp("export")
    done = run(
        connection_string, "export-history", "--out", str(export), "--runtime-status", "Completed", "Running"
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"Wrote 3 history file(s) to {export}."
    yield Recorded(connection_string, finished, waiting, export)


def variant(tmp_path: Path, old: str, new: str) -> Path:
    """A copy of the app whose orchestrator has one change."""
    assert old in SOURCE
    folder = tmp_path / "changed"
    shutil.copytree(APP, folder)
    (folder / "function_app.py").write_text(SOURCE.replace(old, new))
    return folder


def replayed(recorded: Recorded, app: Path) -> tuple[int, dict[str, dict[str, Any]]]:
    done = run(recorded.connection_string, "replay", "--dir", str(recorded.export), "--json", app=app)
    assert done.returncode in (0, 1), done.stderr
    body = json.loads(done.stdout)
    return done.returncode, {row["instanceId"]: row for row in body["instances"]}


def test_export_writes_one_file_per_instance_in_the_exported_form(recorded: Recorded) -> None:
    files = sorted(p.name for p in recorded.export.iterdir())
    assert files == sorted(f"{i}.json" for i in [*recorded.finished, recorded.waiting])
    body = json.loads((recorded.export / f"{recorded.finished[0]}.json").read_text())
    assert body["formatVersion"] == 1 and body["name"] == "process_order"
    assert body["runtimeStatus"] == "Completed" and json.loads(json.loads(body["input"]))["item"] == "book"
    kinds = [event["EventType"] for event in body["history"]]
    assert kinds.count("TaskScheduled") == 2 and "TimerCreated" in kinds and kinds[-2] == "ExecutionCompleted"
    one = run_json(
        recorded.connection_string,
        "export-history",
        "--out",
        str(recorded.export / "one"),
        "--id",
        recorded.waiting,
    )
    assert one["count"] == 1 and Path(one["files"][0]).name == f"{recorded.waiting}.json"


def test_the_same_code_replays_every_history(recorded: Recorded) -> None:
    done = run(recorded.connection_string, "replay", "--dir", str(recorded.export))
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    for instance_id in [*recorded.finished, recorded.waiting]:
        assert f"{instance_id} (process_order): replays" in lines
    assert lines[-1] == "3 of 3 instance(s) replay, 0 diverge."


def test_replay_straight_from_the_task_hub(recorded: Recorded, tmp_path: Path) -> None:
    by_id = run(recorded.connection_string, "replay", "--id", recorded.finished[0])
    assert by_id.returncode == 0 and f"{recorded.finished[0]} (process_order): replays" in by_id.stdout
    renamed = variant(tmp_path, '"charge_card", order', '"charge_payment", order')
    by_query = run(
        recorded.connection_string,
        "replay",
        "--name",
        "process_order",
        "--runtime-status",
        "Running",
        app=renamed,
    )
    assert by_query.returncode == 0, by_query.stdout  # the waiting instance has not reached the change
    assert f"{recorded.waiting} (process_order): replays" in by_query.stdout


def test_a_different_activity_name_diverges_naming_the_event_and_both_names(
    recorded: Recorded, tmp_path: Path
) -> None:
    code, rows = replayed(recorded, variant(tmp_path, '"charge_card", order', '"charge_payment", order'))
    assert code == 1
    assert rows[recorded.waiting]["result"] == "replays"
    for instance_id in recorded.finished:
        found = rows[instance_id]["divergence"]
        assert found["kind"] == "different-task"
        assert found["message"] == (
            f"Event {found['eventIndex']} of the history is TaskScheduled #2 'charge_card', but the "
            f"orchestrator now schedules TaskScheduled #2 'charge_payment' at that point. {ADVICE}"
        )
    history = json.loads((recorded.export / f"{recorded.finished[0]}.json").read_text())["history"]
    index = rows[recorded.finished[0]]["divergence"]["eventIndex"]
    assert history[index]["EventType"] == "TaskScheduled" and history[index]["props"]["Name"] == "charge_card"


def test_an_added_activity_diverges(recorded: Recorded, tmp_path: Path) -> None:
    before = variant(tmp_path, CHARGE, '    yield context.call_activity("check_fraud", order)\n' + CHARGE)
    code, rows = replayed(recorded, before)
    assert code == 1 and rows[recorded.waiting]["result"] == "replays"
    found = rows[recorded.finished[0]]["divergence"]
    assert found["kind"] == "different-task"
    assert "TaskScheduled #2 'charge_card'" in found["recorded"] and "'check_fraud'" in found["now"]
    shutil.rmtree(tmp_path / "changed")
    after = variant(tmp_path, CHARGE, CHARGE + '    yield context.call_activity("send_receipt", order)\n')
    code, rows = replayed(recorded, after)
    assert code == 1
    found = rows[recorded.finished[1]]["divergence"]
    assert found["kind"] == "new-task" and found["recorded"] == "ExecutionCompleted (Completed)"
    assert found["message"].startswith(
        f"Event {found['eventIndex']} of the history is ExecutionCompleted (Completed), but the orchestrator "
        "now schedules TaskScheduled #3 'send_receipt' instead of ending: a task the history does not have."
    )


def test_a_removed_activity_diverges(recorded: Recorded, tmp_path: Path) -> None:
    removed = variant(tmp_path, CHARGE, '    charged = "later"\n')
    done = run(recorded.connection_string, "replay", "--dir", str(recorded.export), app=removed)
    assert done.returncode == 1
    line = next(line for line in done.stdout.splitlines() if line.startswith(recorded.finished[0]))
    assert (
        " of the history is TaskScheduled #2 'charge_card', but the orchestrator now ends (Completed) "
        in line
    )
    assert line.startswith(f"{recorded.finished[0]} (process_order): Event ")
    assert done.stdout.splitlines()[-1] == "1 of 3 instance(s) replay, 2 diverge."


def test_a_changed_timer_diverges_even_for_the_waiting_instance(recorded: Recorded, tmp_path: Path) -> None:
    code, rows = replayed(recorded, variant(tmp_path, TIMER, 'timedelta(seconds=order["wait_s"] + 60)'))
    assert code == 1
    for instance_id in [*recorded.finished, recorded.waiting]:
        found = rows[instance_id]["divergence"]
        assert found["kind"] == "different-timer"
        assert found["recorded"].startswith("TimerCreated #1 firing at ")
        assert found["now"].startswith("the orchestrator now asks for TimerCreated #1 firing at ")


def test_bad_input_exits_with_2_naming_it(recorded: Recorded, tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.json"
    done = run(recorded.connection_string, "replay", "--file", str(missing))
    assert done.returncode == 2 and f"'{missing}' does not exist" in done.stderr
    unknown = run(recorded.connection_string, "replay", "--id", "no-such-order")
    assert unknown.returncode == 2 and "'no-such-order'" in unknown.stderr
    both = run(recorded.connection_string, "replay", "--dir", str(recorded.export), "--id", recorded.waiting)
    assert both.returncode == 2 and "not both" in both.stderr
    one = recorded.export / f"{recorded.waiting}.json"
    single = run(recorded.connection_string, "replay", "--file", str(one))
    assert (
        single.returncode == 0 and single.stdout.splitlines()[-1] == "1 of 1 instance(s) replay, 0 diverge."
    )


FEATURES = {
    "echo_input": {"a": 1},
    "race": None,
    "catches_failure": None,
    "fails": None,
    "raises_directly": None,
    "plain": 3,
    "deterministic": None,
    "calls_missing_activity": None,
    "RenamedOrchestrator": None,
    "not_serializable": None,
    "timer_then_echo": 1,
    "approval": 1,
    "parent": None,
    "retries": None,
    "parent_retrying_child": None,
}


async def test_every_orchestration_feature_replays_on_unchanged_code(
    features_host: RunningHost, http: aiohttp.ClientSession, connection_string: str, tmp_path: Path
) -> None:
    """No false divergence: fan-out, timers, retries, sub-orchestrations, failures, cancelled timers."""
    since = (datetime.now(UTC) - timedelta(seconds=1)).isoformat()
    finals = await asyncio.gather(*(run_feature(http, features_host, n, p) for n, p in FEATURES.items()))
    assert {final["runtimeStatus"] for final in finals} == {"Completed", "Failed"}
    export = tmp_path / "features"
    done = cli(
        connection_string, "export-history", "--out", str(export), "--created-after", since,
        "--script-root", str(APPS / "features"),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    count = len(list(export.iterdir()))
    assert count >= len(FEATURES) + 4  # and the sub-orchestrations
    replayed_features = cli(
        connection_string, "replay", "--dir", str(export), "--script-root", str(APPS / "features")
    )
    assert replayed_features.returncode == 0, replayed_features.stdout + replayed_features.stderr
    assert replayed_features.stdout.splitlines()[-1] == f"{count} of {count} instance(s) replay, 0 diverge."
    assert all(line.endswith(": replays") for line in replayed_features.stdout.splitlines()[:-1])


async def test_orchestrations_calling_entities_replay_and_entities_are_skipped(
    entities_host: RunningHost, http: aiohttp.ClientSession, connection_string: str
) -> None:
    key = uuid.uuid4().hex[:8]
    jobs = {
        "signal_then_call": {"key": key, "n": 3},
        "fan_out_to_counters": [f"{key}-a", f"{key}-b"],
        "call_and_catch": {"name": "grumpy", "key": key, "op": "anything"},
    }
    for name, job in jobs.items():
        async with http.post(f"{entities_host.base_url}/api/run/{name}", json=job) as response:
            assert response.status == 200, await response.text()  # it completed
    app = APPS / "entities"
    done = cli(
        connection_string, "replay", "--created-after", "2000-01-01T00:00:00Z", "--script-root", str(app)
    )
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    for name in jobs:
        assert any(f"({name}): replays" in line for line in lines)
    entity = cli(connection_string, "replay", "--id", f"@counter@{key}", "--script-root", str(app))
    assert entity.returncode == 0 and "skipped: it is an entity" in entity.stdout

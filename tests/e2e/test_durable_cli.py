"""`durable-ext durable ...` against a running host's task hub (the features app), as a user runs it."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from azure.storage.queue.aio import QueueServiceClient

from .conftest import APPS
from .hosting import REPO_ROOT, RunningHost

APP = APPS / "features"
COMMANDS = [
    "get-instances", "get-runtime-status", "get-history", "start-new", "raise-event", "terminate",
    "suspend", "resume", "rewind", "purge-history", "delete-task-hub",
]  # fmt: skip


def cli(connection_string: str, *arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "durable_ext", "durable", *arguments],
        cwd=REPO_ROOT,
        env={**os.environ, "AzureWebJobsStorage": connection_string},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def cli_json(connection_string: str, *arguments: str) -> Any:
    done = cli(connection_string, *arguments, "--script-root", str(APP), "--json")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


async def until_status(connection_string: str, instance_id: str, status: str) -> dict[str, Any]:
    for _ in range(100):
        body = await asyncio.to_thread(
            cli_json, connection_string, "get-runtime-status", "--id", instance_id, "--show-output"
        )
        if body["runtimeStatus"] == status:
            return dict(body)
        await asyncio.sleep(0.2)
    raise AssertionError(f"{instance_id} never became {status}")


async def test_start_status_history_and_listing(features_host: RunningHost, connection_string: str) -> None:
    instance_id = f"cli-{uuid.uuid4().hex[:8]}"
    started = cli_json(
        connection_string,
        "start-new",
        "--function-name",
        "echo_input",
        "--input",
        '{"a": 1}',
        "--id",
        instance_id,
    )
    assert started["instanceId"] == instance_id
    final = await until_status(connection_string, instance_id, "Completed")
    assert final["output"] == {"input": {"a": 1}, "echoed": {"a": 1}}
    history = cli_json(connection_string, "get-history", "--id", instance_id)
    kinds = [event["EventType"] for event in history]
    assert kinds[0] == "ExecutionStarted" and kinds[-1] == "ExecutionCompleted" and "TaskCompleted" in kinds
    since = (datetime.now(UTC) - timedelta(minutes=5)).isoformat()
    listed = cli_json(
        connection_string, "get-instances", "--runtime-status", "Completed", "--created-after", since
    )
    assert instance_id in [row["instanceId"] for row in listed["instances"]]
    by_name = cli_json(connection_string, "get-instances", "--name", "echo_input", "--id-prefix", instance_id)
    assert [row["instanceId"] for row in by_name["instances"]] == [instance_id]
    other = cli_json(connection_string, "get-instances", "--name", "two_events", "--id-prefix", instance_id)
    assert other["instances"] == []
    table = cli(connection_string, "get-instances", "--script-root", str(APP), "--created-after", since)
    assert table.returncode == 0 and table.stdout.splitlines()[0].split()[:3] == [
        "instanceId", "name", "runtimeStatus",
    ]  # fmt: skip
    assert any(line.startswith(instance_id) and "Completed" in line for line in table.stdout.splitlines())


async def test_listing_is_newest_first_by_default_and_counts_per_status(
    features_host: RunningHost, connection_string: str
) -> None:
    prefix = f"cliorder-{uuid.uuid4().hex[:6]}-"
    ids = [prefix + label for label in ("b", "c", "a")]  # started in this order, not in id order
    for instance_id in ids:
        cli_json(
            connection_string,
            "start-new",
            "--function-name",
            "echo_input",
            "--input",
            '"x"',
            "--id",
            instance_id,
        )
        await until_status(connection_string, instance_id, "Completed")
    newest = cli_json(connection_string, "get-instances", "--id-prefix", prefix)
    assert [row["instanceId"] for row in newest["instances"]] == ids[::-1]
    oldest = cli_json(
        connection_string, "get-instances", "--id-prefix", prefix, "--order", "oldest", "--top", "2"
    )
    assert [row["instanceId"] for row in oldest["instances"]] == ids[:2] and oldest["continuationToken"]
    by_id = cli_json(connection_string, "get-instances", "--id-prefix", prefix, "--order", "id")
    assert [row["instanceId"] for row in by_id["instances"]] == sorted(ids)
    counts = cli_json(connection_string, "get-instances", "--id-prefix", prefix, "--count")
    assert (counts["Completed"], counts["Running"], counts["total"]) == (3, 0, 3)
    table = cli(
        connection_string, "get-instances", "--script-root", str(APP), "--id-prefix", prefix, "--count"
    )
    assert table.returncode == 0
    assert dict(line.split() for line in table.stdout.splitlines())["Completed"] == "3"
    bad = cli(connection_string, "get-instances", "--script-root", str(APP), "--order", "sideways")
    assert bad.returncode == 2 and "--order: must be one of id, newest, oldest, not 'sideways'" in bad.stderr


async def test_terminate_by_query_with_a_dry_run_first(
    features_host: RunningHost, connection_string: str
) -> None:
    prefix = f"clibulk-{uuid.uuid4().hex[:6]}-"
    ids = [prefix + label for label in ("a", "b")]
    for instance_id in ids:
        cli_json(connection_string, "start-new", "--function-name", "two_events", "--id", instance_id)
        await until_status(connection_string, instance_id, "Running")
    query = f"instanceIdPrefix={prefix}&runtimeStatus=Running"
    dry = cli(connection_string, "terminate", "--script-root", str(APP), "--query", query, "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert dry.stdout.splitlines()[0] == "Would terminate 2 instance(s); nothing was changed."
    assert sorted(dry.stdout.splitlines()[1:]) == ids
    await until_status(connection_string, ids[0], "Running")  # untouched
    done = cli_json(connection_string, "terminate", "--query", query, "--reason", "bulk from the cli")
    assert (done["status"], done["done"], done["failed"]) == ("Completed", 2, 0)
    for instance_id in ids:
        assert (await until_status(connection_string, instance_id, "Terminated"))[
            "output"
        ] == "bulk from the cli"
    listed = cli_json(connection_string, "jobs")
    assert done["id"] in [job["id"] for job in listed["jobs"]]
    bad = cli(connection_string, "terminate", "--script-root", str(APP), "--query", "colour=red")
    assert bad.returncode == 2 and "--query: unknown filter 'colour'" in bad.stderr
    both = cli(connection_string, "terminate", "--script-root", str(APP), "--query", query, "--id", ids[0])
    assert both.returncode == 2 and "pass --id for one instance or --query" in both.stderr


async def test_input_from_a_file_events_suspend_resume_and_terminate(
    features_host: RunningHost, connection_string: str, tmp_path: Path
) -> None:
    data = tmp_path / "step.json"
    data.write_text('{"n": 1}')
    instance_id = cli_json(connection_string, "start-new", "--function-name", "two_events")["instanceId"]
    await until_status(connection_string, instance_id, "Running")
    cli_json(
        connection_string,
        "raise-event",
        "--id",
        instance_id,
        "--event-name",
        "Step",
        "--event-data",
        f"@{data}",
    )
    cli_json(connection_string, "suspend", "--id", instance_id, "--reason", "pause")
    await until_status(connection_string, instance_id, "Suspended")
    cli_json(connection_string, "resume", "--id", instance_id)
    await until_status(connection_string, instance_id, "Running")
    done = cli_json(connection_string, "terminate", "--id", instance_id, "--reason", "enough")
    assert done["message"] == f"Terminated '{instance_id}'."
    final = await until_status(connection_string, instance_id, "Terminated")
    assert final["output"] == "enough"
    history = cli_json(connection_string, "get-history", "--id", instance_id)
    raised = [e for e in history if e["EventType"] == "EventRaised"]
    assert raised and raised[0]["Name"] == "Step"


async def test_rewind_and_purge(features_host: RunningHost, connection_string: str) -> None:
    instance_id = cli_json(connection_string, "start-new", "--function-name", "fails")["instanceId"]
    await until_status(connection_string, instance_id, "Failed")
    assert (
        cli_json(connection_string, "rewind", "--id", instance_id)["message"] == f"Rewound '{instance_id}'."
    )
    await until_status(connection_string, instance_id, "Failed")  # its activity fails again
    assert cli_json(connection_string, "purge-history", "--id", instance_id)["instancesDeleted"] == 1
    gone = cli(connection_string, "get-runtime-status", "--id", instance_id, "--script-root", str(APP))
    assert gone.returncode == 1 and f"'{instance_id}'" in gone.stderr


def test_bad_input_names_what_to_fix(connection_string: str) -> None:
    bad_json = cli(
        connection_string,
        "start-new",
        "--function-name",
        "echo_input",
        "--input",
        "not json",
        "--script-root",
        str(APP),
    )
    assert bad_json.returncode == 2 and "--input is not valid JSON" in bad_json.stderr
    missing = cli(
        connection_string,
        "raise-event",
        "--id",
        "x",
        "--event-name",
        "e",
        "--event-data",
        "@/no/such.json",
        "--script-root",
        str(APP),
    )
    assert missing.returncode == 2 and "cannot read '/no/such.json'" in missing.stderr
    status = cli(
        connection_string, "get-instances", "--runtime-status", "Sleeping", "--script-root", str(APP)
    )
    assert status.returncode == 2 and "Unknown --runtime-status Sleeping" in status.stderr
    when = cli(connection_string, "get-instances", "--created-after", "yesterday")
    assert when.returncode == 2 and "not an ISO 8601 time" in when.stderr
    no_app = cli(connection_string, "get-instances", "--script-root", "/no/such/app")
    assert no_app.returncode == 2 and "'/no/such/app' does not exist" in no_app.stderr
    not_an_app = cli(connection_string, "get-instances", "--script-root", str(REPO_ROOT / "docs"))
    assert not_an_app.returncode == 2 and "no host.json" in not_an_app.stderr


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help(command: str, connection_string: str) -> None:
    done = cli(connection_string, command, "--help")
    assert done.returncode == 0 and "--task-hub-name" in done.stdout and "--json" in done.stdout


async def test_delete_task_hub_removes_its_queues_tables_and_containers(connection_string: str) -> None:
    hub = f"CliScratch{uuid.uuid4().hex[:6]}"
    cli_json(
        connection_string, "start-new", "--function-name", "anything", "--task-hub-name", hub
    )  # creates it
    deleted = cli_json(connection_string, "delete-task-hub", "--task-hub-name", hub)
    assert {f"{hub}History", f"{hub}Instances", f"{hub.lower()}-workitems"} <= set(deleted["deleted"])
    async with QueueServiceClient.from_connection_string(connection_string) as queues:
        left = [q.name async for q in queues.list_queues(name_starts_with=hub.lower())]
    assert left == []


async def test_start_new_input_reaches_get_input_as_that_value(
    features_host: RunningHost, connection_string: str
) -> None:
    """The SDK client's encoding: numbers, lists and strings arrive as themselves, not as a failure."""
    given = {"10": 10, '["eu"]': ["eu"], '"eu"': "eu", '{"a": [1, 2]}': {"a": [1, 2]}, "null": None}
    started = {
        text: cli_json(connection_string, "start-new", "--function-name", "echo_input", "--input", text)
        for text in given
    }
    for text, value in given.items():
        final = await until_status(connection_string, started[text]["instanceId"], "Completed")
        assert final["output"] == {"input": value, "echoed": value}, text


async def test_raise_event_data_arrives_as_that_value(
    features_host: RunningHost, connection_string: str
) -> None:
    instance_id = cli_json(connection_string, "start-new", "--function-name", "two_events")["instanceId"]
    await until_status(connection_string, instance_id, "Running")
    for name, data in (("Step", "10"), ("Step", '"eu"'), ("Other", '["eu"]')):
        cli_json(
            connection_string, "raise-event", "--id", instance_id, "--event-name", name, "--event-data", data
        )
    final = await until_status(connection_string, instance_id, "Completed")
    assert final["output"] == [10, "eu", ["eu"]]
    late = cli(
        connection_string,
        "raise-event",
        "--id",
        instance_id,
        "--event-name",
        "Step",
        "--script-root",
        str(APP),
    )
    assert late.returncode == 1 and late.stdout == ""
    assert f"'{instance_id}' is Completed" in late.stderr and "running, pending or suspended" in late.stderr


async def test_refused_operations_exit_1_with_the_reason(
    features_host: RunningHost, connection_string: str
) -> None:
    unknown = f"no-such-{uuid.uuid4().hex[:8]}"
    app = ("--script-root", str(APP))
    for command in ("get-runtime-status", "get-history", "terminate", "suspend", "resume", "rewind"):
        done = cli(connection_string, command, "--id", unknown, *app)
        assert done.returncode == 1, (command, done.stdout, done.stderr)
        assert f"No instance with ID '{unknown}'" in done.stderr, command
    for command in (("raise-event", "--event-name", "Step"), ("purge-history",)):
        done = cli(connection_string, command[0], "--id", unknown, *command[1:], *app)
        assert done.returncode == 1 and f"No instance with ID '{unknown}'" in done.stderr, command
    running = cli_json(connection_string, "start-new", "--function-name", "two_events")["instanceId"]
    await until_status(connection_string, running, "Running")
    again = cli(connection_string, "start-new", "--function-name", "two_events", "--id", running, *app)
    assert again.returncode == 1 and f"'{running}' already exists" in again.stderr
    not_failed = cli(connection_string, "rewind", "--id", running, *app)
    assert not_failed.returncode == 1 and "only failed instances" in not_failed.stderr
    cli_json(connection_string, "terminate", "--id", running)
    await until_status(connection_string, running, "Terminated")
    for command in ("terminate", "suspend", "resume"):
        done = cli(connection_string, command, "--id", running, *app)
        assert done.returncode == 1 and f"'{running}' is Terminated" in done.stderr, command

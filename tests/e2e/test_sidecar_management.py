"""Managing instances through `durable-ext sidecar` with the durabletask client, and what it refuses."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from durabletask import client, worker

from .durabletask_app import functions
from .hosting import REPO_ROOT
from .sidecar_hosting import RunningSidecar, SidecarStorage, run_sidecar, start_worker_process

TIMEOUT_S = 30


@pytest.fixture(scope="module")
def sidecar(connection_string: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningSidecar]:
    root = tmp_path_factory.mktemp("sidecar-management")
    yield from run_sidecar(root, SidecarStorage((), {"AzureWebJobsStorage": connection_string}))


@pytest.fixture(scope="module")
def dt_client(sidecar: RunningSidecar) -> Iterator[client.TaskHubGrpcClient]:
    w = functions.register(worker.TaskHubGrpcWorker(host_address=sidecar.address))
    w.start()
    c = sidecar.client()
    try:
        yield c
    finally:
        c.close()
        w.stop()


def _status(c: client.TaskHubGrpcClient, instance_id: str) -> client.OrchestrationStatus | None:
    state = c.get_orchestration_state(instance_id)
    return None if state is None else state.runtime_status


def _until(c: client.TaskHubGrpcClient, instance_id: str, status: client.OrchestrationStatus) -> None:
    deadline = time.monotonic() + TIMEOUT_S
    while _status(c, instance_id) != status:
        assert time.monotonic() < deadline, f"{instance_id} is {_status(c, instance_id)}, not {status}"
        time.sleep(0.05)


def _code(call: object) -> grpc.StatusCode:
    with pytest.raises(grpc.RpcError) as raised:
        call()  # type: ignore[operator]
    code: grpc.StatusCode = raised.value.code()  # type: ignore[attr-defined]
    return code


def test_terminate_suspend_resume_and_purge(dt_client: client.TaskHubGrpcClient) -> None:
    stopped = dt_client.schedule_new_orchestration(functions.waits)
    _until(dt_client, stopped, client.OrchestrationStatus.RUNNING)
    dt_client.terminate_orchestration(stopped, output="enough")
    state = dt_client.wait_for_orchestration_completion(stopped, timeout=TIMEOUT_S)
    assert state is not None and state.runtime_status == client.OrchestrationStatus.TERMINATED
    assert state.get_output() == "enough"

    paused = dt_client.schedule_new_orchestration(functions.waits)
    _until(dt_client, paused, client.OrchestrationStatus.RUNNING)
    dt_client.suspend_orchestration(paused)
    _until(dt_client, paused, client.OrchestrationStatus.SUSPENDED)
    dt_client.raise_orchestration_event(paused, "go", data="later")
    time.sleep(1)
    assert _status(dt_client, paused) == client.OrchestrationStatus.SUSPENDED
    dt_client.resume_orchestration(paused)
    state = dt_client.wait_for_orchestration_completion(paused, timeout=TIMEOUT_S)
    assert state is not None and state.get_output() == "later"

    purged = dt_client.purge_orchestration(paused)
    assert purged.deleted_instance_count == 1
    assert dt_client.get_orchestration_state(paused) is None


def test_a_start_with_a_given_id_and_the_id_reuse_policy(dt_client: client.TaskHubGrpcClient) -> None:
    instance_id = f"fixed-{time.time_ns()}"
    assert dt_client.schedule_new_orchestration(functions.waits, instance_id=instance_id) == instance_id
    _until(dt_client, instance_id, client.OrchestrationStatus.RUNNING)
    again = lambda: dt_client.schedule_new_orchestration(functions.waits, instance_id=instance_id)  # noqa: E731
    assert _code(again) == grpc.StatusCode.ALREADY_EXISTS
    dt_client.raise_orchestration_event(instance_id, "go", data=1)
    dt_client.wait_for_orchestration_completion(instance_id, timeout=TIMEOUT_S)
    dt_client.schedule_new_orchestration(
        functions.waits, instance_id=instance_id
    )  # a finished one is replaced
    _until(dt_client, instance_id, client.OrchestrationStatus.RUNNING)
    dt_client.terminate_orchestration(instance_id)


def test_refusals_carry_the_status_code_that_says_what_is_wrong(dt_client: client.TaskHubGrpcClient) -> None:
    assert dt_client.get_orchestration_state("no-such-instance") is None
    assert (
        _code(lambda: dt_client.raise_orchestration_event("no-such-instance", "go"))
        == grpc.StatusCode.NOT_FOUND
    )
    assert _code(lambda: dt_client.terminate_orchestration("no-such-instance")) == grpc.StatusCode.NOT_FOUND
    done = dt_client.schedule_new_orchestration(functions.double, input=1)
    dt_client.wait_for_orchestration_completion(done, timeout=TIMEOUT_S)
    assert _code(lambda: dt_client.terminate_orchestration(done)) == grpc.StatusCode.FAILED_PRECONDITION
    assert _code(lambda: dt_client.schedule_new_orchestration("")) == grpc.StatusCode.INVALID_ARGUMENT


def test_queries_list_the_hubs_instances(dt_client: client.TaskHubGrpcClient) -> None:
    ids = [dt_client.schedule_new_orchestration(functions.double, input=i) for i in range(3)]
    for instance_id in ids:
        dt_client.wait_for_orchestration_completion(instance_id, timeout=TIMEOUT_S)
    states = dt_client.get_all_orchestration_states(
        client.OrchestrationQuery(
            runtime_status=[client.OrchestrationStatus.COMPLETED], fetch_inputs_and_outputs=True
        )
    )
    outputs = {s.instance_id: s.get_output() for s in states}
    assert {outputs[i] for i in ids} == {0, 2, 4}


def test_a_worker_killed_while_it_runs_an_activity_loses_nothing(
    sidecar: RunningSidecar, dt_client: client.TaskHubGrpcClient, tmp_path: Path
) -> None:
    """The activity goes to the worker still connected once the stream of the killed one ends."""
    marker = tmp_path / "began"
    doomed = start_worker_process(sidecar.address, {"SLOW_ACTIVITY_S": "600"}, tmp_path / "worker.log")
    try:
        deadline = time.monotonic() + TIMEOUT_S
        while True:  # the two workers take turns: start until the doomed one has the activity
            marker.unlink(missing_ok=True)
            instance_id = dt_client.schedule_new_orchestration(functions.runs_slow, input=str(marker))
            while not marker.exists():
                assert time.monotonic() < deadline, f"no worker began the activity:\n{sidecar.log()}"
                time.sleep(0.05)
            if marker.read_text() == str(doomed.pid):
                break
            dt_client.wait_for_orchestration_completion(instance_id, timeout=TIMEOUT_S)
    finally:
        doomed.kill()
        doomed.wait()
    state = dt_client.wait_for_orchestration_completion(instance_id, timeout=TIMEOUT_S)
    assert state is not None and state.runtime_status == client.OrchestrationStatus.COMPLETED
    assert state.get_output() == f"done by {os.getpid()}"


def test_the_sample_worker_and_client_run_on_the_sidecar(tmp_path: Path) -> None:
    """On a sidecar of their own: workers that filter for nothing take whatever the hub has."""
    script = REPO_ROOT / "samples" / "durabletask_sidecar" / "worker_and_client.py"
    for own in run_sidecar(tmp_path, SidecarStorage(("--storage", "memory"), {})):
        done = subprocess.run(
            [sys.executable, str(script), own.address],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, done.stdout + done.stderr + own.log()
    output = json.loads(done.stdout.strip().splitlines()[-1])
    assert output["greetings"] == ["Hello Tokyo!", "Hello Seattle!", "Hello London!"]
    assert output["total so far"] == 3

"""`durable-ext sidecar` serving the real durabletask worker and client, on every provider."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from durabletask import client, entities, worker

from .durabletask_app import functions
from .sidecar_hosting import RunningSidecar, SidecarStorage, run_sidecar

PROVIDERS = ("memory", "azurestorage", "postgres")
TIMEOUT_S = 30


def _storage(request: pytest.FixtureRequest, provider: str) -> SidecarStorage:
    if provider == "memory":
        return SidecarStorage(("--storage", "memory"), {})
    if provider == "postgres":
        dsn = request.getfixturevalue("postgres_dsn")
        return SidecarStorage(("--storage", "postgres"), {"PostgresConnection": dsn})
    return SidecarStorage((), {"AzureWebJobsStorage": request.getfixturevalue("connection_string")})


@pytest.fixture(scope="module", params=PROVIDERS)
def sidecar(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningSidecar]:
    """A sidecar on ``request.param`` with a durabletask worker of ``functions`` connected to it."""
    root = tmp_path_factory.mktemp(f"sidecar-{request.param}")
    for running in run_sidecar(root, _storage(request, request.param)):
        w = functions.register(worker.TaskHubGrpcWorker(host_address=running.address))
        w.start()
        try:
            yield running
        finally:
            w.stop()


@pytest.fixture(scope="module")
def dt_client(sidecar: RunningSidecar) -> Iterator[client.TaskHubGrpcClient]:
    c = sidecar.client()
    yield c
    c.close()


def _completed(c: client.TaskHubGrpcClient, instance_id: str) -> client.OrchestrationState:
    state = c.wait_for_orchestration_completion(instance_id, timeout=TIMEOUT_S)
    assert state is not None
    return state


def test_activities_timers_sub_orchestrations_events_and_failures(
    dt_client: client.TaskHubGrpcClient,
) -> None:
    instance_id = dt_client.schedule_new_orchestration(functions.features)
    started = dt_client.wait_for_orchestration_start(instance_id, timeout=TIMEOUT_S)
    assert started is not None and started.runtime_status == client.OrchestrationStatus.RUNNING
    dt_client.raise_orchestration_event(instance_id, "approve", data="yes")
    state = _completed(dt_client, instance_id)
    assert state.runtime_status == client.OrchestrationStatus.COMPLETED, state.failure_details
    assert state.get_output() == [
        "Hello Tokyo!",
        "Hello Seattle!",
        42,
        "yes",
        ["builtins.ValueError", "kaboom"],
    ]
    history = list(dt_client.get_orchestration_history(instance_id))
    kinds = [type(e).__name__.removesuffix("Event") for e in history]
    assert kinds[:2] == ["OrchestratorStarted", "ExecutionStarted"]
    assert kinds.count("TaskScheduled") == 3 and kinds.count("TaskFailed") == 1
    assert "SubOrchestrationInstanceCompleted" in kinds and "TimerFired" in kinds
    assert kinds[-2:] == ["ExecutionCompleted", "OrchestratorCompleted"]


def test_a_fan_out_of_fifty_activities(dt_client: client.TaskHubGrpcClient) -> None:
    state = _completed(dt_client, dt_client.schedule_new_orchestration(functions.fan_out, input=50))
    assert state.get_output() == 50


def test_a_failed_orchestration_reports_its_error_type_message_and_stack(
    dt_client: client.TaskHubGrpcClient,
) -> None:
    state = _completed(dt_client, dt_client.schedule_new_orchestration(functions.fails))
    assert state.runtime_status == client.OrchestrationStatus.FAILED
    assert state.failure_details is not None
    assert state.failure_details.error_type == "builtins.RuntimeError"
    assert state.failure_details.message == "orchestration broke"
    assert "raise RuntimeError" in (state.failure_details.stack_trace or "")


def test_continue_as_new_keeps_the_events_that_came_meanwhile(dt_client: client.TaskHubGrpcClient) -> None:
    instance_id = dt_client.schedule_new_orchestration(functions.count_up, input=0)
    dt_client.raise_orchestration_event(instance_id, "extra", data="carried")
    state = _completed(dt_client, instance_id)
    assert state.get_output() == [3, "carried"]


def test_entities_signals_calls_failures_and_reads(dt_client: client.TaskHubGrpcClient) -> None:
    state = _completed(dt_client, dt_client.schedule_new_orchestration(functions.uses_entities, input="k1"))
    assert state.get_output() == [
        3,
        "Operation 'fail' on entity '@counter@k1' failed with error: entity broke",
    ]
    dt_client.signal_entity(entities.EntityInstanceId("counter", "k1"), "pass_on", input="k2")
    deadline = time.monotonic() + TIMEOUT_S
    passed = None
    while time.monotonic() < deadline:
        passed = dt_client.get_entity(entities.EntityInstanceId("counter", "k2"))
        if passed is not None:
            break
        time.sleep(0.1)
    assert passed is not None and passed.get_state(int) == 5
    first = dt_client.get_entity(entities.EntityInstanceId("counter", "k1"))
    assert first is not None and first.get_state(int) == 3
    listed = {str(e.id) for e in dt_client.get_all_entities()}
    assert {"@counter@k1", "@counter@k2"} <= listed


def test_a_critical_section_holds_both_entities(dt_client: client.TaskHubGrpcClient) -> None:
    for key, value in (("src", 7), ("dst", 3)):
        dt_client.signal_entity(entities.EntityInstanceId("counter", key), "add", input=value)
    state = _completed(
        dt_client, dt_client.schedule_new_orchestration(functions.moves_under_lock, input=["src", "dst"])
    )
    assert state.runtime_status == client.OrchestrationStatus.COMPLETED, state.failure_details
    assert state.get_output() == 10
    source = dt_client.get_entity(entities.EntityInstanceId("counter", "src"))
    assert source is not None and source.get_state(int) == 0

"""The test host users get: time skipping and its hold rule, advance, waits and mocks, on the memory
provider, and what changes on Azurite (the session's)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from durable_ext.errors import InstanceNotFoundError
from durable_ext.testing import DurableTestHost, UnknownFunctionError

APP = Path(__file__).parent / "apps" / "test_host"
THREE_DAYS_S = 3 * 24 * 3600


@pytest.fixture(scope="module")
def memory_host() -> Iterator[DurableTestHost]:
    with DurableTestHost(APP) as host:
        yield host


@pytest.fixture
def durable(memory_host: DurableTestHost) -> Iterator[DurableTestHost]:
    memory_host.reset()
    yield memory_host
    memory_host.reset()


@pytest.fixture(scope="module")
def azurite_host(connection_string: str) -> Iterator[DurableTestHost]:
    with DurableTestHost(APP, storage="azurite", connection_string=connection_string) as host:
        yield host


# ---- time skipping and the hold ---------------------------------------------------------------------
def test_memory_is_the_default_storage_with_time_skipping_on_and_no_hold(durable: DurableTestHost) -> None:
    assert durable.storage == "memory"
    assert durable.time_skipping is True
    assert durable.time_held is False


def test_an_event_raised_right_after_the_start_always_beats_the_timer(durable: DurableTestHost) -> None:
    for attempt in range(10):
        instance_id = durable.start("event_or_timeout", THREE_DAYS_S)
        time.sleep(0.03)  # the test does something else meanwhile: the engine is idle, the timer due later
        durable.raise_event(instance_id, "Go", attempt)
        assert durable.wait_for_completion(instance_id).output == {"winner": "event", "data": attempt}


def test_a_wait_lets_durable_time_skip_to_the_timer(durable: DurableTestHost) -> None:
    began = durable.now
    instance_id = durable.start("event_or_timeout", THREE_DAYS_S)
    assert durable.wait_for_completion(instance_id).output == {"winner": "timer"}
    assert durable.now - began >= timedelta(days=3)


def test_time_is_held_from_a_change_until_the_next_wait_and_again_after_it(durable: DurableTestHost) -> None:
    instance_id = durable.start("sleeper", 3600)
    assert durable.time_held is True
    deadline = time.monotonic() + 10
    status = durable.get_status(instance_id)
    while status is not None and status.runtime_status == "Pending" and time.monotonic() < deadline:
        time.sleep(0.02)
        status = durable.get_status(instance_id)
    time.sleep(0.3)  # the orchestration has long been idle on its timer: still, time does not skip
    status = durable.get_status(instance_id)
    assert status is not None and status.runtime_status == "Running"
    slept_s = durable.wait_for_completion(instance_id).output
    assert 3600 <= slept_s < 3600 + 30
    assert durable.time_held is True


def test_reset_releases_the_hold_and_turns_time_skipping_back_on(durable: DurableTestHost) -> None:
    durable.time_skipping = False
    durable.start("chain", 1)
    durable.reset()
    assert (durable.time_skipping, durable.time_held) == (True, False)


def test_without_time_skipping_a_timer_waits_for_advance(durable: DurableTestHost) -> None:
    durable.time_skipping = False
    instance_id = durable.start("sleeper", 7200)
    with pytest.raises(TimeoutError, match=instance_id):
        durable.wait_for_completion(instance_id, timeout_s=0.3)
    durable.advance(timedelta(hours=1))
    assert durable.get_status(instance_id).runtime_status == "Running"  # type: ignore[union-attr]
    durable.advance(timedelta(hours=1))
    status = durable.get_status(instance_id)
    assert status is not None and status.runtime_status == "Completed"
    assert 7200 <= status.output < 7200 + 30


def test_advance_returns_durable_now_and_never_goes_back(durable: DurableTestHost) -> None:
    before = durable.now
    after = durable.advance(timedelta(days=1))
    assert after - before >= timedelta(days=1)
    assert after > datetime.now(UTC) + timedelta(hours=23)
    with pytest.raises(ValueError, match="only moves forward"):
        durable.advance(timedelta(seconds=-1))


# ---- waits ------------------------------------------------------------------------------------------
def test_wait_for_status_by_name_or_predicate(durable: DurableTestHost) -> None:
    durable.time_skipping = False
    instance_id = durable.start("event_or_timeout", 60)
    assert durable.wait_for_status(instance_id, "running").runtime_status == "Running"
    durable.raise_event(instance_id, "Go", "now")
    done = durable.wait_for_status(instance_id, predicate=lambda status: status.output is not None)
    assert done.output == {"winner": "event", "data": "now"}
    assert durable.wait_for_status(instance_id, ["Failed", "Completed"]).runtime_status == "Completed"


def test_wait_for_status_says_what_it_needs(durable: DurableTestHost) -> None:
    with pytest.raises(TypeError, match="runtime_status or predicate"):
        durable.wait_for_status("any")
    with pytest.raises(ValueError, match=r"Unknown runtime status 'Done'.*Completed"):
        durable.wait_for_status("any", "Done")


def test_waiting_for_an_instance_that_never_exists_names_it(durable: DurableTestHost) -> None:
    with pytest.raises(InstanceNotFoundError, match="no-such-instance"):
        durable.wait_for_completion("no-such-instance", timeout_s=0.1)


# ---- mocks ------------------------------------------------------------------------------------------
def test_activity_mocks_take_a_function_an_async_function_or_a_value(durable: DurableTestHost) -> None:
    double = durable.mock_activity("double", lambda value: value + 1)
    double_async = durable.mock_activity("Double_Async", _async_times_ten)
    assert durable.wait_for_completion(durable.start("chain", 4)).output == 50
    assert (double.calls, double_async.calls) == ([4], [5])
    durable.mock_activity("double", 7)
    assert durable.wait_for_completion(durable.start("chain", 4)).output == 70
    assert double_async.call_count == 2


async def _async_times_ten(value: int) -> int:
    return value * 10


def test_an_exception_instance_or_class_fails_the_activity(durable: DurableTestHost) -> None:
    durable.mock_activity("double", PermissionError("no access to the doubler"))
    status = durable.wait_for_completion(durable.start("chain", 1))
    assert status.runtime_status == "Failed"
    assert "PermissionError: no access to the doubler" in status.output
    durable.mock_activity("double", TimeoutError)
    status = durable.wait_for_completion(durable.start("chain", 1))
    assert "TimeoutError: the mock of activity 'double' raised TimeoutError" in status.output


def test_sub_orchestrator_mocks_complete_or_fail_the_child(durable: DurableTestHost) -> None:
    child = durable.mock_sub_orchestrator("child", lambda value: {"got": value})
    status = durable.wait_for_completion(durable.start("parent", [1, 2]))
    assert status.output == [{"got": 1}, {"got": 2}]
    assert sorted(child.calls) == [1, 2]
    durable.mock_sub_orchestrator("child", ValueError("child refused"))
    status = durable.wait_for_completion(durable.start("parent", [3]))
    assert status.runtime_status == "Failed"
    assert "ValueError: child refused" in status.output


def test_a_sub_orchestrator_mock_must_return_json(durable: DurableTestHost) -> None:
    durable.mock_sub_orchestrator("child", lambda value: {value})
    status = durable.wait_for_completion(durable.start("parent", [1]))
    assert status.runtime_status == "Failed"
    assert "The mock of sub-orchestrator 'child' returned set, which is not a JSON value" in status.output


def test_reset_mocks_puts_the_app_functions_back_even_after_two_mocks(durable: DurableTestHost) -> None:
    durable.mock_activity("double", 1)
    durable.mock_activity("double", 2)
    durable.mock_sub_orchestrator("child", 3)
    durable.reset_mocks()
    assert durable.wait_for_completion(durable.start("chain", 1)).output == 4
    assert durable.wait_for_completion(durable.start("parent", [5])).output == [10]


def test_mocking_a_function_the_app_lacks_lists_what_it_has(durable: DurableTestHost) -> None:
    with pytest.raises(UnknownFunctionError, match="Its activities: double, double_async"):
        durable.mock_activity("triple", 3)
    with pytest.raises(UnknownFunctionError, match="Its orchestrators: chain, child, event_or_timeout"):
        durable.mock_sub_orchestrator("grandchild", 3)


# ---- Azurite ----------------------------------------------------------------------------------------
def test_on_azurite_time_is_the_wall_clock_and_cannot_skip(azurite_host: DurableTestHost) -> None:
    assert azurite_host.time_skipping is False
    assert abs(azurite_host.now - datetime.now(UTC)) < timedelta(seconds=5)
    with pytest.raises(RuntimeError, match="Time skipping and advance\\(\\) need the memory provider"):
        azurite_host.time_skipping = True
    with pytest.raises(RuntimeError, match="need the memory provider"):
        azurite_host.advance(timedelta(hours=1))
    azurite_host.time_skipping = False  # asking for what it is already is fine


def test_mocks_work_on_azurite_too(azurite_host: DurableTestHost) -> None:
    double = azurite_host.mock_activity("double", lambda value: -value)
    try:
        assert azurite_host.wait_for_completion(azurite_host.start("chain", 3)).output == -6
        assert double.calls == [3]
    finally:
        azurite_host.reset_mocks()
    assert azurite_host.wait_for_completion(azurite_host.start("chain", 3)).output == 12


def test_an_unknown_storage_is_refused_by_name() -> None:
    with pytest.raises(ValueError, match="storage is 'sqlite': use 'memory' \\(the default\\) or 'azurite'"):
        DurableTestHost(APP, storage="sqlite")

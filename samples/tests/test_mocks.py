"""Mocks: replace an activity or a sub-orchestrator for one test; the orchestrators stay real.

`durable.mock_activity(name, fn_or_value)` and `durable.mock_sub_orchestrator(name, fn_or_value)` take a
function of the input (sync or async), a value to return, or an exception to raise; they return a record
of the calls. The fixture removes every mock after the test.
"""

import pytest


def test_a_mocked_activity_is_called_once_per_city(durable):
    greet = durable.mock_activity("say_hello", lambda city: f"Hi {city}")
    status = durable.wait_for_completion(durable.start("hello_cities"))
    assert status.output == ["Hi Tokyo", "Hi Seattle", "Hi London"]
    assert greet.calls == ["Tokyo", "Seattle", "London"]
    assert greet.call_count == 3


def test_a_mocked_activity_can_end_a_monitor_early(durable):
    probe = durable.mock_activity("check_job", lambda check: "done" if check["check"] == 3 else "running")
    job = {"interval_s": 1, "timeout_s": 3600}
    status = durable.wait_for_completion(durable.start("job_monitor", job))
    assert status.output == {"done": True, "checks": 3}
    assert [call["check"] for call in probe.calls] == [1, 2, 3]


def test_a_failing_activity_fails_the_orchestration(durable):
    durable.mock_activity("say_hello", ConnectionError("the greeting service is down"))
    status = durable.wait_for_completion(durable.start("hello_cities"))
    assert status.runtime_status == "Failed"
    assert "ConnectionError: the greeting service is down" in status.output


def test_an_activity_that_keeps_failing_is_retried_as_the_policy_says(durable):
    deploy = durable.mock_activity("flaky_deploy", RuntimeError("the region is down"))
    status = durable.wait_for_completion(durable.start("deploy_everywhere", ["eu"]))
    assert status.runtime_status == "Failed"
    assert deploy.call_count == 4  # max_number_of_attempts of the sample's RetryOptions


def test_a_mocked_sub_orchestrator_stands_in_for_each_region(durable):
    deploy = durable.mock_sub_orchestrator("deploy_region", lambda region: f"pretended to deploy {region}")
    status = durable.wait_for_completion(durable.start("deploy_everywhere", ["eu", "us", "asia"]))
    assert status.output == {region: f"pretended to deploy {region}" for region in ("eu", "us", "asia")}
    assert sorted(deploy.calls) == ["asia", "eu", "us"]


def test_a_failing_sub_orchestrator_fails_its_parent(durable):
    durable.mock_sub_orchestrator("deploy_region", RuntimeError("region is full"))
    status = durable.wait_for_completion(durable.start("deploy_everywhere", ["eu"]))
    assert status.runtime_status == "Failed"
    assert "RuntimeError: region is full" in status.output


def test_the_real_functions_are_back_after_reset_mocks(durable):
    durable.mock_activity("say_hello", "hi")
    durable.reset_mocks()  # the fixture does this after every test
    status = durable.wait_for_completion(durable.start("hello_cities"))
    assert status.output == ["Hello Tokyo!", "Hello Seattle!", "Hello London!"]


def test_a_mock_must_name_a_function_of_the_app(durable):
    with pytest.raises(LookupError, match="say_hello"):
        durable.mock_activity("say_helo", "hi")

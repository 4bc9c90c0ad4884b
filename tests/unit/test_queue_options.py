"""host.json extensions.queues options and queue name rules for the queue bindings."""

from __future__ import annotations

import os

import pytest

from bindings.storage.queue_names import normalize_queue_name, poison_queue_name, queue_name_problem
from bindings.storage.queue_options import QueuesOptions
from durable_ext.errors import ConfigurationError


def settings(**values: str) -> dict[str, str]:
    return values


def options(section: dict[str, object], **env: str) -> QueuesOptions:
    return QueuesOptions.from_host_json(section, settings(**env).get)


def test_defaults_follow_the_functions_host() -> None:
    found = options({})
    assert found.batch_size == 16
    assert found.new_batch_threshold == 8 * (os.cpu_count() or 1)
    assert found.max_polling_interval_s == 60.0
    assert found.visibility_timeout_s == 0.0
    assert found.max_dequeue_count == 5
    assert found.message_encoding == "base64"
    assert found.max_concurrency == 16 + found.new_batch_threshold


def test_consumption_plan_counts_one_processor_and_development_polls_every_2_s() -> None:
    found = options({"batchSize": 10}, WEBSITE_SKU="Dynamic", AZURE_FUNCTIONS_ENVIRONMENT="Development")
    assert found.new_batch_threshold == 5
    assert found.max_polling_interval_s == 2.0


def test_explicit_values_keys_in_any_case() -> None:
    found = options(
        {
            "BatchSize": 4,
            "newbatchthreshold": "1",
            "maxPollingInterval": "00:00:05",
            "visibilityTimeout": "00:00:30",
            "maxDequeueCount": 2,
            "messageEncoding": "None",
        },
        AZURE_FUNCTIONS_ENVIRONMENT="Development",
    )
    assert (found.batch_size, found.new_batch_threshold, found.max_dequeue_count) == (4, 1, 2)
    assert (found.max_polling_interval_s, found.visibility_timeout_s) == (5.0, 30.0)
    assert found.message_encoding == "none"


@pytest.mark.parametrize(
    ("section", "named"),
    [
        ({"batchSize": 33}, "batchSize"),
        ({"batchSize": 0}, "batchSize"),
        ({"batchSize": True}, "batchSize"),
        ({"newBatchThreshold": -1}, "newBatchThreshold"),
        ({"maxDequeueCount": 0}, "maxDequeueCount"),
        ({"maxPollingInterval": "00:00:00.05"}, "maxPollingInterval"),
        ({"maxPollingInterval": "soon"}, "maxPollingInterval"),
        ({"visibilityTimeout": "-00:00:01"}, "visibilityTimeout"),
        ({"messageEncoding": "utf8"}, "messageEncoding"),
    ],
)
def test_bad_values_name_the_setting(section: dict[str, object], named: str) -> None:
    with pytest.raises(ConfigurationError, match=f"extensions.queues.{named}"):
        options(section)


@pytest.mark.parametrize("value", [2000, "2000", 1.5])
def test_a_bare_number_time_span_is_refused_as_the_host_would_read_days(value: object) -> None:
    with pytest.raises(ConfigurationError, match="read as days"):
        options({"maxPollingInterval": value})


@pytest.mark.parametrize("name", ["abc", "my-queue-1", "a" * 63, "0-9"])
def test_valid_queue_names(name: str) -> None:
    assert queue_name_problem(name) is None


@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("ab", "3 to 63"),
        ("a" * 64, "3 to 63"),
        ("my_queue", "letters, digits and dashes"),
        ("-queue", "start and end"),
        ("queue-", "start and end"),
        ("my--queue", "consecutive"),
    ],
)
def test_invalid_queue_names_say_why(name: str, why: str) -> None:
    problem = queue_name_problem(name)
    assert problem is not None and why in problem


def test_names_are_lower_cased_and_errors_name_function_and_binding() -> None:
    assert normalize_queue_name("Orders-In", function_name="f", binding_name="msg") == "orders-in"
    with pytest.raises(ConfigurationError, match=r"Function 'work', binding 'msg'.*consecutive"):
        normalize_queue_name("a--b", function_name="work", binding_name="msg")


def test_poison_queue_names() -> None:
    assert poison_queue_name("orders") == "orders-poison"
    assert poison_queue_name("orders-poison") is None
    assert poison_queue_name("a" * 56) == "a" * 56 + "-poison"
    assert poison_queue_name("a" * 57) is None

"""Durable Task options from host.json: both schema versions, case-insensitive keys, validation."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from durable_ext.errors import ConfigurationError
from durable_ext.extension.options import DurableTaskOptions, parse_time_span_s, sanitize_hub_name
from durable_ext.host.settings import AppSettings


def options(
    durable_task: dict[str, Any] | None = None, values: dict[str, str] | None = None, v1: bool = False
) -> DurableTaskOptions:
    host: dict[str, Any] = {"version": "2.0"}
    if durable_task is not None:
        if v1:
            host = {"durableTask": durable_task}
        else:
            host["extensions"] = {"durableTask": durable_task}
    return DurableTaskOptions.from_settings(AppSettings(Path("."), values or {}, host, environ={}))


def test_defaults() -> None:
    o = options()
    cores = 10 * (os.cpu_count() or 1)
    assert (o.hub_name, o.hub_name_source) == ("TestHubName", "default")
    assert o.connection_name == "AzureWebJobsStorage"
    assert (o.partition_count, o.control_queue_batch_size, o.control_queue_buffer_threshold) == (4, 32, 256)
    assert o.control_queue_visibility_timeout_s == 300
    assert o.work_item_queue_visibility_timeout_s == 300
    assert o.max_queue_polling_interval_s is None
    assert (o.wake_peers, o.wake_address, o.queue_polling_ceiling_s) == (True, None, 300)
    assert o.max_concurrent_activity_functions == cores
    assert o.max_concurrent_orchestrator_functions == cores
    assert o.max_concurrent_entity_functions == cores
    assert o.max_entity_operation_batch_size == 5000
    assert o.fetch_large_messages_automatically is True
    assert o.use_app_lease is True
    assert o.extended_sessions_enabled is False
    assert o.max_orchestration_actions == 100_000
    assert o.store_inputs_in_orchestration_history is False
    assert o.raw == {}


def test_every_key_is_read() -> None:
    section = {
        "hubName": "MyHub1",
        "storageProvider": {
            "connectionName": "MyStorage",
            "partitionCount": 8,
            "controlQueueBatchSize": 16,
            "controlQueueBufferThreshold": 64,
            "controlQueueVisibilityTimeout": "00:02:00",
            "workItemQueueVisibilityTimeout": "00:01:30",
            "maxQueuePollingInterval": "00:00:00.500",
            "FetchLargeMessagesAutomatically": False,
        },
        "maxConcurrentActivityFunctions": 3,
        "maxConcurrentOrchestratorFunctions": 4,
        "maxConcurrentEntityFunctions": 5,
        "maxEntityOperationBatchSize": 50,
        "useAppLease": False,
        "extendedSessionsEnabled": True,
        "maxOrchestrationActions": 1000,
        "storeInputsInOrchestrationHistory": True,
    }
    o = options(section)
    assert (o.hub_name, o.hub_name_source) == ("MyHub1", "host.json extensions.durableTask.hubName")
    assert o.connection_name == "MyStorage"
    assert (o.partition_count, o.control_queue_batch_size, o.control_queue_buffer_threshold) == (8, 16, 64)
    assert o.control_queue_visibility_timeout_s == 120
    assert o.work_item_queue_visibility_timeout_s == 90
    assert o.max_queue_polling_interval_s == 0.5
    assert o.fetch_large_messages_automatically is False
    assert (o.max_concurrent_activity_functions, o.max_concurrent_orchestrator_functions) == (3, 4)
    assert (o.max_concurrent_entity_functions, o.max_entity_operation_batch_size) == (5, 50)
    assert (o.use_app_lease, o.extended_sessions_enabled) == (False, True)
    assert (o.max_orchestration_actions, o.store_inputs_in_orchestration_history) == (1000, True)
    assert o.raw == section


def test_keys_are_case_insensitive() -> None:
    o = options({"HUBNAME": "CaseHub", "StorageProvider": {"PARTITIONCOUNT": 2}, "usEAppLease": False})
    assert (o.hub_name, o.partition_count, o.use_app_lease) == ("CaseHub", 2, False)


def test_version_1_schema_with_storage_keys_at_top_level() -> None:
    o = options(
        {"hubName": "OldHub", "partitionCount": 3, "azureStorageConnectionStringName": "Old"}, v1=True
    )
    assert (o.hub_name, o.partition_count, o.connection_name) == ("OldHub", 3, "Old")
    assert o.hub_name_source == "host.json durableTask.hubName"


@pytest.mark.parametrize(
    "alias", ["connectionName", "connectionStringName", "azureStorageConnectionStringName"]
)
def test_connection_name_aliases(alias: str) -> None:
    assert options({"storageProvider": {alias: "Other"}}).connection_name == "Other"


def test_setting_references_are_resolved() -> None:
    o = options(
        {"hubName": "%HubSetting%", "storageProvider": {"partitionCount": "%Parts%"}},
        values={"HubSetting": "ResolvedHub", "Parts": "6"},
    )
    assert (o.hub_name, o.partition_count) == ("ResolvedHub", 6)
    assert "%HubSetting%" in o.hub_name_source


def test_unknown_setting_reference_names_key() -> None:
    with pytest.raises(ConfigurationError, match=r"'Nope'.*host\.json extensions\.durableTask\.hubName"):
        options({"hubName": "%Nope%"})


def test_hub_name_from_website_site_name_is_sanitized() -> None:
    o = options(values={"WEBSITE_SITE_NAME": "my-func-app"})
    assert o.hub_name == "myfuncapp"
    assert "WEBSITE_SITE_NAME" in o.hub_name_source
    assert (
        options(values={"WEBSITE_SITE_NAME": "GoodName"}).hub_name_source == "app setting WEBSITE_SITE_NAME"
    )


@pytest.mark.parametrize(
    ("site", "expected"), [("1app", "t1app"), ("a", "aHub"), ("---", "TestHubName"), ("x" * 60, "x" * 45)]
)
def test_sanitize_hub_name(site: str, expected: str) -> None:
    assert sanitize_hub_name(site) == expected


@pytest.mark.parametrize("name", ["my-hub", "1hub", "ab", "a" * 46, "hub_name", ""])
def test_invalid_hub_name_message(name: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        options({"hubName": name})
    message = str(caught.value)
    if name:
        assert f"Task hub name '{name}' from host.json extensions.durableTask.hubName is invalid" in message
        assert "only letters and digits, start with a letter, and be 3 to 45 characters long" in message
    else:
        assert "hubName" in message


def test_valid_hub_name_edges() -> None:
    assert options({"hubName": "abc"}).hub_name == "abc"
    assert options({"hubName": "A" + "1" * 44}).hub_name == "A" + "1" * 44


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("partitionCount", 0),
        ("partitionCount", 17),
        ("partitionCount", "four"),
        ("partitionCount", 2.5),
        ("partitionCount", True),
        ("controlQueueBatchSize", 33),
        ("controlQueueBatchSize", 0),
        ("controlQueueBufferThreshold", 1001),
        ("maxQueuePollingInterval", "00:00:00"),
        ("maxQueuePollingInterval", -1),
        ("maxQueuePollingInterval", "soon"),
        ("controlQueueVisibilityTimeout", "8.00:00:00"),
    ],
)
def test_storage_values_out_of_range_name_key_and_value(key: str, value: Any) -> None:
    with pytest.raises(ConfigurationError) as caught:
        options({"storageProvider": {key: value}})
    message = str(caught.value)
    assert f"host.json extensions.durableTask.storageProvider.{key}" in message
    assert str(value).lower() in message.lower()


@pytest.mark.parametrize(
    "key",
    ["maxConcurrentActivityFunctions", "maxConcurrentOrchestratorFunctions", "maxConcurrentEntityFunctions"],
)
def test_concurrency_must_be_positive(key: str) -> None:
    with pytest.raises(ConfigurationError, match=rf"extensions\.durableTask\.{key} is 0"):
        options({key: 0})


def test_boolean_must_be_a_boolean() -> None:
    with pytest.raises(ConfigurationError, match=r"useAppLease is \"yes\"; it must be true or false"):
        options({"useAppLease": "yes"})
    assert options({"useAppLease": "False"}).use_app_lease is False


def test_storage_provider_must_be_an_object() -> None:
    with pytest.raises(ConfigurationError, match=r"storageProvider must be a JSON object"):
        options({"storageProvider": "AzureStorage"})


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("00:00:30", 30),
        ("00:05:00", 300),
        ("01:00", 3600),
        ("1.00:00:00", 86400),
        ("2.01:02:03", 2 * 86400 + 3723),
        ("1:00:00:01", 86401),
        ("00:00:00.500", 0.5),
        ("00:00:01.1234567", 1.1234567),
        ("10", 10),
        ("2.5", 2.5),
    ],
)
def test_parse_time_span(text: str, seconds: float) -> None:
    assert parse_time_span_s(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "abc", "00:60:00", "24:00:00", "00:00:61", "1.2.3", "inf", "nan"])
def test_parse_time_span_rejects(text: str) -> None:
    with pytest.raises(ValueError):
        parse_time_span_s(text)


def test_numbers_of_seconds_are_accepted() -> None:
    o = options(
        {"storageProvider": {"maxQueuePollingInterval": 5, "controlQueueVisibilityTimeout": "%Vis%"}},
        {"Vis": "60"},
    )
    assert (o.max_queue_polling_interval_s, o.control_queue_visibility_timeout_s) == (5, 60)


@pytest.mark.parametrize(
    ("storage", "ceiling_s"),
    [
        ({}, 300),
        ({"wakePeers": False}, 30),
        ({"maxQueuePollingInterval": "00:00:10"}, 10),
        ({"maxQueuePollingInterval": "00:00:10", "wakePeers": False}, 10),
    ],
)
def test_the_polling_ceiling_follows_the_setting_else_whether_workers_signal(
    storage: dict[str, Any], ceiling_s: float
) -> None:
    assert options({"storageProvider": storage}).queue_polling_ceiling_s == ceiling_s


def test_a_bad_wake_address_stops_start_up_naming_the_key() -> None:
    from durable_ext.extension.providers import create_service

    o = options({"storageProvider": {"wakeAddress": "10.0.0.4"}})
    assert o.wake_address == "10.0.0.4"
    with pytest.raises(
        ConfigurationError, match=r"storageProvider\.wakeAddress '10\.0\.0\.4' is not host:port"
    ):
        create_service(o, "MyHub", None, lambda _: "UseDevelopmentStorage=true")


def test_the_retention_rule_is_off_unless_set_and_names_a_bad_value() -> None:
    assert options().retention_days is None
    rule = options({"retention": {"purgeFinishedAfterDays": 30, "checkIntervalMinutes": 15}})
    assert (rule.retention_days, rule.retention_check_interval_s) == (30, 900)
    assert options({"retention": {"purgeFinishedAfterDays": 7}}).retention_check_interval_s == 3600
    with pytest.raises(ConfigurationError, match=r"retention\.purgeFinishedAfterDays"):
        options({"retention": {"purgeFinishedAfterDays": "soon"}})
    with pytest.raises(ConfigurationError, match="retention"):
        options({"retention": 30})
